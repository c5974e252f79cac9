//! The store in one SQLite file, the embedded default: the schema's migrations are versioned
//! here, by `PRAGMA user_version`, and applied when the file is opened.

use super::{classify, Message, Stored};
use rusqlite::{params, Connection};
use std::path::Path;

/// The schema, one migration per version, applied in order.
const MIGRATIONS: [&str; 1] = [
    // 1: events and dead letters.
    "CREATE TABLE events (
        sensor TEXT NOT NULL,
        msg_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        ts TEXT NOT NULL,
        body TEXT NOT NULL,
        PRIMARY KEY (sensor, msg_id)
    );
    CREATE INDEX events_ts ON events (ts);
    CREATE TABLE dead_letters (
        sensor TEXT NOT NULL,
        msg_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        reason TEXT NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (sensor, msg_id)
    );",
];

pub struct SqliteStore {
    db: Connection,
}

fn err(path: &Path) -> impl Fn(rusqlite::Error) -> String + '_ {
    move |e| format!("{}: {e}", path.display())
}

impl SqliteStore {
    /// Opens (creating) the file and brings its schema up to date.
    pub fn open(path: &Path) -> Result<SqliteStore, String> {
        Ok(Self::open_migrated(path)?.0)
    }

    /// Brings the file's schema up to date: from which version to which.
    pub fn migrate(path: &Path) -> Result<(usize, usize), String> {
        Ok(Self::open_migrated(path)?.1)
    }

    fn open_migrated(path: &Path) -> Result<(SqliteStore, (usize, usize)), String> {
        let db = Connection::open(path).map_err(err(path))?;
        db.pragma_update(None, "journal_mode", "WAL")
            .map_err(err(path))?;
        let version: usize = db
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err(path))?;
        if version > MIGRATIONS.len() {
            return Err(format!(
                "{}: the store's schema is version {version}, newer than this minetap knows ({})",
                path.display(),
                MIGRATIONS.len()
            ));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = db.unchecked_transaction().map_err(err(path))?;
            tx.execute_batch(m).map_err(err(path))?;
            tx.pragma_update(None, "user_version", i + 1)
                .map_err(err(path))?;
            tx.commit().map_err(err(path))?;
        }
        Ok((SqliteStore { db }, (version, MIGRATIONS.len())))
    }

    pub fn put(&mut self, batch: &[Message<'_>]) -> Result<Vec<Stored>, String> {
        let tx = self.db.transaction().map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(batch.len());
        for m in batch {
            let done = match classify(m.payload) {
                Ok((kind, ts)) => {
                    let n = tx
                        .execute(
                            "INSERT OR IGNORE INTO events (sensor, msg_id, event_type, ts, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![m.sensor, m.msg_id, kind, ts, String::from_utf8_lossy(m.payload)],
                        )
                        .map_err(|e| e.to_string())?;
                    if n == 1 {
                        Stored::Event
                    } else {
                        Stored::Repeat
                    }
                }
                Err(why) => {
                    tx.execute(
                        "INSERT OR IGNORE INTO dead_letters (sensor, msg_id, subject, reason, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![m.sensor, m.msg_id, m.subject, why, m.payload],
                    )
                    .map_err(|e| e.to_string())?;
                    Stored::Dead(why)
                }
            };
            out.push(done);
        }
        tx.commit().map_err(|e| e.to_string())?;
        Ok(out)
    }

    pub fn events(&self, (from, to): (&str, &str)) -> Result<Vec<String>, String> {
        let mut q = self
            .db
            .prepare(
                "SELECT body FROM events WHERE ts >= ?1 AND ts < ?2 ORDER BY ts, sensor, msg_id",
            )
            .map_err(|e| e.to_string())?;
        let rows = q
            .query_map(params![from, to], |r| r.get::<_, String>(0))
            .map_err(|e| e.to_string())?;
        rows.map(|r| r.map_err(|e| e.to_string())).collect()
    }

    pub fn counts(&self) -> Result<(u64, u64), String> {
        let n = |t: &str| -> Result<u64, String> {
            self.db
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .map_err(|e| e.to_string())
        };
        Ok((n("events")?, n("dead_letters")?))
    }
}

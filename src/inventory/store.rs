//! The platform's store: every sensor's events in one SQLite file (the embedded default; the
//! schema's migrations are versioned here, by `PRAGMA user_version`). `platform ingest` writes
//! it, idempotent on (sensor, message id): a redelivered message never makes a second row;
//! messages that are not events (not JSON, another schema) go to `dead_letters` with the reason.
//! `inventory --store` reads it back for a week.

use rusqlite::{params, Connection};
use serde_json::Value;
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

/// An open store.
pub struct Store {
    db: Connection,
}

/// One message as it came off the bus.
pub struct Message<'a> {
    pub sensor: &'a str,
    pub msg_id: &'a str,
    pub subject: &'a str,
    pub payload: &'a [u8],
}

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stored {
    /// A new event row.
    Event,
    /// The same (sensor, message id) was stored before: nothing added.
    Repeat,
    /// Not an event: kept in `dead_letters` with the reason.
    Dead(String),
}

/// Why a payload is not a `minetap/1` event, if it is not.
fn not_an_event(payload: &[u8]) -> Result<Value, String> {
    let v: Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    match v.get("schema").and_then(Value::as_str) {
        Some(s) if s == crate::output::SCHEMA => {}
        Some(s) => return Err(format!("schema '{s}', not '{}'", crate::output::SCHEMA)),
        None => return Err("no schema field".into()),
    }
    if v.get("event_type").and_then(Value::as_str).is_none() {
        return Err("no event_type".into());
    }
    Ok(v)
}

impl Store {
    /// Opens (creating) the store and brings its schema up to date.
    pub fn open(path: &Path) -> Result<Store, String> {
        let err = |e: rusqlite::Error| format!("{}: {e}", path.display());
        let db = Connection::open(path).map_err(err)?;
        db.pragma_update(None, "journal_mode", "WAL").map_err(err)?;
        let version: usize = db
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if version > MIGRATIONS.len() {
            return Err(format!(
                "{}: the store's schema is version {version}, newer than this minetap knows ({})",
                path.display(),
                MIGRATIONS.len()
            ));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(version) {
            let tx = db.unchecked_transaction().map_err(err)?;
            tx.execute_batch(m).map_err(err)?;
            tx.pragma_update(None, "user_version", i + 1).map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(Store { db })
    }

    /// Stores a batch of messages in one transaction; what became of each, in order. Only
    /// after this returns may the messages be acknowledged.
    pub fn put(&mut self, batch: &[Message<'_>]) -> Result<Vec<Stored>, String> {
        let tx = self.db.transaction().map_err(|e| e.to_string())?;
        let mut out = Vec::with_capacity(batch.len());
        for m in batch {
            let done = match not_an_event(m.payload) {
                Ok(v) => {
                    let n = tx
                        .execute(
                            "INSERT OR IGNORE INTO events (sensor, msg_id, event_type, ts, body) VALUES (?1, ?2, ?3, ?4, ?5)",
                            params![
                                m.sensor,
                                m.msg_id,
                                v["event_type"].as_str().unwrap_or_default(),
                                v["timestamp"].as_str().unwrap_or_default(),
                                String::from_utf8_lossy(m.payload),
                            ],
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

    /// The events whose time lies in `[from, to)` (RFC 3339 strings), all sensors.
    pub fn events(&self, (from, to): (&str, &str)) -> Result<Vec<Value>, String> {
        let mut q = self
            .db
            .prepare(
                "SELECT body FROM events WHERE ts >= ?1 AND ts < ?2 ORDER BY ts, sensor, msg_id",
            )
            .map_err(|e| e.to_string())?;
        let rows = q
            .query_map(params![from, to], |r| r.get::<_, String>(0))
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for body in rows {
            let body = body.map_err(|e| e.to_string())?;
            out.push(serde_json::from_str(&body).map_err(|e| e.to_string())?);
        }
        Ok(out)
    }

    /// Rows: events, dead letters.
    pub fn counts(&self) -> Result<(u64, u64), String> {
        let n = |t: &str| -> Result<u64, String> {
            self.db
                .query_row(&format!("SELECT count(*) FROM {t}"), [], |r| r.get(0))
                .map_err(|e| e.to_string())
        };
        Ok((n("events")?, n("dead_letters")?))
    }
}

/// The first and last instant of ISO week `YYYY-Www` as RFC 3339 bounds `[from, to)`.
pub fn iso_week(week: &str) -> Result<(String, String), String> {
    let bad = || format!("'{week}': expected an ISO week such as 2026-W48");
    let (y, w) = week.split_once("-W").ok_or_else(bad)?;
    let (y, w): (i16, i8) = (y.parse().map_err(|_| bad())?, w.parse().map_err(|_| bad())?);
    let weekday = |n: i8| {
        jiff::civil::ISOWeekDate::new(y, n, jiff::civil::Weekday::Monday)
            .map(|d| d.date())
            .map_err(|_| bad())
    };
    let start = weekday(w)?;
    let end = start
        .checked_add(jiff::Span::new().days(7))
        .map_err(|_| bad())?;
    Ok((format!("{start}T00:00:00"), format!("{end}T00:00:00")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_weeks_are_monday_to_monday() {
        assert_eq!(
            iso_week("2026-W48").unwrap(),
            ("2026-11-23T00:00:00".into(), "2026-11-30T00:00:00".into())
        );
        assert_eq!(
            iso_week("2026-W01").unwrap(),
            ("2025-12-29T00:00:00".into(), "2026-01-05T00:00:00".into())
        );
        assert!(iso_week("2026-48").is_err());
        assert!(iso_week("2026-W54").is_err());
    }

    #[test]
    fn a_message_is_stored_once_and_a_bad_one_is_kept_with_its_reason() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("p.sqlite")).unwrap();
        let ev = br#"{"timestamp":"2026-11-24T10:00:00.000000Z","event_type":"mining","schema":"minetap/1"}"#;
        let m = |id, payload| Message {
            sensor: "s1",
            msg_id: id,
            subject: "minetap.events.s1",
            payload,
        };
        let got = s
            .put(&[
                m("a", ev),
                m("a", ev),
                m("b", b"garbage"),
                m("c", br#"{"schema":"minetap/2","event_type":"mining"}"#),
            ])
            .unwrap();
        assert_eq!(got[0], Stored::Event);
        assert_eq!(got[1], Stored::Repeat);
        assert!(matches!(&got[2], Stored::Dead(w) if w.starts_with("not JSON")));
        assert_eq!(
            got[3],
            Stored::Dead("schema 'minetap/2', not 'minetap/1'".into())
        );
        assert_eq!(s.counts().unwrap(), (1, 2));
        let (from, to) = iso_week("2026-W48").unwrap();
        assert_eq!(s.events((&from, &to)).unwrap().len(), 1);
        // Opening again keeps the rows (the migrations ran once).
        drop(s);
        let s = Store::open(&dir.path().join("p.sqlite")).unwrap();
        assert_eq!(s.counts().unwrap(), (1, 2));
    }
}

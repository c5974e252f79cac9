//! The store in PostgreSQL (`postgres://ROLE[:PASSWORD]@HOST[:PORT]/DATABASE`). The schema's
//! migrations are versioned here, in the table `minetap_schema`, and applied only by
//! `platform migrate` (as the database's owner, under an advisory lock, so two at once do not
//! race); `platform ingest` and `inventory --store` check that the schema is current and need
//! nothing but INSERT and SELECT. Passwords never appear in a message (`super::redact`).

use super::{classify, Message, Stored};
use crate::output::redact;
use tokio_postgres::{Client, NoTls};

/// The schema, one migration per version, applied in order. Text columns compare bytewise
/// (`COLLATE "C"`), as SQLite's do, so both stores list a week's events in the same order.
const MIGRATIONS: [&str; 1] = [
    // 1: events and dead letters.
    r#"CREATE TABLE events (
        sensor TEXT COLLATE "C" NOT NULL,
        msg_id TEXT COLLATE "C" NOT NULL,
        event_type TEXT NOT NULL,
        ts TEXT COLLATE "C" NOT NULL,
        body TEXT NOT NULL,
        stored_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (sensor, msg_id)
    );
    CREATE INDEX events_ts ON events (ts);
    CREATE TABLE dead_letters (
        sensor TEXT NOT NULL,
        msg_id TEXT NOT NULL,
        subject TEXT NOT NULL,
        reason TEXT NOT NULL,
        body BYTEA NOT NULL,
        stored_at TIMESTAMPTZ NOT NULL DEFAULT now(),
        PRIMARY KEY (sensor, msg_id)
    );"#,
];

/// A lock number only `platform migrate` takes.
const MIGRATION_LOCK: i64 = 0x6d696e6574;

pub struct PgStore {
    url: String,
    client: Client,
}

/// The server's own words for an error, where it gave any.
fn pg_err(url: &str, e: tokio_postgres::Error) -> String {
    let what = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(&e);
            while let Some(inner) = src {
                s.push_str(&format!(": {inner}"));
                src = inner.source();
            }
            s
        }
    };
    format!("{}: {what}", redact(url))
}

async fn connect(url: &str) -> Result<Client, String> {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|e| pg_err(url, e))?;
    // The connection's own task; it ends when the client is dropped or the server goes away.
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// The schema version the database holds (0: none yet).
async fn version(client: &Client, url: &str) -> Result<usize, String> {
    let row = client
        .query_one("SELECT coalesce(max(version), 0) FROM minetap_schema", &[])
        .await;
    match row {
        Ok(r) => Ok(r.get::<_, i32>(0).max(0) as usize),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => Ok(0),
        Err(e) => Err(pg_err(url, e)),
    }
}

impl PgStore {
    /// Connects and checks that the schema is the one this minetap writes.
    pub async fn open(url: &str) -> Result<PgStore, String> {
        let client = connect(url).await?;
        let v = version(&client, url).await?;
        if v != MIGRATIONS.len() {
            let how = if v < MIGRATIONS.len() {
                format!(
                    "run `minetap platform migrate --store URL` as the database's owner to bring it to version {}",
                    MIGRATIONS.len()
                )
            } else {
                "newer than this minetap knows".into()
            };
            return Err(format!(
                "{}: the store's schema is version {v}: {how}",
                redact(url)
            ));
        }
        Ok(PgStore {
            url: url.to_string(),
            client,
        })
    }

    /// Brings the schema up to date: from which version to which.
    pub async fn migrate(url: &str) -> Result<(usize, usize), String> {
        let mut client = connect(url).await?;
        let e = |e| pg_err(url, e);
        let tx = client.transaction().await.map_err(e)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(e)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS minetap_schema (version integer NOT NULL)")
            .await
            .map_err(e)?;
        let from: i32 = tx
            .query_one("SELECT coalesce(max(version), 0) FROM minetap_schema", &[])
            .await
            .map_err(e)?
            .get(0);
        let from = from.max(0) as usize;
        if from > MIGRATIONS.len() {
            return Err(format!(
                "{}: the store's schema is version {from}, newer than this minetap knows ({})",
                redact(url),
                MIGRATIONS.len()
            ));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(from) {
            tx.batch_execute(m).await.map_err(e)?;
            let v = (i + 1) as i32;
            tx.execute("INSERT INTO minetap_schema (version) VALUES ($1)", &[&v])
                .await
                .map_err(e)?;
        }
        tx.commit().await.map_err(e)?;
        Ok((from, MIGRATIONS.len()))
    }

    pub async fn reconnect(&mut self) -> Result<(), String> {
        self.client = connect(&self.url).await?;
        Ok(())
    }

    pub async fn put(&mut self, batch: &[Message<'_>]) -> Result<Vec<Stored>, String> {
        let url = self.url.clone();
        let e = |e| pg_err(&url, e);
        let tx = self.client.transaction().await.map_err(e)?;
        let event = tx
            .prepare(
                "INSERT INTO events (sensor, msg_id, event_type, ts, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(e)?;
        let dead = tx
            .prepare(
                "INSERT INTO dead_letters (sensor, msg_id, subject, reason, body) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
            )
            .await
            .map_err(e)?;
        let mut out = Vec::with_capacity(batch.len());
        for m in batch {
            let done = match classify(m.payload) {
                Ok((kind, ts)) => {
                    let body = String::from_utf8_lossy(m.payload);
                    let body: &str = &body;
                    let n = tx
                        .execute(&event, &[&m.sensor, &m.msg_id, &kind, &ts, &body])
                        .await
                        .map_err(e)?;
                    if n == 1 {
                        Stored::Event
                    } else {
                        Stored::Repeat
                    }
                }
                Err(why) => {
                    tx.execute(&dead, &[&m.sensor, &m.msg_id, &m.subject, &why, &m.payload])
                        .await
                        .map_err(e)?;
                    Stored::Dead(why)
                }
            };
            out.push(done);
        }
        tx.commit().await.map_err(e)?;
        Ok(out)
    }

    pub async fn events(&self, (from, to): (&str, &str)) -> Result<Vec<String>, String> {
        let rows = self
            .client
            .query(
                "SELECT body FROM events WHERE ts >= $1 AND ts < $2 ORDER BY ts, sensor, msg_id",
                &[&from, &to],
            )
            .await
            .map_err(|e| pg_err(&self.url, e))?;
        Ok(rows.iter().map(|r| r.get::<_, String>(0)).collect())
    }

    pub async fn counts(&self) -> Result<(u64, u64), String> {
        let mut n = [0u64; 2];
        for (slot, t) in n.iter_mut().zip(["events", "dead_letters"]) {
            let c: i64 = self
                .client
                .query_one(&format!("SELECT count(*) FROM {t}"), &[])
                .await
                .map_err(|e| pg_err(&self.url, e))?
                .get(0);
            *slot = c.max(0) as u64;
        }
        Ok((n[0], n[1]))
    }
}

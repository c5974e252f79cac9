//! The platform's store: every sensor's events in one database, which `platform ingest` writes
//! and `inventory --store` reads back for a week. Two back ends behind one type: a SQLite file
//! (the embedded default: its schema is brought up to date when it is opened) and PostgreSQL
//! (`postgres://…`: the schema is brought up to date by `platform migrate`, run as the database's
//! owner, so that the ingest's role needs only INSERT and SELECT). Either is idempotent on
//! (sensor, message id): a redelivered message never makes a second row; a message that is not
//! an event (not JSON, another schema) goes to `dead_letters` with the reason.
//!
//! In: messages as they came off the bus (`Message`). Out: what became of each (`Stored`), the
//! events of a time range as JSON values.

mod postgres;
mod sqlite;

use serde_json::Value;

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

/// A message's event type and time when it is a `minetap/1` event; otherwise why not.
fn classify(payload: &[u8]) -> Result<(String, String), String> {
    let v: Value = serde_json::from_slice(payload).map_err(|e| format!("not JSON: {e}"))?;
    match v.get("schema").and_then(Value::as_str) {
        Some(s) if s == crate::output::SCHEMA => {}
        Some(s) => return Err(format!("schema '{s}', not '{}'", crate::output::SCHEMA)),
        None => return Err("no schema field".into()),
    }
    let kind = v
        .get("event_type")
        .and_then(Value::as_str)
        .ok_or("no event_type")?;
    let ts = v
        .get("timestamp")
        .and_then(Value::as_str)
        .unwrap_or_default();
    Ok((kind.to_string(), ts.to_string()))
}

/// Whether a `--store` value names a PostgreSQL database rather than a SQLite file.
pub fn is_postgres(spec: &str) -> bool {
    spec.starts_with("postgres://") || spec.starts_with("postgresql://")
}

/// An open store.
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PgStore),
}

impl Store {
    /// Opens the store `spec` names (a SQLite file, made and brought up to date when needed; or
    /// a PostgreSQL URL, whose schema must be current).
    pub async fn open(spec: &str) -> Result<Store, String> {
        if is_postgres(spec) {
            Ok(Store::Postgres(postgres::PgStore::open(spec).await?))
        } else {
            Ok(Store::Sqlite(sqlite::SqliteStore::open(spec.as_ref())?))
        }
    }

    /// Opens the store and brings its schema up to date; says from which version to which.
    pub async fn migrate(spec: &str) -> Result<(usize, usize), String> {
        if is_postgres(spec) {
            postgres::PgStore::migrate(spec).await
        } else {
            sqlite::SqliteStore::migrate(spec.as_ref())
        }
    }

    /// Stores a batch of messages in one transaction; what became of each, in order. Only
    /// after this returns may the messages be acknowledged.
    pub async fn put(&mut self, batch: &[Message<'_>]) -> Result<Vec<Stored>, String> {
        match self {
            Store::Sqlite(s) => s.put(batch),
            Store::Postgres(s) => s.put(batch).await,
        }
    }

    /// After an error: connects again (PostgreSQL; a SQLite file has nothing to do).
    pub async fn reconnect(&mut self) -> Result<(), String> {
        match self {
            Store::Sqlite(_) => Ok(()),
            Store::Postgres(s) => s.reconnect().await,
        }
    }

    /// The events whose time lies in `[from, to)` (RFC 3339 strings), all sensors.
    pub async fn events(&self, range: (&str, &str)) -> Result<Vec<Value>, String> {
        let bodies = match self {
            Store::Sqlite(s) => s.events(range)?,
            Store::Postgres(s) => s.events(range).await?,
        };
        bodies
            .iter()
            .map(|b| serde_json::from_str(b).map_err(|e| format!("a stored event: {e}")))
            .collect()
    }

    /// Rows: events, dead letters.
    pub async fn counts(&self) -> Result<(u64, u64), String> {
        match self {
            Store::Sqlite(s) => s.counts(),
            Store::Postgres(s) => s.counts().await,
        }
    }
}

/// Runs `f` on a small current-thread runtime (for the commands that read the store once).
pub fn block_on<T>(f: impl std::future::Future<Output = Result<T, String>>) -> Result<T, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start a runtime: {e}"))?
        .block_on(f)
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
        let path = dir.path().join("p.sqlite");
        let path = path.to_str().unwrap();
        let ev = br#"{"timestamp":"2026-11-24T10:00:00.000000Z","event_type":"mining","schema":"minetap/1"}"#;
        let m = |id, payload| Message {
            sensor: "s1",
            msg_id: id,
            subject: "minetap.events.s1",
            payload,
        };
        block_on(async {
            let mut s = Store::open(path).await?;
            let got = s
                .put(&[
                    m("a", ev),
                    m("a", ev),
                    m("b", b"garbage"),
                    m("c", br#"{"schema":"minetap/2","event_type":"mining"}"#),
                ])
                .await?;
            assert_eq!(got[0], Stored::Event);
            assert_eq!(got[1], Stored::Repeat);
            assert!(matches!(&got[2], Stored::Dead(w) if w.starts_with("not JSON")));
            assert_eq!(
                got[3],
                Stored::Dead("schema 'minetap/2', not 'minetap/1'".into())
            );
            assert_eq!(s.counts().await?, (1, 2));
            let (from, to) = iso_week("2026-W48")?;
            assert_eq!(s.events((&from, &to)).await?.len(), 1);
            // Opening again keeps the rows (the migrations ran once).
            drop(s);
            assert_eq!(Store::migrate(path).await?, (1, 1));
            let s = Store::open(path).await?;
            assert_eq!(s.counts().await?, (1, 2));
            Ok(())
        })
        .unwrap();
    }
}

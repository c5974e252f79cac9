//! The subscriber store: one SQLite file, created on first use, readable by its owner only.
//! Importing the same record twice changes nothing; a RADIUS session's Stop arriving in a later
//! file closes the session it belongs to.

use super::formats::{self, Format, LineError, Parsed, ReadOptions, Record, Row};
use rusqlite::{params, Connection};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// The subscriber store: one SQLite file, owner-only.
pub struct Store {
    /// The open database.
    pub conn: Connection,
}

/// What one import did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ImportReport {
    /// Records taken.
    pub taken: u64,
    /// Lines skipped.
    pub skipped: u64,
    /// The lines skipped, and why.
    pub errors: Vec<LineError>,
    /// What the user should know that lost nothing (encoding, unmapped columns).
    pub notes: Vec<String>,
}

/// How well the access records (RADIUS sessions, leases, static blocks) join the registry.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JoinReport {
    /// Access records in the store.
    pub records: u64,
    /// Of them, those whose identity the registry knows.
    pub known: u64,
    /// The identities the registry does not know, most records first: (identity, records).
    pub unknown: Vec<(String, u64)>,
    /// Registry rows.
    pub registry: u64,
    /// Registry rows that no access record reaches.
    pub registry_unused: u64,
}

impl std::fmt::Display for JoinReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "join: {} of {} access record(s) name an identity the registry knows, {} do not",
            self.known,
            self.records,
            self.records - self.known
        )?;
        if !self.unknown.is_empty() {
            let first: Vec<String> = self
                .unknown
                .iter()
                .take(5)
                .map(|(i, n)| format!("'{i}' ({n})"))
                .collect();
            write!(
                f,
                " ({} identit{}: {}{})",
                self.unknown.len(),
                if self.unknown.len() == 1 { "y" } else { "ies" },
                first.join(", "),
                if self.unknown.len() > 5 { ", ..." } else { "" }
            )?;
        }
        write!(
            f,
            "; {} of {} registry row(s) have no access record",
            self.registry_unused, self.registry
        )
    }
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS subscribers (
  id TEXT PRIMARY KEY, name TEXT, reg_no TEXT, address TEXT, contact TEXT,
  account_type TEXT, circuit TEXT, extra TEXT);
CREATE TABLE IF NOT EXISTS identities (identity TEXT PRIMARY KEY, subscriber TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS assignments (
  kind TEXT NOT NULL, identity TEXT NOT NULL, addr TEXT NOT NULL, prefix INTEGER NOT NULL,
  start INTEGER NOT NULL, end INTEGER, source TEXT NOT NULL,
  UNIQUE (kind, identity, addr, prefix, start));
CREATE TABLE IF NOT EXISTS blocks (
  public TEXT NOT NULL, port_lo INTEGER NOT NULL, port_hi INTEGER NOT NULL, private TEXT NOT NULL,
  start INTEGER NOT NULL, end INTEGER, source TEXT NOT NULL,
  UNIQUE (public, port_lo, private, start));
";

fn owner_only(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    if !path.exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

impl Store {
    /// Opens an existing store for reading: a path that does not exist is refused (nothing is
    /// created), and a store that fails SQLite's quick integrity check, or lacks the tables, is
    /// reported as damaged.
    pub fn open_existing(path: &Path) -> Result<Store, String> {
        let e = |x: &dyn std::fmt::Display| format!("{}: {x}", path.display());
        match std::fs::metadata(path) {
            Err(x) if x.kind() == std::io::ErrorKind::NotFound => {
                return Err(e(
                    &"no such subscriber store (only `minetap subscribers import` creates one)",
                ))
            }
            Err(x) => return Err(e(&x)),
            Ok(m) if !m.is_file() => return Err(e(&"not a file")),
            Ok(_) => {}
        }
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|x| e(&x))?;
        let damaged =
            |x: &dyn std::fmt::Display| e(&format!("the subscriber store is damaged: {x}"));
        let check: String = conn
            .query_row("PRAGMA quick_check(3)", [], |r| r.get(0))
            .map_err(|x| damaged(&x))?;
        if check != "ok" {
            let what: Vec<&str> = check.lines().filter(|l| !l.starts_with("***")).collect();
            return Err(damaged(&what.join("; ")));
        }
        for table in ["subscribers", "identities", "assignments", "blocks"] {
            let n: i64 = conn
                .query_row(
                    "SELECT COUNT(*) FROM sqlite_master WHERE type='table' AND name=?1",
                    [table],
                    |r| r.get(0),
                )
                .map_err(|x| damaged(&x))?;
            if n == 0 {
                return Err(e(&format!(
                    "not a subscriber store (it has no '{table}' table)"
                )));
            }
        }
        Ok(Store { conn })
    }

    /// Opens (or creates, owner-readable only) the store.
    pub fn open(path: &Path) -> Result<Store, String> {
        let e = |x: &dyn std::fmt::Display| format!("{}: {x}", path.display());
        owner_only(path).map_err(|x| e(&x))?;
        let conn = Connection::open(path).map_err(|x| e(&x))?;
        conn.execute_batch(SCHEMA).map_err(|x| e(&x))?;
        Ok(Store { conn })
    }

    /// Imports one file of the given format. Times without a year take the file's own year
    /// (of its modification time) unless the options give one.
    pub fn import(
        &mut self,
        format: Format,
        path: &Path,
        options: &ReadOptions,
    ) -> Result<ImportReport, String> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let mut o = options.clone();
        if o.clock.year.is_none() {
            o.clock.year = file_year(path);
        }
        let parsed = if format == Format::RadiusSql {
            radacct_file(path, &name, &o)?
        } else {
            let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
            formats::parse(format, &bytes, &name, &o)
        };
        let Parsed {
            records,
            errors,
            notes,
        } = parsed;
        let mut report = ImportReport {
            skipped: errors.len() as u64,
            errors,
            notes,
            ..ImportReport::default()
        };
        self.write(records, &mut report)?;
        Ok(report)
    }

    /// Writes records in one transaction; a record the store refuses is counted as skipped.
    fn write(&mut self, records: Vec<Record>, report: &mut ImportReport) -> Result<(), String> {
        let tx = self.conn.transaction().map_err(|e| e.to_string())?;
        {
            let mut sub = tx.prepare_cached("INSERT INTO subscribers VALUES (?1,?2,?3,?4,?5,?6,?7,?8) ON CONFLICT(id) DO UPDATE SET name=excluded.name, reg_no=excluded.reg_no, address=excluded.address, contact=excluded.contact, account_type=excluded.account_type, circuit=excluded.circuit, extra=excluded.extra").map_err(|e| e.to_string())?;
            let mut ident = tx.prepare_cached("INSERT INTO identities VALUES (?1, ?2) ON CONFLICT(identity) DO UPDATE SET subscriber=excluded.subscriber").map_err(|e| e.to_string())?;
            let mut asg = tx.prepare_cached("INSERT INTO assignments VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT DO UPDATE SET end=COALESCE(excluded.end, end)").map_err(|e| e.to_string())?;
            let mut blk = tx.prepare_cached("INSERT INTO blocks VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT DO UPDATE SET end=COALESCE(excluded.end, end)").map_err(|e| e.to_string())?;
            let mut rel = tx.prepare_cached("UPDATE blocks SET end=?1 WHERE public=?2 AND port_lo=?3 AND private=?4 AND end IS NULL AND start<=?1").map_err(|e| e.to_string())?;
            for r in records {
                let res = match &r {
                    Record::Subscriber(s) => {
                        let extra = serde_json::to_string(&s.extra).unwrap_or_default();
                        let r = sub.execute(params![
                            s.id,
                            s.name,
                            s.reg_no,
                            s.address,
                            s.contact,
                            s.account_type,
                            s.circuit,
                            extra
                        ]);
                        for i in s
                            .identities
                            .iter()
                            .chain(std::iter::once(&s.id.to_ascii_lowercase()))
                        {
                            let _ = ident.execute(params![i, s.id]);
                        }
                        r
                    }
                    Record::Assignment(a) => asg.execute(params![
                        a.kind,
                        a.identity,
                        a.addr.to_string(),
                        a.prefix,
                        a.start,
                        a.end,
                        a.source
                    ]),
                    Record::Block(b) => blk.execute(params![
                        b.public.to_string(),
                        b.port_lo,
                        b.port_hi,
                        b.private.to_string(),
                        b.start,
                        b.end,
                        b.source
                    ]),
                    Record::Release(b) => rel.execute(params![
                        b.end,
                        b.public.to_string(),
                        b.port_lo,
                        b.private.to_string()
                    ]),
                };
                match res {
                    Ok(_) => report.taken += 1,
                    Err(e) => {
                        report.skipped += 1;
                        report.errors.push(LineError {
                            line: 0,
                            message: e.to_string(),
                        });
                    }
                }
            }
        }
        tx.commit().map_err(|e| e.to_string())
    }

    /// Which subscriber each identity (RADIUS user, MAC, DUID, circuit, id) belongs to.
    pub fn identities(&self) -> Result<HashMap<String, String>, String> {
        let e = |x: rusqlite::Error| x.to_string();
        let mut q = self
            .conn
            .prepare("SELECT identity, subscriber FROM identities")
            .map_err(e)?;
        let rows = q
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))
            .map_err(e)?;
        rows.collect::<Result<_, _>>().map_err(e)
    }

    /// How the access records join the registry.
    pub fn join_report(&self) -> Result<JoinReport, String> {
        let e = |x: rusqlite::Error| x.to_string();
        let identities = self.identities()?;
        let registry: u64 = self
            .conn
            .query_row("SELECT COUNT(*) FROM subscribers", [], |r| r.get(0))
            .map_err(e)?;
        let mut report = JoinReport {
            registry,
            ..JoinReport::default()
        };
        let mut reached: HashSet<String> = HashSet::new();
        let mut q = self
            .conn
            .prepare("SELECT identity, COUNT(*) FROM assignments GROUP BY identity")
            .map_err(e)?;
        for row in q
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))
            .map_err(e)?
        {
            let (identity, n) = row.map_err(e)?;
            report.records += n;
            match super::registered(&identities, &identity) {
                Some(s) => {
                    report.known += n;
                    reached.insert(s.clone());
                }
                None => report.unknown.push((identity, n)),
            }
        }
        report
            .unknown
            .sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let ids: Vec<String> = {
            let mut q = self.conn.prepare("SELECT id FROM subscribers").map_err(e)?;
            let rows = q.query_map([], |r| r.get::<_, String>(0)).map_err(e)?;
            rows.collect::<Result<_, _>>().map_err(e)?
        };
        report.registry_unused = ids.iter().filter(|i| !reached.contains(*i)).count() as u64;
        Ok(report)
    }
}

/// The year of a file's modification time (UTC), for times written without one.
fn file_year(path: &Path) -> Option<i16> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    let t = jiff::Timestamp::try_from(m).ok()?;
    Some(t.to_zoned(jiff::tz::TimeZone::UTC).year())
}

/// FreeRADIUS's `radacct` table, read from its SQLite file.
fn radacct_file(path: &Path, name: &str, o: &ReadOptions) -> Result<Parsed, String> {
    let e = |x: &dyn std::fmt::Display| format!("{}: {x}", path.display());
    if !path.is_file() {
        return Err(e(&"no such file"));
    }
    let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|x| e(&x))?;
    let mut q = conn
        .prepare("SELECT * FROM radacct ORDER BY rowid")
        .map_err(|x| e(&format!("not a FreeRADIUS accounting database: {x}")))?;
    let names: Vec<String> = q.column_names().iter().map(|n| n.to_lowercase()).collect();
    let mut rows: Vec<Row> = Vec::new();
    let mut n = 0usize;
    let mut result = q.query([]).map_err(|x| e(&x))?;
    while let Some(r) = result.next().map_err(|x| e(&x))? {
        n += 1;
        let mut row = BTreeMap::new();
        for (i, c) in names.iter().enumerate() {
            let v = match r.get_ref(i).map_err(|x| e(&x))? {
                rusqlite::types::ValueRef::Null => String::new(),
                rusqlite::types::ValueRef::Integer(x) => x.to_string(),
                rusqlite::types::ValueRef::Real(x) => x.to_string(),
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    String::from_utf8_lossy(t).into_owned()
                }
            };
            row.insert(c.clone(), v);
        }
        rows.push((n, row));
    }
    Ok(formats::radacct_rows(
        rows,
        &format!("{name} radacct row"),
        o,
    ))
}

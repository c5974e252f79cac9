//! RADIUS accounting, turned into sessions: FreeRADIUS `detail` files, CSV exports of the
//! accounting requests (one row a request, with or without a header line: a `linelog` CSV has
//! none), and session tables (FreeRADIUS's SQL `radacct`, exported as CSV or read from its
//! SQLite file: one row a session).
//!
//! A request's time is its Event-Timestamp; without one, the time the server logged it less
//! Acct-Delay-Time. A session whose Start was lost begins at its first request's time less its
//! Acct-Session-Time; a session with no Stop stays open.

use super::csv::{csv_rows, take};
use super::{addr_prefix, err, Assignment, LineError, Parsed, ReadOptions, Record, Row};
use super::{check_span, time_of};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// One accounting request.
pub(super) struct RadiusEvent {
    line: usize,
    ts: i64,
    status: String,
    user: String,
    session: String,
    /// Acct-Session-Time: seconds the session had run when the request was sent.
    session_time: Option<i64>,
    addrs: Vec<(IpAddr, u8)>,
}

/// Columns that hold the session's addresses, in the names exports give them.
const ADDRESS_COLUMNS: &[&[&str]] = &[
    &[
        "framed_ip_address",
        "framed_ip",
        "framedipaddress",
        "framed_ipv4_address",
    ],
    &["framed_ipv6_address", "framedipv6address"],
    &["framed_ipv6_prefix", "framedipv6prefix"],
    &["delegated_ipv6_prefix", "delegatedipv6prefix"],
];

const USER_COLUMNS: &[&str] = &["username", "user_name", "user"];
const SESSION_COLUMNS: &[&str] = &["acct_session_id", "session_id", "acctsessionid"];

/// The addresses a row names (an empty column is none).
fn addresses(row: &mut BTreeMap<String, String>) -> Result<Vec<(IpAddr, u8)>, String> {
    ADDRESS_COLUMNS
        .iter()
        .filter_map(|names| take(row, names))
        .map(|a| addr_prefix(&a).ok_or(format!("'{a}' is not an address or prefix")))
        .collect()
}

fn number(row: &mut BTreeMap<String, String>, names: &[&str]) -> Result<Option<i64>, String> {
    match take(row, names) {
        None => Ok(None),
        Some(v) => v
            .parse()
            .map(Some)
            .map_err(|_| format!("'{v}' is not a number of seconds")),
    }
}

/// A CSV of accounting requests, or of sessions (a `radacct` table exported).
pub(super) fn csv_export(text: &str, file: &str, o: &ReadOptions) -> Parsed {
    let (rows, errors) = csv_rows(text, o);
    let sessions_table = rows
        .first()
        .is_some_and(|(_, r)| r.contains_key("acctstarttime"));
    let mut out = if sessions_table {
        session_rows(rows, file, o)
    } else {
        request_rows(rows, file, o)
    };
    out.errors.extend(errors);
    out
}

/// Rows that are accounting requests.
fn request_rows(rows: Vec<Row>, file: &str, o: &ReadOptions) -> Parsed {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for (line, mut row) in rows {
        let r = (|| -> Result<RadiusEvent, String> {
            let t = take(
                &mut row,
                &[
                    "timestamp",
                    "event_timestamp",
                    "event_ts_epoch",
                    "time",
                    "event_time",
                ],
            );
            let ts = match t {
                Some(t) => time_of(o, &t)?,
                None => {
                    let t = take(&mut row, &["recv_ts_epoch", "received", "recv_time"])
                        .ok_or("no timestamp")?;
                    time_of(o, &t)? - number(&mut row, &["acct_delay_time"])?.unwrap_or(0)
                }
            };
            Ok(RadiusEvent {
                line,
                ts,
                status: take(&mut row, &["status", "acct_status_type", "status_type"])
                    .ok_or("no status")?,
                user: take(&mut row, USER_COLUMNS).unwrap_or_default(),
                session: take(&mut row, SESSION_COLUMNS).unwrap_or_default(),
                session_time: number(&mut row, &["session_time", "acct_session_time"])?,
                addrs: addresses(&mut row)?,
            })
        })();
        match r {
            Ok(e) => events.push(e),
            Err(m) => errors.push(err(line, m)),
        }
    }
    let mut out = radius_sessions(events, file);
    out.errors.extend(errors);
    out
}

/// Rows that are sessions (`radacct`): start, last update, stop, session time, addresses.
pub(super) fn session_rows(rows: Vec<Row>, file: &str, o: &ReadOptions) -> Parsed {
    let mut out = Parsed::default();
    for (line, mut row) in rows {
        let r = (|| -> Result<Vec<Record>, String> {
            let time = |row: &mut BTreeMap<String, String>, c: &str| {
                take(row, &[c]).map(|t| time_of(o, &t)).transpose()
            };
            let started = time(&mut row, "acctstarttime")?;
            let updated = time(&mut row, "acctupdatetime")?;
            let stopped = time(&mut row, "acctstoptime")?;
            let ran = number(&mut row, &["acctsessiontime"])?;
            let start = match (started, updated.zip(ran)) {
                (Some(s), _) => s,
                (None, Some((u, r))) => u - r,
                (None, None) => return Err("no acctstarttime".into()),
            };
            let end = check_span(start, stopped)?;
            let user = take(&mut row, USER_COLUMNS).unwrap_or_default();
            let session = take(&mut row, SESSION_COLUMNS).unwrap_or_default();
            let addrs = addresses(&mut row)?;
            if addrs.is_empty() {
                return Err(format!(
                    "session '{session}' has no framed address or prefix"
                ));
            }
            Ok(addrs
                .into_iter()
                .map(|(addr, prefix)| {
                    Record::Assignment(Assignment {
                        kind: "radius",
                        identity: user.to_lowercase(),
                        addr,
                        prefix,
                        start,
                        end,
                        source: format!("{file}:{line} session {session}"),
                    })
                })
                .collect())
        })();
        match r {
            Ok(recs) => out.records.extend(recs),
            Err(m) => out.errors.push(err(line, m)),
        }
    }
    out
}

/// A RADIUS session being assembled.
struct Open {
    line: usize,
    start: i64,
    user: String,
    addrs: Vec<(IpAddr, u8)>,
    end: Option<i64>,
}

/// Accounting events to sessions: Start opens, Interim-Update keeps (or opens, dated back by
/// its session time when the Start was lost), Stop closes.
fn radius_sessions(events: Vec<RadiusEvent>, file: &str) -> Parsed {
    let mut open: BTreeMap<(String, String), Open> = BTreeMap::new();
    let mut out = Parsed::default();
    for e in events {
        let status = e.status.to_ascii_lowercase().replace('_', "-");
        if matches!(status.as_str(), "accounting-on" | "accounting-off") {
            continue;
        }
        if !matches!(
            status.as_str(),
            "start" | "interim-update" | "alive" | "stop"
        ) {
            out.errors.push(err(
                e.line,
                format!("unknown Acct-Status-Type '{}'", e.status),
            ));
            continue;
        }
        // When the session began, as far as this request tells.
        let began = match (status.as_str(), e.session_time) {
            ("start", _) => Some(e.ts),
            (_, Some(ran)) => Some(e.ts - ran),
            _ => None,
        };
        let entry = open
            .entry((e.session.clone(), e.user.clone()))
            .or_insert(Open {
                line: e.line,
                start: began.unwrap_or(e.ts),
                user: e.user.clone(),
                addrs: Vec::new(),
                end: None,
            });
        if let Some(b) = began {
            entry.start = entry.start.min(b);
        }
        for a in e.addrs {
            if !entry.addrs.contains(&a) {
                entry.addrs.push(a);
            }
        }
        if status == "stop" {
            entry.end = Some(e.ts);
        }
    }
    for ((session, _), s) in open {
        if let Err(m) = check_span(s.start, s.end) {
            out.errors
                .push(err(s.line, format!("session '{session}' {m}")));
            continue;
        }
        if s.addrs.is_empty() {
            out.errors.push(err(
                s.line,
                format!("session '{session}' has no Framed-IP-Address or prefix"),
            ));
            continue;
        }
        for (addr, prefix) in s.addrs {
            out.records.push(Record::Assignment(Assignment {
                kind: "radius",
                identity: s.user.to_lowercase(),
                addr,
                prefix,
                start: s.start,
                end: s.end,
                source: format!("{file}:{} session {session}", s.line),
            }));
        }
    }
    out
}

/// One `detail` record: its first line and its attributes (lower-case names).
type DetailRecord = (usize, BTreeMap<String, String>);

/// A `detail` record as an accounting event.
fn detail_event((line, mut a): DetailRecord, o: &ReadOptions) -> Result<RadiusEvent, LineError> {
    let e = |m: String| err(line, m);
    let delay: i64 = take(&mut a, &["acct-delay-time"])
        .and_then(|d| d.parse().ok())
        .unwrap_or(0);
    let ts = match take(&mut a, &["event-timestamp"]) {
        Some(t) => time_of(o, &t).map_err(e)?,
        None => {
            let logged = take(&mut a, &["timestamp"])
                .or_else(|| take(&mut a, &["__date"]))
                .ok_or_else(|| e("record has no Event-Timestamp or date line".into()))?;
            time_of(o, &logged).map_err(e)? - delay
        }
    };
    let status = take(&mut a, &["acct-status-type"])
        .ok_or_else(|| e("record has no Acct-Status-Type".into()))?;
    let mut addrs = Vec::new();
    for c in [
        "framed-ip-address",
        "framed-ipv6-address",
        "framed-ipv6-prefix",
        "delegated-ipv6-prefix",
    ] {
        if let Some(v) = take(&mut a, &[c]) {
            addrs.push(
                addr_prefix(&v).ok_or_else(|| e(format!("'{v}' is not an address or prefix")))?,
            );
        }
    }
    Ok(RadiusEvent {
        line,
        ts,
        status,
        user: take(&mut a, &["user-name"]).unwrap_or_default(),
        session: take(&mut a, &["acct-session-id"]).unwrap_or_default(),
        session_time: take(&mut a, &["acct-session-time"]).and_then(|t| t.parse().ok()),
        addrs,
    })
}

/// FreeRADIUS `detail`: records separated by blank lines, a date line, then `Attr = value`.
pub(super) fn detail(text: &str, file: &str, o: &ReadOptions) -> Parsed {
    let mut records: Vec<DetailRecord> = Vec::new();
    let mut errors = Vec::new();
    let mut cur: Option<DetailRecord> = None;
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            records.extend(cur.take());
        } else if !l.starts_with([' ', '\t']) {
            records.extend(cur.take());
            let mut m = BTreeMap::new();
            m.insert("__date".to_string(), l.trim().to_string());
            cur = Some((i + 1, m));
        } else if let Some((_, m)) = cur.as_mut() {
            match l.split_once('=') {
                Some((k, v)) => {
                    m.insert(
                        k.trim().to_ascii_lowercase(),
                        v.trim().trim_matches('"').to_string(),
                    );
                }
                None => errors.push(err(
                    i + 1,
                    format!("not an 'Attribute = value' line: '{}'", l.trim()),
                )),
            }
        } else {
            errors.push(err(i + 1, "attribute line before any record date"));
        }
    }
    records.extend(cur);
    let mut events = Vec::new();
    for r in records {
        match detail_event(r, o) {
            Ok(e) => events.push(e),
            Err(x) => errors.push(x),
        }
    }
    let mut out = radius_sessions(events, file);
    out.errors.extend(errors);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stop_before_its_start_is_an_error_and_a_lost_start_is_dated_back() {
        let o = ReadOptions::default();
        let text = "timestamp,status,username,framed_ip,session_id,acct_session_time\n\
            2026-03-02T10:00:00Z,Start,a,192.0.2.1,S1,\n\
            2026-03-02T09:00:00Z,Stop,a,192.0.2.1,S1,\n\
            2026-03-02T10:00:00Z,Interim-Update,b,192.0.2.2,S2,3600\n";
        let p = csv_export(text, "f", &o);
        assert_eq!(p.errors.len(), 1, "{:?}", p.errors);
        assert!(
            p.errors[0].message.starts_with("session 'S1' ends"),
            "{:?}",
            p.errors
        );
        assert_eq!(p.errors[0].line, 2);
        let Record::Assignment(a) = &p.records[0] else {
            panic!()
        };
        assert_eq!(
            (a.identity.as_str(), a.start, a.end),
            ("b", 1_772_442_000, None)
        );
    }
}

//! RADIUS accounting: FreeRADIUS `detail` files and a CSV export, turned into sessions.

use super::csv::{csv_rows, take};
use super::{addr_prefix, err, Assignment, LineError, OpenSession, Parsed, Record};
use crate::attrib::time;
use std::collections::BTreeMap;
use std::net::IpAddr;

pub(super) struct RadiusEvent {
    line: usize,
    ts: i64,
    status: String,
    user: String,
    session: String,
    addrs: Vec<(IpAddr, u8)>,
}

/// A CSV export of accounting records: timestamp, status, user, session, addresses.
pub(super) fn csv_export(text: &str, file: &str) -> Parsed {
    let rows = match csv_rows(text) {
        Ok(rows) => rows,
        Err(e) => return (Vec::new(), vec![e]),
    };
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for (line, mut row) in rows {
        let r = (|| -> Result<RadiusEvent, String> {
            let t =
                take(&mut row, &["timestamp", "event_timestamp", "time"]).ok_or("no timestamp")?;
            Ok(RadiusEvent {
                line,
                ts: time::parse(&t).ok_or(format!("'{t}' is not a time"))?,
                status: take(&mut row, &["status", "acct_status_type"]).ok_or("no status")?,
                user: take(&mut row, &["username", "user_name"]).unwrap_or_default(),
                session: take(&mut row, &["session_id", "acct_session_id"]).unwrap_or_default(),
                addrs: [
                    "framed_ip_address",
                    "framed_ip",
                    "framed_ipv6_prefix",
                    "delegated_ipv6_prefix",
                ]
                .iter()
                .filter_map(|c| take(&mut row, &[c]))
                .map(|a| addr_prefix(&a).ok_or(format!("'{a}' is not an address or prefix")))
                .collect::<Result<_, _>>()?,
            })
        })();
        match r {
            Ok(e) => events.push(e),
            Err(m) => errors.push(err(line, m)),
        }
    }
    let (recs, mut errs) = radius_sessions(events, file);
    errors.append(&mut errs);
    (recs, errors)
}

/// Accounting events to sessions: Start opens, Interim-Update keeps (or opens), Stop closes.
fn radius_sessions(events: Vec<RadiusEvent>, file: &str) -> Parsed {
    let mut open: BTreeMap<(String, String), OpenSession> = BTreeMap::new();
    let mut errors = Vec::new();
    for e in events {
        let key = (e.session.clone(), e.user.clone());
        match e.status.to_ascii_lowercase().as_str() {
            "start" | "interim-update" | "interim_update" | "alive" => {
                let entry =
                    open.entry(key)
                        .or_insert((e.line, e.ts, e.user.clone(), Vec::new(), None));
                if entry.3.is_empty() {
                    entry.3 = e.addrs;
                }
            }
            "stop" => {
                let entry = open.entry(key).or_insert((
                    e.line,
                    e.ts,
                    e.user.clone(),
                    e.addrs.clone(),
                    None,
                ));
                entry.4 = Some(e.ts);
                if entry.3.is_empty() {
                    entry.3 = e.addrs;
                }
            }
            "accounting-on" | "accounting-off" => {}
            other => errors.push(err(e.line, format!("unknown Acct-Status-Type '{other}'"))),
        }
    }
    let mut recs = Vec::new();
    for ((session, _), (line, start, user, addrs, end)) in open {
        if addrs.is_empty() {
            errors.push(err(
                line,
                format!("session '{session}' has no Framed-IP-Address or prefix"),
            ));
            continue;
        }
        for (addr, prefix) in addrs {
            recs.push(Record::Assignment(Assignment {
                kind: "radius",
                identity: user.to_ascii_lowercase(),
                addr,
                prefix,
                start,
                end,
                source: format!("{file}:{line} session {session}"),
            }));
        }
    }
    (recs, errors)
}

/// FreeRADIUS `detail`: records separated by blank lines, a date line, then `Attr = value`.
pub(super) fn detail(text: &str, file: &str) -> Parsed {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    let mut cur: Option<(usize, BTreeMap<String, String>)> = None;
    let flush = |cur: &mut Option<(usize, BTreeMap<String, String>)>,
                 events: &mut Vec<RadiusEvent>,
                 errors: &mut Vec<LineError>| {
        let Some((line, mut a)) = cur.take() else {
            return;
        };
        let ts = take(&mut a, &["event-timestamp"])
            .and_then(|t| time::parse(&t))
            .or_else(|| take(&mut a, &["__date"]).and_then(|t| time::parse(&t)));
        let Some(ts) = ts else {
            errors.push(err(
                line,
                "record has no readable Event-Timestamp or date line",
            ));
            return;
        };
        let Some(status) = take(&mut a, &["acct-status-type"]) else {
            errors.push(err(line, "record has no Acct-Status-Type"));
            return;
        };
        let mut addrs = Vec::new();
        for c in [
            "framed-ip-address",
            "framed-ipv6-prefix",
            "delegated-ipv6-prefix",
        ] {
            if let Some(v) = take(&mut a, &[c]) {
                match addr_prefix(&v) {
                    Some(x) => addrs.push(x),
                    None => {
                        errors.push(err(line, format!("'{v}' is not an address or prefix")));
                        return;
                    }
                }
            }
        }
        events.push(RadiusEvent {
            line,
            ts,
            status,
            user: take(&mut a, &["user-name"]).unwrap_or_default(),
            session: take(&mut a, &["acct-session-id"]).unwrap_or_default(),
            addrs,
        });
    };
    for (i, l) in text.lines().enumerate() {
        if l.trim().is_empty() {
            flush(&mut cur, &mut events, &mut errors);
        } else if !l.starts_with([' ', '\t']) {
            flush(&mut cur, &mut events, &mut errors);
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
    flush(&mut cur, &mut events, &mut errors);
    let (recs, mut e2) = radius_sessions(events, file);
    errors.append(&mut e2);
    (recs, errors)
}

//! The CSV and JSON-lines formats: subscriber registries, static assignments, Kea leases and
//! CGNAT port blocks, read by column name.

use super::{addr_prefix, err, Assignment, LineError, Parsed, PortBlock, Record, Row, Subscriber};
use crate::attrib::time;
use std::collections::BTreeMap;

/// Header-mapped CSV (RFC 4180, read by the `csv` crate: quoted fields may hold commas, quotes
/// and line breaks): each row as (line number, column name → value). Blank lines and lines
/// starting with `#` are passed over; header names are lower-cased, spaces and dashes made `_`.
pub(super) fn csv_rows(text: &str) -> Result<Vec<Row>, LineError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(::csv::Trim::All)
        .flexible(true)
        .from_reader(text.as_bytes());
    let names: Vec<String> = match reader.headers() {
        Ok(h) => h
            .iter()
            .map(|h| h.to_ascii_lowercase().replace([' ', '-'], "_"))
            .collect(),
        Err(e) => return Err(csv_error(&e)),
    };
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&e))?;
        let line = record.position().map_or(0, |p| p.line() as usize);
        if record.len() == 1 && record[0].is_empty() {
            continue; // a line of blanks
        }
        if record.len() != names.len() {
            return Err(LineError {
                line,
                message: format!(
                    "{} fields where the header has {}",
                    record.len(),
                    names.len()
                ),
            });
        }
        rows.push((
            line,
            names
                .iter()
                .cloned()
                .zip(record.iter().map(String::from))
                .collect(),
        ));
    }
    Ok(rows)
}

/// A CSV reader's error, with the line it was found on.
fn csv_error(e: &::csv::Error) -> LineError {
    LineError {
        line: e.position().map_or(0, |p| p.line() as usize),
        message: e.to_string(),
    }
}

/// The first of `names` with a non-empty value (all of them are removed from the row).
pub(super) fn take(row: &mut BTreeMap<String, String>, names: &[&str]) -> Option<String> {
    let mut found = None;
    for n in names {
        if let Some(v) = row.remove(*n).filter(|v| !v.is_empty()) {
            found.get_or_insert(v);
        }
    }
    found
}

fn subscriber_from(mut row: BTreeMap<String, String>) -> Result<Subscriber, String> {
    let id = take(
        &mut row,
        &["id", "subscriber_id", "subscriber", "customer_id"],
    )
    .ok_or("no subscriber id")?;
    let mut s = Subscriber {
        id,
        name: take(
            &mut row,
            &[
                "name",
                "enterprise",
                "enterprise_name",
                "customer",
                "person",
            ],
        )
        .unwrap_or_default(),
        reg_no: take(
            &mut row,
            &[
                "registration_number",
                "reg_no",
                "uscc",
                "unified_social_credit_code",
                "credit_code",
            ],
        )
        .unwrap_or_default(),
        address: take(&mut row, &["address", "service_address", "site_address"])
            .unwrap_or_default(),
        contact: take(&mut row, &["contact", "phone", "email"]).unwrap_or_default(),
        account_type: take(&mut row, &["account_type", "type"]).unwrap_or_default(),
        circuit: take(&mut row, &["circuit", "circuit_id", "line_id", "line"]).unwrap_or_default(),
        ..Subscriber::default()
    };
    for col in [
        "username",
        "radius_user",
        "user_name",
        "mac",
        "hwaddr",
        "duid",
    ] {
        if let Some(v) = take(&mut row, &[col]) {
            s.identities.push(v.to_ascii_lowercase());
        }
    }
    if !s.circuit.is_empty() {
        s.identities.push(s.circuit.to_ascii_lowercase());
    }
    s.extra = row.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    Ok(s)
}

pub(super) fn rows_to(
    rows: Vec<Row>,
    f: impl Fn(usize, BTreeMap<String, String>) -> Result<Record, String>,
) -> Parsed {
    let mut out = (Vec::new(), Vec::new());
    for (line, row) in rows {
        match f(line, row) {
            Ok(r) => out.0.push(r),
            Err(m) => out.1.push(err(line, m)),
        }
    }
    out
}

/// A subscriber registry as CSV with a header.
pub(super) fn registry(text: &str) -> Parsed {
    match csv_rows(text) {
        Err(e) => (Vec::new(), vec![e]),
        Ok(rows) => rows_to(rows, |_, row| subscriber_from(row).map(Record::Subscriber)),
    }
}

/// A subscriber registry as JSON lines, one object a subscriber.
pub(super) fn registry_jsonl(text: &str) -> Parsed {
    let mut out = (Vec::new(), Vec::new());
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let row: Result<BTreeMap<String, serde_json::Value>, _> = serde_json::from_str(l);
        match row {
            Ok(r) => {
                let row = r
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            k.to_ascii_lowercase(),
                            v.as_str().map_or_else(|| v.to_string(), str::to_string),
                        )
                    })
                    .collect();
                match subscriber_from(row) {
                    Ok(s) => out.0.push(Record::Subscriber(s)),
                    Err(m) => out.1.push(err(i + 1, m)),
                }
            }
            Err(e) => out.1.push(err(i + 1, format!("not a JSON object: {e}"))),
        }
    }
    out
}

/// Static assignments: address or CIDR, subscriber, validity.
pub(super) fn static_assignments(text: &str, file: &str) -> Parsed {
    let rows = match csv_rows(text) {
        Ok(rows) => rows,
        Err(e) => return (Vec::new(), vec![e]),
    };
    rows_to(rows, |line, mut row| {
        let a = take(&mut row, &["address", "cidr", "ip", "prefix"]).ok_or("no address")?;
        let (addr, prefix) = addr_prefix(&a).ok_or(format!("'{a}' is not an address or CIDR"))?;
        let identity =
            take(&mut row, &["subscriber", "subscriber_id", "id"]).ok_or("no subscriber")?;
        let start = match take(&mut row, &["start", "valid_from", "from"]) {
            Some(t) => time::parse(&t).ok_or(format!("'{t}' is not a time"))?,
            None => 0,
        };
        let end = match take(&mut row, &["end", "valid_to", "to"]) {
            Some(t) => Some(time::parse(&t).ok_or(format!("'{t}' is not a time"))?),
            None => None,
        };
        Ok(Record::Assignment(Assignment {
            kind: "static",
            identity: identity.to_ascii_lowercase(),
            addr,
            prefix,
            start,
            end,
            source: format!("{file}:{line}"),
        }))
    })
}

/// Kea's lease CSV (v4 and v6 memfile).
pub(super) fn kea(text: &str, file: &str) -> Parsed {
    let rows = match csv_rows(text) {
        Ok(rows) => rows,
        Err(e) => return (Vec::new(), vec![e]),
    };
    rows_to(rows, |line, mut row| {
        let a = take(&mut row, &["address"]).ok_or("no address")?;
        let prefix_len = take(&mut row, &["prefix_len"]).and_then(|p| p.parse::<u8>().ok());
        let (addr, prefix) = addr_prefix(&a).ok_or(format!("'{a}' is not an address"))?;
        let prefix = prefix_len.unwrap_or(prefix);
        let identity =
            take(&mut row, &["hwaddr", "duid", "client_id"]).ok_or("no hwaddr or duid")?;
        let life: i64 = take(&mut row, &["valid_lifetime"])
            .and_then(|v| v.parse().ok())
            .ok_or("no valid_lifetime")?;
        let expire: i64 = take(&mut row, &["expire"])
            .and_then(|v| v.parse().ok())
            .ok_or("no expire")?;
        Ok(Record::Assignment(Assignment {
            kind: "kea",
            identity: identity.to_ascii_lowercase(),
            addr,
            prefix,
            start: expire - life,
            end: Some(expire),
            source: format!("{file}:{line}"),
        }))
    })
}

/// CGNAT port blocks as CSV.
pub(super) fn cgnat(text: &str, file: &str) -> Parsed {
    let rows = match csv_rows(text) {
        Ok(rows) => rows,
        Err(e) => return (Vec::new(), vec![e]),
    };
    rows_to(rows, |line, mut row| {
        let public = take(&mut row, &["public_ip", "public", "outside"])
            .and_then(|a| a.parse().ok())
            .ok_or("no public address")?;
        let private = take(&mut row, &["private_ip", "private", "inside"])
            .and_then(|a| a.parse().ok())
            .ok_or("no private address")?;
        let port = |row: &mut BTreeMap<String, String>, n: &[&str]| {
            take(row, n).and_then(|p| p.parse::<u16>().ok())
        };
        let port_lo =
            port(&mut row, &["port_start", "port_lo", "port_first"]).ok_or("no port_start")?;
        let port_hi = port(&mut row, &["port_end", "port_hi", "port_last"]).ok_or("no port_end")?;
        if port_hi < port_lo {
            return Err("port_end before port_start".into());
        }
        let start = take(&mut row, &["start"])
            .and_then(|t| time::parse(&t))
            .ok_or("no start time")?;
        let end = match take(&mut row, &["end"]) {
            Some(t) => Some(time::parse(&t).ok_or(format!("'{t}' is not a time"))?),
            None => None,
        };
        Ok(Record::Block(PortBlock {
            public,
            port_lo,
            port_hi,
            private,
            start,
            end,
            source: format!("{file}:{line}"),
        }))
    })
}

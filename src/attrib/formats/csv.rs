//! The CSV and JSON-lines formats: subscriber registries, static assignments, Kea leases and
//! CGNAT port blocks, read by column name.

use super::{
    addr_prefix, check_span, columns, err, lease, time_of, Assignment, LineError, Parsed,
    PortBlock, ReadOptions, Record, Row, Subscriber,
};
use std::collections::BTreeMap;

/// The CSV field separator of `text`: of `,`, `;`, tab and `|`, the one the first line that is
/// not blank or a comment has most of outside quotes (`,` when it has none).
fn sniff_delimiter(text: &str) -> u8 {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'))
        .unwrap_or("");
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for c in first.bytes() {
        match c {
            b'"' => quoted = !quoted,
            _ if quoted => {}
            b',' => counts[0] += 1,
            b';' => counts[1] += 1,
            b'\t' => counts[2] += 1,
            b'|' => counts[3] += 1,
            _ => {}
        }
    }
    let best = (0..4)
        .max_by_key(|&i| (counts[i], std::cmp::Reverse(i)))
        .unwrap_or(0);
    if counts[best] == 0 {
        b','
    } else {
        [b',', b';', b'\t', b'|'][best]
    }
}

/// Header-mapped CSV (RFC 4180, read by the `csv` crate: quoted fields may hold commas, quotes
/// and line breaks), the separator detected or given: each row as (line number, column name →
/// value), names as [`columns::normalise`] makes them. The header is the first line, or the
/// user's for a file that has none. Blank lines and lines starting with `#` are passed over; a
/// row with more or fewer fields than the header is named and left out, and the rows after it
/// are read.
pub(super) fn csv_rows(text: &str, o: &ReadOptions) -> (Vec<Row>, Vec<LineError>) {
    let mut reader = ::csv::ReaderBuilder::new()
        .comment(Some(b'#'))
        .trim(::csv::Trim::All)
        .flexible(true)
        .has_headers(false)
        .delimiter(o.delimiter.unwrap_or_else(|| sniff_delimiter(text)))
        .from_reader(text.as_bytes());
    // Line numbers from byte offsets: the reader counts a run of line ends as one, so lines
    // left out by the decoder (empty in the text) would shift its numbers.
    let starts: Vec<usize> = std::iter::once(0)
        .chain(text.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    let line_of = |p: Option<&::csv::Position>| {
        p.map_or(0, |p| {
            // A record's position is where the reader began, before the blank lines it passed.
            let mut b = p.byte() as usize;
            while matches!(text.as_bytes().get(b), Some(b'\n' | b'\r')) {
                b += 1;
            }
            starts.partition_point(|&s| s <= b)
        })
    };
    let mut records = reader.records();
    let first = match records.next() {
        None => return (Vec::new(), Vec::new()),
        Some(Err(e)) => return (Vec::new(), vec![csv_error(&e)]),
        Some(Ok(r)) => r,
    };
    let first_is_data = first.iter().any(|f| looks_like_data(f, o));
    let (names, mut pending): (Vec<String>, Option<::csv::StringRecord>) = match (
        &o.header,
        first_is_data,
    ) {
        (Some(h), true) => (
            h.iter().map(|h| columns::normalise(h)).collect(),
            Some(first),
        ),
        (_, false) => (first.iter().map(columns::normalise).collect(), None),
        (None, true) => {
            let shown: Vec<String> = first.iter().take(4).map(|f| format!("'{f}'")).collect();
            return (
                    Vec::new(),
                    vec![LineError {
                        line: line_of(first.position()),
                        message: format!(
                            "the first line is data, not a header ({}, ...): name the columns with --header; nothing read",
                            shown.join(", ")
                        ),
                    }],
                );
        }
    };
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    while let Some(record) = pending.take().map(Ok).or_else(|| records.next()) {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(csv_error(&e));
                continue;
            }
        };
        let line = line_of(record.position());
        if record.iter().all(str::is_empty) {
            continue; // a line of blanks, or of empty fields
        }
        if record.len() != names.len() {
            errors.push(LineError {
                line,
                message: format!(
                    "{} fields where the header has {}",
                    record.len(),
                    names.len()
                ),
            });
            continue;
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
    (rows, errors)
}

/// Whether a first-line field is a value rather than a column name: an address, a number of
/// six digits or more, a time.
fn looks_like_data(f: &str, o: &ReadOptions) -> bool {
    f.parse::<std::net::IpAddr>().is_ok()
        || super::addr_prefix(f).is_some()
        || (f.len() >= 6 && f.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
        || (f.len() >= 10 && f.contains(['-', '/', ':']) && o.clock.parse(f).is_some())
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

/// A registry row (column name → value) as a subscriber: each column to its field by the
/// synonyms or the user's mapping; columns that map to nothing are kept as they are.
fn subscriber_from(row: BTreeMap<String, String>, o: &ReadOptions) -> Result<Subscriber, String> {
    let mut fields: BTreeMap<&'static str, String> = BTreeMap::new();
    let mut s = Subscriber::default();
    for (col, v) in row {
        if v.is_empty() {
            continue;
        }
        match columns::field_of(&col, &o.columns) {
            Some(f) => {
                fields.entry(f).or_insert(v);
            }
            None => {
                s.extra.insert(col, v);
            }
        }
    }
    let mut get = |f: &str| fields.remove(f).unwrap_or_default();
    s.id = get("id");
    s.name = get("name");
    s.reg_no = get("registration_number");
    s.address = get("address");
    s.contact = get("contact");
    s.account_type = get("account_type");
    s.circuit = get("circuit");
    let region = get("region");
    if !region.is_empty() {
        s.extra.insert("region".into(), region);
    }
    for f in columns::FIELDS.iter().filter(|f| f.identity) {
        let v = if f.name == "circuit" {
            s.circuit.clone()
        } else {
            get(f.name)
        };
        if !v.is_empty() {
            s.identities.push(v.to_lowercase());
        }
    }
    if s.id.is_empty() {
        // A registry keyed by its access account: the account is the id.
        s.id = s.identities.first().cloned().ok_or("no subscriber id")?;
    }
    Ok(s)
}

/// The columns of a registry that map to no field, once each, as a note.
fn unmapped(names: impl Iterator<Item = String>, o: &ReadOptions) -> Option<String> {
    let mut left: Vec<String> = names
        .filter(|n| columns::field_of(n, &o.columns).is_none())
        .collect();
    left.sort();
    left.dedup();
    (!left.is_empty()).then(|| {
        format!(
            "column(s) {} map to no field and are kept as they are (name them with --registry-columns FIELD=HEADER)",
            left.iter()
                .map(|n| format!("'{n}'"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

pub(super) fn rows_to(
    (rows, errors): (Vec<Row>, Vec<LineError>),
    f: impl Fn(usize, BTreeMap<String, String>) -> Result<Record, String>,
) -> Parsed {
    let mut out = Parsed {
        errors,
        ..Parsed::default()
    };
    for (line, row) in rows {
        match f(line, row) {
            Ok(r) => out.records.push(r),
            Err(m) => out.errors.push(err(line, m)),
        }
    }
    out
}

/// A subscriber registry as CSV with a header.
pub(super) fn registry(text: &str, o: &ReadOptions) -> Parsed {
    let rows = csv_rows(text, o);
    let note = unmapped(
        rows.0
            .first()
            .into_iter()
            .flat_map(|(_, r)| r.keys().cloned()),
        o,
    );
    let mut out = rows_to(rows, |_, row| {
        subscriber_from(row, o).map(Record::Subscriber)
    });
    out.notes.extend(note);
    out
}

/// A subscriber registry as JSON lines, one object a subscriber.
pub(super) fn registry_jsonl(text: &str, o: &ReadOptions) -> Parsed {
    let mut out = Parsed::default();
    let mut names = Vec::new();
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let row: Result<BTreeMap<String, serde_json::Value>, _> = serde_json::from_str(l);
        match row {
            Ok(r) => {
                let row: BTreeMap<String, String> = r
                    .into_iter()
                    .map(|(k, v)| {
                        (
                            columns::normalise(&k),
                            v.as_str().map_or_else(|| v.to_string(), str::to_string),
                        )
                    })
                    .collect();
                names.extend(row.keys().cloned());
                match subscriber_from(row, o) {
                    Ok(s) => out.records.push(Record::Subscriber(s)),
                    Err(m) => out.errors.push(err(i + 1, m)),
                }
            }
            Err(e) => out
                .errors
                .push(err(i + 1, format!("not a JSON object: {e}"))),
        }
    }
    out.notes.extend(unmapped(names.into_iter(), o));
    out
}

/// Static assignments: address or CIDR, subscriber, validity.
pub(super) fn static_assignments(text: &str, file: &str, o: &ReadOptions) -> Parsed {
    rows_to(csv_rows(text, o), |line, mut row| {
        let a = take(&mut row, &["address", "cidr", "ip", "prefix", "ip_address"])
            .ok_or("no address")?;
        let (addr, prefix) = addr_prefix(&a).ok_or(format!("'{a}' is not an address or CIDR"))?;
        let identity = take(
            &mut row,
            &["subscriber", "subscriber_id", "id", "customer_id"],
        )
        .ok_or("no subscriber")?;
        let start = match take(&mut row, &["start", "valid_from", "from"]) {
            Some(t) => time_of(o, &t)?,
            None => 0,
        };
        let end = match take(&mut row, &["end", "valid_to", "to"]) {
            Some(t) => Some(time_of(o, &t)?),
            None => None,
        };
        Ok(Record::Assignment(Assignment {
            kind: "static",
            identity: identity.to_lowercase(),
            addr,
            prefix,
            start,
            end: check_span(start, end)?,
            source: format!("{file}:{line}"),
        }))
    })
}

/// Kea's lease CSV (v4 and v6 memfile): every line is the lease's state when written (a renewal,
/// a release with lifetime 0, a reclaimed expiry with state 2); they are joined into holdings.
pub(super) fn kea(text: &str, file: &str, o: &ReadOptions) -> Parsed {
    let (rows, errors) = csv_rows(text, o);
    let mut out = Parsed {
        errors,
        ..Parsed::default()
    };
    let mut seen = Vec::new();
    for (line, mut row) in rows {
        let r = (|| -> Result<lease::Seen, String> {
            let a = take(&mut row, &["address"]).ok_or("no address")?;
            let prefix_len = take(&mut row, &["prefix_len"]).and_then(|p| p.parse::<u8>().ok());
            let (addr, prefix) = addr_prefix(&a).ok_or(format!("'{a}' is not an address"))?;
            // v6 leases are the DUID's (a v6 line also names a hardware address, when known).
            let identity = if row.contains_key("duid") {
                take(&mut row, &["duid", "hwaddr"])
            } else {
                take(&mut row, &["hwaddr", "client_id"])
            };
            let num = |row: &mut BTreeMap<String, String>, c: &str| -> Result<i64, String> {
                let v = take(row, &[c]).ok_or(format!("no {c}"))?;
                v.parse().map_err(|_| format!("{c} '{v}' is not a number"))
            };
            let life = num(&mut row, "valid_lifetime")?;
            let expire = num(&mut row, "expire")?;
            let state = take(&mut row, &["state"]).unwrap_or_default();
            Ok(lease::Seen {
                line,
                addr,
                prefix: prefix_len.unwrap_or(prefix),
                identity: identity.map(|i| i.to_lowercase()),
                renewed: expire - life,
                // Lifetime 0: released or deleted. Kea writes the last renewal's time, not the
                // release's, so the holding keeps its expiry (unless another client takes the
                // address first). State 1: declined; 2: reclaimed at its expiry.
                ends: if life == 0 { lease::NO_END } else { expire },
                over: life == 0 || state == "1" || state == "2",
            })
        })();
        match r {
            Ok(s) => seen.push(s),
            Err(m) => out.errors.push(err(line, m)),
        }
    }
    let (records, errors) = lease::holdings(seen, "kea", file);
    out.records = records;
    out.errors.extend(errors);
    out
}

/// CGNAT port blocks as CSV.
pub(super) fn cgnat(text: &str, file: &str, o: &ReadOptions) -> Parsed {
    rows_to(csv_rows(text, o), |line, mut row| {
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
        let start = time_of(o, &take(&mut row, &["start"]).ok_or("no start time")?)?;
        let end = match take(&mut row, &["end"]) {
            Some(t) => Some(time_of(o, &t)?),
            None => None,
        };
        Ok(Record::Block(PortBlock {
            public,
            port_lo,
            port_hi,
            private,
            start,
            end: check_span(start, end)?,
            source: format!("{file}:{line}"),
        }))
    })
}

//! The operators' records, parsed: subscriber registries (CSV, JSON lines), static assignments,
//! RADIUS accounting (FreeRADIUS `detail` files and a CSV export), DHCP leases (ISC
//! `dhcpd.leases`, Kea lease CSV v4 and v6) and CGNAT port-block logs (CSV and syslog lines).
//! A line that cannot be read is an error with its line number; the rest is still taken.

use super::time;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A subscriber (enterprise or person) from the registry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscriber {
    pub id: String,
    pub name: String,
    pub reg_no: String,
    pub address: String,
    pub contact: String,
    pub account_type: String,
    pub circuit: String,
    /// Other identities of the subscriber in the network's records (RADIUS user name, MAC,
    /// DUID, circuit id).
    pub identities: Vec<String>,
    /// Columns with no meaning here, kept as they are.
    pub extra: BTreeMap<String, String>,
}

/// An address (or prefix) held by an identity for a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// static, radius, dhcp, kea
    pub kind: &'static str,
    /// Whom the record names: subscriber id, RADIUS user, MAC, DUID.
    pub identity: String,
    pub addr: IpAddr,
    pub prefix: u8,
    pub start: i64,
    /// None: still open (a RADIUS session without Stop, a static assignment without end).
    pub end: Option<i64>,
    /// Where it came from: file:line, and the session id for RADIUS.
    pub source: String,
}

/// A CGNAT port block: `public:port_lo-port_hi` was `private`'s from `start` to `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBlock {
    pub public: IpAddr,
    pub port_lo: u16,
    pub port_hi: u16,
    pub private: IpAddr,
    pub start: i64,
    pub end: Option<i64>,
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    Subscriber(Subscriber),
    Assignment(Assignment),
    /// A port block allocated (end None) or released (the release time in `end`, start 0).
    Block(PortBlock),
    Release(PortBlock),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// The input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    RegistryCsv,
    RegistryJsonl,
    StaticCsv,
    RadiusDetail,
    RadiusCsv,
    DhcpdLeases,
    KeaCsv,
    CgnatCsv,
    CgnatSyslog,
}

type Parsed = (Vec<Record>, Vec<LineError>);
/// A CSV row: its line number and its values by column name.
type Row = (usize, BTreeMap<String, String>);
/// A RADIUS session being assembled: first line, start, user, addresses, end.
type OpenSession = (usize, i64, String, Vec<(IpAddr, u8)>, Option<i64>);
/// A dhcpd lease being read: line, address, starts, ends, MAC.
type OpenLease = (usize, IpAddr, Option<i64>, Option<i64>, Option<String>);

/// Splits one CSV line (RFC 4180 quoting).
pub fn csv_fields(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out.into_iter().map(|f| f.trim().to_string()).collect()
}

/// Header-mapped CSV: each row as (line number, column name → value).
fn csv_rows(text: &str) -> Result<Vec<Row>, LineError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'));
    let Some((_, header)) = lines.next() else {
        return Ok(Vec::new());
    };
    let names: Vec<String> = csv_fields(header)
        .iter()
        .map(|h| h.to_ascii_lowercase().replace([' ', '-'], "_"))
        .collect();
    let mut rows = Vec::new();
    for (i, l) in lines {
        let f = csv_fields(l);
        if f.len() != names.len() {
            return Err(LineError {
                line: i + 1,
                message: format!("{} fields where the header has {}", f.len(), names.len()),
            });
        }
        rows.push((i + 1, names.iter().cloned().zip(f).collect()));
    }
    Ok(rows)
}

/// The first of `names` with a non-empty value (all of them are removed from the row).
fn take(row: &mut BTreeMap<String, String>, names: &[&str]) -> Option<String> {
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

fn addr_prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = a.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let p = p.unwrap_or(max);
    (p <= max).then_some((ip, p))
}

fn err(line: usize, message: impl Into<String>) -> LineError {
    LineError {
        line,
        message: message.into(),
    }
}

/// Parses one file of the given format; `file` names it in sources.
pub fn parse(format: Format, text: &str, file: &str) -> Parsed {
    match format {
        Format::RegistryCsv => match csv_rows(text) {
            Err(e) => (Vec::new(), vec![e]),
            Ok(rows) => rows_to(rows, |_, row| subscriber_from(row).map(Record::Subscriber)),
        },
        Format::RegistryJsonl => {
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
        Format::StaticCsv => match csv_rows(text) {
            Err(e) => (Vec::new(), vec![e]),
            Ok(rows) => rows_to(rows, |line, mut row| {
                let a = take(&mut row, &["address", "cidr", "ip", "prefix"]).ok_or("no address")?;
                let (addr, prefix) =
                    addr_prefix(&a).ok_or(format!("'{a}' is not an address or CIDR"))?;
                let identity = take(&mut row, &["subscriber", "subscriber_id", "id"])
                    .ok_or("no subscriber")?;
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
            }),
        },
        Format::RadiusCsv => match csv_rows(text) {
            Err(e) => (Vec::new(), vec![e]),
            Ok(rows) => {
                let mut events = Vec::new();
                let mut errors = Vec::new();
                for (line, mut row) in rows {
                    let r = (|| -> Result<RadiusEvent, String> {
                        let t = take(&mut row, &["timestamp", "event_timestamp", "time"])
                            .ok_or("no timestamp")?;
                        Ok(RadiusEvent {
                            line,
                            ts: time::parse(&t).ok_or(format!("'{t}' is not a time"))?,
                            status: take(&mut row, &["status", "acct_status_type"])
                                .ok_or("no status")?,
                            user: take(&mut row, &["username", "user_name"]).unwrap_or_default(),
                            session: take(&mut row, &["session_id", "acct_session_id"])
                                .unwrap_or_default(),
                            addrs: [
                                "framed_ip_address",
                                "framed_ip",
                                "framed_ipv6_prefix",
                                "delegated_ipv6_prefix",
                            ]
                            .iter()
                            .filter_map(|c| take(&mut row, &[c]))
                            .map(|a| {
                                addr_prefix(&a).ok_or(format!("'{a}' is not an address or prefix"))
                            })
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
        },
        Format::RadiusDetail => radius_detail(text, file),
        Format::DhcpdLeases => dhcpd(text, file),
        Format::KeaCsv => match csv_rows(text) {
            Err(e) => (Vec::new(), vec![e]),
            Ok(rows) => rows_to(rows, |line, mut row| {
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
            }),
        },
        Format::CgnatCsv => match csv_rows(text) {
            Err(e) => (Vec::new(), vec![e]),
            Ok(rows) => rows_to(rows, |line, mut row| {
                let public = take(&mut row, &["public_ip", "public", "outside"])
                    .and_then(|a| a.parse().ok())
                    .ok_or("no public address")?;
                let private = take(&mut row, &["private_ip", "private", "inside"])
                    .and_then(|a| a.parse().ok())
                    .ok_or("no private address")?;
                let port = |row: &mut BTreeMap<String, String>, n: &[&str]| {
                    take(row, n).and_then(|p| p.parse::<u16>().ok())
                };
                let port_lo = port(&mut row, &["port_start", "port_lo", "port_first"])
                    .ok_or("no port_start")?;
                let port_hi =
                    port(&mut row, &["port_end", "port_hi", "port_last"]).ok_or("no port_end")?;
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
            }),
        },
        Format::CgnatSyslog => cgnat_syslog(text, file),
    }
}

fn rows_to(
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

struct RadiusEvent {
    line: usize,
    ts: i64,
    status: String,
    user: String,
    session: String,
    addrs: Vec<(IpAddr, u8)>,
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
fn radius_detail(text: &str, file: &str) -> Parsed {
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

/// ISC dhcpd.leases: `lease ADDR { starts ...; ends ...; hardware ethernet MAC; }` blocks.
fn dhcpd(text: &str, file: &str) -> Parsed {
    let mut recs = Vec::new();
    let mut errors = Vec::new();
    let mut cur: Option<OpenLease> = None;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim().trim_end_matches(';');
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some(rest) = l.strip_prefix("lease ") {
            let a = rest.trim_end_matches('{').trim();
            match a.parse() {
                Ok(addr) => cur = Some((i + 1, addr, None, None, None)),
                Err(_) => errors.push(err(i + 1, format!("'{a}' is not an address"))),
            }
        } else if l == "}" {
            if let Some((line, addr, start, end, mac)) = cur.take() {
                match (start, mac) {
                    (Some(start), Some(mac)) => recs.push(Record::Assignment(Assignment {
                        kind: "dhcp",
                        identity: mac.to_ascii_lowercase(),
                        addr,
                        prefix: if addr.is_ipv4() { 32 } else { 128 },
                        start,
                        end,
                        source: format!("{file}:{line}"),
                    })),
                    _ => errors.push(err(line, "lease without starts or hardware ethernet")),
                }
            }
        } else if let Some(c) = cur.as_mut() {
            if let Some(t) = l.strip_prefix("starts ") {
                c.2 = time::parse(t);
            } else if let Some(t) = l.strip_prefix("ends ") {
                c.3 = if t.trim() == "never" {
                    None
                } else {
                    time::parse(t)
                };
            } else if let Some(m) = l.strip_prefix("hardware ethernet ") {
                c.4 = Some(m.trim().to_string());
            }
        }
    }
    if let Some((line, ..)) = cur {
        errors.push(err(line, "lease block not closed"));
    }
    (recs, errors)
}

/// CGNAT syslog lines: a time at the start (RFC 5424 `<pri>1 TIME ...`, or ISO 8601), and
/// `allocated`/`released` with `PRIVATE -> PUBLIC:PORT-PORT`.
fn cgnat_syslog(text: &str, file: &str) -> Parsed {
    let mut out = (Vec::new(), Vec::new());
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r = (|| -> Result<Record, String> {
            let words: Vec<&str> = l.split_whitespace().collect();
            let ts = words
                .iter()
                .take(3)
                .find_map(|w| time::parse(w))
                .ok_or("no time at the start of the line")?;
            let lower = l.to_ascii_lowercase();
            let allocated = lower.contains("allocated") || lower.contains("created");
            let released = lower.contains("released") || lower.contains("deleted");
            if !(allocated || released) {
                return Err("neither 'allocated' nor 'released'".into());
            }
            let arrow = words
                .iter()
                .position(|w| *w == "->")
                .ok_or("no 'PRIVATE -> PUBLIC:PORTS'")?;
            let private: IpAddr = words
                .get(arrow.wrapping_sub(1))
                .and_then(|w| w.parse().ok())
                .ok_or("no private address before '->'")?;
            let target = words.get(arrow + 1).ok_or("nothing after '->'")?;
            let (pubs, ports) = target
                .rsplit_once(':')
                .ok_or("no ':PORTS' after the public address")?;
            let public: IpAddr = pubs
                .trim_matches(['[', ']'])
                .parse()
                .map_err(|_| format!("'{pubs}' is not an address"))?;
            let (lo, hi) = ports.split_once('-').ok_or("ports are not 'FIRST-LAST'")?;
            let (port_lo, port_hi) = (
                lo.parse::<u16>().map_err(|_| "bad first port")?,
                hi.trim_end_matches([',', ';'])
                    .parse::<u16>()
                    .map_err(|_| "bad last port")?,
            );
            let b = PortBlock {
                public,
                port_lo,
                port_hi,
                private,
                start: ts,
                end: None,
                source: format!("{file}:{}", i + 1),
            };
            Ok(if allocated {
                Record::Block(b)
            } else {
                Record::Release(PortBlock { end: Some(ts), ..b })
            })
        })();
        match r {
            Ok(r) => out.0.push(r),
            Err(m) => out.1.push(err(i + 1, m)),
        }
    }
    out
}

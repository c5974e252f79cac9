//! The operators' records, parsed: subscriber registries (CSV, JSON lines), static assignments,
//! RADIUS accounting (FreeRADIUS `detail` files and a CSV export), DHCP leases (ISC
//! `dhcpd.leases`, Kea lease CSV v4 and v6) and CGNAT port-block logs (CSV and syslog lines).
//! A line that cannot be read is an error with its line number; the rest is still taken.

pub mod columns;
mod conntrack;
mod csv;
mod dhcpd;
mod lease;
mod radius;
mod syslog;
pub mod text;

pub use text::Encoding;

use std::collections::BTreeMap;
use std::net::IpAddr;

/// A subscriber (enterprise or person) from the registry.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Subscriber {
    /// The registry's id of the subscriber.
    pub id: String,
    /// Enterprise or person name.
    pub name: String,
    /// Registration number (unified social credit code).
    pub reg_no: String,
    /// Service address.
    pub address: String,
    /// Contact (phone, e-mail).
    pub contact: String,
    /// Account type as the registry gives it.
    pub account_type: String,
    /// Line or circuit id.
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
    /// The address, or the first address of the prefix.
    pub addr: IpAddr,
    /// Prefix length (32 or 128 for one address).
    pub prefix: u8,
    /// Start of validity, seconds since the epoch.
    pub start: i64,
    /// None: still open (a RADIUS session without Stop, a static assignment without end).
    pub end: Option<i64>,
    /// Where it came from: file:line, and the session id for RADIUS.
    pub source: String,
}

/// A CGNAT port block: `public:port_lo-port_hi` was `private`'s from `start` to `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortBlock {
    /// Public (outside) address.
    pub public: IpAddr,
    /// First port of the block.
    pub port_lo: u16,
    /// Last port of the block.
    pub port_hi: u16,
    /// Private (inside) address.
    pub private: IpAddr,
    /// Allocation time, seconds since the epoch.
    pub start: i64,
    /// Release time, when known.
    pub end: Option<i64>,
    /// Where it came from: file:line.
    pub source: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// One record read from an operator's file.
pub enum Record {
    /// A registry row.
    Subscriber(Subscriber),
    /// An address held for a time.
    Assignment(Assignment),
    /// A port block allocated (end None) or released (the release time in `end`, start 0).
    Block(PortBlock),
    /// A port block released (its release time in `end`).
    Release(PortBlock),
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// A line that could not be read: where, and why.
pub struct LineError {
    /// Line number, from 1.
    pub line: usize,
    /// What was wrong.
    pub message: String,
}

/// The input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Subscriber registry as CSV with a header.
    RegistryCsv,
    /// Subscriber registry as JSON lines.
    RegistryJsonl,
    /// Static assignments as CSV.
    StaticCsv,
    /// FreeRADIUS `detail` accounting file.
    RadiusDetail,
    /// RADIUS accounting exported as CSV.
    RadiusCsv,
    /// ISC `dhcpd.leases`.
    DhcpdLeases,
    /// Kea lease CSV (v4 or v6).
    KeaCsv,
    /// CGNAT port blocks as CSV.
    CgnatCsv,
    /// CGNAT port-block syslog lines.
    CgnatSyslog,
    /// Linux conntrack NAT events (`conntrack -E -o timestamp,extended`, or ulogd2 JSON).
    Conntrack,
    /// FreeRADIUS's SQL accounting table, from its SQLite file.
    RadiusSql,
}

/// How to read a file: its encoding, its CSV shape, the registry's column names, its times.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    /// The file's encoding (detected unless given).
    pub encoding: Encoding,
    /// The CSV field separator (detected from the header unless given).
    pub delimiter: Option<u8>,
    /// The column names of a CSV file that has no header line.
    pub header: Option<Vec<String>>,
    /// Registry columns named by the user: (field, header).
    pub columns: Vec<(String, String)>,
    /// How to read local times and times without a year.
    pub clock: crate::attrib::time::Clock,
}

/// What a file gave: its records, the lines that could not be read, and notes for the user
/// (the encoding it was read in, columns that map to nothing).
#[derive(Debug, Default)]
pub struct Parsed {
    /// The records read.
    pub records: Vec<Record>,
    /// The lines left out, and why.
    pub errors: Vec<LineError>,
    /// Things the user should know that lost nothing.
    pub notes: Vec<String>,
}

impl Parsed {
    fn failed(e: LineError) -> Parsed {
        Parsed {
            errors: vec![e],
            ..Parsed::default()
        }
    }
}
/// A CSV row: its line number and its values by column name.
pub type Row = (usize, BTreeMap<String, String>);

/// The sessions of FreeRADIUS's `radacct` table rows, given as (row number, column → value).
pub fn radacct_rows(rows: Vec<Row>, file: &str, o: &ReadOptions) -> Parsed {
    radius::session_rows(rows, file, o)
}

pub(super) fn addr_prefix(s: &str) -> Option<(IpAddr, u8)> {
    let (a, p) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = a.trim().parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let p = p.unwrap_or(max);
    (p <= max).then_some((ip, p))
}

/// A time read with the file's clock; an error naming the text when it is not one.
pub(super) fn time_of(o: &ReadOptions, t: &str) -> Result<i64, String> {
    o.clock.parse(t).ok_or(format!("'{t}' is not a time"))
}

/// An end that is not before its start, or the error for the line.
pub(super) fn check_span(start: i64, end: Option<i64>) -> Result<Option<i64>, String> {
    match end {
        Some(e) if e < start => Err(format!(
            "ends ({}) before it starts ({})",
            crate::attrib::time::rfc3339(e),
            crate::attrib::time::rfc3339(start)
        )),
        e => Ok(e),
    }
}
pub(super) fn err(line: usize, message: impl Into<String>) -> LineError {
    LineError {
        line,
        message: message.into(),
    }
}

/// Parses one file of the given format; `file` names it in sources.
pub fn parse(format: Format, bytes: &[u8], file: &str, o: &ReadOptions) -> Parsed {
    let decoded = text::decode(bytes, o.encoding);
    let text = decoded.text.as_str();
    let mut out = match format {
        Format::RegistryCsv => csv::registry(text, o),
        Format::RegistryJsonl => csv::registry_jsonl(text, o),
        Format::StaticCsv => csv::static_assignments(text, file, o),
        Format::RadiusCsv => radius::csv_export(text, file, o),
        Format::RadiusDetail => radius::detail(text, file, o),
        Format::DhcpdLeases => dhcpd::leases(text, file),
        Format::KeaCsv => csv::kea(text, file, o),
        Format::CgnatCsv => csv::cgnat(text, file, o),
        Format::CgnatSyslog => syslog::cgnat(text, file, o),
        Format::Conntrack => conntrack::events(text, file, o),
        Format::RadiusSql => Parsed::failed(err(0, "a SQLite file is read by the store")),
    };
    if !bytes.is_ascii() {
        out.notes.insert(0, format!("read as {}", decoded.encoding));
    }
    out.errors.extend(decoded.errors);
    out.errors.sort_by_key(|e| e.line);
    out
}

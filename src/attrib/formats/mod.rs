//! The operators' records, parsed: subscriber registries (CSV, JSON lines), static assignments,
//! RADIUS accounting (FreeRADIUS `detail` files and a CSV export), DHCP leases (ISC
//! `dhcpd.leases`, Kea lease CSV v4 and v6) and CGNAT port-block logs (CSV and syslog lines).
//! A line that cannot be read is an error with its line number; the rest is still taken.

mod csv;
mod dhcpd;
mod radius;
mod syslog;

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
}

pub(super) type Parsed = (Vec<Record>, Vec<LineError>);
/// A CSV row: its line number and its values by column name.
pub(super) type Row = (usize, BTreeMap<String, String>);
/// A RADIUS session being assembled: first line, start, user, addresses, end.
pub(super) type OpenSession = (usize, i64, String, Vec<(IpAddr, u8)>, Option<i64>);
/// A dhcpd lease being read: line, address, starts, ends, MAC.
pub(super) type OpenLease = (usize, IpAddr, Option<i64>, Option<i64>, Option<String>);

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

pub(super) fn err(line: usize, message: impl Into<String>) -> LineError {
    LineError {
        line,
        message: message.into(),
    }
}

/// Parses one file of the given format; `file` names it in sources.
pub fn parse(format: Format, text: &str, file: &str) -> Parsed {
    match format {
        Format::RegistryCsv => csv::registry(text),
        Format::RegistryJsonl => csv::registry_jsonl(text),
        Format::StaticCsv => csv::static_assignments(text, file),
        Format::RadiusCsv => radius::csv_export(text, file),
        Format::RadiusDetail => radius::detail(text, file),
        Format::DhcpdLeases => dhcpd::leases(text, file),
        Format::KeaCsv => csv::kea(text, file),
        Format::CgnatCsv => csv::cgnat(text, file),
        Format::CgnatSyslog => syslog::cgnat(text, file),
    }
}

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

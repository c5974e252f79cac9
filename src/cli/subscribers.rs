//! `minetap subscribers`: build the subscriber store from operators' records, and look an
//! address up (each look-up written to an append-only audit log).

use crate::attrib::formats::Format;
use crate::attrib::store::Store;
use crate::attrib::{time, Resolver};
use clap::{Args, Subcommand};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, Subcommand)]
pub enum SubscribersCommand {
    /// Import records into the store (created on first use). Re-importing a file changes nothing.
    Import(Box<ImportArgs>),
    /// Who held an address (and port, behind CGNAT) at a time.
    Lookup(LookupArgs),
    /// What the store holds, and how its access records join the registry.
    Stats(StatsArgs),
}

#[derive(Debug, Args)]
pub struct StatsArgs {
    /// The store.
    #[arg(long, value_name = "FILE", required = true)]
    db: PathBuf,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The store (a SQLite file, created readable by its owner only).
    #[arg(long, value_name = "FILE", required = true)]
    db: PathBuf,
    /// Subscriber registry, CSV with a header (id, name, registration_number, address, ...).
    #[arg(long, value_name = "FILE")]
    registry: Vec<PathBuf>,
    /// Subscriber registry, JSON lines.
    #[arg(long, value_name = "FILE")]
    registry_jsonl: Vec<PathBuf>,
    /// Static assignments, CSV: address (or CIDR), subscriber, start, end.
    #[arg(long = "static", value_name = "FILE")]
    statics: Vec<PathBuf>,
    /// FreeRADIUS accounting `detail` file.
    #[arg(long, value_name = "FILE")]
    radius: Vec<PathBuf>,
    /// RADIUS accounting, CSV: one request a row (timestamp, status, username,
    /// framed_ip_address, session_id, ...), or one session a row (a `radacct` table export).
    #[arg(long, value_name = "FILE")]
    radius_csv: Vec<PathBuf>,
    /// FreeRADIUS SQL accounting (`radacct` table) in its SQLite file.
    #[arg(long, value_name = "FILE")]
    radius_sql: Vec<PathBuf>,
    /// ISC dhcpd.leases.
    #[arg(long, value_name = "FILE")]
    dhcpd: Vec<PathBuf>,
    /// Kea lease file (CSV, v4 or v6).
    #[arg(long, value_name = "FILE")]
    kea: Vec<PathBuf>,
    /// CGNAT port blocks, CSV: public_ip, port_start, port_end, private_ip, start, end.
    #[arg(long, value_name = "FILE")]
    cgnat: Vec<PathBuf>,
    /// CGNAT syslog lines (allocated/released PRIVATE -> PUBLIC:FIRST-LAST).
    #[arg(long, value_name = "FILE")]
    cgnat_syslog: Vec<PathBuf>,
    /// Linux conntrack NAT events: `conntrack -E -o timestamp,extended` output, or ulogd2's
    /// JSON (NFCT plugin).
    #[arg(long, value_name = "FILE")]
    conntrack: Vec<PathBuf>,
    /// Read the `[subscribers import]` settings (registry_columns, encoding, timezone, ...)
    /// from this TOML file; flags win over it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(flatten)]
    read: super::settings::ImportSettings,
}

#[derive(Debug, Args)]
pub struct LookupArgs {
    #[arg(long, value_name = "FILE", required = true)]
    db: PathBuf,
    /// The address.
    ip: IpAddr,
    /// When (RFC 3339, or seconds since the epoch) [default: now].
    #[arg(long, value_name = "TIME")]
    at: Option<String>,
    /// The source port, to follow CGNAT port blocks.
    #[arg(long, value_name = "PORT")]
    port: Option<u16>,
    /// Seconds of slack at the edges of a validity period.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    tolerance: i64,
}

pub fn run(cmd: SubscribersCommand) -> i32 {
    match cmd {
        SubscribersCommand::Import(a) => import(*a),
        SubscribersCommand::Lookup(a) => lookup(a),
        SubscribersCommand::Stats(a) => stats(a),
    }
}

/// Prints the store's counts and its join report.
fn stats(a: StatsArgs) -> i32 {
    let r = Store::open_existing(&a.db).and_then(|st| {
        let n = |t: &str| -> Result<i64, String> {
            st.conn
                .query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .map_err(|e| e.to_string())
        };
        Ok((
            n("subscribers")?,
            n("identities")?,
            n("assignments")?,
            n("blocks")?,
            st.join_report()?,
        ))
    });
    match r {
        Ok((s, i, asg, b, join)) => {
            out!("{}: {s} registry row(s), {i} identit(ies), {asg} assignment(s), {b} NAT mapping(s)", a.db.display());
            out!("{join}");
            0
        }
        Err(e) => {
            eprintln!("minetap: error: {e}");
            2
        }
    }
}

fn import(a: ImportArgs) -> i32 {
    let options = match a.read.clone().resolve(a.config.as_deref()) {
        Ok(o) => o,
        Err(e) => return e.report(),
    };
    let mut store = match Store::open(&a.db) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("minetap: error: {e}");
            return 2;
        }
    };
    let jobs: Vec<(Format, &PathBuf)> = [
        (Format::RegistryCsv, &a.registry),
        (Format::RegistryJsonl, &a.registry_jsonl),
        (Format::StaticCsv, &a.statics),
        (Format::RadiusDetail, &a.radius),
        (Format::RadiusCsv, &a.radius_csv),
        (Format::RadiusSql, &a.radius_sql),
        (Format::DhcpdLeases, &a.dhcpd),
        (Format::KeaCsv, &a.kea),
        (Format::CgnatCsv, &a.cgnat),
        (Format::CgnatSyslog, &a.cgnat_syslog),
        (Format::Conntrack, &a.conntrack),
    ]
    .into_iter()
    .flat_map(|(f, files)| files.iter().map(move |p| (f, p)))
    .collect();
    if jobs.is_empty() {
        eprintln!(
            "minetap: error: nothing to import (give --registry, --radius, --dhcpd, ... files)"
        );
        return 2;
    }
    let mut status = 0;
    for (format, path) in jobs {
        match store.import(format, path, &options) {
            Ok(r) => {
                for n in &r.notes {
                    eprintln!("minetap: note: {}: {n}", path.display());
                }
                for e in &r.errors {
                    if e.line > 0 {
                        eprintln!(
                            "minetap: warning: {}:{}: {}; line skipped",
                            path.display(),
                            e.line,
                            e.message
                        );
                    } else {
                        eprintln!(
                            "minetap: warning: {}: {}; record skipped",
                            path.display(),
                            e.message
                        );
                    }
                }
                out!(
                    "{}: {} record(s) taken, {} skipped",
                    path.display(),
                    r.taken,
                    r.skipped
                );
                if r.taken == 0 && r.skipped > 0 {
                    eprintln!("minetap: error: {}: nothing could be read", path.display());
                    status = 1;
                }
            }
            Err(e) => {
                eprintln!("minetap: error: {e}");
                status = 1;
            }
        }
    }
    match store.join_report() {
        Ok(j) => out!("{j}"),
        Err(e) => {
            eprintln!("minetap: error: {}: {e}", a.db.display());
            status = 1;
        }
    }
    status
}

/// Appends one line to the audit log beside the store (created owner-only, append-only).
fn audit(db: &Path, line: &str) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut path = db.as_os_str().to_owned();
    path.push(".audit.log");
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)?;
    writeln!(f, "{line}")
}

fn lookup(a: LookupArgs) -> i32 {
    let t = match a.at.as_deref().map(time::parse) {
        Some(Some(t)) => t,
        Some(None) => {
            eprintln!(
                "minetap: error: '{}' is not a time (RFC 3339 or seconds since the epoch)",
                a.at.unwrap_or_default()
            );
            return 2;
        }
        None => (crate::source::now_ns() / 1_000_000_000) as i64,
    };
    let who = asker();
    let r = match Resolver::load(&a.db, a.tolerance) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("minetap: error: {e}");
            return 2;
        }
    };
    if r.is_empty() {
        eprintln!(
            "minetap: warning: {}: the subscriber store holds no assignments",
            a.db.display()
        );
    }
    let result = r.lookup(a.ip, a.port, t);
    let entry = serde_json::json!({
        "timestamp": crate::output::time::rfc3339_micros(crate::source::now_ns()),
        "who": who,
        "query": {"ip": a.ip, "at": rfc3339(t), "port": a.port},
        "status": result.status,
        "candidates": result.candidates.len(),
    });
    if let Err(e) = audit(&a.db, &entry.to_string()) {
        eprintln!("minetap: error: cannot write the audit log, so no answer is given: {e}");
        return 2;
    }
    // Times as the events write them, RFC 3339, for a person to read.
    let mut shown = serde_json::to_value(&result).unwrap_or_default();
    if let Some(cands) = shown.get_mut("candidates").and_then(|c| c.as_array_mut()) {
        for c in cands {
            for k in ["valid_from", "valid_to"] {
                if let Some(t) = c["matched"][k].as_i64() {
                    c["matched"][k] = rfc3339(t).into();
                }
            }
        }
    }
    out!(
        "{}",
        serde_json::to_string_pretty(&shown).unwrap_or_default()
    );
    0
}

/// Seconds since the epoch as RFC 3339 (UTC).
fn rfc3339(t: i64) -> String {
    let t = u64::try_from(t).unwrap_or(0);
    crate::output::time::rfc3339_micros(t.saturating_mul(1_000_000_000))
}

/// Who asks, for the audit log: the account's name and uid (and the sudo user behind it).
fn asker() -> String {
    // SAFETY: getuid cannot fail; getpwuid_r writes into the buffers given, of the sizes given.
    let uid = unsafe { libc::getuid() };
    let mut name = None;
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut buf = vec![0 as libc::c_char; 4096];
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        if libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut res) == 0
            && !res.is_null()
            && !pw.pw_name.is_null()
        {
            name = Some(
                std::ffi::CStr::from_ptr(pw.pw_name)
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    let account = format!("{} (uid {uid})", name.as_deref().unwrap_or("?"));
    match std::env::var("SUDO_USER") {
        Ok(u) => format!("{account} via sudo by {u}"),
        Err(_) => account,
    }
}

impl super::settings::ImportSettings {
    /// The flags over the config file's `subscribers import` settings, as read options.
    pub fn resolve(
        self,
        config: Option<&Path>,
    ) -> Result<crate::attrib::formats::ReadOptions, super::error::CliError> {
        use crate::attrib::formats::{columns, ReadOptions};
        let s = match config {
            Some(p) => self.or(super::settings::load_file(p)?.2),
            None => self,
        };
        let u = super::error::CliError::Usage;
        let mut o = ReadOptions::default();
        if let Some(m) = &s.registry_columns {
            o.columns =
                columns::parse_mapping(m).map_err(|e| u(format!("--registry-columns: {e}")))?;
        }
        if let Some(e) = &s.encoding {
            o.encoding = e.parse().map_err(|e| u(format!("--encoding: {e}")))?;
        }
        if let Some(d) = s.delimiter {
            o.delimiter = Some(
                u8::try_from(d)
                    .ok()
                    .filter(u8::is_ascii)
                    .ok_or_else(|| u(format!("--delimiter: '{d}' is not one ASCII character")))?,
            );
        }
        if let Some(h) = &s.header {
            o.header = Some(h.split(',').map(|c| c.trim().to_string()).collect());
        }
        if let Some(z) = &s.timezone {
            o.clock.zone =
                crate::attrib::time::zone(z).map_err(|e| u(format!("--timezone: {e}")))?;
        }
        o.clock.year = s.year;
        Ok(o)
    }
}

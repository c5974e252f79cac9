//! Endpoint intelligence: which domains and addresses are mining pools, loaded from the plain
//! files under `rules/`.
//!
//! Lines of the project's own form:
//! ```text
//! domain  nanopool.org        pool=Nanopool coin=ETC,XMR   # suffix match
//! ip      192.0.2.0/24        pool=Example coin=BTC         # address or CIDR, v4 or v6
//! port    3333                                              # a weak hint only
//! ```
//! and, so that a downloaded blocklist can be dropped in as it is: a bare domain per line,
//! hosts-file lines (`0.0.0.0 pool.example.com`), bare addresses or CIDRs; `#` starts a comment.
//! A line that fits none of these is an error naming the file and line.
//!
//! Lookups: domains by suffix (the name, then each parent, in a hash map of exact names);
//! addresses by binary search over sorted ranges.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// A known pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolInfo {
    pub name: Option<String>,
    pub coin: Option<String>,
    /// File and line the entry came from.
    pub rule: String,
}

/// A line that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

impl std::error::Error for RuleError {}

#[derive(Debug, Default)]
pub struct Intel {
    pools: Vec<PoolInfo>,
    domains: HashMap<String, usize>,
    /// (first, last, pool) sorted by first; nested ranges allowed.
    v4: Vec<(u32, u32, usize)>,
    v6: Vec<(u128, u128, usize)>,
    ports: Vec<u16>,
    pub files: usize,
    pub(crate) digest: [u8; 32],
}

/// Counts of what was loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntelCounts {
    pub files: usize,
    pub domains: usize,
    pub ranges: usize,
    pub ports: usize,
}

fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l.parse::<u8>().ok()?)),
        None => (s, None),
    };
    let ip: IpAddr = a.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((ip, len))
}

fn valid_domain(d: &str) -> bool {
    d.len() <= 253
        && d.contains('.')
        && d.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

/// Lower-cases a name and drops a trailing dot.
pub fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

impl Intel {
    /// Adds the lines of one file.
    pub fn add_text(&mut self, file: &Path, text: &str) -> Result<(), RuleError> {
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or_default().trim();
            if line.is_empty() {
                continue;
            }
            let err = |message: String| RuleError {
                file: file.to_path_buf(),
                line: i + 1,
                message,
            };
            let mut words = line.split_whitespace();
            let first = words.next().unwrap_or_default();
            let rest: Vec<&str> = words.collect();
            let rule = format!(
                "{}:{}",
                file.file_name()
                    .map(|n| n.to_string_lossy())
                    .unwrap_or_default(),
                i + 1
            );
            let mut info = PoolInfo {
                name: None,
                coin: None,
                rule,
            };
            let attrs = |info: &mut PoolInfo, words: &[&str]| -> Result<(), String> {
                for w in words {
                    match w.split_once('=') {
                        Some(("pool", v)) => info.name = Some(v.to_string()),
                        Some(("coin", v)) => info.coin = Some(v.to_string()),
                        _ => {
                            return Err(format!(
                                "unknown attribute '{w}' (expected pool=NAME or coin=COIN)"
                            ))
                        }
                    }
                }
                Ok(())
            };
            match first {
                "domain" => {
                    let d = rest
                        .first()
                        .ok_or_else(|| err("'domain' needs a domain name".into()))?;
                    let d = normalise(d);
                    if !valid_domain(&d) {
                        return Err(err(format!("'{d}' is not a domain name")));
                    }
                    attrs(&mut info, &rest[1..]).map_err(err)?;
                    self.add_domain(d, info);
                }
                "ip" => {
                    let a = rest
                        .first()
                        .ok_or_else(|| err("'ip' needs an address or CIDR".into()))?;
                    let (ip, len) = parse_cidr(a)
                        .ok_or_else(|| err(format!("'{a}' is not an address or CIDR")))?;
                    attrs(&mut info, &rest[1..]).map_err(err)?;
                    self.add_range(ip, len, info);
                }
                "port" => {
                    let p = rest
                        .first()
                        .and_then(|p| p.parse::<u16>().ok())
                        .ok_or_else(|| err("'port' needs a port number (1-65535)".into()))?;
                    if p == 0 {
                        return Err(err("'port' needs a port number (1-65535)".into()));
                    }
                    self.ports.push(p);
                }
                _ => {
                    // Blocklist forms: hosts-file line, bare address/CIDR, bare domain.
                    let hosts_sink = matches!(first, "0.0.0.0" | "127.0.0.1" | "::" | "::1");
                    if hosts_sink && rest.len() == 1 {
                        let d = normalise(rest[0]);
                        if !valid_domain(&d) {
                            return Err(err(format!("'{d}' is not a domain name")));
                        }
                        self.add_domain(d, info);
                    } else if let (Some((ip, len)), true) = (parse_cidr(first), rest.is_empty()) {
                        self.add_range(ip, len, info);
                    } else if rest.is_empty() && valid_domain(&normalise(first)) {
                        self.add_domain(normalise(first), info);
                    } else {
                        return Err(err(format!(
                            "cannot read '{line}': expected 'domain NAME', 'ip ADDR[/LEN]', 'port N', a bare domain, a hosts-file line or an address"
                        )));
                    }
                }
            }
        }
        Ok(())
    }

    fn add_domain(&mut self, d: String, info: PoolInfo) {
        self.pools.push(info);
        self.domains.entry(d).or_insert(self.pools.len() - 1);
    }

    fn add_range(&mut self, ip: IpAddr, len: u8, info: PoolInfo) {
        self.pools.push(info);
        let idx = self.pools.len() - 1;
        match ip {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                self.v4.push((a & mask, (a & mask) | !mask, idx));
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                let mask = if len == 0 {
                    0
                } else {
                    u128::MAX << (128 - len)
                };
                self.v6.push((a & mask, (a & mask) | !mask, idx));
            }
        }
    }

    /// Sorts what was added for look-ups; called once, after the last file.
    pub(crate) fn finish(&mut self) {
        self.v4.sort();
        self.v6.sort();
        self.ports.sort_unstable();
        self.ports.dedup();
    }

    /// Builds from text (tests).
    pub fn from_text(text: &str) -> Result<Intel, RuleError> {
        let mut i = Intel::default();
        i.add_text(Path::new("inline"), text)?;
        i.files = 1;
        i.finish();
        Ok(i)
    }

    pub fn counts(&self) -> IntelCounts {
        IntelCounts {
            files: self.files,
            domains: self.domains.len(),
            ranges: self.v4.len() + self.v6.len(),
            ports: self.ports.len(),
        }
    }

    /// SHA-256 over the names and contents of every rule and table file in force, hex.
    pub fn digest_hex(&self) -> String {
        self.digest.iter().map(|b| format!("{b:02x}")).collect()
    }

    pub fn is_empty(&self) -> bool {
        self.domains.is_empty() && self.v4.is_empty() && self.v6.is_empty()
    }

    /// The pool a domain name belongs to (the name or one of its parents is listed).
    pub fn domain(&self, name: &str) -> Option<&PoolInfo> {
        if self.domains.is_empty() {
            return None;
        }
        let n = normalise(name);
        let mut s = n.as_str();
        loop {
            if let Some(i) = self.domains.get(s) {
                return self.pools.get(*i);
            }
            s = s.split_once('.')?.1;
        }
    }

    /// The pool an address belongs to (the narrowest listed range that holds it).
    pub fn address(&self, ip: IpAddr) -> Option<&PoolInfo> {
        fn find<T: Ord + Copy + std::ops::Sub<Output = T>>(
            v: &[(T, T, usize)],
            x: T,
        ) -> Option<usize> {
            let end = v.partition_point(|r| r.0 <= x);
            v[..end]
                .iter()
                .rev()
                .take(64)
                .filter(|r| r.1 >= x)
                .min_by_key(|r| r.1 - r.0)
                .map(|r| r.2)
        }
        let i = match ip {
            IpAddr::V4(a) => find(&self.v4, u32::from(a)),
            IpAddr::V6(a) => find(&self.v6, u128::from(a)),
        }?;
        self.pools.get(i)
    }

    /// Whether a port is a listed mining port (a weak hint, never a verdict on its own).
    pub fn mining_port(&self, port: u16) -> bool {
        self.ports.binary_search(&port).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_form_and_blocklist_forms() {
        let i = Intel::from_text(
            "# pools\n\
             domain nanopool.org pool=Nanopool coin=XMR\n\
             ip 192.0.2.0/24 pool=Doc\n\
             ip 192.0.2.128/25 pool=DocHigh\n\
             ip 2001:db8::/32\n\
             port 3333\n\
             0.0.0.0 xmr.pool.example.com\n\
             minexmr.example.net  # bare domain\n\
             198.51.100.7\n",
        )
        .unwrap();
        assert_eq!(
            i.domain("XMR-EU1.nanopool.org.").unwrap().name.as_deref(),
            Some("Nanopool")
        );
        assert!(i.domain("nanopool.org.evil.com").is_none());
        assert!(i.domain("pool.example.com").is_none());
        assert!(i.domain("a.xmr.pool.example.com").is_some());
        assert!(i.domain("minexmr.example.net").is_some());
        assert_eq!(
            i.address("192.0.2.200".parse().unwrap())
                .unwrap()
                .name
                .as_deref(),
            Some("DocHigh")
        );
        assert_eq!(
            i.address("192.0.2.5".parse().unwrap())
                .unwrap()
                .name
                .as_deref(),
            Some("Doc")
        );
        assert!(i.address("192.0.3.1".parse().unwrap()).is_none());
        assert!(i.address("2001:db8::99".parse().unwrap()).is_some());
        assert!(i.address("198.51.100.7".parse().unwrap()).is_some());
        assert!(i.mining_port(3333) && !i.mining_port(80));
        assert_eq!(
            i.counts(),
            IntelCounts {
                files: 1,
                domains: 3,
                ranges: 4,
                ports: 1
            }
        );
    }

    #[test]
    fn bad_lines_name_file_and_line() {
        let e = Intel::from_text("domain ok.example.com\nip 300.1.1.1\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "inline:2: '300.1.1.1' is not an address or CIDR"
        );
        let e = Intel::from_text("domain x.example pool=A owner=B\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("unknown attribute 'owner=B'"));
        let e = Intel::from_text("\n\nthis is not a rule\n").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(Intel::from_text("port 0\n").is_err());
    }
}

//! Site traffic profiles: the summaries of ended flows (every flow, recognised or not) in;
//! per local address or prefix and per interval, `site_profile` records out. A mine is hundreds
//! of hosts each holding one pool connection and little else; a data centre serves many
//! services to many peers, with bulk traffic — and may host some mining. The profile gives
//! the figures that tell them apart: flows each way, bytes, distinct peers, the services it
//! answered by port, mining flows and their bytes, distinct mining hosts.
//!
//! Memory is bounded: at most `max_sites` sites per interval (flows of further sites go to one
//! `other` site), at most [`SERVED_PORTS`] ports listed per site (the rest counted together),
//! distinct peers counted by a 64-register HyperLogLog (64 bytes, about 13 % error), distinct
//! mining hosts exactly up to [`MINERS_EXACT`].

use crate::decode::filter::Cidr;
use crate::flow::FlowSummary;
use serde::Serialize;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

/// Ports listed per site; answers on other ports are counted in `served_other`.
pub const SERVED_PORTS: usize = 16;
/// Mining hosts counted exactly per site (a site is a prefix); beyond, the count saturates.
pub const MINERS_EXACT: usize = 256;

/// What to profile and how.
#[derive(Debug, Clone)]
pub struct ProfileConfig {
    /// The operator's own address space: a flow's end inside it is a site.
    pub local: Vec<Cidr>,
    /// Length of an interval.
    pub interval_ns: u64,
    /// Sites kept per interval before further ones go to `other`.
    pub max_sites: usize,
    /// Prefix lengths a site is: 32 and 128 profile each address.
    pub prefix: (u8, u8),
}

/// Distinct values, approximately: a 128-register HyperLogLog.
#[derive(Debug, Clone)]
struct Distinct([u8; 128]);

impl Default for Distinct {
    fn default() -> Self {
        Distinct([0; 128])
    }
}

impl Distinct {
    fn add(&mut self, v: impl Hash) {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        v.hash(&mut h);
        let x = h.finish();
        let register = (x & 127) as usize;
        let rank = ((x >> 7).trailing_zeros() + 1).min(57) as u8;
        self.0[register] = self.0[register].max(rank);
    }

    fn estimate(&self) -> u64 {
        let m = 128.0;
        let zeros = self.0.iter().filter(|r| **r == 0).count();
        if zeros > 0 {
            // Few values: linear counting, better than the raw estimate there.
            let lc = m * (m / zeros as f64).ln();
            if lc <= 3.0 * m {
                return lc.round() as u64;
            }
        }
        let sum: f64 = self.0.iter().map(|r| 2f64.powi(-i32::from(*r))).sum();
        let alpha = 0.7213 / (1.0 + 1.079 / m);
        (alpha * m * m / sum).round() as u64
    }
}

#[derive(Debug, Clone, Default)]
struct Site {
    opened: u64,
    answered: u64,
    sent: u64,
    received: u64,
    peers: Distinct,
    served: Vec<(u8, u16, u64)>,
    served_other: u64,
    mining_flows: u64,
    mining_bytes: u64,
    miners: Vec<IpAddr>,
}

impl Site {
    fn serve(&mut self, proto: u8, port: u16) {
        if let Some(s) = self.served.iter_mut().find(|s| s.0 == proto && s.1 == port) {
            s.2 += 1;
        } else if self.served.len() < SERVED_PORTS {
            self.served.push((proto, port, 1));
        } else {
            self.served_other += 1;
        }
    }

    fn mined_by(&mut self, host: IpAddr, bytes: u64) {
        self.mining_flows += 1;
        self.mining_bytes += bytes;
        if self.miners.len() < MINERS_EXACT && !self.miners.contains(&host) {
            self.miners.push(host);
        }
    }
}

/// One site's figures over one interval: a `site_profile` record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SiteProfile {
    /// The address or prefix (`10.1.2.0/24`), or `other` for the sites beyond the cap.
    pub site: String,
    /// The interval: start and end, seconds since the epoch.
    pub interval_start: u64,
    pub interval_end: u64,
    /// Flows the site opened, and flows opened to it that it answered.
    pub flows_opened: u64,
    pub flows_answered: u64,
    /// Bytes on the wire the site sent and received.
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Distinct remote addresses (approximate: HyperLogLog, about 9 %).
    pub peers: u64,
    /// Services it answered: protocol, port, connections, most first.
    pub served: Vec<Served>,
    /// Connections answered on ports beyond the listed ones.
    pub served_other: u64,
    /// Flows whose final verdict was mining, their bytes, and the distinct local hosts in them.
    pub mining_flows: u64,
    pub mining_bytes: u64,
    pub mining_hosts: u64,
}

/// Connections a site answered on one port.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Served {
    pub proto: &'static str,
    pub port: u16,
    pub connections: u64,
}

/// The profiles of the interval under way.
pub struct Profiles {
    cfg: ProfileConfig,
    current: Option<u64>,
    sites: HashMap<IpAddr, Site>,
    other: Option<Site>,
}

impl Profiles {
    /// No profiles yet; the first flow opens the first interval.
    pub fn new(cfg: ProfileConfig) -> Self {
        Profiles {
            cfg,
            current: None,
            sites: HashMap::new(),
            other: None,
        }
    }

    fn is_local(&self, ip: IpAddr) -> bool {
        self.cfg.local.iter().any(|c| c.contains(ip))
    }

    fn site_key(&self, ip: IpAddr) -> IpAddr {
        let (v4, v6) = self.cfg.prefix;
        match ip {
            IpAddr::V4(a) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(v4.min(32)))
                    .unwrap_or(0);
                IpAddr::from((u32::from(a) & mask).to_be_bytes())
            }
            IpAddr::V6(a) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(v6.min(128)))
                    .unwrap_or(0);
                IpAddr::from((u128::from(a) & mask).to_be_bytes())
            }
        }
    }

    fn site(&mut self, ip: IpAddr) -> &mut Site {
        let key = self.site_key(ip);
        if self.sites.len() >= self.cfg.max_sites && !self.sites.contains_key(&key) {
            return self.other.get_or_insert_with(Site::default);
        }
        self.sites.entry(key).or_default()
    }

    /// Takes one ended flow; returns the profiles of an interval it closed, if it did. A flow
    /// that ends in an interval already closed (another worker's, a little late) counts in the
    /// current one, never lost.
    pub fn add(&mut self, f: &FlowSummary) -> Vec<SiteProfile> {
        let idx = f.ended_ns / self.cfg.interval_ns.max(1);
        let mut closed = Vec::new();
        match self.current {
            None => self.current = Some(idx),
            Some(c) if idx > c => {
                closed = self.close();
                self.current = Some(idx);
            }
            Some(_) => {}
        }
        let (client, server) = (f.client.0, f.server.0);
        let total = f.bytes[0] + f.bytes[1];
        if self.is_local(client) {
            let s = self.site(client);
            s.opened += 1;
            s.sent += f.bytes[0];
            s.received += f.bytes[1];
            s.peers.add(server);
            if f.mining {
                s.mined_by(client, total);
            }
        }
        if self.is_local(server) && f.answered {
            let s = self.site(server);
            s.answered += 1;
            s.sent += f.bytes[1];
            s.received += f.bytes[0];
            s.peers.add(client);
            s.serve(f.proto, f.server.1);
        }
        closed
    }

    /// The profiles of the interval under way (the input ended).
    pub fn finish(&mut self) -> Vec<SiteProfile> {
        self.close()
    }

    fn close(&mut self) -> Vec<SiteProfile> {
        let Some(idx) = self.current else {
            return Vec::new();
        };
        let secs = self.cfg.interval_ns.max(1) / 1_000_000_000;
        let (start, end) = (idx * secs, (idx + 1) * secs);
        let (v4, v6) = self.cfg.prefix;
        let name = |ip: IpAddr| match ip {
            IpAddr::V4(_) if v4 < 32 => format!("{ip}/{v4}"),
            IpAddr::V6(_) if v6 < 128 => format!("{ip}/{v6}"),
            _ => ip.to_string(),
        };
        let mut sites: Vec<(String, Site)> =
            self.sites.drain().map(|(ip, s)| (name(ip), s)).collect();
        sites.sort_by(|a, b| a.0.cmp(&b.0));
        if let Some(o) = self.other.take() {
            sites.push(("other".into(), o));
        }
        sites
            .into_iter()
            .map(|(site, s)| {
                let mut served: Vec<Served> = s
                    .served
                    .iter()
                    .map(|&(proto, port, connections)| Served {
                        proto: if proto == crate::decode::PROTO_TCP {
                            "tcp"
                        } else {
                            "udp"
                        },
                        port,
                        connections,
                    })
                    .collect();
                served.sort_by(|a, b| b.connections.cmp(&a.connections).then(a.port.cmp(&b.port)));
                SiteProfile {
                    site,
                    interval_start: start,
                    interval_end: end,
                    flows_opened: s.opened,
                    flows_answered: s.answered,
                    bytes_sent: s.sent,
                    bytes_received: s.received,
                    peers: s.peers.estimate(),
                    served,
                    served_other: s.served_other,
                    mining_flows: s.mining_flows,
                    mining_bytes: s.mining_bytes,
                    mining_hosts: s.miners.len() as u64,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distinct_counts_are_near_the_truth() {
        for n in [1u32, 10, 100, 1000, 100_000] {
            let mut d = Distinct::default();
            for i in 0..n {
                d.add(i);
                d.add(i);
            }
            let e = d.estimate() as f64;
            let err = (e - f64::from(n)).abs() / f64::from(n);
            assert!(err < 0.25, "{n}: {e}");
        }
    }

    #[test]
    fn a_million_local_addresses_keep_the_sites_bounded_and_lose_no_flow() {
        let cfg = ProfileConfig {
            local: vec![Cidr::parse("10.0.0.0/8").unwrap()],
            interval_ns: 3_600_000_000_000,
            max_sites: 1000,
            prefix: (32, 64),
        };
        let mut p = Profiles::new(cfg);
        let n = 1_000_000u32;
        for i in 0..n {
            let client = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
            let f = FlowSummary {
                id: u64::from(i),
                proto: crate::decode::PROTO_TCP,
                client: (client, 40000),
                server: ("198.51.100.1".parse().unwrap(), 443),
                bytes: [100, 200],
                answered: true,
                ended_ns: 5_000_000_000,
                mining: false,
            };
            assert!(p.add(&f).is_empty());
        }
        assert_eq!(p.sites.len(), 1000);
        let out = p.finish();
        assert_eq!(out.len(), 1001);
        let other = out.last().unwrap();
        assert_eq!(other.site, "other");
        assert_eq!(other.flows_opened, u64::from(n) - 1000);
        let opened: u64 = out.iter().map(|s| s.flows_opened).sum();
        assert_eq!(opened, u64::from(n), "no flow lost");
    }
}

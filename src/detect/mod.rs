//! Stage 4, **detect**: a flow's reassembled bytes in, per direction; a [`Finding`] out when a
//! mining protocol is recognised.
//!
//! Each protocol is one [`Detector`] in its own file. Shared helpers frame newline-delimited
//! messages ([`lines`]) and read JSON-RPC envelopes ([`jsonrpc`]) so that detectors for
//! JSON-speaking protocols only interpret messages. A detector first *probes* (is this my
//! protocol at all?) and gives up quickly when it is not; only then does it *parse* in depth.

pub mod framing;
mod inspect;
pub mod mining;
pub mod node;
pub mod observe;

use mining::{cryptonote, ethproxy, noderpc, stratum, stratum_v2};
use node::{bitcoin_p2p, eth_discv4, monero_levin};
use observe::{dns, tls};

use crate::flow::Dir;

pub use inspect::{Detectors, FlowRecord, Table};

/// Where a detector stands on a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interest {
    /// Not decided yet: keep feeding.
    Probing,
    /// The protocol was recognised: keep feeding to follow the session.
    Matched,
    /// Not this protocol: stop feeding.
    NotThis,
    /// Seen what it needed (a handshake): stop feeding, but keep the finding.
    Done,
}

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A mining protocol was parsed.
    Mining,
    /// A mining protocol recognised by its shape (an encrypted handshake), not parsed.
    Shape,
    /// Facts about the flow (a TLS handshake) that say mining only with endpoint knowledge.
    Observation,
    /// Look-ups of pool domains.
    Dns,
    /// Crypto-currency node traffic: not mining.
    CryptoNode,
}

/// One protocol detector. It sees each direction's in-order bytes (as the flow table
/// reassembles them) and says what it found.
pub trait Detector: Send {
    /// Short name, used in statistics.
    fn name(&self) -> &'static str;
    /// In-order bytes sent in direction `dir`, at capture time `ts_ns`.
    fn on_data(&mut self, dir: Dir, data: &[u8], ts_ns: u64);
    /// Bytes were lost in direction `dir` before the next data.
    fn on_gap(&mut self, dir: Dir);
    fn interest(&self) -> Interest;
    /// What was found, once [`Interest::Matched`].
    fn finding(&self) -> Option<Finding>;
}

/// What detectors may consult: caps and the pool rules.
#[derive(Debug, Clone, Default)]
pub struct Context {
    pub limits: Limits,
    pub intel: std::sync::Arc<crate::rules::intel::Intel>,
}

/// What a flow shows when its detectors are chosen: how it is carried and its first in-order
/// bytes (from either side).
#[derive(Debug, Clone, Copy)]
pub struct FlowStart<'a> {
    pub tcp: bool,
    /// The flow's ports (`lo` side, `hi` side).
    pub ports: (u16, u16),
    /// A TCP flow picked up without its opening: its first byte says nothing.
    pub mid_stream: bool,
    pub first: &'a [u8],
}

impl FlowStart<'_> {
    fn first_byte(&self) -> u8 {
        self.first.first().copied().unwrap_or(0)
    }
    /// DNS, by its port: no other detector looks at it.
    pub fn dns_port(&self) -> bool {
        self.ports.0 == 53 || self.ports.1 == 53
    }
    /// A TCP stream that is not DNS.
    pub fn stream(&self) -> bool {
        self.tcp && !self.dns_port()
    }
    /// A UDP flow that is not DNS.
    pub fn datagrams(&self) -> bool {
        !self.tcp && !self.dns_port()
    }
    /// A stream that may carry newline-delimited JSON: it opens with `{` or white space.
    pub fn line_json(&self) -> bool {
        self.stream()
            && (self.mid_stream || matches!(self.first_byte(), b'{' | b' ' | b'\t' | b'\r' | b'\n'))
    }
    /// A stream that may carry HTTP: it opens with an upper-case letter (a method).
    pub fn http(&self) -> bool {
        self.stream() && (self.mid_stream || self.first_byte().is_ascii_uppercase())
    }
    /// A stream that opens with a TLS handshake record.
    pub fn tls(&self) -> bool {
        self.stream() && !self.mid_stream && self.first_byte() == 0x16
    }
    /// A stream that opens with something binary (neither JSON, HTTP nor TLS).
    pub fn binary(&self) -> bool {
        self.stream() && !self.mid_stream && !self.tls() && !self.line_json() && !self.http()
    }
}

/// One detector as the registry knows it: when it applies, and how to make it.
pub struct Entry {
    pub name: &'static str,
    /// Whether the detector can match a flow that starts like this.
    pub applies: fn(&FlowStart<'_>) -> bool,
    pub make: fn(&Context, &FlowStart<'_>) -> Box<dyn Detector>,
}

/// Every detector, in the order their findings are preferred when they tie. Each protocol's
/// file declares its own entry.
pub const REGISTRY: &[Entry] = &[
    dns::ENTRY,
    stratum::ENTRY,
    cryptonote::ENTRY,
    ethproxy::ENTRY,
    ethproxy::HTTP_ENTRY,
    noderpc::ENTRY,
    tls::ENTRY,
    stratum_v2::ENTRY,
    bitcoin_p2p::ENTRY,
    monero_levin::ENTRY,
    eth_discv4::ENTRY,
];

/// The detectors a flow is inspected with, chosen when its first payload arrives: those whose
/// entry applies, so that a flow carries only the detectors that can match it.
pub fn for_flow(ctx: &Context, start: &FlowStart<'_>) -> Vec<Box<dyn Detector>> {
    REGISTRY
        .iter()
        .filter(|e| (e.applies)(start))
        .map(|e| (e.make)(ctx, start))
        .collect()
}

/// Caps that keep per-flow state bounded whatever the traffic.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Longest line buffered by a line-framed protocol.
    pub max_line: usize,
    /// Deepest JSON nesting parsed.
    pub max_depth: usize,
    /// Messages kept per flow for an evidence transcript (0: none kept).
    pub transcript: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_line: 32 * 1024,
            max_depth: 32,
            transcript: 0,
        }
    }
}

/// How much of the protocol was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Valid protocol messages from both the miner and the pool.
    BothSides,
    /// Only the miner's side (for example a pool that never answered).
    MinerOnly,
    /// Only the pool's side (for example a capture with one direction missing).
    PoolOnly,
}

/// Share counts, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shares {
    pub submitted: u64,
    pub accepted: u64,
    pub rejected: u64,
}

/// What one share is worth, as the pool set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShareValue {
    /// A pool difficulty: the hashes it stands for depend on the algorithm (2^32 per unit for
    /// SHA-256d Stratum, ...), which the verdict stage knows from its tables.
    Difficulty(f64),
    /// Expected hashes (or solutions) per share, from a target.
    Hashes(f64),
}

/// A sum of share values: how many shares had a known value, and their difficulties and hashes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WorkSum {
    /// Shares counted (with or without a known value).
    pub shares: u64,
    /// Shares whose value was known.
    pub valued: u64,
    pub difficulty: f64,
    pub hashes: f64,
}

impl WorkSum {
    pub fn add(&mut self, v: Option<ShareValue>) {
        self.shares += 1;
        match v {
            Some(ShareValue::Difficulty(d)) => {
                self.valued += 1;
                self.difficulty += d;
            }
            Some(ShareValue::Hashes(h)) => {
                self.valued += 1;
                self.hashes += h;
            }
            None => {}
        }
    }
}

/// The work behind a flow's shares.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Work {
    pub submitted: WorkSum,
    pub accepted: WorkSum,
}

/// What a detector found on a flow: the protocol and what the session says.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub kind: Kind,
    /// Protocol family, as in events (`stratum-v1`, ...).
    pub protocol: &'static str,
    /// Application protocol name, as Suricata's `app_proto`.
    pub app_proto: &'static str,
    /// The direction in which the miner sends, if the protocol said.
    pub miner_sends: Option<Dir>,
    pub coverage: Coverage,
    /// Short reasons, e.g. `stratum:mining.notify x12`.
    pub signals: Vec<String>,
    pub agent: Option<String>,
    pub workers: Vec<String>,
    pub extranonce1: Option<String>,
    /// Current share difficulty.
    pub difficulty: Option<f64>,
    /// Current share target (hex), for pools that send targets.
    pub target: Option<String>,
    pub jobs: u64,
    pub shares: Shares,
    /// BIP 310 version-rolling mask.
    pub version_mask: Option<String>,
    /// BIP 310 extensions the miner asked for.
    pub extensions: Vec<String>,
    /// BIP 310 `info.*` fields (name without the prefix, value).
    pub device: Vec<(String, String)>,
    /// Pool host the miner names (some subscribe forms carry it).
    pub pool_host: Option<String>,
    /// Mining algorithm the protocol names (CryptoNote `algo`, ...).
    pub algorithm: Option<String>,
    /// Hashrate the miner itself reports (H/s), never an estimate.
    pub claimed_hashrate_hs: Option<f64>,
    /// The TLS handshake, when there was one.
    pub tls: Option<tls::TlsInfo>,
    /// Pool names looked up: (name, record type).
    pub dns_queries: Vec<(String, &'static str)>,
    /// Pool addresses answered: (name, address, TTL).
    pub dns_answers: Vec<(String, std::net::IpAddr, u32)>,
    /// The work behind the shares.
    pub work: Work,
    /// Difficulty (or target) changes as the pool announced them: (capture time, value).
    pub difficulty_changes: Vec<(u64, ShareValue)>,
    /// The protocol messages, as sent, for evidence: (capture time, direction, message).
    pub transcript: Vec<(u64, Dir, String)>,
}

/// Longest message kept in a transcript, bytes.
pub const TRANSCRIPT_MESSAGE: usize = 4096;

/// Keeps a message for the transcript, within the caps.
pub fn keep_message(t: &mut Vec<(u64, Dir, String)>, cap: usize, ts: u64, dir: Dir, msg: &[u8]) {
    if t.len() < cap {
        let m = &msg[..msg.len().min(TRANSCRIPT_MESSAGE)];
        t.push((ts, dir, String::from_utf8_lossy(m).into_owned()));
    }
}

impl Finding {
    pub fn new(protocol: &'static str, app_proto: &'static str) -> Self {
        Finding {
            kind: Kind::Mining,
            protocol,
            app_proto,
            miner_sends: None,
            coverage: Coverage::BothSides,
            signals: Vec::new(),
            agent: None,
            workers: Vec::new(),
            extranonce1: None,
            difficulty: None,
            target: None,
            jobs: 0,
            shares: Shares::default(),
            version_mask: None,
            extensions: Vec::new(),
            device: Vec::new(),
            pool_host: None,
            algorithm: None,
            claimed_hashrate_hs: None,
            tls: None,
            dns_queries: Vec::new(),
            dns_answers: Vec::new(),
            work: Work::default(),
            difficulty_changes: Vec::new(),
            transcript: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chosen(tcp: bool, ports: (u16, u16), mid_stream: bool, first: &[u8]) -> Vec<&'static str> {
        let start = FlowStart {
            tcp,
            ports,
            mid_stream,
            first,
        };
        for_flow(&Context::default(), &start)
            .iter()
            .map(|d| d.name())
            .collect()
    }

    #[test]
    fn the_first_bytes_choose_the_detectors() {
        let pool = (40000, 3333);
        let json = chosen(true, pool, false, b"{\"id\":1}");
        let http = chosen(true, pool, false, b"POST / HTTP/1.1");
        let tls = chosen(true, pool, false, &[0x16, 3, 1]);
        let binary = chosen(true, pool, false, &[0, 0, 0]);
        let mid = chosen(true, pool, true, b"anything");
        let dns = chosen(false, (53, 40000), false, &[0; 12]);
        let udp = chosen(false, pool, false, &[0; 98]);
        assert_eq!(json.len(), 3, "{json:?}");
        assert_eq!(http.len(), 2, "{http:?}");
        assert_eq!(tls, ["tls"]);
        assert_eq!(binary.len(), 3, "{binary:?}");
        assert_eq!(binary[0], "stratum-v2");
        assert_eq!(mid.len(), 7, "json, http and the node protocols: {mid:?}");
        assert_eq!(dns, ["dns"]);
        assert_eq!(udp.len(), 1, "{udp:?}");
        assert!(chosen(false, pool, false, &[0; 97]).is_empty());
    }
}

//! Stage 4, **detect**: a flow's reassembled bytes in, per direction; a [`Finding`] out when a
//! mining protocol is recognised.
//!
//! Each protocol is one [`Detector`] in its own file. Shared helpers frame newline-delimited
//! messages ([`lines`]) and read JSON-RPC envelopes ([`jsonrpc`]) so that detectors for
//! JSON-speaking protocols only interpret messages. A detector first *probes* (is this my
//! protocol at all?) and gives up quickly when it is not; only then does it *parse* in depth.

pub mod bitcoin_p2p;
pub mod cryptonote;
pub mod dns;
pub mod eth_discv4;
pub mod ethproxy;
pub mod http;
mod inspect;
pub mod jsonrpc;
pub mod linejson;
pub mod lines;
pub mod monero_levin;
pub mod noderpc;
pub mod rpc;
pub mod stratum;
pub mod stratum_v2;
pub mod tls;

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

/// The detectors a flow is inspected with, chosen when its first payload (`first`, from
/// either side) arrives: its first byte tells JSON from HTTP from TLS from binary protocols, so
/// that a flow carries only the detectors that can match it. `mid_stream` when a TCP flow was
/// picked up without its opening: the first byte then says nothing, and every detector that can
/// resynchronise is used.
pub fn for_flow(
    ctx: &Context,
    tcp: bool,
    ports: (u16, u16),
    mid_stream: bool,
    first: &[u8],
) -> Vec<Box<dyn Detector>> {
    let limits = &ctx.limits;
    let dns_port = ports.0 == 53 || ports.1 == 53;
    let mut v: Vec<Box<dyn Detector>> = Vec::new();
    if dns_port {
        v.push(Box::new(dns::DnsDetector::new(ctx.intel.clone(), tcp)));
        return v;
    }
    if !tcp {
        if first.len() >= 98 {
            v.push(Box::new(eth_discv4::EthDiscv4::default()));
        }
        return v;
    }
    let b = first.first().copied().unwrap_or(0);
    let json = mid_stream || matches!(b, b'{' | b' ' | b'\t' | b'\r' | b'\n');
    let http = mid_stream || b.is_ascii_uppercase();
    if json {
        v.push(Box::new(stratum::detector(limits, mid_stream)));
        v.push(Box::new(cryptonote::detector(limits, mid_stream)));
        v.push(Box::new(ethproxy::detector(limits, mid_stream)));
    }
    if http {
        v.push(Box::new(ethproxy::http_detector(limits, mid_stream)));
        v.push(Box::new(noderpc::detector(limits, mid_stream)));
    }
    if mid_stream {
        v.push(Box::new(bitcoin_p2p::BitcoinP2p::default()));
        v.push(Box::new(monero_levin::MoneroLevin::default()));
    } else if b == 0x16 {
        v.push(Box::new(tls::TlsDetector::default()));
    } else if !json && !http {
        v.push(Box::new(stratum_v2::StratumV2::default()));
        v.push(Box::new(bitcoin_p2p::BitcoinP2p::default()));
        v.push(Box::new(monero_levin::MoneroLevin::default()));
    }
    v
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

//! Stage 4, **detect**: a flow's reassembled bytes in, per direction; a [`Finding`] out when a
//! mining protocol is recognised.
//!
//! Each protocol is one [`Detector`] in its own file. Shared helpers frame newline-delimited
//! messages (`lines`) and read JSON-RPC envelopes (`jsonrpc`) so that detectors for
//! JSON-speaking protocols only interpret messages. A detector first *probes* (is this my
//! protocol at all?) and gives up quickly when it is not; only then does it *parse* in depth.

mod finding;
pub(crate) mod framing;
mod inspect;
pub mod mining;
pub mod node;
pub mod observe;

use mining::{cryptonote, ethproxy, noderpc, stratum, stratum_v2};
use node::{bitcoin_p2p, eth_discv4, monero_levin};
use observe::{dns, tls};

use crate::flow::Dir;

pub use finding::{
    coinbase_height, seed_rounds, Coverage, Detail, Finding, Job, JobForm, Kind, Lookups, Session,
    ShareValue, Shares, Transcript, Work, WorkSum, TRANSCRIPT_MESSAGE,
};
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

/// One protocol detector. It sees each direction's in-order bytes (as the flow table
/// reassembles them) and says what it found.
pub trait Detector: Send {
    /// Short name, used in statistics.
    fn name(&self) -> &'static str;
    /// In-order bytes sent in direction `dir`, at capture time `ts_ns`.
    fn on_data(&mut self, dir: Dir, data: &[u8], ts_ns: u64);
    /// Bytes were lost in direction `dir` before the next data.
    fn on_gap(&mut self, dir: Dir);
    /// Where the detector stands.
    fn interest(&self) -> Interest;
    /// What was found, once [`Interest::Matched`].
    fn finding(&self) -> Option<Finding>;
}

/// What detectors may consult: caps and the pool rules.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Caps on per-flow state.
    pub limits: Limits,
    /// The pool rules.
    pub intel: std::sync::Arc<crate::rules::intel::Intel>,
}

/// What a flow shows when its detectors are chosen: how it is carried and its first in-order
/// bytes (from either side).
#[derive(Debug, Clone, Copy)]
pub struct FlowStart<'a> {
    /// TCP or not.
    pub tcp: bool,
    /// The flow's ports (`lo` side, `hi` side).
    pub ports: (u16, u16),
    /// A TCP flow picked up without its opening: its first byte says nothing.
    pub mid_stream: bool,
    /// The first in-order bytes, from either side.
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
    /// The detector's name.
    pub name: &'static str,
    /// Whether the detector can match a flow that starts like this.
    pub applies: fn(&FlowStart<'_>) -> bool,
    /// Makes the detector for a flow.
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

//! What the flow table hands on: a flow's record when it ends (or, early, when it is first
//! recognised), and the counters of the table's work.

use super::{Dir, Evidence, Shape};
use std::net::IpAddr;

/// Why a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// FIN seen from both sides.
    Closed,
    Reset,
    Timeout,
    /// Pushed out to make room.
    Evicted,
    /// Still open when the input ended.
    RunEnd,
    /// Not ended: an early record, sent when the flow was first recognised.
    Ongoing,
}

/// Packets and bytes sent in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

/// A flow that ended with something found, as handed to the verdict stage. `F` is what the
/// flow's inspector found (the detect stage's `Finding`).
#[derive(Debug, Clone)]
pub struct FlowRecord<F> {
    pub id: u64,
    pub proto: u8,
    /// The side that sent the first packet seen, and the other.
    pub fwd: (IpAddr, u16),
    pub rev: (IpAddr, u16),
    pub first_ts: u64,
    pub last_ts: u64,
    /// Indexed by [`Dir::index`].
    pub counters: [Counters; 2],
    /// The side that opened the TCP connection, when the handshake was seen.
    pub syn_from: Option<Dir>,
    pub end: EndReason,
    /// What the inspector found, if anything.
    pub finding: Option<F>,
    /// The flow's traffic shape, for behaviour analysis.
    pub shape: Shape,
    /// The tunnel its first packet came in.
    pub encap: Option<crate::decode::Encap>,
    /// The frames kept for evidence.
    pub evidence: Option<Box<Evidence>>,
}

/// Counters of the table's work.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlowStats {
    pub flows: u64,
    pub timed_out: u64,
    pub closed: u64,
    pub evicted: u64,
    pub inspected_bytes: u64,
    pub gave_up: u64,
    pub resampled: u64,
    pub reasm_gaps: u64,
    pub reasm_duplicate_bytes: u64,
    pub peak_flows: u64,
    /// Frames not kept for evidence because the process-wide budget was spent.
    pub evidence_frames_over_budget: u64,
}

impl FlowStats {
    pub fn merge(&mut self, o: &FlowStats) {
        self.flows += o.flows;
        self.timed_out += o.timed_out;
        self.closed += o.closed;
        self.evicted += o.evicted;
        self.inspected_bytes += o.inspected_bytes;
        self.gave_up += o.gave_up;
        self.resampled += o.resampled;
        self.reasm_gaps += o.reasm_gaps;
        self.reasm_duplicate_bytes += o.reasm_duplicate_bytes;
        self.peak_flows += o.peak_flows;
        self.evidence_frames_over_budget += o.evidence_frames_over_budget;
    }
}

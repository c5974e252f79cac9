//! What the flow table hands on: a flow's record when it ends (or, early, when it is first
//! recognised), and the counters of the table's work.

use super::{Dir, Evidence, Shape};
use std::net::IpAddr;

/// Why a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// FIN seen from both sides.
    Closed,
    /// RST seen.
    Reset,
    /// Idle past its timeout.
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
    /// Packets.
    pub packets: u64,
    /// Bytes on the wire.
    pub bytes: u64,
}

/// A flow that ended with something found, as handed to the verdict stage. `F` is what the
/// flow's inspector found (the detect stage's `Finding`).
#[derive(Debug, Clone)]
pub struct FlowRecord<F> {
    /// The flow's id (as Suricata's `flow_id`).
    pub id: u64,
    /// IP protocol.
    pub proto: u8,
    /// The side that sent the first packet seen, and the other.
    pub fwd: (IpAddr, u16),
    /// The other side.
    pub rev: (IpAddr, u16),
    /// Capture time of its first packet.
    pub first_ts: u64,
    /// Capture time of its last packet.
    pub last_ts: u64,
    /// Indexed by [`Dir::index`].
    pub counters: [Counters; 2],
    /// The side that opened the TCP connection, when the handshake was seen.
    pub syn_from: Option<Dir>,
    /// Why the record was made.
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
    /// Flows seen.
    pub flows: u64,
    /// Flows ended by their idle timeout.
    pub timed_out: u64,
    /// Flows ended by FIN or RST.
    pub closed: u64,
    /// Flows pushed out to make room.
    pub evicted: u64,
    /// Payload bytes shown to the detectors.
    pub inspected_bytes: u64,
    /// Flows given up on (not mining, or over the inspection budget).
    pub gave_up: u64,
    /// Flows looked at again later.
    pub resampled: u64,
    /// Holes skipped in TCP streams.
    pub reasm_gaps: u64,
    /// Retransmitted or overlapping bytes dropped.
    pub reasm_duplicate_bytes: u64,
    /// Most flows held at once.
    pub peak_flows: u64,
    /// Frames not kept for evidence because the process-wide budget was spent.
    pub evidence_frames_over_budget: u64,
}

impl FlowStats {
    /// Adds another table's counts.
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

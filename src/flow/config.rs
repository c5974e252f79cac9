//! The flow table's limits and timers.

use super::evidence::Caps;

/// Limits and timers of the flow table.
#[derive(Debug, Clone, Copy)]
pub struct FlowConfig {
    /// Most flows tracked at once (per table).
    pub max_flows: usize,
    /// Idle time that ends a TCP flow.
    pub tcp_timeout_ns: u64,
    /// Idle time that ends a UDP flow.
    pub udp_timeout_ns: u64,
    /// Out-of-order bytes held per direction of a flow.
    pub max_held: usize,
    /// Bytes a flow may show the detectors before they must have recognised something.
    pub inspect_budget: usize,
    /// How long after giving up on a flow it is looked at again.
    pub resample_after_ns: u64,
    /// Report a flow as soon as a mining protocol is recognised on it (an early record), not
    /// only when it ends.
    pub early_records: bool,
    /// With `early_records`: a TCP flow with nothing recognised on it that has talked both
    /// ways for this long is also reported early, once, so that its behaviour is judged then.
    pub behaviour_window_ns: Option<u64>,
    /// Keep a [`super::FlowSummary`] of every flow that ends (for the site profiles).
    pub summaries: bool,
    /// Frames kept per flow for evidence (0: none): its first ones until its verdict is known,
    /// then, for a mining flow, the ones after them up to this count and `evidence_bytes`.
    pub evidence_packets: usize,
    /// Bytes of frames kept per flow for evidence.
    pub evidence_bytes: usize,
    /// Bytes of frames the whole run may hold for evidence (counted in its `EvidenceBudget`).
    pub evidence_total_bytes: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 200_000,
            tcp_timeout_ns: 600_000_000_000,
            udp_timeout_ns: 120_000_000_000,
            max_held: 64 * 1024,
            inspect_budget: 16 * 1024,
            resample_after_ns: 300_000_000_000,
            early_records: false,
            behaviour_window_ns: None,
            summaries: false,
            evidence_packets: 0,
            evidence_bytes: 1 << 20,
            evidence_total_bytes: 512 << 20,
        }
    }
}

impl FlowConfig {
    pub(super) fn evidence_caps(&self) -> Caps {
        Caps {
            frames: self.evidence_packets,
            bytes: self.evidence_bytes,
            total: self.evidence_total_bytes,
        }
    }
}

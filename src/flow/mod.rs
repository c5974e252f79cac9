//! Stage 3, **flow**: decoded packets in; flows out — bidirectional, with per-direction
//! counters, TCP streams reassembled in order and fed to the detectors, and, when a flow ends,
//! a [`FlowRecord`] carrying what the detectors found.
//!
//! The table is bounded: idle flows time out, closed flows end at once, and when the table is
//! full the longest-idle unmatched flows are evicted (counted). Each flow's held out-of-order
//! bytes are capped. A flow that is clearly not mining stops being inspected and costs only the
//! table lookup; a long unclassified flow is looked at again now and then.

mod key;
pub mod reasm;
mod table;

pub use key::{flow_id, FlowKey};
pub use table::{
    evidence_held, Counters, EndReason, Evidence, FlowConfig, FlowRecord, FlowStats, Table,
};

/// Direction within a flow: `Fwd` is from the side that sent the first packet the tap saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    Fwd,
    Rev,
}

impl Dir {
    pub fn index(self) -> usize {
        self as usize
    }
    pub fn flip(self) -> Dir {
        match self {
            Dir::Fwd => Dir::Rev,
            Dir::Rev => Dir::Fwd,
        }
    }
}

/// One decoded packet as the flow table takes it.
#[derive(Debug, Clone, Copy)]
pub struct PacketMeta {
    pub ts_ns: u64,
    pub key: FlowKey,
    pub hash: u64,
    /// Whether the packet goes from `key.lo` to `key.hi`.
    pub from_lo: bool,
    pub tcp: crate::decode::Tcp,
    /// Bytes on the wire.
    pub wire_len: u32,
    /// The tunnel or label stack the packet came in.
    pub encap: Option<crate::decode::Encap>,
}

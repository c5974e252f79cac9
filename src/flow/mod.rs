//! Stage 3, **flow**: decoded packets ([`PacketMeta`] and payload) in; flows out — bidirectional,
//! with per-direction counters, TCP streams reassembled in order and handed to an
//! [`Inspector`] (the detect stage implements it), and, when a flow ends, a [`FlowRecord`]
//! carrying what the inspector found.
//!
//! The table is bounded: idle flows time out, closed flows end at once, and when the table is
//! full the longest-idle unmatched flows are evicted (counted). Each flow's held out-of-order
//! bytes are capped. A flow that is clearly not mining stops being inspected and costs only the
//! table lookup; a long unclassified flow is looked at again now and then.
//!
//! The flow stage knows nothing of protocols: it drives whatever implements [`Inspector`], so
//! that the detect stage depends on this one and not the other way round.

mod config;
mod entry;
mod evidence;
mod key;
pub mod reasm;
mod record;
pub mod rhythm;
mod shape;
mod slots;
mod summary;
mod table;
mod timers;

pub use config::FlowConfig;
pub use evidence::{Evidence, EvidenceBudget, FRAME_COST};
pub use key::{flow_id, FlowKey};
pub use reasm::Chunk;
pub use record::{Counters, EndReason, FlowRecord, FlowStats};
pub use shape::Shape;
pub use summary::FlowSummary;
pub use table::Table;

/// Direction within a flow: `Fwd` is from the side that sent the first packet the tap saw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dir {
    /// From the side that sent the first packet seen.
    Fwd,
    /// Towards it.
    Rev,
}

impl Dir {
    /// 0 or 1, to index per-direction arrays.
    pub fn index(self) -> usize {
        self as usize
    }
    /// The other direction.
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
    /// Capture time, nanoseconds since the epoch.
    pub ts_ns: u64,
    /// The flow's canonical key.
    pub key: FlowKey,
    /// The key's symmetric hash (the table's hash).
    pub hash: u64,
    /// Whether the packet goes from `key.lo` to `key.hi`.
    pub from_lo: bool,
    /// TCP header fields (zero for UDP).
    pub tcp: crate::decode::Tcp,
    /// Bytes on the wire.
    pub wire_len: u32,
    /// The tunnel or label stack the packet came in.
    pub encap: Option<crate::decode::Encap>,
}

/// Where a flow's inspection stands, as the table acts on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Standing {
    /// Not decided: keep feeding, within the inspection budget.
    Probing,
    /// Recognised: keep feeding to follow the session.
    Matched,
    /// Nothing more to learn: stop feeding (a finding may still be kept).
    Finished,
}

/// What inspects a flow's payload: one per flow while it is inspected. The table hands it each
/// direction's in-order bytes and gaps, asks where it stands, and takes its finding.
pub trait Inspector: Sized + Send {
    /// What every inspection consults (rules, caps); replaceable while flows go on.
    type Context: Send;
    /// What an inspection found.
    type Finding: Send + Clone;
    /// A new inspection for a flow: TCP or not, its ports (`lo`, `hi` side), and whether it
    /// was picked up without its opening.
    fn start(tcp: bool, ports: (u16, u16), mid_stream: bool) -> Self;
    /// In-order bytes (or a gap) sent in direction `dir`, at capture time `ts`.
    fn feed(&mut self, ctx: &Self::Context, dir: Dir, chunk: Chunk<'_>, ts: u64);
    /// Where the inspection stands.
    fn standing(&self) -> Standing;
    /// The flow is recognised: whatever did not recognise it can go.
    fn keep_matched(&mut self);
    /// The most telling finding so far.
    fn finding(&self) -> Option<Self::Finding>;
    /// Whether `new` should replace `old`, a finding kept from an earlier inspection.
    fn replaces(new: &Self::Finding, old: &Self::Finding) -> bool;
    /// Whether a flow whose inspection ended with `finding` should keep its frames for
    /// evidence until it ends (its verdict, reached then, may well call for a bundle).
    fn wants_evidence(finding: &Self::Finding, ctx: &Self::Context) -> bool;
}

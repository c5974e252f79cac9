//! What the threads of a run share and report: the stop flag, the rules in force, counters
//! and latency histograms for periodic statistics, and the run's totals.

use super::Rules;
use crate::decode::{FragStats, SkipCounts};
use crate::flow::{EvidenceBudget, FlowStats};
use crate::source::{Damage, InputError, InputName};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;

/// Per-stage latency, as histograms (nanoseconds).
pub struct Latency {
    /// From a packet's capture time to its processing by a worker (live only).
    pub queue: hdrhistogram::Histogram<u64>,
    /// Worker time per packet (flow, detect), per batch.
    pub packet: hdrhistogram::Histogram<u64>,
    /// Time to judge an ended flow.
    pub verdict: hdrhistogram::Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        let h = || {
            hdrhistogram::Histogram::new_with_bounds(1, 3_600_000_000_000, 3)
                .expect("constant, valid histogram bounds")
        };
        Latency {
            queue: h(),
            packet: h(),
            verdict: h(),
        }
    }
}

/// What the threads of a run share: the stop flag, the rules (replaceable while running),
/// and counters for periodic statistics. Written once per batch, never per packet.
#[derive(Default)]
pub struct Shared {
    /// Set to end the run: readers stop and flows are ended.
    pub stop: AtomicBool,
    rules: RwLock<Rules>,
    pub(super) rules_gen: AtomicU64,
    /// Packets read.
    pub packets: AtomicU64,
    /// Bytes read.
    pub bytes: AtomicU64,
    /// Frames the kernel dropped.
    pub kernel_drops: AtomicU64,
    /// Flows seen.
    pub flows: AtomicU64,
    /// Flows tracked now.
    pub active_flows: AtomicU64,
    /// Flows pushed out to make room.
    pub evicted: AtomicU64,
    /// Verdicts reached.
    pub verdicts: AtomicU64,
    /// Per-stage latencies.
    pub latency: Mutex<Latency>,
    /// Bytes of frames held for evidence bundles by the whole run.
    pub evidence: EvidenceBudget,
    /// Endpoints an active probe confirmed (live `--probe`), consulted by every worker's judge.
    pub probed: Option<crate::verdict::Probed>,
}

impl Shared {
    /// Shared state starting with `rules`.
    pub fn new(rules: Rules) -> Self {
        Shared {
            rules: RwLock::new(rules),
            ..Shared::default()
        }
    }

    /// Replaces the rules; workers take them up at their next batch. Flows are kept.
    pub fn replace_rules(&self, rules: Rules) {
        if let Ok(mut r) = self.rules.write() {
            *r = rules;
        }
        self.rules_gen.fetch_add(1, Ordering::Release);
    }

    pub(super) fn rules(&self) -> (u64, Rules) {
        let gen = self.rules_gen.load(Ordering::Acquire);
        let r = self.rules.read().map(|r| r.clone()).unwrap_or_default();
        (gen, r)
    }
}

/// What happened to one input.
#[derive(Debug)]
pub enum InputReport {
    /// Read to the end, or up to damage.
    Read {
        /// The input.
        name: InputName,
        /// Packets read from it.
        packets: u64,
        /// Where it was damaged, if it was.
        damage: Option<Damage>,
        /// Reading stopped before its end because the run was asked to stop.
        interrupted: bool,
    },
    /// Could not be used at all.
    Failed(InputError),
}

/// Counters of a whole run.
#[derive(Debug, Default)]
pub struct RunStats {
    /// What happened to each input.
    pub inputs: Vec<InputReport>,
    /// Packets read.
    pub packets: u64,
    /// Bytes on the wire of all packets.
    pub bytes: u64,
    /// Packets captured shorter than they were on the wire (the capture's snap length).
    pub snapped: u64,
    /// Packets `--filter` left out.
    pub filtered: u64,
    /// Packets skipped, by reason.
    pub skipped: SkipCounts,
    /// What the fragment pool did.
    pub frags: FragStats,
    /// What the flow tables did.
    pub flows: FlowStats,
    /// Verdicts reached: mining flows (any level), pool look-ups, crypto-currency node flows.
    pub mining_flows: u64,
    /// Pool look-ups reported.
    pub dns_events: u64,
    /// Crypto-currency node flows reported.
    pub node_events: u64,
    /// How long the run took.
    pub elapsed: Duration,
}

impl RunStats {
    /// Inputs that could not be used.
    pub fn failed_inputs(&self) -> usize {
        self.inputs
            .iter()
            .filter(|i| matches!(i, InputReport::Failed(_)))
            .count()
    }
}

/// Progress callbacks for a user interface.
pub trait Progress: Sync {
    /// An input is about to be read; `size` in bytes when known.
    fn start_input(&self, _name: &InputName, _size: Option<u64>) {}
    /// `pos` bytes of the current input have been read.
    fn advance(&self, _pos: u64) {}
}

/// No progress display.
pub struct Silent;
impl Progress for Silent {}

impl RunStats {
    pub(super) fn merge(&mut self, o: RunStats) {
        self.snapped += o.snapped;
        self.filtered += o.filtered;
        self.inputs.extend(o.inputs);
        self.packets += o.packets;
        self.bytes += o.bytes;
        self.skipped.merge(&o.skipped);
        self.frags.fragments += o.frags.fragments;
        self.frags.reassembled += o.frags.reassembled;
        self.frags.expired += o.frags.expired;
        self.frags.evicted += o.frags.evicted;
        self.frags.oversized += o.frags.oversized;
    }
}

//! The flow table. In: decoded packets with their flow key and hash. Out: flow records (what
//! each flow's inspection found) and summaries. One entry per bidirectional 5-tuple, bounded in
//! count and in bytes held; it finds a packet's entry, makes and ends entries (closed, timed out,
//! evicted), and leaves the rest to the entry ([`super::entry`]).

use super::config::FlowConfig;
use super::entry::Flow;
use super::evidence::EvidenceBudget;
use super::slots::Slots;
use super::timers::{Due, Timers};
use super::{EndReason, FlowRecord, FlowStats, Inspector, PacketMeta};
use crate::decode::tcp_flags;

/// The flow table of one worker.
pub struct Table<I: Inspector> {
    cfg: FlowConfig,
    ctx: I::Context,
    budget: EvidenceBudget,
    flows: Slots<Flow<I>>,
    /// When each flow may be due to time out.
    timers: Timers,
    /// The flows a sweep looks at (kept to be reused).
    due: Vec<Due>,
    next_sweep: u64,
    /// What the table did.
    pub stats: FlowStats,
    /// With `FlowConfig::summaries`: every flow that ended since the owner last took them.
    pub summaries: Vec<super::FlowSummary>,
}

impl<I: Inspector> Table<I> {
    /// A table whose kept evidence frames count against `budget` (shared by the run).
    pub fn new(cfg: FlowConfig, ctx: I::Context, budget: EvidenceBudget) -> Self {
        Table {
            cfg,
            ctx,
            budget,
            flows: Slots::new(),
            timers: Timers::new(sweep_step(&cfg)),
            due: Vec::new(),
            next_sweep: 0,
            stats: FlowStats::default(),
            summaries: Vec::new(),
        }
    }

    /// New inspections consult `ctx` (new rules); flows and their inspections are kept.
    pub fn set_context(&mut self, ctx: I::Context) {
        self.ctx = ctx;
    }

    /// Flows currently tracked.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    /// Whether no flow is tracked.
    pub fn is_empty(&self) -> bool {
        self.flows.len() == 0
    }

    /// Takes one packet; flows that end are appended to `out` when something was found on them.
    pub fn packet(
        &mut self,
        p: &PacketMeta,
        payload: &[u8],
        out: &mut Vec<FlowRecord<I::Finding>>,
    ) {
        self.packet_with_frame(p, payload, None, out)
    }

    /// As [`Table::packet`], with the captured frame, its link type and input index, kept for
    /// evidence when the table is configured to.
    pub fn packet_with_frame(
        &mut self,
        p: &PacketMeta,
        payload: &[u8],
        frame: Option<(&[u8], u16, u32)>,
        out: &mut Vec<FlowRecord<I::Finding>>,
    ) {
        if p.ts_ns >= self.next_sweep {
            self.sweep(p.ts_ns, out);
        }
        let slot = self.slot(p, out);
        let Some(flow) = self.flows.get_mut(slot) else {
            return;
        };
        if flow.closed {
            flow.last_ts = flow.last_ts.max(p.ts_ns);
            return;
        }
        if let Some(frame) = frame {
            let kept = flow.keep_frame(p, frame, &self.cfg, &self.budget);
            self.stats.evidence_frames_over_budget += u64::from(!kept);
        }
        let dir = flow.count(p);
        let flags = p.tcp.flags;
        if flow.is_tcp() && flags & tcp_flags::SYN != 0 {
            flow.syn(dir, flags, p.tcp.seq);
        }
        if !payload.is_empty() {
            flow.shape.add(dir.index(), p.ts_ns, payload);
            flow.start_inspection(p.ts_ns, &self.cfg, &mut self.stats);
            let env = (&self.cfg, &self.ctx);
            flow.inspect_payload((dir, p, payload), env, &mut self.stats, out);
            flow.report_behaviour(p.ts_ns, &self.cfg, out);
        }
        if let Some(reason) = flow.ended(dir, flags) {
            self.stats.closed += 1;
            let keep = self.cfg.summaries.then_some(&mut self.summaries);
            flow.conclude((reason, p.ts_ns), &mut self.stats, &self.ctx, (out, keep));
            flow.closed = true;
            // It now lingers for less than its timeout: it is due sooner than it was filed.
            self.file(slot);
        }
    }

    /// Files the flow in `slot` with the timers, for when it would be idle past its limit.
    fn file(&mut self, slot: usize) {
        if let Some(f) = self.flows.get(slot) {
            self.timers.file(f.idle_at(&self.cfg), f.due(slot));
        }
    }

    /// Ends the flow in `slot` for `reason` at `at` (or at its last packet) and removes it;
    /// a flow not ended already (closed) counts as timed out or evicted when that is the reason.
    fn end(
        &mut self,
        slot: usize,
        (reason, at): (EndReason, Option<u64>),
        out: &mut Vec<FlowRecord<I::Finding>>,
    ) {
        let Some(f) = self.flows.get_mut(slot) else {
            return;
        };
        let ended = u64::from(!f.closed);
        match reason {
            EndReason::Timeout => self.stats.timed_out += ended,
            EndReason::Evicted => self.stats.evicted += ended,
            _ => {}
        }
        let keep = self.cfg.summaries.then_some(&mut self.summaries);
        let when = at.unwrap_or(f.last_ts);
        f.conclude((reason, when), &mut self.stats, &self.ctx, (out, keep));
        let hash = f.hash;
        self.flows.remove(slot, hash);
    }

    /// The slot of the packet's flow, made for it when it is new; a closed flow whose 5-tuple
    /// opens again is replaced (a new connection).
    fn slot(&mut self, p: &PacketMeta, out: &mut Vec<FlowRecord<I::Finding>>) -> usize {
        let opening = p.tcp.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
        if let Some(s) = self.flows.find(p.hash, |f| f.key == p.key) {
            if !(opening && self.flows.get(s).is_some_and(|f| f.closed)) {
                return s;
            }
            self.flows.remove(s, p.hash);
        }
        if self.flows.len() >= self.cfg.max_flows {
            self.make_room(p.ts_ns, out);
        }
        self.stats.flows += 1;
        let slot = self.flows.insert(p.hash, Flow::new(p));
        self.file(slot);
        self.stats.peak_flows = self.stats.peak_flows.max(self.flows.len() as u64);
        slot
    }

    /// The capture's clock moved to `now` with no packet for this table: flows time out as
    /// they would have on a packet at that time.
    pub fn advance(&mut self, now: u64, out: &mut Vec<FlowRecord<I::Finding>>) {
        if now >= self.next_sweep {
            self.sweep(now, out);
        }
    }

    /// Ends every flow (the input is over).
    pub fn finish(&mut self, out: &mut Vec<FlowRecord<I::Finding>>) {
        self.end_where((EndReason::RunEnd, None), out, |_| true);
        self.timers.clear();
    }

    /// Ends the flows idle past their timeout at `now`: those the timers say may be due, each
    /// checked against its own last packet and filed again if one came since.
    fn sweep(&mut self, now: u64, out: &mut Vec<FlowRecord<I::Finding>>) {
        self.next_sweep = now.saturating_add(sweep_step(&self.cfg));
        let mut due = std::mem::take(&mut self.due);
        self.timers.take_due(now, &mut due);
        for d in due.drain(..) {
            let slot = d.slot as usize;
            let Some(f) = self.flows.get(slot) else {
                continue;
            };
            if f.due(slot) != d {
                continue; // ended already; the slot holds another flow
            }
            if now.saturating_sub(f.last_ts) <= f.idle_limit(&self.cfg) {
                self.file(slot);
            } else {
                self.end(slot, (EndReason::Timeout, Some(now)), out);
            }
        }
        self.due = due;
    }

    /// The table is full: first end flows idle for an eighth of their timeout, then, if that
    /// freed too little, evict unmatched flows until a sixteenth of the table is free.
    fn make_room(&mut self, now: u64, out: &mut Vec<FlowRecord<I::Finding>>) {
        let want = (self.cfg.max_flows / 16).max(1);
        let (tcp_t, udp_t) = (self.cfg.tcp_timeout_ns / 8, self.cfg.udp_timeout_ns / 8);
        let evicted = (EndReason::Evicted, Some(now));
        let mut n = self.end_where(evicted, out, |f| {
            let t = if f.is_tcp() { tcp_t } else { udp_t };
            f.closed || now.saturating_sub(f.last_ts) > t
        });
        for spare_matched in [true, false] {
            if n >= want {
                break;
            }
            self.end_where(evicted, out, |f| {
                let take = n < want && !(spare_matched && f.matched);
                n += take as usize;
                take
            });
        }
    }

    /// Ends, in slot order, every flow for which `pick` holds, for `reason`, at `at` (or at its
    /// last packet). Returns how many it removed.
    fn end_where(
        &mut self,
        (reason, at): (EndReason, Option<u64>),
        out: &mut Vec<FlowRecord<I::Finding>>,
        mut pick: impl FnMut(&Flow<I>) -> bool,
    ) -> usize {
        let mut removed = 0;
        for slot in 0..self.flows.end() {
            if self.flows.get(slot).is_some_and(&mut pick) {
                self.end(slot, (reason, at), out);
                removed += 1;
            }
        }
        removed
    }
}

/// Capture time between timeout sweeps: an eighth of the UDP timeout, within 1 to 10 s.
fn sweep_step(cfg: &FlowConfig) -> u64 {
    (cfg.udp_timeout_ns / 8).clamp(1_000_000_000, 10_000_000_000)
}

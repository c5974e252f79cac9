//! One flow's entry in the table. In: its packets (metadata, payload, frame). Out: what its
//! inspection found, in flow records, early ones while it goes on and the last when it ends,
//! and its summary. The table finds the entry and decides when it ends; the entry does the rest.

use super::config::FlowConfig;
use super::evidence::{Evidence, EvidenceBudget};
use super::reasm::{Chunk, Reassembler};
use super::timers::Due;
use super::{flow_id, Counters, Dir, EndReason, FlowKey, FlowRecord, FlowStats, Inspector};
use super::{PacketMeta, Shape, Standing};
use crate::decode::{tcp_flags, PROTO_TCP};
use std::net::IpAddr;

struct Inspection<I> {
    reasm: [Reassembler; 2],
    inspector: I,
    probed: usize,
}

pub(super) struct Flow<I: Inspector> {
    pub(super) shape: Shape,
    evidence: Option<Box<Evidence>>,
    encap: Option<crate::decode::Encap>,
    /// A finding kept from an inspection that finished before the flow did.
    saved: Option<Box<I::Finding>>,
    pub(super) key: FlowKey,
    pub(super) hash: u64,
    fwd_is_lo: bool,
    first_ts: u64,
    pub(super) last_ts: u64,
    counters: [Counters; 2],
    syn_from: Option<Dir>,
    fin: [bool; 2],
    pub(super) matched: bool,
    /// Its inspection ended with a finding whose verdict may call for a bundle: its frames are
    /// kept as a matched flow's are.
    keep_frames: bool,
    /// Ended by FIN/RST: reported already, kept a little to absorb the last packets.
    pub(super) closed: bool,
    /// Its age (ns since its first packet) at which it is next reported early for its
    /// behaviour (see `FlowConfig::behaviour_window_ns`); 0 before the first report.
    behaviour_due: u64,
    inspect: Inspect<I>,
    /// Initial sequence numbers from the SYNs, per direction, for reassembly that starts later.
    syn_seq: [Option<u32>; 2],
}

/// Where a flow's inspection stands.
enum Inspect<I> {
    /// No payload yet: the inspection starts when the first bytes arrive.
    Pending {
        mid_stream: bool,
    },
    Active(Box<Inspection<I>>),
    /// Given up on; looked at again (as a mid-stream pickup) from this capture time.
    Stopped {
        resample_at: u64,
    },
}

/// How long a closed flow stays in the table to absorb its last packets (final ACKs).
const CLOSED_LINGER_NS: u64 = 10_000_000_000;
impl<I: Inspector> Flow<I> {
    pub(super) fn new(p: &PacketMeta) -> Self {
        let mid_stream = p.key.proto == PROTO_TCP && p.tcp.flags & tcp_flags::SYN == 0;
        Flow {
            shape: Shape::default(),
            evidence: None,
            encap: p.encap,
            saved: None,
            key: p.key,
            hash: p.hash,
            fwd_is_lo: p.from_lo,
            first_ts: p.ts_ns,
            last_ts: p.ts_ns,
            counters: [Counters::default(); 2],
            syn_from: None,
            fin: [false; 2],
            matched: false,
            keep_frames: false,
            closed: false,
            behaviour_due: 0,
            inspect: Inspect::Pending { mid_stream },
            syn_seq: [None; 2],
        }
    }

    pub(super) fn is_tcp(&self) -> bool {
        self.key.proto == PROTO_TCP
    }

    /// How long it may be idle before it times out.
    pub(super) fn idle_limit(&self, cfg: &FlowConfig) -> u64 {
        match (self.closed, self.is_tcp()) {
            (true, _) => CLOSED_LINGER_NS,
            (false, true) => cfg.tcp_timeout_ns,
            (false, false) => cfg.udp_timeout_ns,
        }
    }

    /// The first capture time at which it is idle past its limit, as things stand.
    pub(super) fn idle_at(&self, cfg: &FlowConfig) -> u64 {
        self.last_ts
            .saturating_add(self.idle_limit(cfg))
            .saturating_add(1)
    }

    /// How the timers know it, in `slot`.
    pub(super) fn due(&self, slot: usize) -> Due {
        Due {
            slot: slot as u32,
            hash: self.hash as u32,
            first_ts: self.first_ts,
        }
    }

    /// Counts the packet in its direction, which it returns.
    pub(super) fn count(&mut self, p: &PacketMeta) -> Dir {
        let dir = if p.from_lo == self.fwd_is_lo {
            Dir::Fwd
        } else {
            Dir::Rev
        };
        let c = &mut self.counters[dir.index()];
        c.packets += 1;
        c.bytes += p.wire_len as u64;
        self.last_ts = self.last_ts.max(p.ts_ns);
        dir
    }

    /// Keeps the frame while the verdict is open, and after it for flows that matched or whose
    /// inspection ended with a finding (a TLS handshake naming a pool, a Noise handshake: their
    /// verdict comes at the end and may need the frames); false when the run's evidence budget
    /// was spent.
    pub(super) fn keep_frame(
        &mut self,
        p: &PacketMeta,
        frame: (&[u8], u16, u32),
        cfg: &FlowConfig,
        budget: &EvidenceBudget,
    ) -> bool {
        let wanted = self.matched || self.keep_frames;
        let open = wanted || !matches!(self.inspect, Inspect::Stopped { .. });
        if cfg.evidence_packets > 0 && open {
            let ev = self.evidence.get_or_insert_with(Default::default);
            return ev.keep(p.ts_ns, p.wire_len, frame, cfg.evidence_caps(), budget);
        }
        if !wanted {
            self.evidence = None;
        }
        true
    }

    /// A SYN or SYN-ACK: who opened, and where each direction's sequence starts.
    pub(super) fn syn(&mut self, dir: Dir, flags: u8, seq: u32) {
        let opener = if flags & tcp_flags::ACK == 0 {
            dir
        } else {
            dir.flip()
        };
        self.syn_from.get_or_insert(opener);
        self.syn_seq[dir.index()].get_or_insert(seq);
        if let Inspect::Active(insp) = &mut self.inspect {
            insp.reasm[dir.index()].syn(seq);
        }
    }

    /// Starts an inspection when the flow has none yet, or when a stopped one is due to be
    /// looked at again.
    pub(super) fn start_inspection(&mut self, ts: u64, cfg: &FlowConfig, stats: &mut FlowStats) {
        let mid_stream = match self.inspect {
            Inspect::Pending { mid_stream } => mid_stream,
            Inspect::Stopped { resample_at } if ts >= resample_at => {
                stats.resampled += 1;
                true
            }
            _ => return,
        };
        let mut insp = Box::new(Inspection {
            reasm: [
                Reassembler::new(cfg.max_held),
                Reassembler::new(cfg.max_held),
            ],
            inspector: I::start(self.is_tcp(), (self.key.lo.1, self.key.hi.1), mid_stream),
            probed: 0,
        });
        for (d, seq) in self.syn_seq.iter().enumerate() {
            if let Some(seq) = seq {
                insp.reasm[d].syn(*seq);
            }
        }
        self.inspect = Inspect::Active(insp);
    }

    /// Hands the payload to the inspection (reassembled for TCP) and acts on where it then
    /// stands: an early record on a first match, giving up when there is nothing to find.
    pub(super) fn inspect_payload(
        &mut self,
        (dir, p, payload): (Dir, &PacketMeta, &[u8]),
        (cfg, ctx): (&FlowConfig, &I::Context),
        stats: &mut FlowStats,
        out: &mut Vec<FlowRecord<I::Finding>>,
    ) {
        let is_tcp = self.is_tcp();
        let Inspect::Active(insp) = &mut self.inspect else {
            return;
        };
        stats.inspected_bytes += payload.len() as u64;
        let Inspection {
            reasm, inspector, ..
        } = &mut **insp;
        let ts = p.ts_ns;
        let mut deliver = |chunk: Chunk<'_>| inspector.feed(ctx, dir, chunk, ts);
        if is_tcp {
            reasm[dir.index()].segment(p.tcp.seq, payload, &mut deliver);
        } else {
            deliver(Chunk::Data(payload));
        }
        insp.probed += payload.len();
        match insp.inspector.standing() {
            Standing::Matched => {
                if !self.matched {
                    insp.inspector.keep_matched();
                    self.matched = true;
                    if cfg.early_records {
                        let finding = insp.inspector.finding();
                        out.push(self.record(EndReason::Ongoing, finding));
                    }
                }
            }
            Standing::Finished => self.give_up(stats, (cfg, ctx)),
            Standing::Probing if insp.probed > cfg.inspect_budget => {
                self.give_up(stats, (cfg, ctx))
            }
            Standing::Probing => {}
        }
    }

    /// Reports an unrecognised TCP flow early when it has talked both ways for the behaviour
    /// window (live mode), so that its behaviour is judged before it ends; then again every
    /// half window while it lasts, so that a conversation whose first window said too little
    /// (a slow miner's few shares, a share whose answer was still on its way) is judged on
    /// more. The verdict stage says each flow's early verdict once, unless it rises.
    pub(super) fn report_behaviour(
        &mut self,
        now: u64,
        cfg: &FlowConfig,
        out: &mut Vec<FlowRecord<I::Finding>>,
    ) {
        let Some(window) = cfg.behaviour_window_ns else {
            return;
        };
        if !cfg.early_records
            || self.matched
            || !self.is_tcp()
            || now.saturating_sub(self.first_ts) < self.behaviour_due.max(window)
            || self.shape.payload_packets.contains(&0)
        {
            return;
        }
        let age = now.saturating_sub(self.first_ts);
        self.behaviour_due = age.saturating_add((window / 2).max(1));
        let finding = match &self.inspect {
            Inspect::Active(insp) => insp.inspector.finding(),
            _ => self.saved.as_deref().cloned(),
        };
        out.push(self.record(EndReason::Ongoing, finding));
    }

    /// Whether this packet ends the flow: a RST, or the second side's FIN.
    pub(super) fn ended(&mut self, dir: Dir, flags: u8) -> Option<EndReason> {
        if !self.is_tcp() {
            return None;
        }
        if flags & tcp_flags::RST != 0 {
            return Some(EndReason::Reset);
        }
        if flags & tcp_flags::FIN != 0 {
            self.fin[dir.index()] = true;
        }
        (self.fin == [true, true]).then_some(EndReason::Closed)
    }

    fn give_up(&mut self, stats: &mut FlowStats, (cfg, ctx): (&FlowConfig, &I::Context)) {
        if let Inspect::Active(insp) = &self.inspect {
            if let Some(f) = insp.inspector.finding() {
                self.keep_frames = I::wants_evidence(&f, ctx);
                self.saved = Some(Box::new(f));
            }
        }
        self.inspect = Inspect::Stopped {
            resample_at: self.last_ts.saturating_add(cfg.resample_after_ns),
        };
        stats.gave_up += 1;
    }

    /// Hands the flow's held bytes to its inspection and, if something was found, appends its
    /// record. Afterwards the flow is no longer inspected; a second call does nothing.
    /// Ends the flow at `at`: its record when something was found (or it talked both ways),
    /// and its summary into `summaries` when the table keeps them.
    pub(super) fn conclude(
        &mut self,
        (reason, at): (EndReason, u64),
        stats: &mut FlowStats,
        ctx: &I::Context,
        (out, summaries): (
            &mut Vec<FlowRecord<I::Finding>>,
            Option<&mut Vec<super::FlowSummary>>,
        ),
    ) {
        if self.closed {
            return;
        }
        if let Some(s) = summaries {
            s.push(self.summary(at));
        }
        let mut finding = self.saved.take().map(|b| *b);
        let stopped = Inspect::Stopped {
            resample_at: u64::MAX,
        };
        if let Inspect::Active(mut insp) = std::mem::replace(&mut self.inspect, stopped) {
            let Inspection {
                reasm, inspector, ..
            } = &mut *insp;
            for d in [Dir::Fwd, Dir::Rev] {
                let r = &mut reasm[d.index()];
                r.finish(&mut |chunk| inspector.feed(ctx, d, chunk, self.last_ts));
                stats.reasm_gaps += r.stats.gaps;
                stats.reasm_duplicate_bytes += r.stats.duplicate_bytes;
            }
            if let Some(now) = inspector.finding() {
                if finding.as_ref().is_none_or(|old| I::replaces(&now, old)) {
                    finding = Some(now);
                }
            }
        }
        // Flows with nothing found still go to the verdict when they carried data both ways:
        // their endpoints or their shape may tell.
        let talked = self.shape.payload_packets.iter().all(|n| *n > 0);
        if finding.is_none() && !(talked && self.is_tcp()) {
            return;
        }
        let mut r = self.record(reason, finding);
        r.evidence = self.evidence.take();
        out.push(r);
    }

    /// Its two ends: the first sender, then the other.
    fn ends(&self) -> ((IpAddr, u16), (IpAddr, u16)) {
        let (lo, hi) = (self.key.lo, self.key.hi);
        if self.fwd_is_lo {
            (lo, hi)
        } else {
            (hi, lo)
        }
    }

    /// What it leaves behind for the site profiles, ended at `at`.
    fn summary(&self, at: u64) -> super::FlowSummary {
        let id = flow_id(self.hash, self.first_ts);
        super::FlowSummary::new(
            (id, self.key.proto),
            self.ends(),
            &self.counters,
            self.syn_from,
            at.max(self.last_ts),
        )
    }

    fn record(&self, end: EndReason, finding: Option<I::Finding>) -> FlowRecord<I::Finding> {
        let (fwd, rev) = self.ends();
        FlowRecord {
            id: flow_id(self.hash, self.first_ts),
            proto: self.key.proto,
            fwd,
            rev,
            first_ts: self.first_ts,
            last_ts: self.last_ts,
            counters: self.counters,
            syn_from: self.syn_from,
            end,
            finding,
            shape: self.shape,
            encap: self.encap,
            evidence: None,
        }
    }
}

//! A flow worker: batches of decoded packets in; flow records with their verdicts out, to the
//! sink thread. It owns its flow table (flow → detect) and its judge (verdict), and learns
//! pool addresses from the DNS answers every batch carries.

use super::batch::{Batch, PieceEnd};
use super::{Rules, Shared};
use crate::detect::observe::dns;
use crate::detect::{FlowRecord, Table};
use crate::flow::{Dir, EndReason, FlowConfig, FlowStats};
use crate::verdict::{EventType, Judge};
use crossbeam_channel::{Receiver, Sender};
use std::sync::atomic::Ordering;
use std::time::Instant;

/// What a worker hands back when its input ends.
pub(super) struct WorkerResult {
    pub flows: FlowStats,
}

/// Where a worker takes its batches from.
pub(super) enum Feed {
    /// One channel all readers share: live capture, whose interfaces' packets come in any
    /// order.
    Shared(Receiver<Batch>),
    /// One channel per reader, taken piece by piece in input order (piece g from reader
    /// g mod the number of readers): files read by several readers at once, every flow's
    /// packets in the order of the input.
    Ordered {
        from: Vec<Receiver<Batch>>,
        at: usize,
        /// An input whose piece was damaged: its later pieces are not taken.
        cut: Option<u32>,
    },
}

impl Feed {
    /// The next batch to work on; `None` when the readers have hung up.
    fn next(&mut self) -> Option<Batch> {
        let (from, at, cut) = match self {
            Feed::Shared(rx) => return rx.recv().ok(),
            Feed::Ordered { from, at, cut } => (from, at, cut),
        };
        loop {
            let b = from.get(*at)?.recv().ok()?;
            let dropped = *cut == Some(b.input);
            if let Some(end) = b.piece_end {
                *at = (*at + 1) % from.len();
                if end == PieceEnd::Damaged && !dropped {
                    *cut = Some(b.input);
                }
            }
            if !dropped {
                return Some(b);
            }
        }
    }
}

/// Runs until the readers hang up; ends every flow left at the end.
pub(super) fn run(
    mut feed: Feed,
    cfg: FlowConfig,
    limits: crate::detect::Limits,
    shared: &Shared,
    out: Sender<super::ToSink>,
    recycle: Sender<Batch>,
) -> WorkerResult {
    let (mut gen, rules) = shared.rules();
    let context = |rules: &Rules| crate::detect::Context {
        limits,
        intel: rules.intel.clone(),
    };
    let mut judge = Judge::new(rules.intel.clone(), rules.tables.clone());
    if let Some(p) = &shared.probed {
        judge.set_probed(p.clone());
    }
    let mut table = Table::new(cfg, context(&rules), shared.evidence.clone());
    let mut ended = Vec::new();
    let mut verdict_ns = Vec::new();
    let emit =
        |ended: &mut Vec<FlowRecord>,
         table: &mut Table,
         judge: &mut Judge,
         times: &mut Vec<u64>| { judge_all(ended, (table, judge), times, &out) };
    let hand_over = |table: &mut Table| {
        if !table.summaries.is_empty() {
            let _ = out.send(super::ToSink::Ended(std::mem::take(&mut table.summaries)));
        }
    };
    let mut published = Published::default();
    while let Some(mut batch) = feed.next() {
        if shared.rules_gen.load(Ordering::Acquire) != gen {
            let (g, rules) = shared.rules();
            gen = g;
            judge.set_rules(rules.intel.clone(), rules.tables.clone());
            table.set_context(context(&rules));
        }
        let started = Instant::now();
        let first_ts = batch.items.first().map(|i| i.meta.ts_ns);
        let mut next = 0;
        let batch_ref = &batch;
        let mut learn_upto = |judge: &mut Judge, i: usize| {
            while let Some((_, ts, answer)) = batch_ref.dns.get(next).filter(|(at, ..)| *at <= i) {
                learn_dns(judge, &batch_ref.arena[answer.clone()], *ts);
                next += 1;
            }
        };
        for (i, it) in batch.items.iter().enumerate() {
            learn_upto(&mut judge, i);
            if cfg.evidence_packets > 0 {
                table.packet_with_frame(&it.meta, batch.payload(it), batch.frame(it), &mut ended);
            } else {
                table.packet(&it.meta, batch.payload(it), &mut ended);
            }
            if !ended.is_empty() {
                emit(&mut ended, &mut table, &mut judge, &mut verdict_ns);
            }
        }
        learn_upto(&mut judge, usize::MAX);
        if let Some(now) = batch.clock_ns {
            table.advance(now, &mut ended);
            emit(&mut ended, &mut table, &mut judge, &mut verdict_ns);
        }
        // Once per batch: latency and counters for the periodic statistics.
        let n = batch.items.len() as u64;
        if let Ok(mut l) = shared.latency.lock() {
            if let Some(per_packet) = (started.elapsed().as_nanos() as u64).checked_div(n) {
                let _ = l.packet.record(per_packet.max(1));
            }
            if let Some(ts) = first_ts {
                let now = crate::source::now_ns();
                if now > ts && now - ts < 3_600_000_000_000 {
                    let _ = l.queue.record(now - ts);
                }
            }
            for t in verdict_ns.drain(..) {
                let _ = l.verdict.record(t.max(1));
            }
        }
        published.update(&table, shared);
        hand_over(&mut table);
        batch.clear();
        let _ = recycle.try_send(batch);
    }
    table.finish(&mut ended);
    emit(&mut ended, &mut table, &mut judge, &mut verdict_ns);
    hand_over(&mut table);
    shared
        .active_flows
        .fetch_sub(published.len, Ordering::Relaxed);
    WorkerResult { flows: table.stats }
}

/// Judges the records of ended (and early-reported) flows and sends those with a verdict on;
/// a flow whose final verdict is mining gets its summary marked (it was kept as the flow ended,
/// just before its record).
fn judge_all(
    ended: &mut Vec<FlowRecord>,
    (table, judge): (&mut Table, &mut Judge),
    times: &mut Vec<u64>,
    out: &Sender<super::ToSink>,
) {
    for r in ended.drain(..) {
        let t = Instant::now();
        let v = judge.judge(&r);
        times.push(t.elapsed().as_nanos() as u64);
        let Some(v) = v else { continue };
        if v.event == EventType::Mining && r.end != EndReason::Ongoing {
            if let Some(s) = table.summaries.iter_mut().rev().find(|s| s.id == r.id) {
                s.mined_by(if v.client == Dir::Fwd { r.fwd } else { r.rev });
            }
        }
        let _ = out.send(super::ToSink::Flow(r, v));
    }
}

/// The table's counters already added to the run's shared ones.
#[derive(Default)]
struct Published {
    stats: FlowStats,
    len: u64,
}

impl Published {
    /// Adds what the table counted since the last call to the shared counters.
    fn update(&mut self, table: &Table, shared: &Shared) {
        let st = table.stats;
        shared
            .flows
            .fetch_add(st.flows - self.stats.flows, Ordering::Relaxed);
        shared
            .evicted
            .fetch_add(st.evicted - self.stats.evicted, Ordering::Relaxed);
        self.stats = st;
        let len = table.len() as u64;
        shared
            .active_flows
            .fetch_add(len.wrapping_sub(self.len), Ordering::Relaxed);
        self.len = len;
    }
}

/// A DNS answer naming a pool: its addresses are pool addresses from now on.
fn learn_dns(judge: &mut Judge, answer: &[u8], ts: u64) {
    if judge.intel().is_empty() || !dns::asks_for_pool(answer, judge.intel()) {
        return;
    }
    let Some(m) = dns::parse(answer) else { return };
    for l in dns::pool_addresses(&m, judge.intel()) {
        judge.learn_dns(l.addr, l.domain, l.ttl, ts);
    }
}

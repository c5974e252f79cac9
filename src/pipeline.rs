//! Wires the stages together for a run over capture inputs.
//!
//! The calling thread reads inputs (source) and decodes each packet (decode), then hands it to
//! one of the workers chosen by the symmetric flow hash, so that both directions of a flow meet
//! in the same worker's flow table. Packets travel in batches that point into the shared input
//! blocks (no copy of packet bytes). Each worker runs flow → detect → verdict and passes
//! finished records to the caller's sink on the calling thread's side of a channel.

use crate::decode::{Decoder, FragLimits, FragStats, Payload, SkipCounts};
use crate::detect::dns;
use crate::flow::{FlowConfig, FlowKey, FlowRecord, FlowStats, PacketMeta, Table};
use crate::source::{open_input, Block, Damage, InputError, InputName};
use crate::verdict::intel::Intel;
use crate::verdict::{EventType, Judge, Verdict};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Packets per batch handed to a worker.
const BATCH: usize = 512;
/// Batches queued per worker (bounds the blocks kept alive while workers catch up).
const QUEUE: usize = 4;
/// Input blocks one batch may refer to: with the queue length, this bounds the input bytes
/// kept alive by packets in flight, however the traffic is spread over the workers.
const MAX_BLOCKS_PER_BATCH: usize = 2;

#[derive(Debug, Clone)]
pub struct ScanConfig {
    pub workers: usize,
    pub flow: FlowConfig,
    pub frag: FragLimits,
    pub detect: crate::detect::Limits,
    /// The pool rules.
    pub intel: Arc<Intel>,
    /// The estimation tables.
    pub tables: Arc<crate::verdict::tables::Tables>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            flow: FlowConfig::default(),
            frag: FragLimits::default(),
            detect: crate::detect::Limits::default(),
            intel: Arc::new(Intel::default()),
            tables: Arc::new(Default::default()),
        }
    }
}

/// What happened to one input.
#[derive(Debug)]
pub enum InputReport {
    /// Read to the end, or up to damage.
    Read {
        name: InputName,
        packets: u64,
        damage: Option<Damage>,
    },
    /// Could not be used at all.
    Failed(InputError),
}

/// Counters of a whole run.
#[derive(Debug, Default)]
pub struct RunStats {
    pub inputs: Vec<InputReport>,
    pub packets: u64,
    /// Bytes on the wire of all packets.
    pub bytes: u64,
    pub skipped: SkipCounts,
    pub frags: FragStats,
    pub flows: FlowStats,
    /// Verdicts reached: mining flows (any level), pool look-ups, crypto-currency node flows.
    pub mining_flows: u64,
    pub dns_events: u64,
    pub node_events: u64,
    pub elapsed: Duration,
}

impl RunStats {
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

struct Item {
    meta: PacketMeta,
    /// Index into the batch's blocks, or `ARENA`.
    src: u32,
    off: usize,
    len: usize,
}

const ARENA: u32 = u32::MAX;

#[derive(Default)]
struct Batch {
    blocks: Vec<Block>,
    items: Vec<Item>,
    /// Payloads rebuilt from IP fragments.
    arena: Vec<u8>,
    /// Pool addresses from DNS answers, to be learned before the item at the given index.
    learned: Vec<(usize, u64, dns::Learned)>,
}

impl Batch {
    fn payload(&self, it: &Item) -> &[u8] {
        if it.src == ARENA {
            &self.arena[it.off..it.off + it.len]
        } else {
            &self.blocks[it.src as usize][it.off..it.off + it.len]
        }
    }
}

struct WorkerResult {
    flows: FlowStats,
}

/// Reads every input and calls `sink` for each flow found to be mining, with its verdict.
pub fn scan(
    inputs: Vec<InputName>,
    cfg: &ScanConfig,
    progress: &dyn Progress,
    sink: &mut (dyn FnMut(FlowRecord, Verdict) + Send),
) -> RunStats {
    let started = Instant::now();
    let workers = cfg.workers.max(1);
    let mut stats = RunStats::default();
    let mut flow_cfg = cfg.flow;
    flow_cfg.max_flows = (flow_cfg.max_flows / workers).max(1);
    let ctx = crate::detect::Context {
        limits: cfg.detect,
        intel: cfg.intel.clone(),
    };

    std::thread::scope(|s| {
        let (rec_tx, rec_rx) = crossbeam_channel::unbounded::<(FlowRecord, Verdict)>();
        let (recycle_tx, recycle_rx) = bounded::<Batch>(workers * QUEUE);
        let mut senders: Vec<Sender<Batch>> = Vec::new();
        let mut handles = Vec::new();
        for _ in 0..workers {
            let (tx, rx) = bounded::<Batch>(QUEUE);
            senders.push(tx);
            let rec_tx = rec_tx.clone();
            let recycle_tx = recycle_tx.clone();
            let ctx = ctx.clone();
            let tables = cfg.tables.clone();
            handles.push(s.spawn(move || worker(rx, flow_cfg, ctx, tables, rec_tx, recycle_tx)));
        }
        drop(rec_tx);
        drop(recycle_tx);
        let sink_thread = s.spawn(move || {
            let mut n = [0u64; 3];
            for (r, v) in rec_rx {
                n[match v.event {
                    EventType::Mining => 0,
                    EventType::Dns => 1,
                    EventType::CryptoNode => 2,
                }] += 1;
                sink(r, v);
            }
            n
        });

        let mut reader = Reader {
            intel: cfg.intel.clone(),
            decoder: Decoder::new(cfg.frag),
            batches: (0..workers).map(|_| Batch::default()).collect(),
            senders,
            recycle: recycle_rx,
            stats: &mut stats,
        };
        for name in inputs {
            reader.input(name, progress);
        }
        reader.flush_all();
        let frags = reader.decoder.frags.stats;
        drop(reader);
        stats.frags = frags;
        for h in handles {
            if let Ok(r) = h.join() {
                stats.flows.merge(&r.flows);
            }
        }
        let [mining, dns, nodes] = sink_thread.join().unwrap_or_default();
        stats.mining_flows = mining;
        stats.dns_events = dns;
        stats.node_events = nodes;
    });
    stats.elapsed = started.elapsed();
    stats
}

struct Reader<'a> {
    intel: Arc<Intel>,
    decoder: Decoder,
    batches: Vec<Batch>,
    senders: Vec<Sender<Batch>>,
    recycle: Receiver<Batch>,
    stats: &'a mut RunStats,
}

impl Reader<'_> {
    fn input(&mut self, name: InputName, progress: &dyn Progress) {
        let mut input = match open_input(name) {
            Ok(i) => i,
            Err(e) => {
                self.stats.inputs.push(InputReport::Failed(e));
                return;
            }
        };
        progress.start_input(&input.name, input.size);
        let mut packets = 0u64;
        let outcome = input.run(|block, raw| {
            packets += 1;
            if packets % 65_536 == 0 {
                let pos = raw.data.as_ptr() as usize - block.as_ptr() as usize;
                progress.advance(pos as u64);
            }
            self.packet(block, raw);
        });
        progress.advance(outcome.bytes);
        self.stats.inputs.push(InputReport::Read {
            name: input.name.clone(),
            packets,
            damage: outcome.damage,
        });
    }

    fn packet(&mut self, block: &Block, raw: crate::source::RawPacket<'_>) {
        self.stats.packets += 1;
        self.stats.bytes += raw.orig_len as u64;
        let d = match self.decoder.decode(raw.link, raw.data, raw.ts_ns) {
            Ok(d) => d,
            Err(skip) => {
                self.stats.skipped.add(skip);
                return;
            }
        };
        let (key, from_lo) = FlowKey::of((d.src, d.sport), (d.dst, d.dport), d.proto);
        let (pair_hash, hash) = key.hashes();
        let meta = PacketMeta {
            ts_ns: raw.ts_ns,
            key,
            hash,
            from_lo,
            tcp: d.tcp,
            wire_len: raw.orig_len,
            encap: d.encap,
        };
        if d.proto == crate::decode::PROTO_UDP && d.sport == 53 && !self.intel.is_empty() {
            self.learn_dns(d.payload.bytes(), raw.ts_ns);
        }
        let w = (pair_hash >> 32) as usize % self.batches.len();
        let new_block = !self.batches[w]
            .blocks
            .last()
            .is_some_and(|x| Arc::ptr_eq(x, block));
        if new_block && self.batches[w].blocks.len() >= MAX_BLOCKS_PER_BATCH {
            // A worker that gets few packets must not keep many blocks alive.
            self.flush(w);
        }
        let b = &mut self.batches[w];
        let (src, off, len) = match &d.payload {
            Payload::Slice(p) => {
                if new_block || b.blocks.is_empty() {
                    b.blocks.push(block.clone());
                }
                let off = p.as_ptr() as usize - block.as_ptr() as usize;
                ((b.blocks.len() - 1) as u32, off, p.len())
            }
            Payload::Reassembled(v) => {
                let off = b.arena.len();
                b.arena.extend_from_slice(v);
                (ARENA, off, v.len())
            }
        };
        b.items.push(Item {
            meta,
            src,
            off,
            len,
        });
        if b.items.len() >= BATCH {
            self.flush(w);
        }
    }

    /// A DNS answer naming a pool: every worker learns its addresses before the next packet.
    fn learn_dns(&mut self, payload: &[u8], ts: u64) {
        let Some(m) = dns::parse(payload) else { return };
        for l in dns::pool_addresses(&m, &self.intel) {
            for b in &mut self.batches {
                b.learned.push((b.items.len(), ts, l.clone()));
            }
        }
    }

    fn flush(&mut self, w: usize) {
        let fresh = self.recycle.try_recv().unwrap_or_default();
        let full = std::mem::replace(&mut self.batches[w], fresh);
        if !full.items.is_empty() || !full.learned.is_empty() {
            // A worker only goes away if it panicked; its packets are then lost with it.
            let _ = self.senders[w].send(full);
        }
    }

    fn flush_all(&mut self) {
        for w in 0..self.batches.len() {
            self.flush(w);
        }
    }
}

fn worker(
    rx: Receiver<Batch>,
    cfg: FlowConfig,
    ctx: crate::detect::Context,
    tables: Arc<crate::verdict::tables::Tables>,
    out: Sender<(FlowRecord, Verdict)>,
    recycle: Sender<Batch>,
) -> WorkerResult {
    let mut judge = Judge::new(ctx.intel.clone(), tables);
    let mut table = Table::new(cfg, ctx);
    let mut ended = Vec::new();
    let emit = |ended: &mut Vec<FlowRecord>, judge: &mut Judge| {
        for r in ended.drain(..) {
            if let Some(v) = judge.judge(&r) {
                let _ = out.send((r, v));
            }
        }
    };
    for mut batch in rx {
        let learned = std::mem::take(&mut batch.learned);
        let mut next = 0;
        let mut learn_upto = |judge: &mut Judge, i: usize| {
            while let Some((_, ts, l)) = learned.get(next).filter(|(at, _, _)| *at <= i) {
                judge.learn_dns(l.addr, l.domain.clone(), l.ttl, *ts);
                next += 1;
            }
        };
        for (i, it) in batch.items.iter().enumerate() {
            learn_upto(&mut judge, i);
            table.packet(&it.meta, batch.payload(it), &mut ended);
            if !ended.is_empty() {
                emit(&mut ended, &mut judge);
            }
        }
        learn_upto(&mut judge, usize::MAX);
        batch.items.clear();
        batch.blocks.clear();
        batch.arena.clear();
        let _ = recycle.try_send(batch);
    }
    table.finish(&mut ended);
    emit(&mut ended, &mut judge);
    WorkerResult { flows: table.stats }
}

//! Wires the stages together, for a run over capture files (`scan`) or interfaces (`live`).
//!
//! A reader (one per input stream: the calling thread for files, one thread per interface)
//! reads packets (source) and decodes them (decode), then hands each to one of the workers
//! chosen by the symmetric hash of its two addresses, so that every flow between two hosts meets
//! in the same worker's flow table. Packets travel in batches that point into shared input
//! blocks (no copy of packet bytes from files). Each worker runs flow → detect → verdict and
//! passes records to the sink thread. A `Shared` block carries what the threads publish for
//! monitoring (counters, latency histograms), the stop flag and the current rules.

use crate::decode::{Decoder, FragLimits, FragStats, Payload, SkipCounts};
use crate::detect::dns;
use crate::detect::{FlowRecord, Table};
use crate::flow::{EvidenceBudget, FlowConfig, FlowKey, FlowStats, PacketMeta};
use crate::rules::intel::Intel;
use crate::source::{open_input, Block, Damage, InputError, InputName};
use crate::verdict::{EventType, Judge, Verdict};
use crossbeam_channel::{bounded, Receiver, Sender};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
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
    pub tables: Arc<crate::rules::tables::Tables>,
}

/// The rules in force: pool intelligence and estimation tables.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub intel: Arc<Intel>,
    pub tables: Arc<crate::rules::tables::Tables>,
}

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
    pub stop: AtomicBool,
    rules: RwLock<Rules>,
    rules_gen: AtomicU64,
    pub packets: AtomicU64,
    pub bytes: AtomicU64,
    pub kernel_drops: AtomicU64,
    pub flows: AtomicU64,
    pub active_flows: AtomicU64,
    pub evicted: AtomicU64,
    pub verdicts: AtomicU64,
    pub latency: Mutex<Latency>,
    /// Bytes of frames held for evidence bundles by the whole run.
    pub evidence: EvidenceBudget,
}

impl Shared {
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

    fn rules(&self) -> (u64, Rules) {
        let gen = self.rules_gen.load(Ordering::Acquire);
        let r = self.rules.read().map(|r| r.clone()).unwrap_or_default();
        (gen, r)
    }
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
    /// The whole captured frame (in the same block) and its link type.
    frame_off: usize,
    frame_len: usize,
    link: u16,
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
    /// The input (file or interface, by its index in the run) every item came from: a reader
    /// sends its batches off before it starts on another input.
    input: u32,
}

impl Batch {
    /// The captured frame of an item (none for datagrams rebuilt from fragments).
    fn frame(&self, it: &Item) -> Option<(&[u8], u16, u32)> {
        (it.src != ARENA).then(|| {
            (
                &self.blocks[it.src as usize][it.frame_off..it.frame_off + it.frame_len],
                it.link,
                self.input,
            )
        })
    }

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

/// A stream of packets for one reader thread.
pub type ReaderJob<'a> = Box<dyn FnOnce(&mut Reader<'_>) + Send + 'a>;

/// Something to call every interval while a run goes on.
pub type Ticker<'t> = (Duration, &'t mut (dyn FnMut(&Shared) + Send));

/// Reads every input and calls `sink` for each flow found to be mining, with its verdict.
pub fn scan(
    inputs: Vec<InputName>,
    cfg: &ScanConfig,
    progress: &dyn Progress,
    sink: &mut (dyn FnMut(FlowRecord, Verdict) + Send),
) -> RunStats {
    let shared = Shared::new(Rules {
        intel: cfg.intel.clone(),
        tables: cfg.tables.clone(),
    });
    run(
        cfg,
        &shared,
        sink,
        vec![Box::new(move |reader: &mut Reader<'_>| {
            for (i, name) in inputs.into_iter().enumerate() {
                reader.set_input(i as u32);
                reader.input(name, progress);
            }
        })],
        None,
    )
}

/// Runs the pipeline: one reader thread per job (the first on the calling thread), the workers,
/// the sink thread, and `ticker` (called every interval until the readers are done).
pub fn run<'a>(
    cfg: &ScanConfig,
    shared: &Shared,
    sink: &mut (dyn FnMut(FlowRecord, Verdict) + Send),
    mut jobs: Vec<ReaderJob<'a>>,
    ticker: Option<Ticker<'_>>,
) -> RunStats {
    let started = Instant::now();
    let workers = cfg.workers.max(1);
    let mut stats = RunStats::default();
    let mut flow_cfg = cfg.flow;
    flow_cfg.max_flows = (flow_cfg.max_flows / workers).max(1);
    let readers_done = AtomicBool::new(false);

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
            let limits = cfg.detect;
            handles.push(s.spawn(move || worker(rx, flow_cfg, limits, shared, rec_tx, recycle_tx)));
        }
        drop(rec_tx);
        drop(recycle_tx);
        let sink_thread = s.spawn(move || {
            let mut n = [0u64; 3];
            for (r, v) in rec_rx {
                // Early records are followed by the flow's final one: count that.
                if r.end != crate::flow::EndReason::Ongoing {
                    n[match v.event {
                        EventType::Mining => 0,
                        EventType::Dns => 1,
                        EventType::CryptoNode => 2,
                    }] += 1;
                }
                sink(r, v);
            }
            n
        });
        let done = &readers_done;
        let tick = ticker.map(|(every, f)| {
            s.spawn(move || {
                let mut next = Instant::now() + every;
                while !done.load(Ordering::Acquire) {
                    std::thread::sleep(Duration::from_millis(20).min(every));
                    if Instant::now() >= next {
                        f(shared);
                        next += every;
                    }
                }
            })
        });

        let new_reader = |stats: RunStats| Reader {
            shared,
            rules_gen: u64::MAX,
            intel: cfg.intel.clone(),
            decoder: Decoder::new(cfg.frag),
            batches: (0..workers).map(|_| Batch::default()).collect(),
            senders: senders.clone(),
            recycle: recycle_rx.clone(),
            stats,
            published: (0, 0),
            input_index: 0,
        };
        let first = (!jobs.is_empty()).then(|| jobs.remove(0));
        let others: Vec<_> = jobs
            .into_iter()
            .map(|job| {
                let mut reader = new_reader(RunStats::default());
                s.spawn(move || {
                    job(&mut reader);
                    reader.finish()
                })
            })
            .collect();
        if let Some(job) = first {
            let mut reader = new_reader(RunStats::default());
            job(&mut reader);
            stats = reader.finish();
        }
        for h in others {
            if let Ok(r) = h.join() {
                stats.merge(r);
            }
        }
        drop(senders);
        drop(recycle_rx);
        for h in handles {
            if let Ok(r) = h.join() {
                stats.flows.merge(&r.flows);
            }
        }
        let [mining, dns, nodes] = sink_thread.join().unwrap_or_default();
        stats.mining_flows = mining;
        stats.dns_events = dns;
        stats.node_events = nodes;
        readers_done.store(true, Ordering::Release);
        if let Some(t) = tick {
            let _ = t.join();
        }
    });
    stats.elapsed = started.elapsed();
    stats
}

impl RunStats {
    fn merge(&mut self, o: RunStats) {
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

/// One input stream's reader: decodes packets and hands them to the workers in batches.
pub struct Reader<'a> {
    shared: &'a Shared,
    rules_gen: u64,
    intel: Arc<Intel>,
    decoder: Decoder,
    batches: Vec<Batch>,
    senders: Vec<Sender<Batch>>,
    recycle: Receiver<Batch>,
    stats: RunStats,
    /// Packets and bytes already added to the shared counters.
    published: (u64, u64),
    /// Which of the run's inputs (files in order, or interfaces) is being read.
    input_index: u32,
}

impl Reader<'_> {
    /// Whether the run has been asked to stop.
    pub fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    fn finish(mut self) -> RunStats {
        self.flush_all();
        self.stats.frags = self.decoder.frags.stats;
        std::mem::take(&mut self.stats)
    }

    /// Adds what was read since the last call to the shared counters, and takes up new rules.
    fn publish(&mut self) {
        let (p, b) = (self.stats.packets, self.stats.bytes);
        self.shared
            .packets
            .fetch_add(p - self.published.0, Ordering::Relaxed);
        self.shared
            .bytes
            .fetch_add(b - self.published.1, Ordering::Relaxed);
        self.published = (p, b);
        if self.shared.rules_gen.load(Ordering::Acquire) != self.rules_gen {
            let (gen, rules) = self.shared.rules();
            self.rules_gen = gen;
            self.intel = rules.intel;
        }
    }

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

    /// Captures from a live interface (AF_PACKET) until the run is asked to stop.
    #[cfg(target_os = "linux")]
    pub fn capture(
        &mut self,
        mut sock: crate::source::live::AfPacket,
        opts: &LiveOptions,
    ) -> std::io::Result<()> {
        let name = sock.name.clone();
        let drops = std::cell::Cell::new(0u64);
        self.capture_loop(
            &name,
            opts,
            |buf| {
                let f = sock.recv(buf)?;
                drops.set(sock.drops());
                Ok(f.map(|f| {
                    (
                        f.len,
                        f.ts_ns,
                        f.orig_len,
                        crate::source::linktype::ETHERNET,
                    )
                }))
            },
            &drops,
        )
    }

    /// Captures through libpcap, with an optional BPF filter, until the run is asked to stop.
    #[cfg(feature = "libpcap")]
    pub fn capture_pcap(
        &mut self,
        iface: &str,
        bpf: Option<&str>,
        opts: &LiveOptions,
    ) -> std::io::Result<()> {
        let err = |e: pcap::Error| std::io::Error::other(format!("{iface}: {e}"));
        let mut cap = pcap::Capture::from_device(iface)
            .map_err(err)?
            .promisc(true)
            .buffer_size(opts.rcvbuf.min(i32::MAX as usize) as i32)
            .immediate_mode(true)
            .open()
            .map_err(err)?
            // Non-blocking: libpcap's read timeout may never fire on a quiet link.
            .setnonblock()
            .map_err(err)?;
        if let Some(f) = bpf {
            cap.filter(f, true).map_err(err)?;
        }
        let link = cap.get_datalink().0 as u16;
        let drops = std::cell::Cell::new(0u64);
        let mut seen = 0u64;
        self.capture_loop(
            iface,
            opts,
            |buf| {
                let got = match cap.next_packet() {
                    Ok(p) => {
                        let n = p.data.len().min(buf.len());
                        buf[..n].copy_from_slice(&p.data[..n]);
                        let ts = p.header.ts.tv_sec as u64 * 1_000_000_000
                            + p.header.ts.tv_usec as u64 * 1000;
                        Some((n, ts, p.header.len, link))
                    }
                    Err(pcap::Error::TimeoutExpired) => {
                        std::thread::sleep(Duration::from_millis(2));
                        None
                    }
                    Err(e) => return Err(err(e)),
                };
                seen += 1;
                if got.is_none() || seen % 4096 == 0 {
                    if let Ok(s) = cap.stats() {
                        drops.set(u64::from(s.dropped) + u64::from(s.if_dropped));
                    }
                }
                Ok(got)
            },
            &drops,
        )
    }

    /// The capture loop shared by the capture back-ends: frames are copied into blocks of their
    /// own, handed on every `max_delay` at the latest (or when the link is quiet).
    fn capture_loop(
        &mut self,
        name: &str,
        opts: &LiveOptions,
        mut recv: impl FnMut(&mut [u8]) -> std::io::Result<Option<(usize, u64, u32, u16)>>,
        drops: &std::cell::Cell<u64>,
    ) -> std::io::Result<()> {
        use crate::source::{Bytes, RawPacket};
        const BLOCK: usize = 1 << 20;
        const SNAP: usize = 65_536;
        self.stats.inputs.push(InputReport::Read {
            name: InputName::Path(name.into()),
            packets: 0,
            damage: None,
        });
        let mut buf = vec![0u8; BLOCK];
        let mut used = 0;
        let mut frames: Vec<(usize, usize, u64, u32, u16)> = Vec::new();
        let mut since = Instant::now();
        loop {
            let stop = self.stopping();
            let quiet = match recv(&mut buf[used..used + SNAP])? {
                Some((len, ts_ns, orig_len, link)) => {
                    frames.push((used, len, ts_ns, orig_len, link));
                    used += len;
                    false
                }
                None => true,
            };
            let full = used + SNAP > BLOCK;
            let due = since.elapsed() >= opts.max_delay;
            if full || stop || ((quiet || due) && !frames.is_empty()) {
                let block: Block =
                    Arc::new(Bytes::Owned(std::mem::replace(&mut buf, vec![0u8; BLOCK])));
                for &(off, len, ts_ns, orig_len, link) in &frames {
                    self.packet(
                        &block,
                        RawPacket {
                            ts_ns,
                            link,
                            data: &block[off..off + len],
                            orig_len,
                        },
                    );
                }
                frames.clear();
                used = 0;
            }
            if quiet || due || stop {
                self.flush_all();
                self.publish();
                self.shared
                    .kernel_drops
                    .store(drops.get(), Ordering::Relaxed);
                since = Instant::now();
            }
            if stop {
                return Ok(());
            }
        }
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
        let frame_off = raw.data.as_ptr() as usize - block.as_ptr() as usize;
        b.items.push(Item {
            meta,
            src,
            off,
            len,
            frame_off,
            frame_len: raw.data.len(),
            link: raw.link,
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
        let mut full = std::mem::replace(&mut self.batches[w], fresh);
        full.input = self.input_index;
        if !full.items.is_empty() || !full.learned.is_empty() {
            // A worker only goes away if it panicked; its packets are then lost with it.
            let _ = self.senders[w].send(full);
        }
    }

    /// Starts on another input: what was read from the last one goes to the workers first, so
    /// that a batch holds one input's packets.
    pub fn set_input(&mut self, index: u32) {
        if index != self.input_index {
            self.flush_all();
            self.input_index = index;
        }
    }

    fn flush_all(&mut self) {
        for w in 0..self.batches.len() {
            self.flush(w);
        }
    }
}

/// Options of live capture.
#[derive(Debug, Clone, Copy)]
pub struct LiveOptions {
    /// Kernel receive buffer per interface, bytes.
    pub rcvbuf: usize,
    /// Longest a captured packet waits before it is handed to a worker.
    pub max_delay: Duration,
}

impl Default for LiveOptions {
    fn default() -> Self {
        LiveOptions {
            rcvbuf: 64 << 20,
            max_delay: Duration::from_millis(50),
        }
    }
}

fn worker(
    rx: Receiver<Batch>,
    cfg: FlowConfig,
    limits: crate::detect::Limits,
    shared: &Shared,
    out: Sender<(FlowRecord, Verdict)>,
    recycle: Sender<Batch>,
) -> WorkerResult {
    let (mut gen, rules) = shared.rules();
    let context = |rules: &Rules| crate::detect::Context {
        limits,
        intel: rules.intel.clone(),
    };
    let mut judge = Judge::new(rules.intel.clone(), rules.tables.clone());
    let mut table = Table::new(cfg, context(&rules), shared.evidence.clone());
    let mut ended = Vec::new();
    let mut verdict_ns = Vec::new();
    let emit = |ended: &mut Vec<FlowRecord>, judge: &mut Judge, times: &mut Vec<u64>| {
        for r in ended.drain(..) {
            let t = Instant::now();
            let v = judge.judge(&r);
            times.push(t.elapsed().as_nanos() as u64);
            if let Some(v) = v {
                let _ = out.send((r, v));
            }
        }
    };
    let mut published = FlowStats::default();
    let mut published_len = 0u64;
    for mut batch in rx {
        if shared.rules_gen.load(Ordering::Acquire) != gen {
            let (g, rules) = shared.rules();
            gen = g;
            judge.set_rules(rules.intel.clone(), rules.tables.clone());
            table.set_context(context(&rules));
        }
        let started = Instant::now();
        let first_ts = batch.items.first().map(|i| i.meta.ts_ns);
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
            if cfg.evidence_packets > 0 {
                table.packet_with_frame(&it.meta, batch.payload(it), batch.frame(it), &mut ended);
            } else {
                table.packet(&it.meta, batch.payload(it), &mut ended);
            }
            if !ended.is_empty() {
                emit(&mut ended, &mut judge, &mut verdict_ns);
            }
        }
        learn_upto(&mut judge, usize::MAX);
        // Once per batch: latency and counters for the periodic statistics.
        let n = batch.items.len().max(1) as u64;
        if let Ok(mut l) = shared.latency.lock() {
            let _ = l
                .packet
                .record((started.elapsed().as_nanos() as u64 / n).max(1));
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
        let st = table.stats;
        shared
            .flows
            .fetch_add(st.flows - published.flows, Ordering::Relaxed);
        shared
            .evicted
            .fetch_add(st.evicted - published.evicted, Ordering::Relaxed);
        published = st;
        let len = table.len() as u64;
        shared
            .active_flows
            .fetch_add(len.wrapping_sub(published_len), Ordering::Relaxed);
        published_len = len;
        batch.items.clear();
        batch.blocks.clear();
        batch.arena.clear();
        let _ = recycle.try_send(batch);
    }
    table.finish(&mut ended);
    emit(&mut ended, &mut judge, &mut verdict_ns);
    shared
        .active_flows
        .fetch_sub(published_len, Ordering::Relaxed);
    WorkerResult { flows: table.stats }
}

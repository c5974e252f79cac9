//! Wires the stages together, for a run over capture files (`scan`) or interfaces (`live`):
//! inputs and settings in; flow records with their verdicts (to a sink the caller gives) and
//! the run's statistics out.
//!
//! A [`Reader`] (one per input stream: the calling thread for files, one thread per
//! interface) reads packets (source) and decodes them (decode), then hands each to one of the
//! workers (`worker.rs`) chosen by the symmetric hash of its two addresses, so that every flow
//! between two hosts meets in the same worker's flow table. Packets travel in batches
//! (`batch.rs`) that point into shared input blocks (no copy of packet bytes from files). Each
//! worker runs flow → detect → verdict and passes records to the sink thread. A [`Shared`]
//! block carries what the threads publish for monitoring (counters, latency histograms), the
//! stop flag and the current rules.

mod batch;
mod files;
mod reader;
mod shared;
mod worker;

pub use reader::Reader;
pub use shared::{InputReport, Latency, Progress, RunStats, Shared, Silent};

use crate::decode::FragLimits;
use crate::detect::FlowRecord;
use crate::flow::{EndReason, FlowConfig, FlowSummary};
use crate::rules::intel::Intel;
use crate::source::InputName;
use crate::verdict::{EventType, Verdict};
use batch::Batch;
use crossbeam_channel::{bounded, Sender};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where a run's results go: every flow record with a verdict, and (when
/// `FlowConfig::summaries` is on) a summary of every flow that ended. A closure taking a record
/// and its verdict is a sink that wants no summaries.
pub trait Sink: Send {
    /// A flow record and its verdict.
    fn flow(&mut self, r: FlowRecord, v: Verdict);
    /// Flows that ended, recognised or not.
    fn ended(&mut self, _flows: &[FlowSummary]) {}
}

impl<F: FnMut(FlowRecord, Verdict) + Send> Sink for F {
    fn flow(&mut self, r: FlowRecord, v: Verdict) {
        self(r, v)
    }
}

/// What workers send the sink thread. (The record travels by value, as it did before the
/// summaries came: the enum is no bigger than the record, and boxing would allocate per flow.)
#[allow(clippy::large_enum_variant)]
enum ToSink {
    Flow(FlowRecord, Verdict),
    Ended(Vec<FlowSummary>),
}

/// Packets per batch handed to a worker.
const BATCH: usize = 512;
/// Batches queued per worker and reader. Workers take a file's pieces in order, so the reader
/// of the next piece can only work ahead as far as its queues let it: at 4 batches it waited
/// much of the time while a core stood idle; at 32 (about a whole 8 MiB piece ahead) the
/// corpus capture takes 0.86 of the time on two cores. A stream's memory is bounded by its
/// buffer pool, not by this (`source::stream`).
const QUEUE: usize = 32;
/// Input blocks one batch may refer to: with the queue length, this bounds the input bytes
/// kept alive by packets in flight, however the traffic is spread over the workers.
const MAX_BLOCKS_PER_BATCH: usize = 2;

#[derive(Debug, Clone)]
/// What a run is configured with.
pub struct ScanConfig {
    /// Flow-processing threads.
    pub workers: usize,
    /// Threads that decode the pieces of capture files and streams (`scan`).
    pub readers: usize,
    /// Bytes of a mapped capture file per piece (see `source::Piece`).
    pub piece_bytes: usize,
    /// The flow table's limits (for all workers together).
    pub flow: FlowConfig,
    /// The IP fragment pool's limits.
    pub frag: FragLimits,
    /// Only packets this passes are looked at (`--filter`).
    pub filter: Option<Arc<crate::decode::filter::Filter>>,
    /// The detectors' caps.
    pub detect: crate::detect::Limits,
    /// The pool rules.
    pub intel: Arc<Intel>,
    /// The estimation tables.
    pub tables: Arc<crate::rules::tables::Tables>,
}

/// The rules in force: pool intelligence and estimation tables.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    /// The pool rules.
    pub intel: Arc<Intel>,
    /// The estimation tables.
    pub tables: Arc<crate::rules::tables::Tables>,
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            readers: std::thread::available_parallelism().map_or(2, |n| n.get()),
            piece_bytes: crate::source::PIECE_BYTES,
            flow: FlowConfig::default(),
            frag: FragLimits::default(),
            filter: None,
            detect: crate::detect::Limits::default(),
            intel: Arc::new(Intel::default()),
            tables: Arc::new(Default::default()),
        }
    }
}

/// A stream of packets for one reader thread.
pub type ReaderJob<'a> = Box<dyn FnOnce(&mut Reader<'_>) + Send + 'a>;

/// Something to call every interval while a run goes on.
pub type Ticker<'t> = (Duration, &'t mut (dyn FnMut(&Shared) + Send));

/// Reads every input (until `Shared::stop`, which `ticker` may set) and calls `sink` for each
/// flow found to be mining, with its verdict. The inputs are cut into pieces that
/// `cfg.readers` threads decode at once (see `files.rs`).
pub fn scan(
    inputs: Vec<InputName>,
    cfg: &ScanConfig,
    progress: &dyn Progress,
    sink: &mut dyn Sink,
    ticker: Option<Ticker<'_>>,
) -> RunStats {
    let shared = Shared::new(Rules {
        intel: cfg.intel.clone(),
        tables: cfg.tables.clone(),
    });
    let readers = cfg.readers.max(1);
    let (done_tx, done_rx) = crossbeam_channel::unbounded();
    let mut to = Vec::new();
    let mut jobs: Vec<ReaderJob<'_>> = Vec::new();
    for _ in 0..readers {
        // Handed over, not queued: a reader takes its next piece when it is done with the last,
        // so that a stream keeps fewer blocks alive (peak 51 against 59 MiB through a pipe).
        let (tx, rx) = bounded(0);
        to.push(tx);
        let done_tx = done_tx.clone();
        jobs.push(Box::new(move |reader: &mut Reader<'_>| {
            let _ = done_tx.send(files::read_pieces(reader, rx, progress));
        }));
    }
    drop(done_tx);
    let mut opened = Vec::new();
    let cut = || opened = files::cut_inputs(inputs, (to, cfg.piece_bytes), &shared, progress);
    let mut stats = run_with(cfg, &shared, sink, ticker, (jobs, true), cut);
    stats.merge(files::reports(
        opened,
        done_rx.into_iter().flatten().collect(),
    ));
    stats
}

/// Runs the pipeline: one reader thread per job, the workers, the sink thread, and `ticker`
/// (called every interval until the readers are done).
pub fn run(
    cfg: &ScanConfig,
    shared: &Shared,
    sink: &mut dyn Sink,
    jobs: Vec<ReaderJob<'_>>,
    ticker: Option<Ticker<'_>>,
) -> RunStats {
    run_with(cfg, shared, sink, ticker, (jobs, false), || {})
}

/// Starts the workers, the sink thread and the ticker, a reader thread per job, and runs
/// `main` on the calling thread meanwhile. With `ordered`, every job's reader has its own
/// channel to every worker and the workers take them piece by piece in turn; otherwise all
/// readers share one channel per worker.
fn run_with(
    cfg: &ScanConfig,
    shared: &Shared,
    sink: &mut dyn Sink,
    ticker: Option<Ticker<'_>>,
    (jobs, ordered): (Vec<ReaderJob<'_>>, bool),
    main: impl FnOnce(),
) -> RunStats {
    let started = Instant::now();
    let workers = cfg.workers.max(1);
    let mut flow_cfg = cfg.flow;
    flow_cfg.max_flows = (flow_cfg.max_flows / workers).max(1);
    let readers_done = AtomicBool::new(false);
    let channels = if ordered { jobs.len().max(1) } else { 1 };

    let mut stats = std::thread::scope(|s| {
        let (rec_tx, rec_rx) = crossbeam_channel::unbounded::<ToSink>();
        let (recycle_tx, recycle_rx) = bounded::<Batch>(workers * QUEUE * channels);
        let (senders, feeds) = channels_for(workers, channels, ordered);
        let mut handles = Vec::new();
        for feed in feeds {
            let rec_tx = rec_tx.clone();
            let recycle_tx = recycle_tx.clone();
            let limits = cfg.detect;
            handles.push(
                s.spawn(move || worker::run(feed, flow_cfg, limits, shared, rec_tx, recycle_tx)),
            );
        }
        drop(rec_tx);
        drop(recycle_tx);
        let sink_thread = s.spawn(move || drain(rec_rx, sink));
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

        let readers: Vec<_> = jobs
            .into_iter()
            .enumerate()
            .map(|(r, job)| {
                let to = senders[r.min(channels - 1)].clone();
                let mut reader = Reader::new(shared, cfg.frag, to, recycle_rx.clone());
                reader.filter = cfg.filter.clone();
                s.spawn(move || {
                    job(&mut reader);
                    reader.finish()
                })
            })
            .collect();
        drop(senders);
        drop(recycle_rx);
        main();
        let mut stats = RunStats::default();
        for h in readers {
            if let Ok(r) = h.join() {
                stats.merge(r);
            }
        }
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
        stats
    });
    stats.elapsed = started.elapsed();
    stats
}

/// The channels from the readers to the workers: `senders[r][w]` is reader channel r's sender
/// to worker w, and each worker's feed takes from its channels, one per reader in turn
/// (`ordered`) or the one all readers share.
fn channels_for(
    workers: usize,
    channels: usize,
    ordered: bool,
) -> (Vec<Vec<Sender<Batch>>>, Vec<worker::Feed>) {
    let mut senders: Vec<Vec<Sender<Batch>>> = vec![Vec::new(); channels];
    let mut feeds = Vec::new();
    for _ in 0..workers {
        let mut from = Vec::new();
        for to_worker in senders.iter_mut() {
            let (tx, rx) = bounded::<Batch>(QUEUE);
            to_worker.push(tx);
            from.push(rx);
        }
        feeds.push(if ordered {
            worker::Feed::Ordered {
                from,
                at: 0,
                cut: None,
            }
        } else {
            worker::Feed::Shared(from.remove(0))
        });
    }
    (senders, feeds)
}

/// The sink thread: hands every record to `sink`; counts the final ones by event type
/// (mining, dns, crypto_node).
fn drain(records: crossbeam_channel::Receiver<ToSink>, sink: &mut dyn Sink) -> [u64; 3] {
    let mut n = [0u64; 3];
    for m in records {
        let (r, v) = match m {
            ToSink::Flow(r, v) => (r, v),
            ToSink::Ended(flows) => {
                sink.ended(&flows);
                continue;
            }
        };
        // Early records are followed by the flow's final one: count that.
        if r.end != EndReason::Ongoing {
            n[match v.event {
                EventType::Mining => 0,
                EventType::Dns => 1,
                EventType::CryptoNode => 2,
            }] += 1;
        }
        sink.flow(r, v);
    }
    n
}

#[cfg(test)]
mod tests;

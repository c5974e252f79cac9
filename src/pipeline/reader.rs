//! One input stream's reader: raw packets (from files, stdin or a live interface) in; decoded
//! packets out, in batches, to the worker that owns each flow.

use super::batch::{Batch, PieceEnd};
use super::shared::{InputReport, Progress, RunStats, Shared};
use super::{BATCH, MAX_BLOCKS_PER_BATCH};
use crate::decode::{Decoder, FragLimits, Payload, PROTO_UDP};
use crate::detect::observe::dns;
use crate::flow::{FlowKey, PacketMeta};
use crate::source::capture::{Captured, LiveOptions, LiveSource};
use crate::source::{Block, InputName, Piece, RawPacket, ReadOutcome};
use crossbeam_channel::{Receiver, Sender};
use std::ops::Range;
use std::sync::atomic::Ordering;

/// One input stream's reader: decodes packets and hands them to the workers in batches.
pub struct Reader<'a> {
    shared: &'a Shared,
    decoder: Decoder,
    batches: Vec<Batch>,
    senders: Vec<Sender<Batch>>,
    recycle: Receiver<Batch>,
    stats: RunStats,
    /// Packets and bytes already added to the shared counters.
    published: (u64, u64),
    /// Which of the run's inputs (files in order, or interfaces) is being read.
    input_index: u32,
    /// The capture clock last told to the workers (live capture).
    last_tick: u64,
    /// Only packets this passes go on (`--filter`).
    pub(super) filter: Option<std::sync::Arc<crate::decode::filter::Filter>>,
}

/// Where the decoded `payload` lies within the captured `frame` (it is a sub-slice of it: the
/// decoder only narrows the frame).
fn within(frame: &[u8], payload: &[u8]) -> Range<usize> {
    let start = payload.as_ptr() as usize - frame.as_ptr() as usize;
    start..start + payload.len()
}

impl<'a> Reader<'a> {
    pub(super) fn new(
        shared: &'a Shared,
        frag: FragLimits,
        senders: Vec<Sender<Batch>>,
        recycle: Receiver<Batch>,
    ) -> Self {
        Reader {
            shared,
            decoder: Decoder::new(frag),
            batches: senders.iter().map(|_| Batch::default()).collect(),
            senders,
            recycle,
            stats: RunStats::default(),
            published: (0, 0),
            input_index: 0,
            last_tick: 0,
            filter: None,
        }
    }

    pub(super) fn finish(mut self) -> RunStats {
        self.flush_all();
        self.stats.frags = self.decoder.frags.stats;
        std::mem::take(&mut self.stats)
    }

    /// Adds what was read since the last call to the shared counters.
    fn publish(&mut self) {
        let (p, b) = (self.stats.packets, self.stats.bytes);
        self.shared
            .packets
            .fetch_add(p - self.published.0, Ordering::Relaxed);
        self.shared
            .bytes
            .fetch_add(b - self.published.1, Ordering::Relaxed);
        self.published = (p, b);
    }

    /// Reads one piece of input `input` and tells every worker that it ended; returns how
    /// reading it ended and what was counted on it.
    pub(super) fn piece(
        &mut self,
        input: u32,
        piece: &mut Piece,
        progress: &dyn Progress,
    ) -> (ReadOutcome, RunStats) {
        self.input_index = input;
        let (shared, base) = (self.shared, piece.base);
        let mut n = 0u32;
        let outcome = piece.read(&shared.stop, |block, raw| {
            n = n.wrapping_add(1);
            if n % 65_536 == 0 {
                progress.advance(base + raw.offset as u64);
            }
            self.packet(block, raw);
        });
        let end = match outcome.damage {
            Some(_) => PieceEnd::Damaged,
            None => PieceEnd::Whole,
        };
        for w in 0..self.batches.len() {
            self.batches[w].piece_end = Some(end);
            self.flush(w);
        }
        self.publish();
        self.published = (0, 0);
        (outcome, std::mem::take(&mut self.stats))
    }

    /// Whether the run has been asked to stop.
    pub fn stopping(&self) -> bool {
        self.shared.stop.load(Ordering::Relaxed)
    }

    /// Captures from a live source until the run is asked to stop.
    pub fn capture(
        &mut self,
        src: &mut impl LiveSource,
        opts: &LiveOptions,
    ) -> std::io::Result<()> {
        self.stats.inputs.push(InputReport::Read {
            name: InputName::Path(src.name().into()),
            packets: 0,
            damage: None,
            interrupted: false,
        });
        let shared = self.shared;
        let stop = || shared.stop.load(Ordering::Relaxed);
        crate::source::capture::run(src, opts, stop, |c| match c {
            Captured::Packet(block, raw) => self.packet(block, raw),
            Captured::Idle { drops, clock_ns } => {
                if let Some(now) = clock_ns {
                    self.tick(now);
                }
                self.flush_all();
                self.publish();
                shared.kernel_drops.store(drops, Ordering::Relaxed);
            }
        })
    }

    fn packet(&mut self, block: &Block, raw: RawPacket<'_>) {
        self.stats.packets += 1;
        self.stats.bytes += raw.orig_len as u64;
        self.stats.snapped += u64::from(raw.data.len() < raw.orig_len as usize);
        let d = match self.decoder.decode(raw.link, raw.data, raw.ts_ns) {
            Ok(d) => d,
            Err(skip) => {
                self.stats.skipped.add(skip);
                return;
            }
        };
        if self.filter.as_ref().is_some_and(|f| !f.matches(&d)) {
            self.stats.filtered += 1;
            return;
        }
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
        if d.proto == PROTO_UDP && d.sport == 53 && dns::has_answers(d.payload.bytes()) {
            // Every worker learns pool addresses from DNS answers, whoever has their flow.
            for b in &mut self.batches {
                b.push_dns(raw.ts_ns, d.payload.bytes());
            }
        }
        let w = (pair_hash >> 32) as usize % self.batches.len();
        let new_block = !self.batches[w].has_block(block);
        if new_block && self.batches[w].blocks.len() >= MAX_BLOCKS_PER_BATCH {
            // A worker that gets few packets must not keep many blocks alive.
            self.flush(w);
        }
        let b = &mut self.batches[w];
        match &d.payload {
            Payload::Slice(p) => {
                let frame = raw.offset..raw.offset + raw.data.len();
                let inner = within(raw.data, p);
                let payload = frame.start + inner.start..frame.start + inner.end;
                b.push_in_block(meta, block, payload, (frame, raw.link));
            }
            Payload::Reassembled(v) => b.push_rebuilt(meta, v, raw.link),
        }
        if b.items.len() >= BATCH {
            self.flush(w);
        }
    }

    /// Tells every worker the capture's clock (at most once a second), so that flows on a
    /// quiet link still time out and are reported early on time.
    fn tick(&mut self, now: u64) {
        if now >= self.last_tick.saturating_add(1_000_000_000) {
            self.last_tick = now;
            for b in &mut self.batches {
                b.clock_ns = Some(now);
            }
        }
    }

    fn flush(&mut self, w: usize) {
        let fresh = self.recycle.try_recv().unwrap_or_default();
        let mut full = std::mem::replace(&mut self.batches[w], fresh);
        full.input = self.input_index;
        let news = full.clock_ns.is_some() || full.piece_end.is_some();
        if !full.items.is_empty() || !full.dns.is_empty() || news {
            // A worker only goes away if it panicked; its packets are then lost with it.
            let _ = self.senders[w].send(full);
        }
    }

    /// Starts on another input (a live reader's interface): what was read from the last one
    /// goes to the workers first, so that a batch holds one input's packets.
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

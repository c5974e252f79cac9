//! The flow table: one entry per bidirectional 5-tuple, bounded in count and in bytes held.

use super::reasm::{Chunk, Reassembler};
use super::{flow_id, Dir, FlowKey, PacketMeta};
use crate::decode::{tcp_flags, PROTO_TCP};
use crate::detect::{self, Detector, Finding, Interest, Kind};
use hashbrown::HashTable;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Limits and timers of the flow table.
#[derive(Debug, Clone, Copy)]
pub struct FlowConfig {
    /// Most flows tracked at once (per table).
    pub max_flows: usize,
    pub tcp_timeout_ns: u64,
    pub udp_timeout_ns: u64,
    /// Out-of-order bytes held per direction of a flow.
    pub max_held: usize,
    /// Bytes a flow may show the detectors before they must have recognised something.
    pub inspect_budget: usize,
    /// How long after giving up on a flow it is looked at again.
    pub resample_after_ns: u64,
    /// Report a flow as soon as a mining protocol is recognised on it (an early record), not
    /// only when it ends.
    pub early_records: bool,
    /// Frames kept per flow for evidence (0: none): its first ones until its verdict is known,
    /// then, for a mining flow, the ones after them up to this count and `evidence_bytes`.
    pub evidence_packets: usize,
    pub evidence_bytes: usize,
    /// Bytes of frames the whole process may hold for evidence.
    pub evidence_total_bytes: usize,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            max_flows: 200_000,
            tcp_timeout_ns: 600_000_000_000,
            udp_timeout_ns: 120_000_000_000,
            max_held: 64 * 1024,
            inspect_budget: 16 * 1024,
            resample_after_ns: 300_000_000_000,
            early_records: false,
            evidence_packets: 0,
            evidence_bytes: 1 << 20,
            evidence_total_bytes: 512 << 20,
        }
    }
}

/// Why a flow ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// FIN seen from both sides.
    Closed,
    Reset,
    Timeout,
    /// Pushed out to make room.
    Evicted,
    /// Still open when the input ended.
    RunEnd,
    /// Not ended: an early record, sent when the flow was first recognised.
    Ongoing,
}

/// Packets and bytes sent in one direction.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    pub packets: u64,
    pub bytes: u64,
}

/// A flow that ended with something found, as handed to the verdict stage.
#[derive(Debug, Clone)]
pub struct FlowRecord {
    pub id: u64,
    pub proto: u8,
    /// The side that sent the first packet seen, and the other.
    pub fwd: (IpAddr, u16),
    pub rev: (IpAddr, u16),
    pub first_ts: u64,
    pub last_ts: u64,
    /// Indexed by [`Dir::index`].
    pub counters: [Counters; 2],
    /// The side that opened the TCP connection, when the handshake was seen.
    pub syn_from: Option<Dir>,
    pub end: EndReason,
    /// What the detectors found, if anything.
    pub finding: Option<Finding>,
    /// The flow's traffic shape, for behaviour analysis.
    pub shape: Shape,
    /// The tunnel its first packet came in.
    pub encap: Option<crate::decode::Encap>,
    /// The frames kept for evidence.
    pub evidence: Option<Box<Evidence>>,
}

/// A flow's frames, as captured, for an evidence bundle.
#[derive(Debug, Default)]
pub struct Evidence {
    /// LINKTYPE_* of the frames (of the first; frames of other link types are not kept).
    pub link: u16,
    /// (capture time, length on the wire, offset and length in `data`)
    pub frames: Vec<(u64, u32, u32, u32)>,
    pub data: Vec<u8>,
    /// The inputs (files, interfaces: their index in the run) the kept frames came from.
    pub inputs: Vec<u32>,
    /// Bytes this copy added to [`EVIDENCE_HELD`], given back when it is dropped.
    accounted: usize,
}

/// Bytes of frames held for evidence in the whole process: in flow tables, in records on their
/// way to the writer. Frames are not kept past `FlowConfig::evidence_total_bytes`.
static EVIDENCE_HELD: AtomicUsize = AtomicUsize::new(0);

/// Bytes of frames held for evidence right now.
pub fn evidence_held() -> usize {
    EVIDENCE_HELD.load(Ordering::Relaxed)
}

/// The bytes a kept frame costs: its copy and its index entry.
const FRAME_COST: usize = std::mem::size_of::<(u64, u32, u32, u32)>();

impl Clone for Evidence {
    fn clone(&self) -> Self {
        Evidence {
            link: self.link,
            frames: self.frames.clone(),
            data: self.data.clone(),
            inputs: self.inputs.clone(),
            // A copy is outside the budget (only tests make one).
            accounted: 0,
        }
    }
}

impl Drop for Evidence {
    fn drop(&mut self) {
        EVIDENCE_HELD.fetch_sub(self.accounted, Ordering::Relaxed);
    }
}

/// Inputs named per flow at most (a flow spread over more files names the first ones).
const MAX_INPUTS: usize = 16;

impl Evidence {
    /// Keeps a copy of `frame` (its bytes, link type and input) within the flow's caps; false
    /// when the process-wide budget (`max_total`) is spent and the frame could not be kept.
    fn keep(
        &mut self,
        ts: u64,
        wire: u32,
        (frame, link, input): (&[u8], u16, u32),
        max_frames: usize,
        max_bytes: usize,
        max_total: usize,
    ) -> bool {
        if self.frames.is_empty() {
            self.link = link;
        }
        if link != self.link
            || self.frames.len() >= max_frames
            || self.data.len() + frame.len() > max_bytes
        {
            return true;
        }
        let cost = frame.len() + FRAME_COST;
        if EVIDENCE_HELD.fetch_add(cost, Ordering::Relaxed) + cost > max_total {
            EVIDENCE_HELD.fetch_sub(cost, Ordering::Relaxed);
            return false;
        }
        self.accounted += cost;
        self.frames
            .push((ts, wire, self.data.len() as u32, frame.len() as u32));
        self.data.extend_from_slice(frame);
        if !self.inputs.contains(&input) && self.inputs.len() < MAX_INPUTS {
            self.inputs.push(input);
        }
        true
    }

    pub fn frame(&self, i: usize) -> Option<&[u8]> {
        let &(_, _, off, len) = self.frames.get(i)?;
        self.data.get(off as usize..(off + len) as usize)
    }
}

/// Timing and sizes of a flow's payload-carrying packets, per direction (indexed by
/// [`Dir::index`]). Kept for every TCP flow at a few arithmetic operations per packet.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Shape {
    pub payload_packets: [u64; 2],
    pub payload_bytes: [u64; 2],
    pub max_payload: [u32; 2],
    last_ts: [u64; 2],
    /// Gaps between consecutive payload packets: count, mean and sum of squared deviations
    /// (seconds), per direction (Welford).
    gaps: [(u64, f64, f64); 2],
}

impl Shape {
    fn add(&mut self, d: usize, ts: u64, len: usize) {
        if self.payload_packets[d] > 0 && ts > self.last_ts[d] {
            let x = (ts - self.last_ts[d]) as f64 / 1e9;
            let g = &mut self.gaps[d];
            g.0 += 1;
            let delta = x - g.1;
            g.1 += delta / g.0 as f64;
            g.2 += delta * (x - g.1);
        }
        self.last_ts[d] = ts;
        self.payload_packets[d] += 1;
        self.payload_bytes[d] += len as u64;
        self.max_payload[d] = self.max_payload[d].max(len.min(u32::MAX as usize) as u32);
    }

    /// Mean gap (s) between payload packets in a direction, and its coefficient of variation.
    pub fn period(&self, d: usize) -> Option<(f64, f64)> {
        let (n, mean, m2) = self.gaps[d];
        (n >= 2 && mean > 0.0).then(|| (mean, (m2 / (n - 1) as f64).sqrt() / mean))
    }
}

/// Counters of the table's work.
#[derive(Debug, Default, Clone, Copy)]
pub struct FlowStats {
    pub flows: u64,
    pub timed_out: u64,
    pub closed: u64,
    pub evicted: u64,
    pub inspected_bytes: u64,
    pub gave_up: u64,
    pub resampled: u64,
    pub reasm_gaps: u64,
    pub reasm_duplicate_bytes: u64,
    pub peak_flows: u64,
    /// Frames not kept for evidence because the process-wide budget was spent.
    pub evidence_frames_over_budget: u64,
}

impl FlowStats {
    pub fn merge(&mut self, o: &FlowStats) {
        self.flows += o.flows;
        self.timed_out += o.timed_out;
        self.closed += o.closed;
        self.evicted += o.evicted;
        self.inspected_bytes += o.inspected_bytes;
        self.gave_up += o.gave_up;
        self.resampled += o.resampled;
        self.reasm_gaps += o.reasm_gaps;
        self.reasm_duplicate_bytes += o.reasm_duplicate_bytes;
        self.peak_flows += o.peak_flows;
        self.evidence_frames_over_budget += o.evidence_frames_over_budget;
    }
}

struct Inspection {
    reasm: [Reassembler; 2],
    detectors: Detectors,
    probed: usize,
}

/// A flow's detectors: chosen by its first in-order bytes (see [`detect::for_flow`]), then fed.
enum Detectors {
    Unchosen {
        tcp: bool,
        ports: (u16, u16),
        mid_stream: bool,
    },
    Chosen(Vec<Box<dyn Detector>>),
}

impl Detectors {
    fn feed(&mut self, ctx: &detect::Context, dir: Dir, chunk: Chunk<'_>, ts: u64) {
        if let (
            Detectors::Unchosen {
                tcp,
                ports,
                mid_stream,
            },
            Chunk::Data(b),
        ) = (&*self, &chunk)
        {
            *self = Detectors::Chosen(detect::for_flow(ctx, *tcp, *ports, *mid_stream, b));
        }
        let Detectors::Chosen(detectors) = self else {
            return;
        };
        for d in detectors.iter_mut() {
            if d.interest() == Interest::NotThis {
                continue;
            }
            match chunk {
                Chunk::Data(b) => d.on_data(dir, b, ts),
                Chunk::Gap => d.on_gap(dir),
            }
        }
    }

    /// The flow's standing: matched if any detector matched, probing while any probes (or
    /// before the detectors are chosen), else finished (not-this).
    fn overall(&self) -> Interest {
        let Detectors::Chosen(detectors) = self else {
            return Interest::Probing;
        };
        let mut probing = false;
        for d in detectors {
            match d.interest() {
                Interest::Matched => return Interest::Matched,
                Interest::Probing => probing = true,
                Interest::NotThis | Interest::Done => {}
            }
        }
        if probing {
            Interest::Probing
        } else {
            Interest::NotThis
        }
    }

    /// The flow's protocol is known: the other detectors can go.
    fn keep_matched(&mut self) {
        if let Detectors::Chosen(d) = self {
            d.retain(|d| d.interest() == Interest::Matched);
        }
    }

    /// The most telling finding: a parsed mining protocol first.
    fn best_finding(&self) -> Option<Finding> {
        let Detectors::Chosen(detectors) = self else {
            return None;
        };
        let rank = |k: Kind| match k {
            Kind::Mining => 0,
            Kind::Shape => 1,
            Kind::Dns => 2,
            Kind::CryptoNode => 3,
            Kind::Observation => 4,
        };
        detectors
            .iter()
            .filter_map(|d| d.finding())
            .min_by_key(|f| rank(f.kind))
    }
}

struct Flow {
    shape: Shape,
    evidence: Option<Box<Evidence>>,
    encap: Option<crate::decode::Encap>,
    /// A finding kept from detectors that finished before the flow did.
    saved: Option<Box<Finding>>,
    key: FlowKey,
    hash: u64,
    fwd_is_lo: bool,
    first_ts: u64,
    last_ts: u64,
    counters: [Counters; 2],
    syn_from: Option<Dir>,
    fin: [bool; 2],
    matched: bool,
    /// Ended by FIN/RST: reported already, kept a little to absorb the last packets.
    closed: bool,
    inspect: Inspect,
    /// Initial sequence numbers from the SYNs, per direction, for reassembly that starts later.
    syn_seq: [Option<u32>; 2],
}

/// Where a flow's inspection stands.
enum Inspect {
    /// No payload yet: the detectors are chosen when the first bytes show what they may be.
    Pending {
        mid_stream: bool,
    },
    Active(Box<Inspection>),
    /// Given up on; looked at again (as a mid-stream pickup) from this capture time.
    Stopped {
        resample_at: u64,
    },
}

/// How long a closed flow stays in the table to absorb its last packets (final ACKs).
const CLOSED_LINGER_NS: u64 = 10_000_000_000;

pub struct Table {
    cfg: FlowConfig,
    ctx: detect::Context,
    flows: HashTable<Flow>,
    next_sweep: u64,
    pub stats: FlowStats,
}

impl Table {
    pub fn new(cfg: FlowConfig, ctx: detect::Context) -> Self {
        Table {
            cfg,
            ctx,
            flows: HashTable::new(),
            next_sweep: 0,
            stats: FlowStats::default(),
        }
    }

    /// New detectors consult `ctx` (new rules); flows and their detectors are kept.
    pub fn set_context(&mut self, ctx: detect::Context) {
        self.ctx = ctx;
    }

    /// Flows currently tracked.
    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    /// Takes one packet; flows that end are appended to `out` when something was found on them.
    pub fn packet(&mut self, p: &PacketMeta, payload: &[u8], out: &mut Vec<FlowRecord>) {
        self.packet_with_frame(p, payload, None, out)
    }

    /// As [`Table::packet`], with the captured frame and its link type, kept for evidence when
    /// the table is configured to.
    pub fn packet_with_frame(
        &mut self,
        p: &PacketMeta,
        payload: &[u8],
        frame: Option<(&[u8], u16, u32)>,
        out: &mut Vec<FlowRecord>,
    ) {
        if p.ts_ns >= self.next_sweep {
            self.sweep(p.ts_ns, out);
        }
        let key = p.key;
        let opening = p.tcp.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
        let mut found = false;
        if let Ok(e) = self.flows.find_entry(p.hash, |f| f.key == key) {
            if e.get().closed && opening {
                // The same 5-tuple opened again: a new connection.
                e.remove();
            } else {
                found = true;
            }
        }
        if !found {
            if self.flows.len() >= self.cfg.max_flows {
                self.make_room(p.ts_ns, out);
            }
            let is_tcp = key.proto == PROTO_TCP;
            let mid_stream = is_tcp && p.tcp.flags & tcp_flags::SYN == 0;
            let flow = Flow {
                shape: Shape::default(),
                evidence: None,
                encap: p.encap,
                saved: None,
                key,
                hash: p.hash,
                fwd_is_lo: p.from_lo,
                first_ts: p.ts_ns,
                last_ts: p.ts_ns,
                counters: [Counters::default(); 2],
                syn_from: None,
                fin: [false; 2],
                matched: false,
                closed: false,
                inspect: Inspect::Pending { mid_stream },
                syn_seq: [None; 2],
            };
            self.flows.insert_unique(p.hash, flow, |f| f.hash);
            self.stats.flows += 1;
            self.stats.peak_flows = self.stats.peak_flows.max(self.flows.len() as u64);
        }
        let Some(flow) = self.flows.find_mut(p.hash, |f| f.key == key) else {
            return;
        };
        if flow.closed {
            flow.last_ts = flow.last_ts.max(p.ts_ns);
            return;
        }
        if let Some(frame) = frame {
            // Kept while the verdict is open, and for mining flows after it.
            let open = flow.matched || !matches!(flow.inspect, Inspect::Stopped { .. });
            if self.cfg.evidence_packets > 0 && open {
                let kept = flow.evidence.get_or_insert_with(Default::default).keep(
                    p.ts_ns,
                    p.wire_len,
                    frame,
                    self.cfg.evidence_packets,
                    self.cfg.evidence_bytes,
                    self.cfg.evidence_total_bytes,
                );
                self.stats.evidence_frames_over_budget += u64::from(!kept);
            } else if !flow.matched {
                flow.evidence = None;
            }
        }
        let dir = if p.from_lo == flow.fwd_is_lo {
            Dir::Fwd
        } else {
            Dir::Rev
        };
        let c = &mut flow.counters[dir.index()];
        c.packets += 1;
        c.bytes += p.wire_len as u64;
        flow.last_ts = flow.last_ts.max(p.ts_ns);
        let flags = p.tcp.flags;
        let is_tcp = key.proto == PROTO_TCP;
        if is_tcp && flags & tcp_flags::SYN != 0 {
            let opener = if flags & tcp_flags::ACK == 0 {
                dir
            } else {
                dir.flip()
            };
            flow.syn_from.get_or_insert(opener);
            flow.syn_seq[dir.index()].get_or_insert(p.tcp.seq);
            if let Inspect::Active(insp) = &mut flow.inspect {
                insp.reasm[dir.index()].syn(p.tcp.seq);
            }
        }
        if !payload.is_empty() {
            flow.shape.add(dir.index(), p.ts_ns, payload.len());
            let start = match flow.inspect {
                Inspect::Pending { mid_stream } => Some(mid_stream),
                Inspect::Stopped { resample_at } if p.ts_ns >= resample_at => {
                    self.stats.resampled += 1;
                    Some(true)
                }
                _ => None,
            };
            if let Some(mid_stream) = start {
                let mut insp = Box::new(Inspection {
                    reasm: [
                        Reassembler::new(self.cfg.max_held),
                        Reassembler::new(self.cfg.max_held),
                    ],
                    detectors: Detectors::Unchosen {
                        tcp: is_tcp,
                        ports: (key.lo.1, key.hi.1),
                        mid_stream,
                    },
                    probed: 0,
                });
                for (d, seq) in flow.syn_seq.iter().enumerate() {
                    if let Some(seq) = seq {
                        insp.reasm[d].syn(*seq);
                    }
                }
                flow.inspect = Inspect::Active(insp);
            }
            if let Inspect::Active(insp) = &mut flow.inspect {
                self.stats.inspected_bytes += payload.len() as u64;
                let Inspection {
                    reasm, detectors, ..
                } = &mut **insp;
                let ts = p.ts_ns;
                let ctx = &self.ctx;
                let mut deliver = |chunk: Chunk<'_>| detectors.feed(ctx, dir, chunk, ts);
                if is_tcp {
                    reasm[dir.index()].segment(p.tcp.seq, payload, &mut deliver);
                } else {
                    deliver(Chunk::Data(payload));
                }
                insp.probed += payload.len();
                match insp.detectors.overall() {
                    Interest::Matched => {
                        if !flow.matched {
                            insp.detectors.keep_matched();
                            flow.matched = true;
                            if self.cfg.early_records {
                                let finding = insp.detectors.best_finding();
                                out.push(record(flow, EndReason::Ongoing, finding));
                            }
                        }
                    }
                    Interest::NotThis | Interest::Done => give_up(flow, &mut self.stats, &self.cfg),
                    Interest::Probing if insp.probed > self.cfg.inspect_budget => {
                        give_up(flow, &mut self.stats, &self.cfg)
                    }
                    Interest::Probing => {}
                }
            }
        }
        let end = if flags & tcp_flags::RST != 0 && is_tcp {
            Some(EndReason::Reset)
        } else {
            if flags & tcp_flags::FIN != 0 && is_tcp {
                flow.fin[dir.index()] = true;
            }
            (flow.fin == [true, true]).then_some(EndReason::Closed)
        };
        if let Some(reason) = end {
            self.stats.closed += 1;
            conclude(flow, reason, &mut self.stats, &self.ctx, out);
            flow.closed = true;
        }
    }

    /// Ends every flow (the input is over).
    pub fn finish(&mut self, out: &mut Vec<FlowRecord>) {
        for mut f in self.flows.drain() {
            conclude(&mut f, EndReason::RunEnd, &mut self.stats, &self.ctx, out);
        }
    }

    fn sweep(&mut self, now: u64, out: &mut Vec<FlowRecord>) {
        let step = (self.cfg.udp_timeout_ns / 8).clamp(1_000_000_000, 10_000_000_000);
        self.next_sweep = now.saturating_add(step);
        let (tcp_t, udp_t) = (self.cfg.tcp_timeout_ns, self.cfg.udp_timeout_ns);
        for mut f in self.flows.extract_if(|f| {
            let t = match (f.closed, f.key.proto == PROTO_TCP) {
                (true, _) => CLOSED_LINGER_NS,
                (false, true) => tcp_t,
                (false, false) => udp_t,
            };
            now.saturating_sub(f.last_ts) > t
        }) {
            self.stats.timed_out += u64::from(!f.closed);
            conclude(&mut f, EndReason::Timeout, &mut self.stats, &self.ctx, out);
        }
    }

    /// The table is full: first end flows idle for an eighth of their timeout, then, if that
    /// freed too little, evict unmatched flows until a sixteenth of the table is free.
    fn make_room(&mut self, now: u64, out: &mut Vec<FlowRecord>) {
        let want = (self.cfg.max_flows / 16).max(1);
        let (tcp_t, udp_t) = (self.cfg.tcp_timeout_ns / 8, self.cfg.udp_timeout_ns / 8);
        let mut victims: Vec<Flow> = self
            .flows
            .extract_if(|f| {
                let t = if f.key.proto == PROTO_TCP {
                    tcp_t
                } else {
                    udp_t
                };
                f.closed || now.saturating_sub(f.last_ts) > t
            })
            .collect();
        if victims.len() < want {
            let mut n = victims.len();
            victims.extend(self.flows.extract_if(|f| {
                let take = n < want && !f.matched;
                n += take as usize;
                take
            }));
        }
        if victims.len() < want {
            let mut n = victims.len();
            victims.extend(self.flows.extract_if(|_| {
                n += 1;
                n <= want
            }));
        }
        for mut f in victims {
            self.stats.evicted += u64::from(!f.closed);
            conclude(&mut f, EndReason::Evicted, &mut self.stats, &self.ctx, out);
        }
    }
}
/// Hands the flow's held bytes to its detectors and, if they found something, appends its
/// record. Afterwards the flow is no longer inspected; a second call does nothing.
fn conclude(
    f: &mut Flow,
    reason: EndReason,
    stats: &mut FlowStats,
    ctx: &detect::Context,
    out: &mut Vec<FlowRecord>,
) {
    if f.closed {
        return;
    }
    let mut finding = f.saved.take().map(|b| *b);
    let active = std::mem::replace(
        &mut f.inspect,
        Inspect::Stopped {
            resample_at: u64::MAX,
        },
    );
    if let Inspect::Active(mut insp) = active {
        let Inspection {
            reasm, detectors, ..
        } = &mut *insp;
        for d in [Dir::Fwd, Dir::Rev] {
            let r = &mut reasm[d.index()];
            r.finish(&mut |chunk| detectors.feed(ctx, d, chunk, f.last_ts));
            stats.reasm_gaps += r.stats.gaps;
            stats.reasm_duplicate_bytes += r.stats.duplicate_bytes;
        }
        if let Some(now) = detectors.best_finding() {
            if finding
                .as_ref()
                .is_none_or(|old| old.kind != Kind::Mining || now.kind == Kind::Mining)
            {
                finding = Some(now);
            }
        }
    }
    // Flows with nothing found still go to the verdict when they carried data both ways: their
    // endpoints or their shape may tell.
    let talked = f.shape.payload_packets.iter().all(|n| *n > 0);
    if finding.is_none() && !(talked && f.key.proto == PROTO_TCP) {
        return;
    }
    let mut r = record(f, reason, finding);
    r.evidence = f.evidence.take();
    out.push(r);
}

fn record(f: &Flow, end: EndReason, finding: Option<Finding>) -> FlowRecord {
    let (lo, hi) = (f.key.lo, f.key.hi);
    let (fwd, rev) = if f.fwd_is_lo { (lo, hi) } else { (hi, lo) };
    FlowRecord {
        id: flow_id(f.hash, f.first_ts),
        proto: f.key.proto,
        fwd,
        rev,
        first_ts: f.first_ts,
        last_ts: f.last_ts,
        counters: f.counters,
        syn_from: f.syn_from,
        end,
        finding,
        shape: f.shape,
        encap: f.encap,
        evidence: None,
    }
}

fn give_up(flow: &mut Flow, stats: &mut FlowStats, cfg: &FlowConfig) {
    if let Inspect::Active(insp) = &flow.inspect {
        if let Some(f) = insp.detectors.best_finding() {
            flow.saved = Some(Box::new(f));
        }
    }
    flow.inspect = Inspect::Stopped {
        resample_at: flow.last_ts.saturating_add(cfg.resample_after_ns),
    };
    stats.gave_up += 1;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Tcp;

    const SUB: &[u8] = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"m/1\"]}\n";

    fn pkt(port: u16, ts_s: u64, flags: u8, seq: u32, from_client: bool) -> PacketMeta {
        let c: (IpAddr, u16) = ("10.0.0.1".parse().unwrap(), port);
        let s: (IpAddr, u16) = ("10.0.0.2".parse().unwrap(), 3333);
        let (src, dst) = if from_client { (c, s) } else { (s, c) };
        let (key, from_lo) = FlowKey::of(src, dst, PROTO_TCP);
        PacketMeta {
            ts_ns: ts_s * 1_000_000_000,
            key,
            hash: key.hash64(),
            from_lo,
            tcp: Tcp { seq, ack: 0, flags },
            wire_len: 60,
            encap: None,
        }
    }

    const PSH_ACK: u8 = tcp_flags::PSH | tcp_flags::ACK;

    /// The only test in this crate that keeps evidence frames, so the process-wide count is
    /// its own.
    #[test]
    fn evidence_frames_stay_within_the_budget_and_are_given_back() {
        let frame = [0u8; 100];
        let mut t = Table::new(
            FlowConfig {
                evidence_packets: 1000,
                evidence_total_bytes: 10 * (100 + FRAME_COST),
                ..FlowConfig::default()
            },
            Default::default(),
        );
        let mut out = Vec::new();
        let before = evidence_held();
        t.packet_with_frame(
            &pkt(1000, 1, PSH_ACK, 1, true),
            SUB,
            Some((&frame, 1, 0)),
            &mut out,
        );
        for _ in 0..20 {
            t.packet_with_frame(
                &pkt(1000, 2, tcp_flags::ACK, 1 + SUB.len() as u32, true),
                b"",
                Some((&frame, 1, 0)),
                &mut out,
            );
        }
        assert_eq!(evidence_held() - before, 10 * (100 + FRAME_COST));
        assert_eq!(t.stats.evidence_frames_over_budget, 11);
        t.finish(&mut out);
        let r = out.pop().unwrap();
        assert_eq!(r.evidence.as_ref().unwrap().frames.len(), 10);
        drop(r);
        drop(out);
        assert_eq!(
            evidence_held(),
            before,
            "frames given back when the record is done"
        );
    }

    #[test]
    fn idle_flows_time_out_and_are_reported() {
        let mut t = Table::new(
            FlowConfig {
                tcp_timeout_ns: 10_000_000_000,
                ..FlowConfig::default()
            },
            Default::default(),
        );
        let mut out = Vec::new();
        t.packet(&pkt(1000, 1, PSH_ACK, 1, true), SUB, &mut out);
        assert!(out.is_empty());
        t.packet(&pkt(2000, 30, PSH_ACK, 1, true), b"", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].end, EndReason::Timeout);
        assert_eq!(t.stats.timed_out, 1);
        assert_eq!(t.len(), 1);
    }

    #[test]
    fn a_full_table_evicts_and_counts_but_keeps_mining_flows_longest() {
        let mut t = Table::new(
            FlowConfig {
                max_flows: 32,
                ..FlowConfig::default()
            },
            Default::default(),
        );
        let mut out = Vec::new();
        t.packet(&pkt(1, 1, PSH_ACK, 1, true), SUB, &mut out);
        for port in 2..200 {
            t.packet(&pkt(port, 1, tcp_flags::ACK, 1, true), b"", &mut out);
            assert!(t.len() <= 32);
        }
        assert!(t.stats.evicted > 0);
        assert!(
            out.is_empty(),
            "the mining flow was kept while others could go"
        );
        t.finish(&mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].fwd.1, 1);
    }

    #[test]
    fn rst_ends_at_once_and_later_packets_do_not_make_a_new_flow() {
        let mut t = Table::new(FlowConfig::default(), Default::default());
        let mut out = Vec::new();
        t.packet(&pkt(5, 1, tcp_flags::SYN, 0, true), b"", &mut out);
        t.packet(&pkt(5, 1, PSH_ACK, 1, true), SUB, &mut out);
        t.packet(&pkt(5, 2, tcp_flags::RST, 100, false), b"", &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].end, EndReason::Reset);
        assert_eq!(out[0].syn_from, Some(Dir::Fwd));
        t.packet(&pkt(5, 2, tcp_flags::ACK, 200, true), b"", &mut out);
        assert_eq!(t.stats.flows, 1);
        // The same ports opened again are a new flow.
        t.packet(&pkt(5, 3, tcp_flags::SYN, 0, true), b"", &mut out);
        assert_eq!(t.stats.flows, 2);
    }

    #[test]
    fn timestamps_at_the_end_of_time_do_not_overflow() {
        // Found by fuzzing the capture reader: a pcapng timestamp near u64::MAX.
        let mut t = Table::new(FlowConfig::default(), Default::default());
        let mut out = Vec::new();
        let mut p = pkt(9, 0, PSH_ACK, 1, true);
        p.ts_ns = u64::MAX - 5;
        t.packet(&p, b"GET / HTTP/1.1\r\n\r\n", &mut out);
        t.packet(&p, SUB, &mut out);
        t.finish(&mut out);
        assert_eq!(t.stats.flows, 1);
    }

    #[test]
    fn a_flow_that_is_not_mining_stops_being_inspected() {
        let mut t = Table::new(FlowConfig::default(), Default::default());
        let mut out = Vec::new();
        t.packet(&pkt(7, 1, tcp_flags::SYN, 0, true), b"", &mut out);
        t.packet(
            &pkt(7, 1, PSH_ACK, 1, true),
            b"GET / HTTP/1.1\r\n\r\n",
            &mut out,
        );
        t.packet(
            &pkt(7, 1, PSH_ACK, 9, false),
            b"HTTP/1.1 200 OK\r\n\r\n",
            &mut out,
        );
        assert_eq!(t.stats.gave_up, 1);
        let before = t.stats.inspected_bytes;
        t.packet(&pkt(7, 2, PSH_ACK, 19, true), SUB, &mut out);
        assert_eq!(t.stats.inspected_bytes, before, "no longer inspected");
        // Re-sampled after the interval, from the middle of the stream.
        let later = 2 + FlowConfig::default().resample_after_ns / 1_000_000_000;
        let seq = 19 + SUB.len() as u32;
        t.packet(&pkt(7, later, PSH_ACK, seq, true), SUB, &mut out);
        assert_eq!(t.stats.resampled, 1);
        t.finish(&mut out);
        assert_eq!(out.len(), 1);
    }
}

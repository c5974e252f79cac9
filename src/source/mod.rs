//! Stage 1, **source**: capture files, directories, a pcap stream on stdin and live interfaces
//! ([`capture`]) in;
//! [`RawPacket`]s (timestamp, link type, bytes) out.
//!
//! The readers are pure Rust. A file is memory-mapped and parsed in place; stdin is read in
//! blocks whose lifetime is shared ([`Block`]) so that later stages can refer to packet bytes
//! without copying them. A record that is damaged stops that input with a [`Damage`] naming the
//! byte offset: the packets before it still count.

pub mod capture;
#[cfg(target_os = "linux")]
pub mod live;
mod pcap;
#[cfg(feature = "libpcap")]
pub mod pcap_live;
mod pcapng;
mod pieces;
mod records;
#[cfg(target_os = "linux")]
pub mod ring;
mod stream;

pub use pcap::PcapParser;
pub use pcapng::PcapngParser;
pub use pieces::{Piece, PIECE_BYTES};
pub use records::ReadOutcome;
pub use stream::{
    collect_inputs, open_bytes, open_input, open_stream, Collected, Input, InputError, InputName,
};

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// Link-layer types (the pcap LINKTYPE_* numbers) that the decoder understands.
pub mod linktype {
    /// BSD loopback, host byte order.
    pub const NULL: u16 = 0;
    /// Ethernet.
    pub const ETHERNET: u16 = 1;
    /// Raw IP.
    pub const RAW: u16 = 101;
    /// OpenBSD loopback, network byte order.
    pub const LOOP: u16 = 108;
    /// Linux cooked capture v1.
    pub const LINUX_SLL: u16 = 113;
    /// Raw IPv4.
    pub const IPV4: u16 = 228;
    /// Raw IPv6.
    pub const IPV6: u16 = 229;
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: u16 = 276;
}

/// One captured packet as the capture file holds it.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// Capture time, nanoseconds since the Unix epoch.
    pub ts_ns: u64,
    /// LINKTYPE_* of the interface the packet came from.
    pub link: u16,
    /// Captured bytes (possibly fewer than on the wire).
    pub data: &'a [u8],
    /// Length on the wire.
    pub orig_len: u32,
    /// Where `data` starts in the block it was read from (the source knows; nobody has to
    /// work it out from addresses).
    pub offset: usize,
}

/// What a parser finds at a position in the input.
#[derive(Debug)]
pub enum Step<'a> {
    /// A packet record.
    Packet {
        /// The packet.
        pkt: RawPacket<'a>,
        /// Where the next record starts.
        next: usize,
    },
    /// A record that carries no packet (pcapng interface, statistics, ...).
    Skip {
        /// Where the next record starts.
        next: usize,
    },
    /// The buffer ends inside a record: more bytes are needed (or the input is truncated).
    NeedMore,
    /// The record at this position is malformed.
    Damaged(&'static str),
}

/// A capture format parser: given the bytes from a record boundary, say what is there.
pub trait CaptureParser: Send {
    /// What is at `pos` in `buf`.
    fn step<'a>(&mut self, buf: &'a [u8], pos: usize) -> Step<'a>;
    /// A copy of this parser in its present state, to go on from the record boundary it has
    /// reached in another thread.
    fn fork(&self) -> Box<dyn CaptureParser>;
    /// The first position at or after `from` (and before `buf.len()`) where, by the look of
    /// the bytes alone, a run of records starts, for a parser that has read the file header;
    /// `buf` is the whole input.
    /// `None` when nothing plausible is found, or when the format cannot tell its record
    /// boundaries from the bytes (its input is then cut where a parser walked it).
    fn resync(&self, _buf: &[u8], _from: usize) -> Option<usize> {
        None
    }
}

/// Where an input went wrong part-way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset of the damage in the input.
    pub offset: u64,
    /// What was wrong.
    pub reason: String,
}

impl fmt::Display for Damage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte offset {}", self.reason, self.offset)
    }
}

/// Bytes that packets point into: a memory-mapped file, a block read from a stream or a block
/// of a live capture ring.
pub enum Bytes {
    /// A memory-mapped file.
    Mapped(memmap2::Mmap),
    /// Bytes held in memory (an input given as bytes, a record carried across stream blocks).
    Owned(Vec<u8>),
    /// A stream buffer that goes back to its pool when the last packet using it is done.
    Pooled(PooledBuf),
    /// A block of a capture ring, given back to the kernel when the last packet using it is
    /// done.
    #[cfg(target_os = "linux")]
    Ring(ring::RingBlock),
}

impl Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m) => m,
            Bytes::Owned(v) => v,
            Bytes::Pooled(p) => &p.buf[p.start..],
            #[cfg(target_os = "linux")]
            Bytes::Ring(r) => r,
        }
    }
}

impl Bytes {
    /// Has the kernel map `range` of a mapped file in one call, rather than on a fault every
    /// few pages as it is read; nothing for bytes in memory. (Advice only: an older kernel that
    /// does not know it faults the pages in as before.)
    pub fn prefault(&self, range: std::ops::Range<usize>) {
        #[cfg(target_os = "linux")]
        if let Bytes::Mapped(m) = self {
            let len = range.end.min(m.len()).saturating_sub(range.start);
            let _ = m.advise_range(memmap2::Advice::PopulateRead, range.start, len);
        }
    }
}

/// A reused buffer whose data starts at `start`. Reusing stream buffers spares the page faults
/// of fresh allocations, which otherwise cost more than parsing.
pub struct PooledBuf {
    buf: Vec<u8>,
    start: usize,
    home: crossbeam_channel::Sender<Vec<u8>>,
}

impl PooledBuf {
    /// `buf`, whose data starts at `start`, going back to `home` when done.
    pub(crate) fn new(
        buf: Vec<u8>,
        start: usize,
        home: crossbeam_channel::Sender<Vec<u8>>,
    ) -> Self {
        PooledBuf { buf, start, home }
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        // A full pool just lets the buffer go.
        let _ = self.home.try_send(std::mem::take(&mut self.buf));
    }
}

/// A shared, immutable run of input bytes holding whole records.
pub type Block = Arc<Bytes>;

/// Recognises the capture format from the first four bytes.
pub fn parser_for(magic: &[u8]) -> Option<Box<dyn CaptureParser>> {
    if let Some(p) = PcapParser::from_magic(magic) {
        return Some(Box::new(p));
    }
    if magic.len() >= 4 && magic[..4] == pcapng::SHB_TYPE.to_le_bytes() {
        return Some(Box::new(PcapngParser::default()));
    }
    None
}

/// Now, in nanoseconds since the Unix epoch.
pub fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

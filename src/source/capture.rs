//! Live capture as a stream of packets: any [`FrameSource`] (an AF_PACKET socket, libpcap)
//! in; [`Captured`] packets in shared blocks out, handed on at the latest every `max_delay`,
//! with an [`Captured::Idle`] tick (and the kernel's drop count) whenever the link is quiet or
//! the delay is up.

use super::{Block, Bytes, RawPacket};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of live capture.
#[derive(Debug, Clone, Copy)]
pub struct LiveOptions {
    /// Kernel receive buffer per interface, bytes.
    pub rcvbuf: usize,
    /// Longest a captured packet waits before it is handed on.
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

/// One frame as a source delivers it.
#[derive(Debug, Clone, Copy)]
pub struct FrameInfo {
    /// Bytes written into the buffer.
    pub len: usize,
    /// Capture time, nanoseconds since the epoch.
    pub ts_ns: u64,
    /// Length on the wire.
    pub orig_len: u32,
    /// LINKTYPE_* of the frame.
    pub link: u16,
}

/// Where live frames come from.
pub trait FrameSource {
    /// The interface's name.
    fn name(&self) -> &str;
    /// The next frame, written into `buf`; `Ok(None)` when nothing came within the source's
    /// own short wait.
    fn next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<FrameInfo>>;
    /// Frames the kernel (or library) dropped since the source was opened.
    fn drops(&mut self) -> u64;
}

/// What the capture loop hands on.
pub enum Captured<'a> {
    /// A packet, in a block shared with the packets captured beside it.
    Packet(&'a Block, RawPacket<'a>),
    /// Everything captured so far was handed on: time to pass it down the pipeline.
    Idle {
        /// Frames the kernel dropped since the source was opened.
        drops: u64,
        /// When the source had nothing more to give: every frame captured before this time
        /// (ns since the epoch) has been handed on, so flows may be aged up to it. `None`
        /// when the tick came because the delay was up while frames were still arriving.
        clock_ns: Option<u64>,
    },
}

/// Bytes of one capture block.
const BLOCK: usize = 1 << 20;
/// Largest frame taken.
const SNAP: usize = 65_536;

/// Captures from `src` until `stop` says so. Frames are copied into blocks of their own and
/// handed to `on` as packets when a block is full, the link is quiet or `max_delay` passed.
pub fn run(
    src: &mut impl FrameSource,
    opts: &LiveOptions,
    stop: impl Fn() -> bool,
    mut on: impl FnMut(Captured<'_>),
) -> io::Result<()> {
    let mut buf = vec![0u8; BLOCK];
    let mut used = 0;
    let mut frames: Vec<(usize, FrameInfo)> = Vec::new();
    let mut since = Instant::now();
    loop {
        let stopping = stop();
        let quiet = match src.next_frame(&mut buf[used..used + SNAP])? {
            Some(f) => {
                frames.push((used, f));
                used += f.len;
                false
            }
            None => true,
        };
        let full = used + SNAP > BLOCK;
        let due = since.elapsed() >= opts.max_delay;
        if full || stopping || ((quiet || due) && !frames.is_empty()) {
            let block: Block =
                Arc::new(Bytes::Owned(std::mem::replace(&mut buf, vec![0u8; BLOCK])));
            for &(off, f) in &frames {
                let raw = RawPacket {
                    ts_ns: f.ts_ns,
                    link: f.link,
                    data: &block[off..off + f.len],
                    orig_len: f.orig_len,
                    offset: off,
                };
                on(Captured::Packet(&block, raw));
            }
            frames.clear();
            used = 0;
        }
        if quiet || due || stopping {
            let clock_ns = quiet.then(super::now_ns);
            on(Captured::Idle {
                drops: src.drops(),
                clock_ns,
            });
            since = Instant::now();
        }
        if stopping {
            return Ok(());
        }
    }
}

//! Live capture as a stream of packets: any [`LiveSource`] (a capture ring, or libpcap through
//! [`Copying`]) in; [`Captured`] packets in shared blocks out, handed on within `max_delay`,
//! with an [`Captured::Idle`] tick (and the kernel's drop count) whenever the link is quiet or
//! the delay is up.

use super::{Block, Bytes, PooledBuf, RawPacket};
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Options of live capture.
#[derive(Debug, Clone, Copy)]
pub struct LiveOptions {
    /// Bytes of capture ring (or libpcap buffer) per socket.
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

/// Where live frames come from, a block at a time: a capture ring hands over the blocks the
/// kernel filled, a [`Copying`] source copies frames into blocks of its own.
pub trait LiveSource {
    /// The interface's name.
    fn name(&self) -> &str;
    /// The next block of frames, each listed in `frames` with its offset in the block;
    /// `Ok(None)` when nothing came within the source's own short wait.
    fn next_block(&mut self, frames: &mut Vec<(usize, FrameInfo)>) -> io::Result<Option<Block>>;
    /// Frames the kernel (or library) dropped since the source was opened.
    fn drops(&mut self) -> u64;
    /// How long a captured frame can wait inside the source before it is handed on: when the
    /// source has nothing to give, every frame captured more than this long ago has been.
    fn lag(&self) -> Duration {
        Duration::ZERO
    }
}

/// Where live frames come from one at a time, copied into the caller's buffer (libpcap).
pub trait FrameSource {
    /// The interface's name.
    fn name(&self) -> &str;
    /// The next frame, written into `buf`; `Ok(None)` when nothing came within the source's
    /// own short wait.
    fn next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<FrameInfo>>;
    /// Frames the kernel (or library) dropped since the source was opened.
    fn drops(&mut self) -> u64;
}

/// A [`FrameSource`] as a [`LiveSource`]: frames are copied into 1 MiB blocks, each handed on
/// when it is full, when the source goes quiet or `max_delay` after its first frame. Blocks
/// come back to a pool when their last packet is done (as a stream's buffers do), so that
/// copying does not fault in fresh pages; a new one is made only when all are in use.
#[cfg_attr(not(feature = "libpcap"), allow(dead_code))]
pub struct Copying<S> {
    src: S,
    max_delay: Duration,
    buf: Vec<u8>,
    pool: (
        crossbeam_channel::Sender<Vec<u8>>,
        crossbeam_channel::Receiver<Vec<u8>>,
    ),
}

/// Blocks a [`Copying`] source keeps for reuse.
const COPY_POOL: usize = 8;

#[cfg_attr(not(feature = "libpcap"), allow(dead_code))]
impl<S: FrameSource> Copying<S> {
    /// Copies the frames of `src`.
    pub fn new(src: S, opts: &LiveOptions) -> Self {
        Copying {
            src,
            max_delay: opts.max_delay,
            buf: vec![0u8; BLOCK],
            pool: crossbeam_channel::bounded(COPY_POOL),
        }
    }
}

impl<S: FrameSource> LiveSource for Copying<S> {
    fn name(&self) -> &str {
        self.src.name()
    }

    fn next_block(&mut self, frames: &mut Vec<(usize, FrameInfo)>) -> io::Result<Option<Block>> {
        frames.clear();
        let mut used = 0;
        let started = Instant::now();
        while let Some(f) = self.src.next_frame(&mut self.buf[used..used + SNAP])? {
            frames.push((used, f));
            used += f.len;
            if used + SNAP > BLOCK || started.elapsed() >= self.max_delay {
                break;
            }
        }
        if frames.is_empty() {
            return Ok(None);
        }
        let next = self.pool.1.try_recv().unwrap_or_else(|_| vec![0u8; BLOCK]);
        let full = std::mem::replace(&mut self.buf, next);
        Ok(Some(Arc::new(Bytes::Pooled(PooledBuf::new(
            full,
            0,
            self.pool.0.clone(),
        )))))
    }

    fn drops(&mut self) -> u64 {
        self.src.drops()
    }
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

/// Captures from `src` until `stop` says so, handing each packet to `on` in the block it came
/// in, and an idle tick when the source is quiet or when waiting longer could keep a frame
/// past `max_delay`.
pub fn run(
    src: &mut impl LiveSource,
    opts: &LiveOptions,
    stop: impl Fn() -> bool,
    mut on: impl FnMut(Captured<'_>),
) -> io::Result<()> {
    let mut frames: Vec<(usize, FrameInfo)> = Vec::new();
    let mut since = Instant::now();
    loop {
        let stopping = stop();
        let block = src.next_block(&mut frames)?;
        if let Some(block) = &block {
            for &(off, f) in &frames {
                let Some(data) = block.get(off..off + f.len) else {
                    continue;
                };
                let raw = RawPacket {
                    ts_ns: f.ts_ns,
                    link: f.link,
                    data,
                    orig_len: f.orig_len,
                    offset: off,
                };
                on(Captured::Packet(block, raw));
            }
        }
        let quiet = block.is_none();
        // A frame waits up to the source's lag before it is handed over, and then until the
        // next tick: the two together stay within `max_delay`.
        if quiet || stopping || since.elapsed() + src.lag() >= opts.max_delay {
            let clock_ns =
                quiet.then(|| super::now_ns().saturating_sub(src.lag().as_nanos() as u64));
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Frames of 100 bytes, `n` of them, then nothing.
    struct Frames {
        left: usize,
    }

    impl FrameSource for Frames {
        fn name(&self) -> &str {
            "test"
        }
        fn next_frame(&mut self, buf: &mut [u8]) -> io::Result<Option<FrameInfo>> {
            if self.left == 0 {
                return Ok(None);
            }
            self.left -= 1;
            buf[..100].fill(self.left as u8);
            Ok(Some(FrameInfo {
                len: 100,
                ts_ns: self.left as u64,
                orig_len: 100,
                link: super::super::linktype::ETHERNET,
            }))
        }
        fn drops(&mut self) -> u64 {
            7
        }
    }

    #[test]
    fn copied_frames_reach_the_loop_in_order_then_an_idle_tick() {
        let opts = LiveOptions::default();
        let mut src = Copying::new(Frames { left: 30_000 }, &opts);
        let (mut seen, mut idle, mut blocks) = (Vec::new(), 0, 0);
        let ticks = std::cell::Cell::new(0);
        let stop = || {
            ticks.set(ticks.get() + 1);
            ticks.get() > 4
        };
        run(&mut src, &opts, stop, |c| match c {
            Captured::Packet(b, raw) => {
                // Each block's first frame is at its start.
                blocks += usize::from(raw.offset == 0);
                assert_eq!(b.as_ptr(), raw.data.as_ptr().wrapping_sub(raw.offset));
                seen.push((raw.ts_ns, raw.data[0], raw.data.len()));
            }
            Captured::Idle { drops, clock_ns } => {
                assert_eq!(drops, 7);
                idle += usize::from(clock_ns.is_some());
            }
        })
        .unwrap();
        assert_eq!(seen.len(), 30_000);
        assert!(seen
            .iter()
            .enumerate()
            .all(|(i, s)| s.0 == (29_999 - i) as u64 && s.1 == (29_999 - i) as u8 && s.2 == 100));
        // A 1 MiB block takes 9,831 frames of 100 bytes (room for a 64 KiB frame is kept), so
        // 30,000 take four.
        assert_eq!(blocks, 4);
        assert!(idle >= 1, "the quiet source gave an idle tick with a clock");
    }
}

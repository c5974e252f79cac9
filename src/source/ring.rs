//! Live capture through a TPACKET_V3 ring: an AF_PACKET socket whose frames the kernel writes
//! into blocks of memory shared with this process, so no system call and no copy is made per
//! frame. Blocks in; [`Block`]s whose frames are listed out.
//!
//! The kernel fills the ring's blocks in turn and hands one over when it is full or when the
//! retire timeout passes. A block handed over becomes a [`Block`] that the packets point into,
//! like a mapped file; when the last packet using it is done, the block goes back to the kernel.
//! The kernel takes VLAN tags off frames before any socket sees them; they are put back here,
//! in front of the frame, so packets hold the bytes that were on the wire.

use super::capture::{FrameInfo, LiveSource};
use super::live::PacketSocket;
use super::{linktype, Block, Bytes};
use crate::wire::Endian;
use std::io;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The ring's headers are in this machine's byte order.
const NE: Endian = Endian::NATIVE;

/// Bytes of one ring block.
const BLOCK_BYTES: usize = 1 << 20;
/// Fewest blocks in a ring.
const MIN_BLOCKS: usize = 4;
/// The ring's nominal frame size (TPACKET_V3 frames are of any size; the kernel checks this).
const FRAME_BYTES: usize = 2048;
/// Room the kernel leaves in front of each frame, for a VLAN tag put back.
const TAG: usize = 4;

// Offsets in `struct tpacket_block_desc` (version 1 header) and `struct tpacket3_hdr`.
const BLOCK_STATUS: usize = 8;
const BLOCK_PACKETS: usize = 12;
const BLOCK_FIRST: usize = 16;
const HDR_NEXT: usize = 0;
const HDR_SEC: usize = 4;
const HDR_NSEC: usize = 8;
const HDR_SNAPLEN: usize = 12;
const HDR_LEN: usize = 16;
const HDR_STATUS: usize = 20;
const HDR_MAC: usize = 24;
const HDR_VLAN_TCI: usize = 32;
const HDR_VLAN_TPID: usize = 36;
/// The frame header and the link-layer address the kernel writes after it.
const HDR_BYTES: usize = 48 + std::mem::size_of::<libc::sockaddr_ll>();

/// The socket and its mapped ring, shared by the ring and the blocks handed out.
struct Mapped {
    sock: PacketSocket,
    base: *mut u8,
    blocks: usize,
    /// Which blocks are held by packets. A held block's status still says it is the user's, as
    /// it says for a block the kernel filled again, so the status alone cannot tell them apart.
    held: Box<[AtomicBool]>,
}

// SAFETY: the mapping is only read through blocks the kernel has handed over (one owner each),
// and block statuses are read and written atomically.
unsafe impl Send for Mapped {}
// SAFETY: as above.
unsafe impl Sync for Mapped {}

impl Mapped {
    fn status(&self, i: usize) -> &AtomicU32 {
        // SAFETY: `i` < `blocks`, so the status word lies inside the mapping, 4-byte aligned
        // (blocks are page-aligned); the mapping lives as long as `self`.
        unsafe { &*(self.base.add(i * BLOCK_BYTES + BLOCK_STATUS) as *const AtomicU32) }
    }

    /// Block `i`'s bytes, for its one owner.
    ///
    /// # Safety
    /// The block must be handed over by the kernel (`TP_STATUS_USER`) and not given back.
    #[allow(clippy::mut_from_ref)]
    unsafe fn block(&self, i: usize) -> &mut [u8] {
        std::slice::from_raw_parts_mut(self.base.add(i * BLOCK_BYTES), BLOCK_BYTES)
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        // SAFETY: the mapping was made by `Ring::open` with this length and is unmapped once;
        // no block outlives it (each holds an `Arc` of it).
        unsafe {
            libc::munmap(self.base as *mut libc::c_void, self.blocks * BLOCK_BYTES);
        }
    }
}

/// A block handed over by the kernel; it goes back to the kernel when dropped.
pub struct RingBlock {
    ring: Arc<Mapped>,
    index: usize,
}

impl Deref for RingBlock {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        // SAFETY: this value owns the block until it is dropped.
        unsafe { self.ring.block(self.index) }
    }
}

impl Drop for RingBlock {
    fn drop(&mut self) {
        // The kernel's first, then the ring's: a block seen free is the kernel's to fill.
        self.ring
            .status(self.index)
            .store(libc::TP_STATUS_KERNEL, Ordering::Release);
        self.ring.held[self.index].store(false, Ordering::Release);
    }
}

/// A TPACKET_V3 capture ring on one interface.
pub struct Ring {
    map: Arc<Mapped>,
    /// The block the kernel hands over next.
    next: usize,
    retire: Duration,
    wait_ms: libc::c_int,
    drops: u64,
}

impl Ring {
    /// Opens `iface` (promiscuous) with a ring of about `bytes` (at least four 1 MiB blocks).
    /// The kernel hands a block over when it is full or `retire` after its first frame;
    /// [`LiveSource::next_block`] waits up to `wait` for one.
    pub fn open(iface: &str, bytes: usize, retire: Duration, wait: Duration) -> io::Result<Ring> {
        let proto = libc::ETH_P_ALL as u16;
        let sock = PacketSocket::new(iface, proto)?;
        let version = libc::tpacket_versions::TPACKET_V3 as libc::c_int;
        sock.setsockopt(
            libc::SOL_PACKET,
            libc::PACKET_VERSION,
            &version,
            "TPACKET_V3",
        )?;
        let reserve = TAG as libc::c_uint;
        sock.setsockopt(
            libc::SOL_PACKET,
            libc::PACKET_RESERVE,
            &reserve,
            "frame reserve",
        )?;
        let blocks = (bytes / BLOCK_BYTES).clamp(MIN_BLOCKS, u32::MAX as usize / BLOCK_BYTES);
        let req = libc::tpacket_req3 {
            tp_block_size: BLOCK_BYTES as u32,
            tp_block_nr: blocks as u32,
            tp_frame_size: FRAME_BYTES as u32,
            tp_frame_nr: (blocks * (BLOCK_BYTES / FRAME_BYTES)) as u32,
            tp_retire_blk_tov: retire.as_millis().clamp(1, 60_000) as u32,
            tp_sizeof_priv: 0,
            tp_feature_req_word: 0,
        };
        sock.setsockopt(
            libc::SOL_PACKET,
            libc::PACKET_RX_RING,
            &req,
            &format!("a capture ring of {blocks} MiB"),
        )?;
        // SAFETY: maps the ring the kernel just made for this socket, of the size it was asked.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                blocks * BLOCK_BYTES,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                sock.fd,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            let e = io::Error::last_os_error();
            return Err(io::Error::new(
                e.kind(),
                format!("{iface}: cannot map the capture ring: {e}"),
            ));
        }
        let map = Arc::new(Mapped {
            sock,
            base: base as *mut u8,
            blocks,
            held: (0..blocks).map(|_| AtomicBool::new(false)).collect(),
        });
        map.sock.bind(proto)?;
        map.sock.promiscuous()?;
        Ok(Ring {
            map,
            next: 0,
            retire,
            wait_ms: wait.as_millis().clamp(1, i32::MAX as u128) as libc::c_int,
            drops: 0,
        })
    }

    /// Joins the fan-out group `group` of the interface: the kernel then hands each flow to
    /// one ring of the group (the same for both directions, and for every fragment).
    pub fn join_fanout(&self, group: u16) -> io::Result<()> {
        self.map.sock.join_fanout(group)
    }

    /// Whether the kernel has handed over the next block; waits up to the ring's wait if not.
    /// While packets still hold that block, the kernel cannot fill it (nor any after it): this
    /// waits a millisecond and says no, so that the caller passes on what it holds.
    fn ready(&self) -> io::Result<bool> {
        if self.map.held[self.next].load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(1));
            return Ok(false);
        }
        let filled =
            |m: &Mapped| m.status(self.next).load(Ordering::Acquire) & libc::TP_STATUS_USER != 0;
        if filled(&self.map) {
            return Ok(true);
        }
        let mut pfd = libc::pollfd {
            fd: self.map.sock.fd,
            events: libc::POLLIN | libc::POLLERR,
            revents: 0,
        };
        // SAFETY: one live pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, self.wait_ms) };
        let name = &self.map.sock.name;
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(io::Error::new(
                    e.kind(),
                    format!("{name}: wait for the capture ring: {e}"),
                ));
            }
        }
        if pfd.revents & libc::POLLERR != 0 {
            // The interface went down, or away: said once, rather than a loop of wake-ups.
            let code = self
                .map
                .sock
                .getsockopt::<libc::c_int>(libc::SOL_SOCKET, libc::SO_ERROR);
            if let Some(code) = code.filter(|c| *c != 0) {
                let e = io::Error::from_raw_os_error(code);
                return Err(io::Error::new(e.kind(), format!("{name}: capture: {e}")));
            }
        }
        if filled(&self.map) {
            return Ok(true);
        }
        if r > 0 && pfd.revents & libc::POLLIN != 0 {
            // The kernel calls the ring readable while the block before the one it fills is not
            // back: it is, while packets hold it. Nothing new came; a short sleep here instead of
            // a loop of wake-ups until the block the kernel fills is full or retired.
            std::thread::sleep(Duration::from_millis(1));
            return Ok(filled(&self.map));
        }
        Ok(false)
    }
}

/// Lists the frames of a handed-over block in `frames` (offset in the block and what the
/// frame is), putting back the VLAN tags the kernel took off. Frames whose header does not fit
/// the block are left out: the walk stops there.
fn walk(block: &mut [u8], frames: &mut Vec<(usize, FrameInfo)>) {
    let n = NE.u32(block, BLOCK_PACKETS).unwrap_or(0);
    let mut at = NE.u32(block, BLOCK_FIRST).unwrap_or(0) as usize;
    for _ in 0..n {
        let Some(f) = frame(block, at) else {
            return;
        };
        frames.push(f);
        match NE.u32(block, at + HDR_NEXT) {
            Some(next) if next > 0 => at += next as usize,
            _ => return,
        }
    }
}

/// The frame whose header is at `at`, its VLAN tag put back in front of it.
fn frame(block: &mut [u8], at: usize) -> Option<(usize, FrameInfo)> {
    let sec = NE.u32(block, at + HDR_SEC)?;
    let nsec = NE.u32(block, at + HDR_NSEC)?;
    let mut snap = NE.u32(block, at + HDR_SNAPLEN)? as usize;
    let mut len = NE.u32(block, at + HDR_LEN)?;
    let status = NE.u32(block, at + HDR_STATUS)?;
    let mac = at + usize::from(NE.u16(block, at + HDR_MAC)?);
    let mut start = mac;
    block.get(mac..mac.checked_add(snap)?)?;
    if status & libc::TP_STATUS_VLAN_VALID != 0 && mac >= at + HDR_BYTES + TAG && snap >= 12 {
        let tci = NE.u32(block, at + HDR_VLAN_TCI)? as u16;
        let tpid = match NE.u16(block, at + HDR_VLAN_TPID)? {
            t if status & libc::TP_STATUS_VLAN_TPID_VALID != 0 && t != 0 => t,
            _ => 0x8100,
        };
        start = mac - TAG;
        block.copy_within(mac..mac + 12, start);
        block[start + 12..start + 14].copy_from_slice(&tpid.to_be_bytes());
        block[start + 14..start + 16].copy_from_slice(&tci.to_be_bytes());
        snap += TAG;
        len = len.saturating_add(TAG as u32);
    }
    Some((
        start,
        FrameInfo {
            len: snap,
            ts_ns: u64::from(sec) * 1_000_000_000 + u64::from(nsec),
            orig_len: len,
            link: linktype::ETHERNET,
        },
    ))
}

impl LiveSource for Ring {
    fn name(&self) -> &str {
        &self.map.sock.name
    }

    fn next_block(&mut self, frames: &mut Vec<(usize, FrameInfo)>) -> io::Result<Option<Block>> {
        frames.clear();
        if !self.ready()? {
            return Ok(None);
        }
        let index = self.next;
        self.next = (self.next + 1) % self.map.blocks;
        self.map.held[index].store(true, Ordering::Release);
        // SAFETY: the kernel handed this block over and nothing else holds it until the
        // `RingBlock` made below gives it back.
        walk(unsafe { self.map.block(index) }, frames);
        let block = Arc::new(Bytes::Ring(RingBlock {
            ring: Arc::clone(&self.map),
            index,
        }));
        Ok(Some(block))
    }

    fn drops(&mut self) -> u64 {
        // The counters reset on every read, so they are added up here.
        if let Some(st) = self
            .map
            .sock
            .getsockopt::<libc::tpacket_stats_v3>(libc::SOL_PACKET, libc::PACKET_STATISTICS)
        {
            self.drops += u64::from(st.tp_drops);
        }
        self.drops
    }

    fn lag(&self) -> Duration {
        self.retire
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A block as the kernel writes it: `frames` of (status, tci, bytes) from offset 64, each
    /// header followed by the link address and `TAG` bytes of reserve.
    fn block(frames: &[(u32, u16, &[u8])]) -> Vec<u8> {
        let mut b = vec![0u8; 4096];
        b[BLOCK_PACKETS..BLOCK_PACKETS + 4].copy_from_slice(&(frames.len() as u32).to_ne_bytes());
        b[BLOCK_FIRST..BLOCK_FIRST + 4].copy_from_slice(&64u32.to_ne_bytes());
        let mut at = 64;
        for (i, (status, tci, bytes)) in frames.iter().enumerate() {
            let mac = HDR_BYTES + 14 + TAG;
            let next = if i + 1 == frames.len() {
                0
            } else {
                (mac + bytes.len() + 15) & !15
            };
            let put = |b: &mut Vec<u8>, off: usize, v: u32| {
                b[at + off..at + off + 4].copy_from_slice(&v.to_ne_bytes())
            };
            put(&mut b, HDR_NEXT, next as u32);
            put(&mut b, HDR_SEC, 1_700_000_000 + i as u32);
            put(&mut b, HDR_NSEC, 5);
            put(&mut b, HDR_SNAPLEN, bytes.len() as u32);
            put(&mut b, HDR_LEN, bytes.len() as u32 + 100);
            put(&mut b, HDR_STATUS, *status);
            put(&mut b, HDR_VLAN_TCI, u32::from(*tci));
            b[at + HDR_MAC..at + HDR_MAC + 2].copy_from_slice(&(mac as u16).to_ne_bytes());
            b[at + mac..at + mac + bytes.len()].copy_from_slice(bytes);
            at += next;
        }
        b
    }

    const FRAME: &[u8] = &[
        1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 0x08, 0x00, 0x45, 0, 0, 20,
    ];

    #[test]
    fn frames_are_listed_with_their_times_and_lengths() {
        let mut b = block(&[(1, 0, FRAME), (1, 0, &FRAME[..14])]);
        let mut frames = Vec::new();
        walk(&mut b, &mut frames);
        assert_eq!(frames.len(), 2);
        let (off, f) = frames[0];
        assert_eq!(&b[off..off + f.len], FRAME);
        assert_eq!(f.ts_ns, 1_700_000_000_000_000_005);
        assert_eq!(f.orig_len, FRAME.len() as u32 + 100);
        let (off, f) = frames[1];
        assert_eq!(&b[off..off + f.len], &FRAME[..14]);
        assert_eq!(f.ts_ns, 1_700_000_001_000_000_005);
    }

    #[test]
    fn a_vlan_tag_taken_off_by_the_kernel_is_put_back() {
        let mut b = block(&[(libc::TP_STATUS_VLAN_VALID | 1, 0x2064, FRAME)]);
        let mut frames = Vec::new();
        walk(&mut b, &mut frames);
        let (off, f) = frames[0];
        let want = [&FRAME[..12], &[0x81, 0x00, 0x20, 0x64], &FRAME[12..]].concat();
        assert_eq!(&b[off..off + f.len], want.as_slice());
        assert_eq!(f.orig_len, FRAME.len() as u32 + 104);
    }

    #[test]
    fn a_header_past_the_block_stops_the_walk() {
        let mut b = block(&[(1, 0, FRAME), (1, 0, FRAME)]);
        // The first frame says the next one starts past the end of the block.
        let first = 64;
        b[first..first + 4].copy_from_slice(&4090u32.to_ne_bytes());
        let mut frames = Vec::new();
        walk(&mut b, &mut frames);
        assert_eq!(frames.len(), 1);
        // A frame longer than the block is left out.
        b[first + HDR_SNAPLEN..first + HDR_SNAPLEN + 4].copy_from_slice(&9000u32.to_ne_bytes());
        frames.clear();
        walk(&mut b, &mut frames);
        assert!(frames.is_empty());
    }
}

//! IP fragment reassembly in a bounded pool: fragments of one datagram are held until it is
//! complete, expired, or pushed out by newer datagrams. What is dropped is counted.

use std::net::IpAddr;

/// Limits of the pool.
#[derive(Debug, Clone, Copy)]
pub struct FragLimits {
    /// Datagrams being rebuilt at once, at most.
    pub max_datagrams: usize,
    /// Bytes of one rebuilt datagram, at most.
    pub max_datagram_bytes: usize,
    /// How long an incomplete datagram is kept.
    pub timeout_ns: u64,
}

impl Default for FragLimits {
    fn default() -> Self {
        FragLimits {
            max_datagrams: 256,
            max_datagram_bytes: 65_535,
            timeout_ns: 30_000_000_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FragKey {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub id: u32,
}

#[derive(Debug)]
struct Pending {
    key: FragKey,
    first_ts: u64,
    /// (offset, bytes) pieces, as they came.
    pieces: Vec<(usize, Vec<u8>)>,
    held: usize,
    /// Known once the last fragment (more-fragments clear) arrived.
    total: Option<usize>,
}

impl Pending {
    /// The whole datagram, if the pieces cover 0..total without holes.
    fn assemble(&mut self) -> Option<Vec<u8>> {
        let total = self.total?;
        self.pieces.sort_by_key(|p| p.0);
        let mut covered = 0;
        for (off, b) in &self.pieces {
            if *off > covered {
                return None;
            }
            covered = covered.max(off + b.len());
        }
        if covered < total {
            return None;
        }
        let mut out = vec![0u8; total];
        for (off, b) in &self.pieces {
            let end = (off + b.len()).min(total);
            if *off < end {
                out[*off..end].copy_from_slice(&b[..end - off]);
            }
        }
        Some(out)
    }
}

/// Counters kept by the pool.
#[derive(Debug, Default, Clone, Copy)]
pub struct FragStats {
    /// Fragments seen.
    pub fragments: u64,
    /// Datagrams rebuilt.
    pub reassembled: u64,
    /// Datagrams given up on after the timeout.
    pub expired: u64,
    /// Datagrams pushed out to make room.
    pub evicted: u64,
    /// Datagrams that grew past the size cap.
    pub oversized: u64,
}

#[derive(Debug, Default)]
/// IP fragments held until their datagram is whole, bounded in count, bytes and time.
pub struct FragPool {
    limits: FragLimits,
    pending: Vec<Pending>,
    /// What the pool did.
    pub stats: FragStats,
}

impl FragPool {
    /// An empty pool with these limits.
    pub fn new(limits: FragLimits) -> Self {
        FragPool {
            limits,
            pending: Vec::new(),
            stats: FragStats::default(),
        }
    }

    /// Adds one fragment; returns the reassembled payload when this fragment completes it.
    pub fn add(
        &mut self,
        key: FragKey,
        offset: usize,
        more: bool,
        data: &[u8],
        ts: u64,
    ) -> Option<Vec<u8>> {
        self.stats.fragments += 1;
        self.expire(ts);
        let idx = match self.pending.iter().position(|p| p.key == key) {
            Some(i) => i,
            None => {
                if self.pending.len() >= self.limits.max_datagrams {
                    self.pending.remove(0);
                    self.stats.evicted += 1;
                }
                self.pending.push(Pending {
                    key,
                    first_ts: ts,
                    pieces: Vec::new(),
                    held: 0,
                    total: None,
                });
                self.pending.len() - 1
            }
        };
        let p = &mut self.pending[idx];
        if offset + data.len() > self.limits.max_datagram_bytes
            || p.held + data.len() > 2 * self.limits.max_datagram_bytes
        {
            self.pending.remove(idx);
            self.stats.oversized += 1;
            return None;
        }
        p.held += data.len();
        p.pieces.push((offset, data.to_vec()));
        if !more {
            p.total = Some(offset + data.len());
        }
        let whole = p.assemble()?;
        self.pending.remove(idx);
        self.stats.reassembled += 1;
        Some(whole)
    }

    fn expire(&mut self, now: u64) {
        let t = self.limits.timeout_ns;
        let before = self.pending.len();
        self.pending.retain(|p| now.saturating_sub(p.first_ts) <= t);
        self.stats.expired += (before - self.pending.len()) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> FragKey {
        FragKey {
            src: "10.0.0.1".parse().unwrap(),
            dst: "10.0.0.2".parse().unwrap(),
            proto: 6,
            id: 7,
        }
    }

    #[test]
    fn out_of_order_fragments_reassemble() {
        let mut p = FragPool::default();
        assert!(p.add(key(), 8, false, b"89abcdef", 0).is_none());
        assert_eq!(
            p.add(key(), 0, true, b"01234567", 1).unwrap(),
            b"0123456789abcdef"
        );
        assert_eq!(p.stats.reassembled, 1);
    }

    #[test]
    fn pool_is_bounded_and_expires() {
        let mut p = FragPool::new(FragLimits {
            max_datagrams: 2,
            ..FragLimits::default()
        });
        for id in 0..3 {
            p.add(FragKey { id, ..key() }, 0, true, b"x", 0);
        }
        assert_eq!(p.stats.evicted, 1);
        p.add(FragKey { id: 9, ..key() }, 0, true, b"x", 60_000_000_000);
        assert_eq!(p.stats.expired, 2);
    }
}

//! The bidirectional flow key and its symmetric hash: both directions of a connection map to the
//! same key and the same hash, so that one flow always lands on one worker and one table entry.

use std::net::IpAddr;

/// Endpoints of a flow in canonical order (`lo` < `hi`), plus the transport protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// The lower endpoint (address, port).
    pub lo: (IpAddr, u16),
    /// The higher endpoint.
    pub hi: (IpAddr, u16),
    /// IP protocol.
    pub proto: u8,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and whether the packet goes lo → hi.
    pub fn of(src: (IpAddr, u16), dst: (IpAddr, u16), proto: u8) -> (FlowKey, bool) {
        if src <= dst {
            (
                FlowKey {
                    lo: src,
                    hi: dst,
                    proto,
                },
                true,
            )
        } else {
            (
                FlowKey {
                    lo: dst,
                    hi: src,
                    proto,
                },
                false,
            )
        }
    }

    /// A fast hash of the canonical key (the same for both directions).
    pub fn hash64(&self) -> u64 {
        self.hashes().1
    }

    /// The hash of the two addresses only ([`FlowKey::pair_hash`]) and of the whole key, in
    /// one pass.
    pub fn hashes(&self) -> (u64, u64) {
        let (a, b) = if self.lo.0 <= self.hi.0 {
            (self.lo.0, self.hi.0)
        } else {
            (self.hi.0, self.lo.0)
        };
        let mut h = Mix::new(0x9e37);
        for ip in [a, b] {
            match ip {
                IpAddr::V4(x) => h.add(u32::from(x) as u64),
                IpAddr::V6(x) => {
                    let v = u128::from(x);
                    h.add(v as u64);
                    h.add((v >> 64) as u64);
                }
            }
        }
        let pair = h.finish();
        // Ports in canonical order complete the key (the addresses may be equal).
        h.add(((self.lo.1 as u64) << 24) | ((self.hi.1 as u64) << 8) | self.proto as u64);
        (pair, h.finish())
    }
}

impl FlowKey {
    /// A hash of the two addresses only, the same whatever the ports and direction: every flow
    /// between two hosts shares it, so that they can be sent to the same worker (whose memory
    /// of that pair then sees them in capture order).
    pub fn pair_hash(&self) -> u64 {
        self.hashes().0
    }
}

/// A small multiply-rotate mixer (in the manner of FxHash) with a final avalanche, so that the
/// low bits used for sharding and table buckets are well spread.
struct Mix(u64);

impl Mix {
    const K: u64 = 0x517c_c1b7_2722_0a95;
    fn new(seed: u64) -> Self {
        Mix(seed.wrapping_mul(Self::K))
    }
    fn add(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(Self::K);
    }
    fn finish(&self) -> u64 {
        let mut x = self.0;
        x ^= x >> 33;
        x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
        x ^= x >> 33;
        x
    }
}

/// Suricata-style flow id: positive 63-bit, from the key's hash and the flow's start time.
pub fn flow_id(hash: u64, first_ts: u64) -> u64 {
    let mut m = Mix::new(hash);
    m.add(first_ts);
    m.finish() & 0x7fff_ffff_ffff_ffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_share_key_and_hash() {
        let a = ("10.0.0.1".parse().unwrap(), 40000);
        let b = ("10.0.0.2".parse().unwrap(), 3333);
        let (k1, d1) = FlowKey::of(a, b, 6);
        let (k2, d2) = FlowKey::of(b, a, 6);
        assert_eq!(k1, k2);
        assert_ne!(d1, d2);
        assert_eq!(k1.hash64(), k2.hash64());
        let (k3, _) = FlowKey::of(a, b, 17);
        assert_ne!(k1.hash64(), k3.hash64());
    }
}

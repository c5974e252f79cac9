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
        // Compared as numbers, which order as the addresses do.
        let from_lo = match (src.0, dst.0) {
            (IpAddr::V4(a), IpAddr::V4(b)) => (u32::from(a), src.1) <= (u32::from(b), dst.1),
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), src.1) <= (u128::from(b), dst.1),
            _ => src <= dst,
        };
        let (lo, hi) = if from_lo { (src, dst) } else { (dst, src) };
        (FlowKey { lo, hi, proto }, from_lo)
    }

    /// A fast hash of the canonical key (the same for both directions).
    pub fn hash64(&self) -> u64 {
        self.hashes().1
    }

    /// The hash of the two addresses only ([`FlowKey::pair_hash`]) and of the whole key, in
    /// one pass.
    pub fn hashes(&self) -> (u64, u64) {
        let mut h = Mix::new(0x9e37);
        // The addresses are in order already: the key is ordered by address first.
        for ip in [self.lo.0, self.hi.0] {
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

    #[test]
    fn keys_order_as_their_endpoints_and_hashes_stay_what_they_were() {
        let ends: [(IpAddr, u16); 6] = [
            ("10.0.0.1".parse().unwrap(), 9),
            ("10.0.0.1".parse().unwrap(), 80),
            ("192.168.0.1".parse().unwrap(), 1),
            ("::1".parse().unwrap(), 5),
            ("2001:db8::1".parse().unwrap(), 443),
            ("2001:db8::2".parse().unwrap(), 1),
        ];
        for x in ends {
            for y in ends {
                let (k, from_lo) = FlowKey::of(x, y, 6);
                assert_eq!(from_lo, x <= y, "{x:?} {y:?}");
                assert_eq!((k.lo, k.hi), (x.min(y), x.max(y)));
            }
        }
        // Flow ids are made from this hash: pinned to what earlier builds gave.
        assert_eq!(
            FlowKey::of(ends[0], ends[2], 6).0.hash64(),
            0x73d6_d571_4fc7_28f8
        );
        assert_eq!(
            FlowKey::of(ends[4], ends[5], 17).0.hash64(),
            0x09f1_03da_bd54_04a8
        );
        // Other ports between the same two hosts: the same pair hash.
        let (p, _) = FlowKey::of(("10.0.0.2".parse().unwrap(), 1), ends[1], 6);
        let (q, _) = FlowKey::of(("10.0.0.2".parse().unwrap(), 100), ends[1], 6);
        assert_eq!(p.pair_hash(), q.pair_hash());
    }
}

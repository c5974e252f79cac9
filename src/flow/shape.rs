//! A flow's traffic shape: timing and sizes of its payload-carrying packets, per direction, and
//! its conversation rhythm.

use super::rhythm::Rhythm;

/// Timing and sizes of a flow's payload-carrying packets, per direction (indexed by
/// [`super::Dir::index`]). Kept for every TCP flow at a few arithmetic operations per packet.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Shape {
    /// Packets with payload, per direction.
    pub payload_packets: [u64; 2],
    /// Payload bytes, per direction.
    pub payload_bytes: [u64; 2],
    /// Largest payload, per direction.
    pub max_payload: [u32; 2],
    last_ts: [u64; 2],
    /// Gaps between consecutive payload packets: count, mean and sum of squared deviations
    /// (seconds), per direction (Welford).
    gaps: [(u64, f64, f64); 2],
    /// The conversation in messages (TLS records or packets): who starts, who answers.
    pub rhythm: Rhythm,
}

impl Shape {
    pub(crate) fn add(&mut self, d: usize, ts: u64, payload: &[u8]) {
        self.rhythm.add(d, ts, payload);
        let len = payload.len();
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

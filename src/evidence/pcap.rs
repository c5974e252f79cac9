//! A flow's kept frames as a classic pcap (nanosecond timestamps), readable by any pcap tool.

use crate::flow::Evidence;

pub fn write(ev: &Evidence) -> Vec<u8> {
    let mut out = Vec::with_capacity(24 + ev.data.len() + 16 * ev.frames.len());
    out.extend_from_slice(&0xa1b2_3c4du32.to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes());
    out.extend_from_slice(&4u16.to_le_bytes());
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&262_144u32.to_le_bytes());
    out.extend_from_slice(&u32::from(ev.link).to_le_bytes());
    for (i, &(ts, wire, _, len)) in ev.frames.iter().enumerate() {
        let Some(frame) = ev.frame(i) else { continue };
        out.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&((ts % 1_000_000_000) as u32).to_le_bytes());
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&wire.max(len).to_le_bytes());
        out.extend_from_slice(frame);
    }
    out
}

//! Classic pcap: a 24-byte file header, then 16-byte record headers each followed by the bytes.
//! Both byte orders, microsecond (`a1b2c3d4`) and nanosecond (`a1b23c4d`) timestamps.

use super::{CaptureParser, RawPacket, Step};
use crate::wire::Endian;

const MAGIC_US: u32 = 0xa1b2_c3d4;
const MAGIC_NS: u32 = 0xa1b2_3c4d;
const FILE_HEADER_LEN: usize = 24;
const RECORD_HEADER_LEN: usize = 16;
/// Largest record accepted whatever the snap length says (what libpcap allows).
const MAX_RECORD: u32 = 262_144;

/// A record header: capture time (seconds and fraction), captured and original length.
struct RecordHeader {
    secs: u32,
    frac: u32,
    incl: u32,
    orig: u32,
}

impl RecordHeader {
    /// The header at the start of `b`, if all of it is there.
    fn read(e: Endian, b: &[u8]) -> Option<RecordHeader> {
        let h = b.first_chunk::<16>()?;
        Some(RecordHeader {
            secs: e.u32_of([h[0], h[1], h[2], h[3]]),
            frac: e.u32_of([h[4], h[5], h[6], h[7]]),
            incl: e.u32_of([h[8], h[9], h[10], h[11]]),
            orig: e.u32_of([h[12], h[13], h[14], h[15]]),
        })
    }
}

#[derive(Debug)]
/// Reads classic pcap files, record by record.
pub struct PcapParser {
    endian: Endian,
    nanos: bool,
    link: u16,
    max_len: u32,
    header_seen: bool,
}

impl PcapParser {
    /// A parser for the file whose first bytes are `magic`, if they are a pcap magic number.
    pub fn from_magic(magic: &[u8]) -> Option<Self> {
        let m: [u8; 4] = magic.get(..4)?.try_into().ok()?;
        let (endian, nanos) = match (u32::from_le_bytes(m), u32::from_be_bytes(m)) {
            (MAGIC_US, _) => (Endian::Little, false),
            (MAGIC_NS, _) => (Endian::Little, true),
            (_, MAGIC_US) => (Endian::Big, false),
            (_, MAGIC_NS) => (Endian::Big, true),
            _ => return None,
        };
        Some(PcapParser {
            endian,
            nanos,
            link: 0,
            max_len: MAX_RECORD,
            header_seen: false,
        })
    }
}

impl CaptureParser for PcapParser {
    fn step<'a>(&mut self, buf: &'a [u8], pos: usize) -> Step<'a> {
        let rest = &buf[pos.min(buf.len())..];
        if !self.header_seen {
            let e = self.endian;
            let (Some(major), Some(snaplen), Some(link)) =
                (e.u16(rest, 4), e.u32(rest, 16), e.u32(rest, 20))
            else {
                return Step::NeedMore;
            };
            if major != 2 {
                return Step::Damaged("unsupported pcap version");
            }
            // The upper bits of the link-type field carry FCS information; the type is the low 16.
            self.link = (link & 0xffff) as u16;
            self.max_len = snaplen.max(MAX_RECORD);
            self.header_seen = true;
            return Step::Skip {
                next: pos + FILE_HEADER_LEN,
            };
        }
        let Some(RecordHeader {
            secs,
            frac,
            incl,
            orig,
        }) = RecordHeader::read(self.endian, rest)
        else {
            return Step::NeedMore;
        };
        let (secs, frac) = (secs as u64, frac as u64);
        if incl > self.max_len {
            return Step::Damaged("pcap record longer than the snap length");
        }
        let end = RECORD_HEADER_LEN + incl as usize;
        if rest.len() < end {
            return Step::NeedMore;
        }
        let frac_ns = if self.nanos { frac } else { frac * 1000 };
        if frac_ns >= 1_000_000_000 {
            return Step::Damaged("pcap record timestamp fraction out of range");
        }
        Step::Packet {
            pkt: RawPacket {
                ts_ns: secs * 1_000_000_000 + frac_ns,
                link: self.link,
                data: &rest[RECORD_HEADER_LEN..end],
                orig_len: orig.max(incl),
                offset: pos + RECORD_HEADER_LEN,
            },
            next: pos + end,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(big: bool, nanos: bool, recs: &[(u32, u32, &[u8])]) -> Vec<u8> {
        let magic = if nanos { MAGIC_NS } else { MAGIC_US };
        let w32 = |v: &mut Vec<u8>, x: u32| {
            v.extend_from_slice(&if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            })
        };
        let mut v = Vec::new();
        w32(&mut v, magic);
        let (maj, min) = (2u16, 4u16);
        for x in [maj, min] {
            v.extend_from_slice(&if big {
                x.to_be_bytes()
            } else {
                x.to_le_bytes()
            });
        }
        for x in [0, 0, 65535, 1] {
            w32(&mut v, x);
        }
        for (s, f, d) in recs {
            for x in [*s, *f, d.len() as u32, d.len() as u32] {
                w32(&mut v, x);
            }
            v.extend_from_slice(d);
        }
        v
    }

    fn all(buf: &[u8]) -> (Vec<(u64, Vec<u8>)>, Option<&'static str>) {
        let mut p = PcapParser::from_magic(buf).expect("magic");
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            match p.step(buf, pos) {
                Step::Packet { pkt, next } => {
                    out.push((pkt.ts_ns, pkt.data.to_vec()));
                    pos = next
                }
                Step::Skip { next } => pos = next,
                Step::NeedMore => return (out, None),
                Step::Damaged(r) => return (out, Some(r)),
            }
        }
    }

    #[test]
    fn both_byte_orders_and_resolutions() {
        for big in [false, true] {
            for nanos in [false, true] {
                let f = file(big, nanos, &[(10, 5, b"abc"), (11, 0, b"")]);
                let (pk, err) = all(&f);
                assert_eq!(err, None);
                let unit = if nanos { 1 } else { 1000 };
                assert_eq!(pk[0], (10_000_000_000 + 5 * unit, b"abc".to_vec()));
                assert_eq!(pk[1].0, 11_000_000_000);
            }
        }
    }

    #[test]
    fn oversized_record_is_damage_not_panic() {
        let mut f = file(false, false, &[(1, 0, b"abcd")]);
        f[24 + 8..24 + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let (pk, err) = all(&f);
        assert!(pk.is_empty());
        assert_eq!(err, Some("pcap record longer than the snap length"));
    }

    #[test]
    fn truncated_record_needs_more() {
        let f = file(false, false, &[(1, 0, b"abcdef")]);
        let (pk, err) = all(&f[..f.len() - 2]);
        assert!(pk.is_empty() && err.is_none());
    }
}

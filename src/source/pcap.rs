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
/// Records that must chain, each plausible, for a guessed boundary to be taken.
const RESYNC_CHAIN: usize = 16;
/// Most seconds between two records of a chain (captures merged with gaps in between).
const RESYNC_GAP_S: u32 = 30 * 86_400;
/// Bytes searched for a boundary before giving up.
const RESYNC_SEARCH: usize = 4 << 20;

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

#[derive(Debug, Clone)]
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

impl PcapParser {
    /// Whether a record header could be at `pos`: its lengths within the snap length (and
    /// the wire length no shorter), its fraction of a second in range. Returns where the
    /// record ends and its seconds.
    fn plausible(&self, buf: &[u8], pos: usize, since: u32) -> Option<(usize, u32)> {
        let h = RecordHeader::read(self.endian, buf.get(pos..)?)?;
        let frac_max = if self.nanos { 1_000_000_000 } else { 1_000_000 };
        // An empty record or a time of zero is taken for a run of zero bytes, not a record;
        // a time well before the file's first record, for bytes seen a few places off a
        // record header (its fraction, or a length, taken for the seconds).
        let ok = h.incl > 0
            && h.secs >= since
            && h.incl <= self.max_len
            && (h.incl..=self.max_len).contains(&h.orig)
            && h.frac < frac_max;
        ok.then_some((pos + RECORD_HEADER_LEN + h.incl as usize, h.secs))
    }

    /// Whether `RESYNC_CHAIN` plausible records follow one another from `pos` (or reach the
    /// end of `buf` exactly), their times within `RESYNC_GAP_S` of each other and no earlier
    /// than `since`.
    fn chains_from(&self, buf: &[u8], mut pos: usize, since: u32) -> bool {
        let mut last_secs = None;
        for _ in 0..RESYNC_CHAIN {
            if pos == buf.len() {
                return last_secs.is_some();
            }
            let Some((end, secs)) = self.plausible(buf, pos, since) else {
                return false;
            };
            if end > buf.len() || last_secs.is_some_and(|l: u32| l.abs_diff(secs) > RESYNC_GAP_S) {
                return false;
            }
            last_secs = Some(secs);
            pos = end;
        }
        true
    }
}

impl CaptureParser for PcapParser {
    fn fork(&self) -> Box<dyn CaptureParser> {
        Box::new(self.clone())
    }

    fn resync(&self, buf: &[u8], from: usize) -> Option<usize> {
        if !self.header_seen {
            return None;
        }
        // `buf` is the whole file: its first record dates it (a day's slack for records a
        // little out of order).
        let first = RecordHeader::read(self.endian, buf.get(FILE_HEADER_LEN..)?)?;
        let since = first.secs.saturating_sub(86_400).max(1);
        let until = from.saturating_add(RESYNC_SEARCH).min(buf.len());
        (from.max(FILE_HEADER_LEN)..until).find(|&p| self.chains_from(buf, p, since))
    }

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

    /// A parser that has read the file header of `f`.
    fn past_header(f: &[u8]) -> PcapParser {
        let mut p = PcapParser::from_magic(f).expect("magic");
        assert!(matches!(p.step(f, 0), Step::Skip { next: 24 }));
        p
    }

    #[test]
    fn resync_finds_the_record_boundary_after_an_offset() {
        // Records whose bytes look like record headers with a wrong length: the chain of real
        // ones is found, not the imitation inside the data.
        let mut decoy = Vec::new();
        for x in [1u32, 0, 20, 20] {
            decoy.extend_from_slice(&x.to_le_bytes());
        }
        decoy.extend_from_slice(&[0u8; 20]);
        let recs: Vec<(u32, u32, Vec<u8>)> = (0..40)
            .map(|i| {
                (
                    1_700_000_000 + i,
                    i * 10,
                    [decoy.clone(), vec![i as u8; i as usize]].concat(),
                )
            })
            .collect();
        let refs: Vec<(u32, u32, &[u8])> = recs.iter().map(|(s, f, d)| (*s, *f, &d[..])).collect();
        let f = file(false, false, &refs);
        let p = past_header(&f);
        let mut starts = vec![24];
        for r in &recs[..recs.len() - 1] {
            starts.push(starts.last().unwrap() + 16 + r.2.len());
        }
        for from in [24, 25, 100, 500, 1000] {
            let want = starts.iter().copied().find(|&s| s >= from);
            assert_eq!(p.resync(&f, from), want, "from {from}");
        }
        // Near the end, a shorter chain that ends exactly at the end of the file is enough.
        let last = *starts.last().unwrap();
        assert_eq!(p.resync(&f, last), Some(last));
        assert_eq!(p.resync(&f, last + 1), None);
    }

    #[test]
    fn truncated_record_needs_more() {
        let f = file(false, false, &[(1, 0, b"abcdef")]);
        let (pk, err) = all(&f[..f.len() - 2]);
        assert!(pk.is_empty() && err.is_none());
    }
}

//! pcapng: sections (SHB) with their own byte order, interfaces (IDB) with their own link type
//! and timestamp resolution, and packets in enhanced (EPB), simple (SPB) and obsolete (OPB) blocks.
//! Other block types are skipped.

use super::{CaptureParser, RawPacket, Step};
use crate::wire::Endian;

pub(crate) const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 1;
const OPB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const EPB_TYPE: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// Blocks larger than this are taken as damage rather than buffered.
const MAX_BLOCK: u32 = 64 << 20;
const MAX_INTERFACES: usize = 4096;

#[derive(Debug, Clone, Copy)]
struct Interface {
    link: u16,
    snaplen: u32,
    /// Timestamp unit: 10^-n (decimal) or 2^-n (binary).
    tsresol: u8,
    /// if_tsoffset, seconds added to every timestamp.
    offset_s: i64,
}

impl Interface {
    fn ts_ns(&self, raw: u64) -> u64 {
        let r = self.tsresol;
        let ns: u128 = if r & 0x80 == 0 {
            let exp = (r & 0x7f) as u32;
            if exp <= 9 {
                raw as u128 * 10u128.pow(9 - exp)
            } else {
                raw as u128 / 10u128.pow((exp - 9).min(38))
            }
        } else {
            let exp = (r & 0x7f) as u32;
            (raw as u128 * 1_000_000_000) >> exp.min(127)
        };
        let ns = ns.min(u64::MAX as u128) as u64;
        ns.saturating_add_signed(self.offset_s.saturating_mul(1_000_000_000))
    }
}

#[derive(Debug, Default, Clone)]
/// Reads pcapng files, block by block.
pub struct PcapngParser {
    endian: Option<Endian>,
    interfaces: Vec<Interface>,
    last_ts: u64,
}

impl PcapngParser {
    fn parse_idb(&mut self, e: Endian, body: &[u8]) -> Result<(), &'static str> {
        const SHORT: &str = "pcapng interface block too short";
        if self.interfaces.len() >= MAX_INTERFACES {
            return Err("pcapng section declares too many interfaces");
        }
        let mut ifc = Interface {
            link: e.u16(body, 0).ok_or(SHORT)?,
            snaplen: e.u32(body, 4).ok_or(SHORT)?,
            tsresol: 6,
            offset_s: 0,
        };
        let mut opts = &body[8..];
        while let (Some(code), Some(len)) = (e.u16(opts, 0), e.u16(opts, 2)) {
            let len = len as usize;
            let padded = (len + 3) & !3;
            let Some(val) = opts.get(4..4 + len) else {
                return Err("pcapng interface option runs past its block");
            };
            match (code, len) {
                (0, _) => break,
                (9, 1) => ifc.tsresol = val[0],
                (14, 8) => {
                    let (Some(hi), Some(lo)) = (e.u32(val, 0), e.u32(val, 4)) else {
                        break;
                    };
                    let (hi, lo) = (hi as u64, lo as u64);
                    let v = match e {
                        Endian::Little => (hi) | (lo << 32),
                        Endian::Big => (hi << 32) | lo,
                    };
                    ifc.offset_s = v as i64;
                }
                _ => {}
            }
            opts = &opts[(4 + padded).min(opts.len())..];
        }
        self.interfaces.push(ifc);
        Ok(())
    }

    #[inline]
    fn packet<'a>(
        &mut self,
        e: Endian,
        btype: u32,
        body: &'a [u8],
    ) -> Result<RawPacket<'a>, &'static str> {
        let (ifc, ts, data_off, cap, orig) = match btype {
            EPB_TYPE | OPB_TYPE => {
                // Interface id (u32; u16 in the obsolete block), time high and low, captured
                // and original length.
                let Some(h) = body.first_chunk::<20>() else {
                    return Err("pcapng packet block too short");
                };
                let id = if btype == EPB_TYPE {
                    e.u32_of([h[0], h[1], h[2], h[3]]) as usize
                } else {
                    usize::from(e.u16_of([h[0], h[1]]))
                };
                let hi = e.u32_of([h[4], h[5], h[6], h[7]]);
                let lo = e.u32_of([h[8], h[9], h[10], h[11]]);
                let cap = e.u32_of([h[12], h[13], h[14], h[15]]);
                let orig = e.u32_of([h[16], h[17], h[18], h[19]]);
                let ifc = *self
                    .interfaces
                    .get(id)
                    .ok_or("pcapng packet names an interface that was not declared")?;
                let raw = ((hi as u64) << 32) | lo as u64;
                (ifc, ifc.ts_ns(raw), 20, cap as usize, orig)
            }
            _ => {
                // SPB: no timestamp (the previous one is kept), length capped by the snap length.
                let orig = e
                    .u32(body, 0)
                    .ok_or("pcapng simple packet block too short")?;
                let ifc = *self
                    .interfaces
                    .first()
                    .ok_or("pcapng simple packet block before any interface")?;
                let mut cap = (orig as usize).min(body.len() - 4);
                if ifc.snaplen != 0 {
                    cap = cap.min(ifc.snaplen as usize);
                }
                (ifc, self.last_ts, 4, cap, orig)
            }
        };
        let data = body
            .get(data_off..data_off + cap)
            .ok_or("pcapng packet data runs past its block")?;
        self.last_ts = ts;
        Ok(RawPacket {
            ts_ns: ts,
            link: ifc.link,
            data,
            orig_len: orig.max(cap as u32),
            // Within the block's body; `step` adds where the body starts.
            offset: data_off,
        })
    }
}

impl CaptureParser for PcapngParser {
    fn fork(&self) -> Box<dyn CaptureParser> {
        Box::new(self.clone())
    }

    fn step<'a>(&mut self, buf: &'a [u8], pos: usize) -> Step<'a> {
        let rest = &buf[pos.min(buf.len())..];
        // Block type, total length, and (in a section header) the byte-order magic.
        let Some(h) = rest.first_chunk::<12>() else {
            return Step::NeedMore;
        };
        let (btype_raw, len_raw, bom) = (
            [h[0], h[1], h[2], h[3]],
            [h[4], h[5], h[6], h[7]],
            [h[8], h[9], h[10], h[11]],
        );
        let e = if u32::from_le_bytes(btype_raw) == SHB_TYPE {
            // A new section: its byte-order magic decides how everything in it is read.
            let e = if u32::from_le_bytes(bom) == BYTE_ORDER_MAGIC {
                Endian::Little
            } else if u32::from_be_bytes(bom) == BYTE_ORDER_MAGIC {
                Endian::Big
            } else {
                return Step::Damaged("pcapng section header has no valid byte-order magic");
            };
            self.endian = Some(e);
            self.interfaces.clear();
            e
        } else {
            match self.endian {
                Some(e) => e,
                None => return Step::Damaged("pcapng data before a section header"),
            }
        };
        let (btype, len) = (e.u32_of(btype_raw), e.u32_of(len_raw));
        if len < 12 || len % 4 != 0 || len > MAX_BLOCK {
            return Step::Damaged("pcapng block length is invalid");
        }
        let len = len as usize;
        if rest.len() < len {
            return Step::NeedMore;
        }
        if e.u32(rest, len - 4) != Some(len as u32) {
            return Step::Damaged("pcapng block trailing length does not match");
        }
        let body = &rest[8..len - 4];
        let next = pos + len;
        let res = match btype {
            SHB_TYPE => Ok(None),
            IDB_TYPE => self.parse_idb(e, body).map(|_| None),
            EPB_TYPE | SPB_TYPE | OPB_TYPE => self.packet(e, btype, body).map(Some),
            _ => Ok(None),
        };
        match res {
            Ok(Some(mut pkt)) => {
                pkt.offset += pos + 8;
                Step::Packet { pkt, next }
            }
            Ok(None) => Step::Skip { next },
            Err(r) => Step::Damaged(r),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_resolutions() {
        let mut i = Interface {
            link: 1,
            snaplen: 0,
            tsresol: 6,
            offset_s: 0,
        };
        assert_eq!(i.ts_ns(1_500_000), 1_500_000_000);
        i.tsresol = 9;
        assert_eq!(i.ts_ns(7), 7);
        i.tsresol = 0x80 | 10; // 2^-10 s
        assert_eq!(i.ts_ns(1024), 1_000_000_000);
        i.tsresol = 3;
        i.offset_s = 10;
        assert_eq!(i.ts_ns(1), 10_001_000_000);
    }

    #[test]
    fn garbage_block_length_is_damage() {
        let mut b = Vec::new();
        b.extend_from_slice(&SHB_TYPE.to_le_bytes());
        b.extend_from_slice(&13u32.to_le_bytes());
        b.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        let mut p = PcapngParser::default();
        assert!(matches!(
            p.step(&b, 0),
            Step::Damaged("pcapng block length is invalid")
        ));
    }
}

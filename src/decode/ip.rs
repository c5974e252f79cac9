//! IPv4 and IPv6 headers: addresses, the transport protocol, its bytes, and fragment fields.

use super::{be16, be32, Skip};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const MAX_EXT_HEADERS: usize = 8;

#[derive(Debug, Clone, Copy)]
pub struct Fragment {
    pub id: u32,
    pub offset: usize,
    pub more: bool,
}

#[derive(Debug)]
pub struct L3<'a> {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub payload: &'a [u8],
    pub fragment: Option<Fragment>,
}

#[inline]
pub fn v4(d: &[u8]) -> Result<L3<'_>, Skip> {
    let b0 = *d.first().ok_or(Skip::Truncated)?;
    let ihl = ((b0 & 0x0f) as usize) * 4;
    if b0 >> 4 != 4 || ihl < 20 {
        return Err(Skip::BadIpHeader);
    }
    if d.len() < ihl {
        return Err(Skip::Truncated);
    }
    let total = be16(d, 2)? as usize;
    if total < ihl {
        return Err(Skip::BadIpHeader);
    }
    // Frames shorter than the header says were cut by the snap length: use what is there.
    // Longer frames carry link padding: cut it off.
    let end = total.min(d.len());
    let flags_off = be16(d, 6)?;
    let more = flags_off & 0x2000 != 0;
    let offset = ((flags_off & 0x1fff) as usize) * 8;
    let src = Ipv4Addr::new(d[12], d[13], d[14], d[15]);
    let dst = Ipv4Addr::new(d[16], d[17], d[18], d[19]);
    Ok(L3 {
        src: IpAddr::V4(src),
        dst: IpAddr::V4(dst),
        proto: d[9],
        payload: &d[ihl..end],
        fragment: (more || offset != 0).then(|| Fragment {
            id: be16(d, 4).unwrap_or(0) as u32,
            offset,
            more,
        }),
    })
}

#[inline]
pub fn v6(d: &[u8]) -> Result<L3<'_>, Skip> {
    if d.len() < 40 {
        return Err(Skip::Truncated);
    }
    if d[0] >> 4 != 6 {
        return Err(Skip::BadIpHeader);
    }
    let plen = be16(d, 4)? as usize;
    let end = if plen == 0 {
        d.len()
    } else {
        (40 + plen).min(d.len())
    };
    let addr = |o: usize| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&d[o..o + 16]);
        IpAddr::V6(Ipv6Addr::from(a))
    };
    let mut next = d[6];
    let mut off = 40;
    let mut fragment = None;
    for _ in 0..=MAX_EXT_HEADERS {
        match next {
            // hop-by-hop, routing, destination options, mobility: length in 8-octet units.
            0 | 43 | 60 | 135 => {
                let h = d.get(off..off + 2).ok_or(Skip::Truncated)?;
                next = h[0];
                off += (h[1] as usize + 1) * 8;
            }
            // authentication header: length in 4-octet units, minus 2.
            51 => {
                let h = d.get(off..off + 2).ok_or(Skip::Truncated)?;
                next = h[0];
                off += (h[1] as usize + 2) * 4;
            }
            44 => {
                let h = d.get(off..off + 8).ok_or(Skip::Truncated)?;
                next = h[0];
                let fo = be16(h, 2)?;
                fragment = Some(Fragment {
                    id: be32(h, 4)?,
                    offset: ((fo >> 3) as usize) * 8,
                    more: fo & 1 != 0,
                });
                off += 8;
                if fragment.is_some_and(|f| f.offset == 0 && !f.more) {
                    fragment = None; // an atomic fragment is a whole datagram
                }
            }
            _ => {
                if off > end {
                    return Err(Skip::Truncated);
                }
                return Ok(L3 {
                    src: addr(8),
                    dst: addr(24),
                    proto: next,
                    payload: &d[off..end],
                    fragment,
                });
            }
        }
    }
    Err(Skip::TooManyHeaders)
}

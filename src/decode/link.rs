//! Link layers: from a captured frame to the ethertype and bytes of the network layer.

use super::{be16, Skip};
use crate::source::linktype;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const MAX_VLAN_TAGS: usize = 4;

/// Returns the ethertype of the network layer and its bytes.
pub fn strip(link: u16, d: &[u8]) -> Result<(u16, &[u8]), Skip> {
    match link {
        linktype::ETHERNET => ethernet(d),
        linktype::LINUX_SLL => {
            let et = be16(d, 14)?;
            Ok((et, &d[16..]))
        }
        linktype::LINUX_SLL2 => {
            let et = be16(d, 0)?;
            d.get(20..).map(|p| (et, p)).ok_or(Skip::Truncated)
        }
        linktype::RAW | linktype::IPV4 | linktype::IPV6 => by_version(d),
        linktype::NULL | linktype::LOOP => {
            let fam = d.get(..4).ok_or(Skip::Truncated)?;
            // NULL stores the address family in the capturing host's byte order, LOOP in
            // network order; the values in use are small, so either order is recognised.
            let v = u32::from_le_bytes([fam[0], fam[1], fam[2], fam[3]]);
            let v = if v > 0xffff { v.swap_bytes() } else { v };
            match v {
                2 => Ok((ETHERTYPE_IPV4, &d[4..])),
                24 | 28 | 30 => Ok((ETHERTYPE_IPV6, &d[4..])),
                _ => Err(Skip::NotIp),
            }
        }
        _ => Err(Skip::UnknownLinkType),
    }
}

fn ethernet(d: &[u8]) -> Result<(u16, &[u8]), Skip> {
    let mut et = be16(d, 12)?;
    let mut off = 14;
    let mut tags = 0;
    while matches!(et, ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD) {
        tags += 1;
        if tags > MAX_VLAN_TAGS {
            return Err(Skip::TooManyHeaders);
        }
        et = be16(d, off + 2)?;
        off += 4;
    }
    Ok((et, &d[off..]))
}

fn by_version(d: &[u8]) -> Result<(u16, &[u8]), Skip> {
    match d.first().map(|b| b >> 4) {
        Some(4) => Ok((ETHERTYPE_IPV4, d)),
        Some(6) => Ok((ETHERTYPE_IPV6, d)),
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Truncated),
    }
}

//! IP tunnels mirrored traffic arrives in — GRE (with ERSPAN type II and III inside), VXLAN,
//! GTP-U and IP-in-IP: from an outer IP packet to the inner network layer.

use super::ip::L3;
use super::link::{self, note, Encap, EncapKind};
use super::{be16, be32, Skip, PROTO_UDP};

const VXLAN_PORT: u16 = 4789;
const GTPU_PORT: u16 = 2152;

/// If `ip` carries a tunnel, the inner network layer's ethertype and bytes.
pub fn inner<'a>(ip: &L3<'a>, encap: &mut Option<Encap>) -> Result<Option<(u16, &'a [u8])>, Skip> {
    let outer = Some((ip.src, ip.dst));
    let d = ip.payload;
    match ip.proto {
        4 => {
            note(encap, EncapKind::IpInIp, outer, 0);
            Ok(Some((link::ETHERTYPE_IPV4, d)))
        }
        41 => {
            note(encap, EncapKind::IpInIp, outer, 0);
            Ok(Some((link::ETHERTYPE_IPV6, d)))
        }
        47 => gre(d, outer, encap).map(Some),
        PROTO_UDP => {
            let (sport, dport) = (be16(d, 0)?, be16(d, 2)?);
            let body = d.get(8..).ok_or(Skip::Truncated)?;
            if dport == VXLAN_PORT {
                // flags (I bit), reserved, VNI (24 bits), reserved; then an Ethernet frame.
                if body.first().is_some_and(|f| f & 0x08 != 0) {
                    note(encap, EncapKind::Vxlan, outer, be32(body, 4)? >> 8);
                    return link::ethernet(body.get(8..).ok_or(Skip::Truncated)?, encap).map(Some);
                }
            } else if dport == GTPU_PORT || sport == GTPU_PORT {
                return gtpu(body, outer, encap);
            }
            Ok(None)
        }
        _ => Ok(None),
    }
}

fn gre<'a>(
    d: &'a [u8],
    outer: Option<(std::net::IpAddr, std::net::IpAddr)>,
    encap: &mut Option<Encap>,
) -> Result<(u16, &'a [u8]), Skip> {
    let flags = be16(d, 0)?;
    let proto = be16(d, 2)?;
    if flags & 0x0007 != 0 {
        return Err(Skip::BadIpHeader); // only GRE version 0
    }
    let mut off = 4;
    if flags & 0x8000 != 0 {
        off += 4; // checksum and reserved
    }
    let mut key = 0;
    if flags & 0x2000 != 0 {
        key = be32(d, off)?;
        off += 4;
    }
    if flags & 0x1000 != 0 {
        off += 4; // sequence number
    }
    let body = d.get(off..).ok_or(Skip::Truncated)?;
    match proto {
        0x0800 | 0x86DD => {
            note(encap, EncapKind::Gre, outer, key);
            Ok((proto, body))
        }
        0x6558 => {
            note(encap, EncapKind::Gre, outer, key);
            link::ethernet(body, encap)
        }
        0x88BE => {
            // ERSPAN type II: version/VLAN, COS/En/T/session id (10 bits), reserved/index.
            let session = u32::from(be16(body, 2)? & 0x03ff);
            note(encap, EncapKind::ErspanII, outer, session);
            link::ethernet(body.get(8..).ok_or(Skip::Truncated)?, encap)
        }
        0x22EB => {
            // ERSPAN type III: 12-byte header, plus an 8-byte platform subheader when O is set.
            let session = u32::from(be16(body, 2)? & 0x03ff);
            let o_bit = be16(body, 10)? & 0x0001 != 0;
            note(encap, EncapKind::ErspanIII, outer, session);
            let start = if o_bit { 20 } else { 12 };
            link::ethernet(body.get(start..).ok_or(Skip::Truncated)?, encap)
        }
        _ => Err(Skip::NotIp),
    }
}

/// GTP-U: flags, type (255 = G-PDU), length, TEID; optional sequence/N-PDU/next-extension
/// fields and extension headers; then the user's IP packet.
fn gtpu<'a>(
    d: &'a [u8],
    outer: Option<(std::net::IpAddr, std::net::IpAddr)>,
    encap: &mut Option<Encap>,
) -> Result<Option<(u16, &'a [u8])>, Skip> {
    let flags = *d.first().ok_or(Skip::Truncated)?;
    if flags >> 5 != 1 || d.get(1) != Some(&255) {
        return Ok(None); // not version 1, or not user data (echo, error indication, ...)
    }
    let teid = be32(d, 4)?;
    let mut off = 8;
    if flags & 0x07 != 0 {
        let mut next = *d.get(11).ok_or(Skip::Truncated)?;
        off = 12;
        let mut hops = 0;
        while next != 0 {
            hops += 1;
            let len = 4 * *d.get(off).ok_or(Skip::Truncated)? as usize;
            if len == 0 || hops > 8 {
                return Err(Skip::BadTransportHeader);
            }
            next = *d.get(off + len - 1).ok_or(Skip::Truncated)?;
            off += len;
        }
    }
    note(encap, EncapKind::GtpU, outer, teid);
    link::by_version(d.get(off..).ok_or(Skip::Truncated)?).map(Some)
}

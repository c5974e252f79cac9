//! Link layers: from a captured frame to the ethertype and bytes of the network layer.

use super::{be16, Skip};
use crate::source::linktype;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86DD;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88A8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MC: u16 = 0x8848;
const ETHERTYPE_PPPOE: u16 = 0x8864;
const MAX_VLAN_TAGS: usize = 4;
const MAX_MPLS_LABELS: usize = 8;

/// Returns the ethertype of the network layer and its bytes; MPLS label stacks and PPPoE
/// sessions on the way are noted in `encap`.
pub fn strip<'a>(
    link: u16,
    d: &'a [u8],
    encap: &mut Option<Encap>,
) -> Result<(u16, &'a [u8]), Skip> {
    match link {
        linktype::ETHERNET => ethernet(d, encap),
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
            // NULL stores the address family in the capturing host's byte order, LOOP in
            // network order; the values in use are small, so either order is recognised.
            let v = crate::wire::le32(d, 0).ok_or(Skip::Truncated)?;
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

/// An Ethernet frame (with VLAN tags, MPLS labels or a PPPoE session) to its network layer.
pub fn ethernet<'a>(d: &'a [u8], encap: &mut Option<Encap>) -> Result<(u16, &'a [u8]), Skip> {
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
    let rest = d.get(off..).ok_or(Skip::Truncated)?;
    match et {
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MC => mpls(rest, encap),
        ETHERTYPE_PPPOE => pppoe(rest, encap),
        _ => Ok((et, rest)),
    }
}

/// An MPLS label stack: labels up to the bottom-of-stack bit, then IP (told by its version).
fn mpls<'a>(d: &'a [u8], encap: &mut Option<Encap>) -> Result<(u16, &'a [u8]), Skip> {
    for i in 0..MAX_MPLS_LABELS {
        let e = super::be32(d, 4 * i)?;
        if i == 0 {
            note(encap, EncapKind::Mpls, None, e >> 12);
        }
        if e & 0x100 != 0 {
            return by_version(&d[4 * (i + 1)..]);
        }
    }
    Err(Skip::TooManyHeaders)
}

/// A PPPoE session: 6-byte header, then the PPP protocol (IPv4 0x0021, IPv6 0x0057).
fn pppoe<'a>(d: &'a [u8], encap: &mut Option<Encap>) -> Result<(u16, &'a [u8]), Skip> {
    let session = be16(d, 2)?;
    note(encap, EncapKind::Pppoe, None, u32::from(session));
    match be16(d, 6)? {
        0x0021 => Ok((ETHERTYPE_IPV4, &d[8..])),
        0x0057 => Ok((ETHERTYPE_IPV6, &d[8..])),
        _ => Err(Skip::NotIp),
    }
}

/// Encapsulations mirrored traffic arrives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EncapKind {
    /// An MPLS label stack.
    Mpls,
    /// A PPPoE session.
    Pppoe,
    /// GRE.
    Gre,
    /// ERSPAN type II.
    ErspanII,
    /// ERSPAN type III.
    ErspanIII,
    /// VXLAN.
    Vxlan,
    /// GTP-U (G-PDU).
    GtpU,
    /// IP in IP.
    IpInIp,
}

impl EncapKind {
    /// The name events give it.
    pub fn name(self) -> &'static str {
        match self {
            EncapKind::Mpls => "mpls",
            EncapKind::Pppoe => "pppoe",
            EncapKind::Gre => "gre",
            EncapKind::ErspanII => "erspan2",
            EncapKind::ErspanIII => "erspan3",
            EncapKind::Vxlan => "vxlan",
            EncapKind::GtpU => "gtpu",
            EncapKind::IpInIp => "ipip",
        }
    }
}

/// The outermost encapsulation a packet came in, and how many layers there were.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encap {
    /// The outermost encapsulation.
    pub kind: EncapKind,
    /// Tunnel endpoints, for IP tunnels.
    pub outer: Option<(std::net::IpAddr, std::net::IpAddr)>,
    /// Label, session, key, VNI or TEID.
    pub id: u32,
    /// Encapsulation layers unwrapped.
    pub layers: u8,
}

/// Records an encapsulation layer: the first one seen (the outermost) is kept.
pub fn note(
    encap: &mut Option<Encap>,
    kind: EncapKind,
    outer: Option<(std::net::IpAddr, std::net::IpAddr)>,
    id: u32,
) {
    match encap {
        Some(e) => e.layers = e.layers.saturating_add(1),
        None => {
            *encap = Some(Encap {
                kind,
                outer,
                id,
                layers: 1,
            })
        }
    }
}

pub fn by_version(d: &[u8]) -> Result<(u16, &[u8]), Skip> {
    match d.first().map(|b| b >> 4) {
        Some(4) => Ok((ETHERTYPE_IPV4, d)),
        Some(6) => Ok((ETHERTYPE_IPV6, d)),
        Some(_) => Err(Skip::NotIp),
        None => Err(Skip::Truncated),
    }
}

//! Frames and the capture files that hold them.

use std::net::IpAddr;

/// The link types the generator writes (numbers from the tcpdump.org LINKTYPE registry).
mod linktype {
    pub const NULL: u16 = 0;
    pub const ETHERNET: u16 = 1;
    pub const RAW: u16 = 101;
    pub const LINUX_SLL: u16 = 113;
    pub const LINUX_SLL2: u16 = 276;
}

/// The link layer a generated frame is wrapped in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum L2 {
    Ethernet,
    /// One 802.1Q tag.
    Vlan(u16),
    /// An 802.1ad outer tag and an 802.1Q inner tag.
    QinQ(u16, u16),
    /// Linux cooked capture v1.
    Sll,
    /// Linux cooked capture v2.
    Sll2,
    /// Raw IP, no link header.
    Raw,
    /// BSD loopback (4-byte address family, host order).
    Null,
    /// Ethernet with an MPLS label (bottom of stack).
    Mpls(u32),
    /// Ethernet with a PPPoE session.
    Pppoe(u16),
    /// Ethernet, outer IPv4 between the tunnel endpoints, and the tunnel.
    Tunnel(Tunnel),
}

/// IP tunnels the generator can wrap packets in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tunnel {
    /// GRE carrying IP, with a key.
    Gre(u32),
    /// GRE carrying ERSPAN type II (session id), then Ethernet.
    ErspanII(u16),
    /// GRE carrying ERSPAN type III (session id), then Ethernet.
    ErspanIII(u16),
    /// VXLAN (VNI), then Ethernet.
    Vxlan(u32),
    /// GTP-U G-PDU (TEID).
    GtpU(u32),
    /// IPv4 in IPv4.
    IpIp,
}

/// The tunnel endpoints the generator uses.
pub const TUNNEL_SRC: [u8; 4] = [192, 0, 2, 250];
pub const TUNNEL_DST: [u8; 4] = [192, 0, 2, 251];

/// An IPv4 packet with a raw payload of protocol `proto`.
fn ipv4_raw(proto: u8, payload: &[u8]) -> Vec<u8> {
    let h = etherparse::Ipv4Header::new(
        payload.len() as u16,
        64,
        etherparse::IpNumber(proto),
        TUNNEL_SRC,
        TUNNEL_DST,
    )
    .expect("payload fits an IPv4 packet");
    let mut v = Vec::with_capacity(20 + payload.len());
    h.write(&mut v).expect("writing to a Vec");
    v.extend_from_slice(payload);
    v
}

impl Tunnel {
    /// Wraps an inner IP packet: outer IPv4 (and GRE or UDP) between the tunnel endpoints.
    fn wrap(self, ip: &[u8]) -> Vec<u8> {
        let eth = |ip: &[u8]| L2::Ethernet.wrap(ip);
        let udp = |port: u16, body: &[u8]| {
            udp_packet(
                std::net::SocketAddr::from((TUNNEL_SRC, 40_000)),
                std::net::SocketAddr::from((TUNNEL_DST, port)),
                body,
            )
        };
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        match self {
            Tunnel::Gre(key) => {
                let mut g = vec![0x20, 0];
                g.extend_from_slice(&(if v6 { 0x86DDu16 } else { 0x0800 }).to_be_bytes());
                g.extend_from_slice(&key.to_be_bytes());
                g.extend_from_slice(ip);
                ipv4_raw(47, &g)
            }
            Tunnel::ErspanII(session) => {
                let mut g = vec![0x10, 0, 0x88, 0xBE, 0, 0, 0, 1]; // sequence present
                g.extend_from_slice(&[0x10, 0x00]); // version 1, VLAN 0
                g.extend_from_slice(&(session & 0x03ff).to_be_bytes());
                g.extend_from_slice(&[0, 0, 0, 0]);
                g.extend(eth(ip));
                ipv4_raw(47, &g)
            }
            Tunnel::ErspanIII(session) => {
                let mut g = vec![0x10, 0, 0x22, 0xEB, 0, 0, 0, 1];
                g.extend_from_slice(&[0x20, 0x00]); // version 2, VLAN 0
                g.extend_from_slice(&(session & 0x03ff).to_be_bytes());
                g.extend_from_slice(&[0, 0, 0, 0]); // timestamp
                g.extend_from_slice(&[0, 0, 0, 0]); // SGT, P, FT, hw id, D, Gra, O = 0
                g.extend(eth(ip));
                ipv4_raw(47, &g)
            }
            Tunnel::Vxlan(vni) => {
                let mut body = vec![0x08, 0, 0, 0];
                body.extend_from_slice(&(vni << 8).to_be_bytes());
                body.extend(eth(ip));
                udp(4789, &body)
            }
            Tunnel::GtpU(teid) => {
                let mut body = vec![0x30, 0xff];
                body.extend_from_slice(&(ip.len() as u16).to_be_bytes());
                body.extend_from_slice(&teid.to_be_bytes());
                body.extend_from_slice(ip);
                udp(2152, &body)
            }
            Tunnel::IpIp => ipv4_raw(4, ip),
        }
    }
}

impl L2 {
    pub fn linktype(self) -> u16 {
        match self {
            L2::Ethernet
            | L2::Vlan(_)
            | L2::QinQ(..)
            | L2::Mpls(_)
            | L2::Pppoe(_)
            | L2::Tunnel(_) => linktype::ETHERNET,
            L2::Sll => linktype::LINUX_SLL,
            L2::Sll2 => linktype::LINUX_SLL2,
            L2::Raw => linktype::RAW,
            L2::Null => linktype::NULL,
        }
    }

    /// Prepends this link header to an IP packet.
    pub fn wrap(self, ip: &[u8]) -> Vec<u8> {
        match self {
            L2::Tunnel(t) => return L2::Ethernet.wrap(&t.wrap(ip)),
            L2::Mpls(label) => {
                let mut f = L2::Ethernet.wrap(&[]);
                let n = f.len();
                f[n - 2..].copy_from_slice(&0x8847u16.to_be_bytes());
                f.extend_from_slice(&((label << 12) | 0x100 | 64).to_be_bytes());
                f.extend_from_slice(ip);
                return f;
            }
            L2::Pppoe(session) => {
                let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
                let mut f = L2::Ethernet.wrap(&[]);
                let n = f.len();
                f[n - 2..].copy_from_slice(&0x8864u16.to_be_bytes());
                f.extend_from_slice(&[0x11, 0x00]);
                f.extend_from_slice(&session.to_be_bytes());
                f.extend_from_slice(&((ip.len() + 2) as u16).to_be_bytes());
                f.extend_from_slice(&(if v6 { 0x0057u16 } else { 0x0021 }).to_be_bytes());
                f.extend_from_slice(ip);
                return f;
            }
            _ => {}
        }
        let v6 = ip.first().is_some_and(|b| b >> 4 == 6);
        let et: u16 = if v6 { 0x86DD } else { 0x0800 };
        let mut f = Vec::with_capacity(ip.len() + 24);
        let macs = [0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
        match self {
            L2::Ethernet | L2::Vlan(_) | L2::QinQ(..) => {
                f.extend_from_slice(&macs);
                if let L2::QinQ(outer, _) = self {
                    f.extend_from_slice(&0x88A8u16.to_be_bytes());
                    f.extend_from_slice(&outer.to_be_bytes());
                }
                if let L2::Vlan(tag) | L2::QinQ(_, tag) = self {
                    f.extend_from_slice(&0x8100u16.to_be_bytes());
                    f.extend_from_slice(&tag.to_be_bytes());
                }
                f.extend_from_slice(&et.to_be_bytes());
            }
            L2::Sll => {
                f.extend_from_slice(&[0, 0, 0, 1, 0, 6]);
                f.extend_from_slice(&macs[..6]);
                f.extend_from_slice(&[0, 0]);
                f.extend_from_slice(&et.to_be_bytes());
            }
            L2::Sll2 => {
                f.extend_from_slice(&et.to_be_bytes());
                f.extend_from_slice(&[0, 0]); // reserved
                f.extend_from_slice(&2u32.to_be_bytes()); // interface index
                f.extend_from_slice(&[0, 1, 0, 6]); // ARPHRD_ETHER, to us, addr len
                f.extend_from_slice(&macs[..6]);
                f.extend_from_slice(&[0, 0]);
            }
            L2::Raw => {}
            L2::Null => f.extend_from_slice(&(if v6 { 30u32 } else { 2u32 }).to_le_bytes()),
            L2::Mpls(_) | L2::Pppoe(_) | L2::Tunnel(_) => unreachable!("handled above"),
        }
        f.extend_from_slice(ip);
        f
    }
}

/// One captured frame.
#[derive(Debug, Clone)]
pub struct Frame {
    pub ts_ns: u64,
    pub l2: L2,
    pub data: Vec<u8>,
}

/// Capture file formats the generator writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Classic pcap, little-endian, microseconds.
    Pcap,
    /// Classic pcap, big-endian, nanoseconds.
    PcapNsBigEndian,
    /// pcapng, one interface per link type in use, nanosecond resolution.
    Pcapng,
}

impl Format {
    /// Writes `frames` as a capture file. Classic pcap holds one link type: the first frame's.
    pub fn write(self, frames: &[Frame]) -> Vec<u8> {
        match self {
            Format::Pcap => pcap(frames, false),
            Format::PcapNsBigEndian => pcap(frames, true),
            Format::Pcapng => pcapng(frames),
        }
    }
}

fn pcap(frames: &[Frame], ns_be: bool) -> Vec<u8> {
    let w32 = |v: &mut Vec<u8>, x: u32| {
        v.extend_from_slice(&if ns_be {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        })
    };
    let w16 = |v: &mut Vec<u8>, x: u16| {
        v.extend_from_slice(&if ns_be {
            x.to_be_bytes()
        } else {
            x.to_le_bytes()
        })
    };
    let link = frames
        .first()
        .map_or(linktype::ETHERNET, |f| f.l2.linktype());
    let mut out = Vec::new();
    w32(&mut out, if ns_be { 0xa1b2_3c4d } else { 0xa1b2_c3d4 });
    w16(&mut out, 2);
    w16(&mut out, 4);
    for x in [0, 0, 262_144, link as u32] {
        w32(&mut out, x);
    }
    for f in frames {
        let secs = (f.ts_ns / 1_000_000_000) as u32;
        let ns = (f.ts_ns % 1_000_000_000) as u32;
        let frac = if ns_be { ns } else { ns / 1000 };
        for x in [secs, frac, f.data.len() as u32, f.data.len() as u32] {
            w32(&mut out, x);
        }
        out.extend_from_slice(&f.data);
    }
    out
}

fn block(out: &mut Vec<u8>, btype: u32, body: &[u8]) {
    let pad = (4 - body.len() % 4) % 4;
    let len = (12 + body.len() + pad) as u32;
    out.extend_from_slice(&btype.to_le_bytes());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(body);
    out.extend_from_slice(&[0u8; 3][..pad]);
    out.extend_from_slice(&len.to_le_bytes());
}

fn pcapng(frames: &[Frame]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut shb = Vec::new();
    shb.extend_from_slice(&0x1A2B_3C4Du32.to_le_bytes());
    shb.extend_from_slice(&1u16.to_le_bytes());
    shb.extend_from_slice(&0u16.to_le_bytes());
    shb.extend_from_slice(&u64::MAX.to_le_bytes()); // section length unknown
    block(&mut out, 0x0A0D_0D0A, &shb);
    let mut links: Vec<u16> = Vec::new();
    for f in frames {
        let lt = f.l2.linktype();
        let id = match links.iter().position(|l| *l == lt) {
            Some(i) => i,
            None => {
                links.push(lt);
                let mut idb = Vec::new();
                idb.extend_from_slice(&lt.to_le_bytes());
                idb.extend_from_slice(&[0, 0]);
                idb.extend_from_slice(&262_144u32.to_le_bytes());
                // if_tsresol = 9 (nanoseconds), then end of options.
                idb.extend_from_slice(&[9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]);
                block(&mut out, 1, &idb);
                links.len() - 1
            }
        };
        let mut epb = Vec::new();
        epb.extend_from_slice(&(id as u32).to_le_bytes());
        epb.extend_from_slice(&((f.ts_ns >> 32) as u32).to_le_bytes());
        epb.extend_from_slice(&(f.ts_ns as u32).to_le_bytes());
        epb.extend_from_slice(&(f.data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&(f.data.len() as u32).to_le_bytes());
        epb.extend_from_slice(&f.data);
        block(&mut out, 6, &epb);
    }
    out
}

/// Builds an IPv4 or IPv6 packet carrying TCP or UDP.
pub fn ip_packet(
    src: IpAddr,
    dst: IpAddr,
    l4: &dyn Fn(etherparse::PacketBuilderStep<etherparse::IpHeaders>) -> Built,
) -> Vec<u8> {
    let step = match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            etherparse::PacketBuilder::ipv4(s.octets(), d.octets(), 64)
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            etherparse::PacketBuilder::ipv6(s.octets(), d.octets(), 64)
        }
        _ => panic!("mixed address families in one packet"),
    };
    l4(step).0
}

/// A serialised packet.
pub struct Built(pub Vec<u8>);

/// A UDP datagram between two endpoints, as an IP packet.
pub fn udp_packet(src: std::net::SocketAddr, dst: std::net::SocketAddr, payload: &[u8]) -> Vec<u8> {
    ip_packet(src.ip(), dst.ip(), &|b| {
        let b = b.udp(src.port(), dst.port());
        let mut v = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut v, payload).expect("writing to a Vec");
        Built(v)
    })
}

/// Splits an IPv4 packet into fragments whose payloads are at most `chunk` bytes (a multiple
/// of 8), fixing lengths, flags, offsets and checksums.
pub fn fragment_v4(packet: &[u8], chunk: usize) -> Vec<Vec<u8>> {
    let ihl = ((packet[0] & 0x0f) as usize) * 4;
    let (hdr, body) = packet.split_at(ihl);
    let chunk = chunk.max(8) / 8 * 8;
    let n = body.len().div_ceil(chunk);
    (0..n)
        .map(|i| {
            let part = &body[i * chunk..((i + 1) * chunk).min(body.len())];
            let mut h = hdr.to_vec();
            h[2..4].copy_from_slice(&((ihl + part.len()) as u16).to_be_bytes());
            let more = if i + 1 < n { 0x2000 } else { 0 };
            h[6..8].copy_from_slice(&(more | (i * chunk / 8) as u16).to_be_bytes());
            h[10..12].copy_from_slice(&[0, 0]);
            let sum = checksum(&h);
            h[10..12].copy_from_slice(&sum.to_be_bytes());
            h.extend_from_slice(part);
            h
        })
        .collect()
}

fn checksum(b: &[u8]) -> u16 {
    let mut s: u32 = b
        .chunks(2)
        .map(|c| u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)]) as u32)
        .sum();
    while s > 0xffff {
        s = (s & 0xffff) + (s >> 16);
    }
    !(s as u16)
}

//! Stage 2, **decode**: a [`RawPacket`](crate::source::RawPacket) in; a [`Decoded`] packet out —
//! the 5-tuple, the TCP header fields the flow table needs, and where the L4 payload is.
//!
//! Layers: link (Ethernet II, 802.1Q/QinQ, Linux cooked SLL/SLL2, raw IP, BSD loopback), IPv4
//! (options, fragments) and IPv6 (extension headers, fragments), TCP and UDP. Every read is
//! bounds-checked; a packet that cannot be decoded is a [`Skip`] with a reason that is counted.
//! Nothing is allocated per packet except when IP fragments are reassembled.

pub mod filter;
mod frag;
mod ip;
mod link;
mod transport;
mod tunnel;

pub use frag::{FragLimits, FragPool, FragStats};
pub use link::{Encap, EncapKind};

/// Encapsulation layers unwrapped at most.
const MAX_ENCAP: usize = 4;

use std::net::IpAddr;

/// TCP flag bits.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// IP protocol number of TCP.
pub const PROTO_TCP: u8 = 6;
/// IP protocol number of UDP.
pub const PROTO_UDP: u8 = 17;

/// The transport fields of a decoded packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tcp {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// TCP flags (`tcp_flags`).
    pub flags: u8,
}

/// Where a decoded packet's payload lives.
#[derive(Debug)]
pub enum Payload<'a> {
    /// Inside the captured bytes.
    Slice(&'a [u8]),
    /// Rebuilt from IP fragments.
    Reassembled(Vec<u8>),
}

impl Payload<'_> {
    /// The payload's bytes, wherever they are.
    pub fn bytes(&self) -> &[u8] {
        match self {
            Payload::Slice(s) => s,
            Payload::Reassembled(v) => v,
        }
    }
}

/// A TCP or UDP packet reduced to what the later stages use.
#[derive(Debug)]
pub struct Decoded<'a> {
    /// Source address (innermost).
    pub src: IpAddr,
    /// Destination address.
    pub dst: IpAddr,
    /// Source port.
    pub sport: u16,
    /// Destination port.
    pub dport: u16,
    /// IP protocol (TCP or UDP).
    pub proto: u8,
    /// TCP header fields (zero for UDP).
    pub tcp: Tcp,
    /// The transport payload.
    pub payload: Payload<'a>,
    /// The tunnel or label stack the packet came in, when there was one.
    pub encap: Option<Encap>,
}

/// Why a packet was not decoded to TCP/UDP. Each reason has a counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Skip {
    /// A link type the decoder does not know.
    UnknownLinkType,
    /// The frame ends inside a header.
    Truncated,
    /// Not IP (ARP, LLDP, ...).
    NotIp,
    /// An IP header that is not valid.
    BadIpHeader,
    /// A TCP or UDP header that is not valid.
    BadTransportHeader,
    /// Neither TCP nor UDP.
    OtherTransport,
    /// A fragment held until its datagram is whole.
    FragmentHeld,
    /// More extension headers or tunnel layers than are followed.
    TooManyHeaders,
}

impl Skip {
    /// Every reason, in the summary's order.
    pub const ALL: [Skip; 8] = [
        Skip::UnknownLinkType,
        Skip::Truncated,
        Skip::NotIp,
        Skip::BadIpHeader,
        Skip::BadTransportHeader,
        Skip::OtherTransport,
        Skip::FragmentHeld,
        Skip::TooManyHeaders,
    ];

    /// The reason's name in the summary.
    pub fn name(self) -> &'static str {
        match self {
            Skip::UnknownLinkType => "unknown_link_type",
            Skip::Truncated => "truncated",
            Skip::NotIp => "not_ip",
            Skip::BadIpHeader => "bad_ip_header",
            Skip::BadTransportHeader => "bad_transport_header",
            Skip::OtherTransport => "other_transport",
            Skip::FragmentHeld => "fragment_held",
            Skip::TooManyHeaders => "too_many_headers",
        }
    }

    /// Reasons that mean the packet was damaged or unusable, as opposed to simply not TCP/UDP
    /// or waiting for its other fragments.
    pub fn is_damage(self) -> bool {
        !matches!(
            self,
            Skip::NotIp | Skip::OtherTransport | Skip::FragmentHeld
        )
    }
}

/// Per-reason counters of packets not decoded.
#[derive(Debug, Default, Clone, Copy)]
pub struct SkipCounts(pub [u64; Skip::ALL.len()]);

impl SkipCounts {
    /// Counts one skipped packet.
    pub fn add(&mut self, s: Skip) {
        self.0[s as usize] += 1;
    }
    /// Packets skipped for `s`.
    pub fn get(&self, s: Skip) -> u64 {
        self.0[s as usize]
    }
    /// Adds another count's packets.
    pub fn merge(&mut self, o: &SkipCounts) {
        for (a, b) in self.0.iter_mut().zip(o.0.iter()) {
            *a += b;
        }
    }
    /// Packets skipped because they were damaged (not merely of another kind).
    pub fn damaged(&self) -> u64 {
        Skip::ALL
            .iter()
            .filter(|s| s.is_damage())
            .map(|s| self.get(*s))
            .sum()
    }
}

/// A big-endian u16 at `off`, or the packet is truncated.
pub(crate) fn be16(b: &[u8], off: usize) -> Result<u16, Skip> {
    crate::wire::be16(b, off).ok_or(Skip::Truncated)
}

/// A big-endian u32 at `off`, or the packet is truncated.
pub(crate) fn be32(b: &[u8], off: usize) -> Result<u32, Skip> {
    crate::wire::be32(b, off).ok_or(Skip::Truncated)
}

/// The decoder: stateless per packet except for the fragment pool.
#[derive(Debug, Default)]
pub struct Decoder {
    /// The IP fragment pool.
    pub frags: FragPool,
}

impl Decoder {
    /// A decoder whose fragment pool has these limits.
    pub fn new(limits: FragLimits) -> Self {
        Decoder {
            frags: FragPool::new(limits),
        }
    }

    /// Decodes one captured frame of link type `link` down to its TCP/UDP payload.
    pub fn decode<'a>(&mut self, link: u16, data: &'a [u8], ts: u64) -> Result<Decoded<'a>, Skip> {
        let mut encap = None;
        let (mut ethertype, mut bytes) = link::strip(link, data, &mut encap)?;
        let mut layers = 0;
        let l3 = loop {
            let l3 = match ethertype {
                link::ETHERTYPE_IPV4 => ip::v4(bytes)?,
                link::ETHERTYPE_IPV6 => ip::v6(bytes)?,
                _ => return Err(Skip::NotIp),
            };
            // Tunnels are unwrapped; a fragmented tunnel packet is taken as it is.
            let inner = match l3.fragment {
                None => tunnel::inner(&l3, &mut encap)?,
                Some(_) => None,
            };
            match inner {
                Some((et, b)) if layers < MAX_ENCAP => {
                    layers += 1;
                    ethertype = et;
                    bytes = b;
                }
                Some(_) => return Err(Skip::TooManyHeaders),
                None => break l3,
            }
        };
        if l3.proto != PROTO_TCP && l3.proto != PROTO_UDP {
            return Err(Skip::OtherTransport);
        }
        let d = match l3.fragment {
            None => transport::decode(&l3, Payload::Slice(l3.payload)),
            Some(f) => {
                let key = frag::FragKey {
                    src: l3.src,
                    dst: l3.dst,
                    proto: l3.proto,
                    id: f.id,
                };
                match self.frags.add(key, f.offset, f.more, l3.payload, ts) {
                    Some(whole) => transport::decode(&l3, Payload::Reassembled(whole)),
                    None => Err(Skip::FragmentHeld),
                }
            }
        };
        d.map(|d| Decoded { encap, ..d })
    }
}

#[cfg(test)]
mod tests;

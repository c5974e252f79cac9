//! A scripted TCP connection: handshake, data in either direction (cut into segments), ACKs and
//! close, with sequence numbers kept right, as frames with timestamps.

use super::capture::{ip_packet, Built, Frame, L2};
use std::net::SocketAddr;

const FIN: u8 = 1;
const SYN: u8 = 2;
const RST: u8 = 4;
const PSH: u8 = 8;
const ACK: u8 = 16;

/// A TCP connection being written out as frames.
#[derive(Debug, Clone)]
pub struct TcpSession {
    pub client: SocketAddr,
    pub server: SocketAddr,
    pub l2: L2,
    /// Largest payload per segment.
    pub mss: usize,
    /// Time of the next frame, nanoseconds since the epoch.
    pub now: u64,
    cseq: u32,
    sseq: u32,
    pub frames: Vec<Frame>,
}

impl TcpSession {
    pub fn new(client: SocketAddr, server: SocketAddr, start_ns: u64, l2: L2) -> Self {
        TcpSession {
            client,
            server,
            l2,
            mss: 1400,
            now: start_ns,
            cseq: 0x1000_0000 ^ (client.port() as u32) << 8,
            sseq: 0x7000_0000 ^ (server.port() as u32) << 4,
            frames: Vec::new(),
        }
    }

    /// Moves the clock on.
    pub fn wait_ms(&mut self, ms: u64) {
        self.now += ms * 1_000_000;
    }

    fn push(&mut self, from_client: bool, flags: u8, payload: &[u8]) {
        let (src, dst, seq, ack) = if from_client {
            (self.client, self.server, self.cseq, self.sseq)
        } else {
            (self.server, self.client, self.sseq, self.cseq)
        };
        let data = segment(src, dst, seq, ack, flags, payload);
        self.frames.push(Frame {
            ts_ns: self.now,
            l2: self.l2,
            data: self.l2.wrap(&data),
        });
        self.now += 150_000;
        let adv = payload.len() as u32 + u32::from(flags & (SYN | FIN) != 0);
        if from_client {
            self.cseq = self.cseq.wrapping_add(adv);
        } else {
            self.sseq = self.sseq.wrapping_add(adv);
        }
    }

    pub fn handshake(&mut self) {
        self.push(true, SYN, b"");
        self.push(false, SYN | ACK, b"");
        self.push(true, ACK, b"");
    }

    /// Sends `payload` from one side in segments of at most `mss` bytes, each acknowledged.
    pub fn send(&mut self, from_client: bool, payload: &[u8]) {
        for chunk in payload.chunks(self.mss.max(1)) {
            self.push(from_client, PSH | ACK, chunk);
            self.push(!from_client, ACK, b"");
        }
    }

    /// Orderly close, client first.
    pub fn close(&mut self) {
        self.push(true, FIN | ACK, b"");
        self.push(false, FIN | ACK, b"");
        self.push(true, ACK, b"");
    }

    pub fn reset(&mut self, from_client: bool) {
        self.push(from_client, RST | ACK, b"");
    }
}

/// One TCP segment as an IP packet.
pub fn segment(
    src: SocketAddr,
    dst: SocketAddr,
    seq: u32,
    ack: u32,
    flags: u8,
    payload: &[u8],
) -> Vec<u8> {
    ip_packet(src.ip(), dst.ip(), &|b| {
        let mut t = b.tcp(src.port(), dst.port(), seq, 64240);
        if flags & ACK != 0 {
            t = t.ack(ack);
        }
        if flags & SYN != 0 {
            t = t.syn();
        }
        if flags & FIN != 0 {
            t = t.fin();
        }
        if flags & RST != 0 {
            t = t.rst();
        }
        if flags & PSH != 0 {
            t = t.psh();
        }
        let mut v = Vec::with_capacity(t.size(payload.len()));
        t.write(&mut v, payload).expect("writing to a Vec");
        Built(v)
    })
}

/// A small deterministic generator (xorshift) so that generated captures are reproducible.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// Rewrites a session's data so that the receiver sees it as a hostile network would deliver
/// it: every data segment cut into pieces of 1..=`max_piece` bytes, neighbouring pieces swapped,
/// some sent twice (retransmissions) and some overlapping the previous piece.
pub fn disorder(frames: &[Frame], l2: L2, max_piece: usize, seed: u64) -> Vec<Frame> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    for f in frames {
        let Ok(p) = etherparse::SlicedPacket::from_ip(&f.data[wrap_len(l2, &f.data)..]) else {
            out.push(f.clone());
            continue;
        };
        let (Some(net), Some(etherparse::TransportSlice::Tcp(tcp))) = (p.net, p.transport) else {
            out.push(f.clone());
            continue;
        };
        let payload = tcp.payload();
        if payload.is_empty() {
            out.push(f.clone());
            continue;
        }
        let (src, dst) = match net {
            etherparse::NetSlice::Ipv4(v4) => (
                std::net::IpAddr::V4(v4.header().source_addr()),
                std::net::IpAddr::V4(v4.header().destination_addr()),
            ),
            etherparse::NetSlice::Ipv6(v6) => (
                std::net::IpAddr::V6(v6.header().source_addr()),
                std::net::IpAddr::V6(v6.header().destination_addr()),
            ),
        };
        let src = SocketAddr::new(src, tcp.source_port());
        let dst = SocketAddr::new(dst, tcp.destination_port());
        let mut pieces: Vec<(usize, usize)> = Vec::new();
        let mut at = 0;
        while at < payload.len() {
            let n = 1 + rng.below(max_piece as u64) as usize;
            let end = (at + n).min(payload.len());
            // Now and then start a little early: an overlap with the previous piece.
            let start = if at > 2 && rng.below(6) == 0 {
                at - 2
            } else {
                at
            };
            pieces.push((start, end));
            at = end;
        }
        let mut i = 0;
        while i + 1 < pieces.len() {
            if rng.below(4) == 0 {
                pieces.swap(i, i + 1);
                i += 1;
            }
            i += 1;
        }
        let mut ts = f.ts_ns;
        for (k, &(s, e)) in pieces.iter().enumerate() {
            let seg = segment(
                src,
                dst,
                tcp.sequence_number().wrapping_add(s as u32),
                tcp.acknowledgment_number(),
                PSH | ACK,
                &payload[s..e],
            );
            let copies = if k % 5 == 3 { 2 } else { 1 };
            for _ in 0..copies {
                out.push(Frame {
                    ts_ns: ts,
                    l2,
                    data: l2.wrap(&seg),
                });
                ts += 1_000;
            }
        }
    }
    out
}

fn wrap_len(l2: L2, frame: &[u8]) -> usize {
    l2.wrap(&[]).len().min(frame.len())
}

/// A socket address from a literal written in the generator.
pub fn addr(s: &str) -> SocketAddr {
    s.parse().expect("a valid literal socket address")
}

//! A large mixed capture for throughput measurements: one template of varied traffic (mining
//! sessions, bulk downloads, web requests, JSON-RPC, NTP), copied many times with fresh
//! addresses per copy, written as classic pcap.

use super::capture::{udp_packet, Format, Frame, L2};
use super::session::{addr, TcpSession};
use super::stratum::{stratum_session, Script};
use std::net::SocketAddr;

/// The template: a few minutes of traffic between hosts in 10.0.0.0/8 (Ethernet, IPv4 only,
/// so that addresses sit at fixed offsets and can be rewritten per copy).
pub fn template(start: u64) -> Vec<Frame> {
    let mut frames = Vec::new();
    // Two mining sessions.
    for (i, script) in [
        Script::default(),
        Script {
            jobs: 10,
            ..Script::default()
        },
    ]
    .iter()
    .enumerate()
    {
        frames.extend(stratum_session(
            &format!("10.0.0.{}:{}", 10 + i, 40_000 + i),
            "10.200.0.1:3333",
            start + i as u64 * 1_000_000_000,
            L2::Ethernet,
            script,
        ));
    }
    // Bulk downloads: large segments one way, ACKs the other.
    for i in 0..6u64 {
        let mut s = TcpSession::new(
            addr(&format!("10.0.1.{}:{}", i + 1, 50_000 + i)),
            addr(&format!("10.200.1.{}:443", i + 1)),
            start + i * 2_000_000_000,
            L2::Ethernet,
        );
        s.mss = 1448;
        s.handshake();
        s.send(
            true,
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03client hello",
        );
        let body: Vec<u8> = (0..1448 * 120).map(|k| (k * 7 % 251) as u8).collect();
        s.send(false, &body);
        s.close();
        frames.extend(s.frames);
    }
    // Short web requests.
    for i in 0..20u64 {
        let mut s = TcpSession::new(
            addr(&format!("10.0.2.{}:{}", i + 1, 51_000 + i)),
            addr("10.200.2.1:80"),
            start + i * 500_000_000,
            L2::Ethernet,
        );
        s.handshake();
        s.send(
            true,
            b"GET /index.html HTTP/1.1\r\nHost: www.example.org\r\n\r\n",
        );
        let page = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n{}",
            "x".repeat(3000)
        );
        s.send(false, page.as_bytes());
        s.close();
        frames.extend(s.frames);
    }
    // NTP and DNS-like small UDP.
    for i in 0..40u64 {
        let c: SocketAddr = addr(&format!("10.0.3.{}:{}", i % 200 + 1, 33_000 + i));
        let srv: SocketAddr = addr("10.200.3.1:123");
        let mut req = vec![0u8; 48];
        req[0] = 0x23;
        for (from, to) in [(c, srv), (srv, c)] {
            frames.push(Frame {
                ts_ns: start + i * 100_000_000,
                l2: L2::Ethernet,
                data: L2::Ethernet.wrap(&udp_packet(from, to, &req)),
            });
        }
    }
    frames.sort_by_key(|f| f.ts_ns);
    frames
}

/// Rewrites the IPv4 addresses of an Ethernet frame into copy number `copy`'s own range, so
/// that no two copies share a host: template clients are 10.0.G.H and servers 10.200.G.H (G < 4);
/// copy `c` uses 10.(c/64).(c%64*4+G).H for clients and 10.(128+c/64).(c%64*4+G).H for servers.
fn readdress(frame: &mut [u8], copy: u32) {
    for off in [26usize, 30] {
        if frame.len() >= off + 4 && frame[12..14] == [0x08, 0x00] {
            let server = frame[off + 1] == 200;
            let group = frame[off + 2] & 3;
            frame[off + 1] = u8::from(server) * 128 + ((copy >> 6) & 127) as u8;
            frame[off + 2] = ((copy & 63) as u8) << 2 | group;
        }
    }
}

/// A classic pcap of roughly `target_bytes`, made of template copies with fresh addresses,
/// copy `n` starting `n` seconds after the first.
pub fn big_capture(target_bytes: usize) -> Vec<u8> {
    let t = template(1_772_439_204_000_000_000);
    let per_copy: usize = t.iter().map(|f| f.data.len() + 16).sum();
    let copies = (target_bytes / per_copy).max(1);
    let mut frames = Vec::with_capacity(t.len() * copies);
    for c in 0..copies {
        for f in &t {
            let mut g = f.clone();
            g.ts_ns += c as u64 * 1_000_000_000;
            readdress(&mut g.data, c as u32 + 1);
            frames.push(g);
        }
    }
    Format::Pcap.write(&frames)
}

/// `miners` Stratum sessions to one pool, each from its own address, numbered from `first`
/// (another tap's miners: other addresses, other times), starting a second apart (so that they
/// end all along the capture), written in time order as classic pcap: one mining event each.
pub fn many_miners(first: u32, miners: u32) -> Vec<u8> {
    miners_with(first, miners, &Script::default())
}

/// As [`many_miners`], each session following `script`.
pub fn miners_with(first: u32, miners: u32, script: &Script) -> Vec<u8> {
    let start = 1_772_439_204_000_000_000u64;
    let mut frames = Vec::new();
    for n in first..first + miners {
        let client = format!(
            "10.{}.{}.{}:40000",
            1 + n / 65_536 % 200,
            n / 256 % 256,
            n % 256
        );
        frames.extend(stratum_session(
            &client,
            "10.250.0.1:3333",
            start + u64::from(n) * 1_000_000_000,
            L2::Ethernet,
            script,
        ));
    }
    frames.sort_by_key(|f| f.ts_ns);
    Format::Pcap.write(&frames)
}

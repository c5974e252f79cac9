//! Traffic that carries no mining protocol in the clear, or another protocol altogether: TLS
//! (with and without a server name), DNS, Stratum V2 (plain and Noise), crypto-currency nodes,
//! and a long opaque flow with a miner's rhythm.

use super::capture::{udp_packet, Frame, L2};
use super::session::{addr, Rng, TcpSession};
use super::stratum::{stratum_session, Script};
use super::tls;
use std::net::SocketAddr;

fn frame(ts: u64, ip: Vec<u8>) -> Frame {
    Frame {
        ts_ns: ts,
        l2: L2::Ethernet,
        data: L2::Ethernet.wrap(&ip),
    }
}

/// A DNS query for `name` (type A), or its answer with `addrs`.
pub fn dns_message(id: u16, name: &str, answer: Option<(&[[u8; 4]], u32)>) -> Vec<u8> {
    let an = answer.map_or(0, |(a, _)| a.len());
    let flags: u16 = if answer.is_some() { 0x8180 } else { 0x0100 };
    let mut m = Vec::new();
    for v in [id, flags, 1, an as u16, 0, 0] {
        m.extend_from_slice(&v.to_be_bytes());
    }
    for l in name.split('.') {
        m.push(l.len() as u8);
        m.extend_from_slice(l.as_bytes());
    }
    m.extend_from_slice(&[0, 0, 1, 0, 1]);
    if let Some((addrs, ttl)) = answer {
        for a in addrs {
            m.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1]);
            m.extend_from_slice(&ttl.to_be_bytes());
            m.extend_from_slice(&[0, 4]);
            m.extend_from_slice(a);
        }
    }
    m
}

/// A look-up of `name` from `client` to a resolver, answered with `addrs`.
pub fn dns_lookup(client: &str, name: &str, addrs: &[[u8; 4]], ts: u64) -> Vec<Frame> {
    let c = addr(client);
    let r: SocketAddr = addr("192.0.2.53:53");
    vec![
        frame(ts, udp_packet(c, r, &dns_message(0x4d2, name, None))),
        frame(
            ts + 12_000_000,
            udp_packet(r, c, &dns_message(0x4d2, name, Some((addrs, 300)))),
        ),
    ]
}

/// A TLS session: ClientHello (with `sni`), the server's answer (a TLS 1.2 certificate naming
/// `cert` when given, else opaque TLS 1.3 bytes), then `rounds` of application data: the server
/// pushing `push` bytes every `every_ms` (with a little jitter), the client answering with
/// `reply` bytes.
#[allow(clippy::too_many_arguments)]
pub fn tls_session(
    client: &str,
    server: &str,
    start: u64,
    sni: Option<&str>,
    cert: Option<&str>,
    rounds: usize,
    every_ms: u64,
    (push, reply): (usize, usize),
) -> Vec<Frame> {
    let mut s = TcpSession::new(addr(client), addr(server), start, L2::Ethernet);
    s.handshake();
    s.send(true, &tls::client_hello(sni, &["http/1.1"]));
    s.wait_ms(30);
    match cert {
        Some(name) => s.send(false, &tls::server_hello_certificate(name, &[name])),
        None => s.send(false, &tls::app_data(1200, 1)),
    }
    let mut rng = Rng::new(7);
    for i in 0..rounds {
        let jitter = rng.below(every_ms / 10 + 1);
        s.wait_ms(every_ms - every_ms / 20 + jitter);
        s.send(false, &tls::app_data(push, i as u8));
        if i % 2 == 1 {
            s.wait_ms(every_ms / 3);
            s.send(true, &tls::app_data(reply, i as u8));
        }
    }
    s.close();
    s.frames
}

/// A miner's session inside TLS 1.3 to an endpoint nobody named, as a CryptoNote miner over TLS
/// behaves (the fixtures in `tests/data/tls/` were captured from XMRig): the handshake, the
/// login answered with a job, then for `minutes` a job pushed every 20-40 s and shares submitted
/// at random (10 s apart on average), each acknowledged at once with a short JSON answer.
pub fn tls_miner(
    client: &str,
    server: &str,
    start: u64,
    sni: Option<&str>,
    minutes: u64,
) -> Vec<Frame> {
    let mut s = TcpSession::new(addr(client), addr(server), start, L2::Ethernet);
    s.handshake();
    s.send(true, &tls::client_hello(sni, &[]));
    s.wait_ms(30);
    // ServerHello (a minimal handshake record), then the encrypted handshake.
    s.send(
        false,
        &[vec![22, 3, 3, 0, 4, 2, 0, 0, 0], tls::app_data(2400, 1)].concat(),
    );
    s.wait_ms(30);
    s.send(
        true,
        &[tls::app_data(53, 2), tls::app_data(180, 3)].concat(),
    ); // Finished, login
    s.wait_ms(40);
    s.send(
        false,
        &[tls::app_data(250, 4), tls::app_data(620, 5)].concat(),
    ); // ticket, job
    let mut rng = Rng::new(11);
    let end = minutes * 60_000;
    let (mut now, mut push, mut share) = (0u64, 20_000 + rng.below(20_000), 0u64);
    let exp = |rng: &mut Rng| {
        let u = (rng.below(1_000_000) + 1) as f64 / 1_000_001.0;
        (-u.ln() * 10_000.0) as u64 + 200
    };
    share += exp(&mut rng);
    while now < end {
        let next = push.min(share);
        s.wait_ms(next - now);
        now = next;
        if next == push {
            s.send(false, &tls::app_data(480, 6));
            push += 20_000 + rng.below(20_000);
        } else {
            s.send(true, &tls::app_data(190, 7));
            s.wait_ms(40);
            s.send(false, &tls::app_data(70, 8));
            now += 40;
            share = now + exp(&mut rng);
        }
    }
    s.close();
    s.frames
}

fn sv2_frame(msg_type: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0, 0, msg_type];
    f.extend_from_slice(&(payload.len() as u32).to_le_bytes()[..3]);
    f.extend_from_slice(payload);
    f
}

fn str0(s: &str) -> Vec<u8> {
    let mut v = vec![s.len() as u8];
    v.extend_from_slice(s.as_bytes());
    v
}

/// A Stratum V2 mining session in the clear.
pub fn stratum_v2(client: &str, server: &str, start: u64) -> Vec<Frame> {
    let mut s = TcpSession::new(addr(client), addr(server), start, L2::Ethernet);
    s.handshake();
    let mut setup = vec![0u8]; // mining protocol
    setup.extend_from_slice(&2u16.to_le_bytes());
    setup.extend_from_slice(&2u16.to_le_bytes());
    setup.extend_from_slice(&1u32.to_le_bytes());
    setup.extend(str0("pool.example.net"));
    setup.extend_from_slice(&34254u16.to_le_bytes());
    for v in ["Bitmain", "S19 Pro", "braiins-os-23.03", "a1b2c3d4"] {
        setup.extend(str0(v));
    }
    s.send(true, &sv2_frame(0x00, &setup));
    s.wait_ms(20);
    s.send(false, &sv2_frame(0x01, &[2, 0, 0, 0, 0, 0]));
    let mut open = 1u32.to_le_bytes().to_vec();
    open.extend(str0("farm01.w7"));
    open.extend_from_slice(&110e12f32.to_le_bytes());
    open.extend_from_slice(&[0xff; 32]);
    s.send(true, &sv2_frame(0x10, &open));
    s.wait_ms(20);
    // OpenStandardMiningChannel.Success: request 1, channel 9, target 2^212 (a share is worth
    // 2^44 hashes), extranonce prefix of 4 bytes, group channel 0.
    let mut ok = vec![1, 0, 0, 0, 9, 0, 0, 0];
    let mut target = [0u8; 32];
    target[26] = 0x10;
    ok.extend_from_slice(&target);
    ok.extend_from_slice(&[4, 0xa1, 0xb2, 0xc3, 0xd4]);
    ok.extend_from_slice(&0u32.to_le_bytes());
    s.send(false, &sv2_frame(0x11, &ok));
    for j in 0..4u32 {
        if j == 2 {
            // SetTarget: channel 9, the target halved (2^45 hashes a share from here on).
            let mut set = 9u32.to_le_bytes().to_vec();
            target[26] = 0x08;
            set.extend_from_slice(&target);
            s.wait_ms(1_000);
            s.send(false, &sv2_frame(0x21, &set));
        }
        s.wait_ms(30_000);
        let mut job = 9u32.to_le_bytes().to_vec();
        job.extend_from_slice(&j.to_le_bytes());
        job.extend_from_slice(&[0; 40]);
        s.send(false, &sv2_frame(0x15, &job));
        s.wait_ms(10_000);
        let mut share = 9u32.to_le_bytes().to_vec();
        share.extend_from_slice(&j.to_le_bytes());
        share.extend_from_slice(&[7; 16]);
        s.send(true, &sv2_frame(0x1a, &share));
        s.wait_ms(30);
        let mut ok = 9u32.to_le_bytes().to_vec();
        ok.extend_from_slice(&j.to_le_bytes());
        ok.extend_from_slice(&1u32.to_le_bytes());
        ok.extend_from_slice(&[0; 8]);
        s.send(false, &sv2_frame(0x1c, &ok));
    }
    s.close();
    s.frames
}

/// Stratum V2 inside its Noise handshake: 64 bytes, 170 back, then encrypted frames.
pub fn stratum_v2_noise(client: &str, server: &str, start: u64) -> Vec<Frame> {
    let mut s = TcpSession::new(addr(client), addr(server), start, L2::Ethernet);
    s.handshake();
    let mut rng = Rng::new(99);
    let mut random = |n: usize| (0..n).map(|_| rng.next_u64() as u8).collect::<Vec<u8>>();
    s.send(true, &random(64));
    s.wait_ms(15);
    s.send(false, &random(170));
    for _ in 0..5 {
        s.wait_ms(20_000);
        s.send(true, &random(22 + 90 + 16));
        s.wait_ms(30);
        s.send(false, &random(22 + 40 + 16));
    }
    s.close();
    s.frames
}

/// A plaintext Stratum session to a pool, then the same miner back to the same pool address
/// over TLS with a name the rules do not know.
pub fn pair_reconnect(miner_ip: &str, pool_ip: &str, start: u64) -> Vec<Frame> {
    let mut frames = stratum_session(
        &format!("{miner_ip}:47400"),
        &format!("{pool_ip}:3333"),
        start,
        L2::Ethernet,
        &Script {
            jobs: 2,
            ..Script::default()
        },
    );
    let after = frames.last().map_or(start, |f| f.ts_ns) + 60_000_000_000;
    frames.extend(tls_session(
        &format!("{miner_ip}:47401"),
        &format!("{pool_ip}:443"),
        after,
        Some("backup.example.org"),
        None,
        4,
        30_000,
        (400, 200),
    ));
    frames
}

/// Node traffic of three crypto-currencies: a Bitcoin `version` exchange, a Monero levin
/// handshake, an Ethereum discovery ping.
pub fn crypto_nodes(start: u64) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut b = TcpSession::new(
        addr("192.0.2.80:50800"),
        addr("192.0.2.81:8333"),
        start,
        L2::Ethernet,
    );
    b.handshake();
    let version = |payload_len: u32| {
        let mut m = vec![0xf9, 0xbe, 0xb4, 0xd9];
        m.extend_from_slice(b"version\0\0\0\0\0");
        m.extend_from_slice(&payload_len.to_le_bytes());
        m.extend_from_slice(&[0x12, 0x34, 0x56, 0x78]);
        m.extend(std::iter::repeat_n(0x11, payload_len as usize));
        m
    };
    b.send(true, &version(100));
    b.send(false, &version(100));
    b.close();
    frames.extend(b.frames);

    let mut m = TcpSession::new(
        addr("192.0.2.82:50810"),
        addr("192.0.2.83:18080"),
        start + 1_000_000_000,
        L2::Ethernet,
    );
    m.handshake();
    let mut levin = vec![0x01, 0x21, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01];
    levin.extend_from_slice(&200u64.to_le_bytes());
    levin.push(1);
    levin.extend_from_slice(&1001u32.to_le_bytes());
    levin.extend_from_slice(&0i32.to_le_bytes());
    levin.extend_from_slice(&1u32.to_le_bytes());
    levin.extend_from_slice(&1u32.to_le_bytes());
    levin.extend(std::iter::repeat_n(0x22, 200));
    m.send(true, &levin);
    m.close();
    frames.extend(m.frames);

    use sha3::{Digest, Keccak256};
    let mut body = vec![0x5c; 65]; // signature
    body.push(1); // ping
    body.extend_from_slice(&[0xcb, 0x04, 0xc9, 0x84, 192, 0, 2, 84, 0x82, 0x76, 0x5f]);
    let mut pkt = Keccak256::digest(&body).to_vec();
    pkt.extend(body);
    frames.push(frame(
        start + 2_000_000_000,
        udp_packet(addr("192.0.2.84:30303"), addr("192.0.2.85:30303"), &pkt),
    ));
    frames.sort_by_key(|f| f.ts_ns);
    frames
}

//! The sample captures in `pcaps/`: what each holds is documented in `pcaps/README.md`.

use super::capture::{udp_packet, Format, Frame, Tunnel, L2};
use super::dialects;
use super::opaque;
use super::session::{addr, disorder, TcpSession};
use super::stratum::{opening_len, play, stratum_session, Flavour, Script};

/// 2026-03-02T08:13:24Z, the start of the first sample.
pub const START_NS: u64 = 1_772_439_204 * 1_000_000_000;

/// A generated capture file.
pub struct Sample {
    pub file: &'static str,
    pub bytes: Vec<u8>,
}

fn stream_session(
    client: &str,
    server: &str,
    start: u64,
    exchanges: &[(&str, &str)],
) -> Vec<Frame> {
    let mut s = TcpSession::new(addr(client), addr(server), start, L2::Ethernet);
    s.handshake();
    for (req, resp) in exchanges {
        s.wait_ms(200);
        s.send(true, format!("{req}\n").as_bytes());
        s.wait_ms(30);
        if !resp.is_empty() {
            s.send(false, format!("{resp}\n").as_bytes());
        }
    }
    s.close();
    s.frames
}

const MINER: &str = "203.0.113.10:47284";
const POOL: &str = "198.51.100.20:3333";

/// Every sample capture, in a fixed order.
pub fn all() -> Vec<Sample> {
    let minute = 60_000_000_000;
    let base = Script::default();
    let mut out = Vec::new();
    let mut add = |file, format: Format, frames: Vec<Frame>| {
        out.push(Sample {
            file,
            bytes: format.write(&frames),
        })
    };

    add(
        "stratum-v1.pcap",
        Format::Pcap,
        stratum_session(MINER, POOL, START_NS, L2::Ethernet, &base),
    );

    // The same kind of session, captured from inside: no handshake, no subscribe or authorize,
    // and the first segment starts in the middle of a line.
    let lines = base.lines();
    let mut s = TcpSession::new(
        addr("203.0.113.11:51000"),
        addr(POOL),
        START_NS + minute,
        L2::Ethernet,
    );
    s.mss = 120;
    s.handshake();
    let starts = play(&mut s, &lines);
    let cut = starts[opening_len(&lines)] + 1;
    add(
        "stratum-v1-midstream.pcap",
        Format::Pcap,
        s.frames[cut..].to_vec(),
    );

    let bip310 = Script {
        flavour: Flavour::Bip310,
        agent: "bmminer/2.0.0".into(),
        worker: "farm01.s19-0042".into(),
        difficulty: 65536.0,
        ..Script::default()
    };
    add(
        "stratum-v1-bip310.pcap",
        Format::Pcap,
        stratum_session(
            "[2001:db8::10]:40001",
            "[2001:db8:1::20]:3333",
            START_NS + 2 * minute,
            L2::Ethernet,
            &bip310,
        ),
    );

    let frames = stratum_session(
        "203.0.113.12:47300",
        POOL,
        START_NS + 3 * minute,
        L2::Ethernet,
        &base,
    );
    add(
        "stratum-v1-segmented.pcap",
        Format::Pcap,
        disorder(&frames, L2::Ethernet, 7, 42),
    );

    add(
        "stratum-v1-vlan.pcap",
        Format::Pcap,
        stratum_session(
            "203.0.113.13:47310",
            POOL,
            START_NS + 4 * minute,
            L2::Vlan(100),
            &base,
        ),
    );

    let equihash = Script {
        flavour: Flavour::Equihash,
        agent: "EWBF 0.3.4b".into(),
        worker: "t1ExampleZcashAddress00000000000000.rig4".into(),
        ..Script::default()
    };
    let mut ng = stratum_session(
        "203.0.113.14:47320",
        "198.51.100.21:3357",
        START_NS + 5 * minute,
        L2::Ethernet,
        &equihash,
    );
    ng.extend(stratum_session(
        "203.0.113.15:47330",
        POOL,
        START_NS + 5 * minute + 500_000_000,
        L2::Sll2,
        &base,
    ));
    ng.sort_by_key(|f| f.ts_ns);
    add("stratum-v1.pcapng", Format::Pcapng, ng);

    add(
        "stratum-v1-sll.pcap",
        Format::PcapNsBigEndian,
        stratum_session(
            "203.0.113.16:47340",
            POOL,
            START_NS + 6 * minute,
            L2::Sll,
            &base,
        ),
    );

    add("benign-ntp.pcap", Format::Pcap, ntp(START_NS + 7 * minute));
    add(
        "benign-http-stratum-quote.pcap",
        Format::Pcap,
        http_quote(START_NS + 8 * minute),
    );
    add(
        "benign-jsonrpc.pcap",
        Format::Pcap,
        stream_session(
            "192.0.2.50:52000",
            "192.0.2.60:4444",
            START_NS + 9 * minute,
            &[
                (
                    r#"{"jsonrpc":"2.0","id":1,"method":"echo","params":["hello"]}"#,
                    r#"{"jsonrpc":"2.0","id":1,"result":"hello"}"#,
                ),
                (
                    r#"{"jsonrpc":"2.0","id":2,"method":"subtract","params":[42,23]}"#,
                    r#"{"jsonrpc":"2.0","id":2,"result":19}"#,
                ),
                (
                    r#"{"jsonrpc":"2.0","id":3,"method":"getStatus","params":{"verbose":true}}"#,
                    r#"{"jsonrpc":"2.0","id":3,"result":{"status":"ok","uptime":3600}}"#,
                ),
                (
                    r#"{"jsonrpc":"2.0","method":"notify","params":{"event":"submit"}}"#,
                    "",
                ),
            ],
        ),
    );
    add(
        "benign-electrum.pcap",
        Format::Pcap,
        stream_session(
            "192.0.2.51:52010",
            "192.0.2.61:50001",
            START_NS + 10 * minute,
            &[
                (
                    r#"{"jsonrpc":"2.0","method":"server.version","params":["electrum/4.4.6","1.4"],"id":0}"#,
                    r#"{"jsonrpc":"2.0","result":["ElectrumX 1.16.0","1.4"],"id":0}"#,
                ),
                (
                    r#"{"jsonrpc":"2.0","method":"blockchain.headers.subscribe","params":[],"id":1}"#,
                    r#"{"jsonrpc":"2.0","result":{"hex":"00e0ff3f5ffe3b9ba3b9b6b1e2c3a0f1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5","height":820000},"id":1}"#,
                ),
                (
                    r#"{"jsonrpc":"2.0","method":"blockchain.scripthash.get_balance","params":["8b01df4e368ea28f8dc0423bcf7a4923e3a12d307c875e47a0cfbf90b5c39161"],"id":2}"#,
                    r#"{"jsonrpc":"2.0","result":{"confirmed":103873966,"unconfirmed":0},"id":2}"#,
                ),
                (
                    r#"{"jsonrpc":"2.0","method":"blockchain.estimatefee","params":[2],"id":3}"#,
                    r#"{"jsonrpc":"2.0","result":0.00012,"id":3}"#,
                ),
            ],
        ),
    );
    let hour = 60 * minute;
    add(
        "cryptonote-xmrig.pcap",
        Format::Pcap,
        dialects::cryptonote(
            "203.0.113.20:50100",
            "198.51.100.30:10128",
            START_NS + hour,
            false,
        ),
    );
    add(
        "cryptonote-midstream.pcap",
        Format::Pcap,
        dialects::cryptonote(
            "203.0.113.21:50110",
            "198.51.100.30:10128",
            START_NS + hour + minute,
            true,
        ),
    );
    add(
        "ethproxy.pcap",
        Format::Pcap,
        dialects::ethproxy(
            "203.0.113.22:50120",
            "198.51.100.31:8008",
            START_NS + hour + 2 * minute,
        ),
    );
    add(
        "ethproxy-http.pcap",
        Format::Pcap,
        dialects::ethproxy_http(
            "203.0.113.23:50130",
            "198.51.100.32:80",
            START_NS + hour + 3 * minute,
        ),
    );
    add(
        "ethereumstratum.pcap",
        Format::Pcap,
        dialects::ethereumstratum(
            "203.0.113.24:50140",
            "198.51.100.33:3353",
            START_NS + hour + 4 * minute,
        ),
    );
    add(
        "getblocktemplate.pcap",
        Format::Pcap,
        dialects::getblocktemplate(
            "203.0.113.25:50150",
            "198.51.100.34:8332",
            START_NS + hour + 5 * minute,
        ),
    );
    add(
        "getwork.pcap",
        Format::Pcap,
        dialects::getwork(
            "203.0.113.26:50160",
            "198.51.100.35:8337",
            START_NS + hour + 6 * minute,
        ),
    );
    add(
        "benign-node-rpc.pcap",
        Format::Pcap,
        dialects::node_rpc(START_NS + hour + 7 * minute),
    );

    let t = START_NS + 2 * hour;
    add(
        "tls-sni-pool.pcap",
        Format::Pcap,
        opaque::tls_session(
            "203.0.113.30:51000",
            "198.51.100.40:14433",
            t,
            Some("xmr-eu1.nanopool.org"),
            None,
            4,
            20_000,
            (400, 200),
        ),
    );
    let mut dns_then_tls = opaque::dns_lookup(
        "203.0.113.31:40053",
        "pool.supportxmr.com",
        &[[198, 51, 100, 41]],
        t + minute,
    );
    dns_then_tls.extend(opaque::tls_session(
        "203.0.113.31:51010",
        "198.51.100.41:9000",
        t + minute + 1_000_000_000,
        None,
        None,
        4,
        20_000,
        (400, 200),
    ));
    add("tls-after-dns.pcap", Format::Pcap, dns_then_tls);
    add(
        "tls-cert-pool.pcap",
        Format::Pcap,
        opaque::tls_session(
            "203.0.113.32:51020",
            "198.51.100.43:3334",
            t + 2 * minute,
            None,
            Some("*.2miners.com"),
            4,
            20_000,
            (400, 200),
        ),
    );
    add(
        "pair-reconnect.pcap",
        Format::Pcap,
        opaque::pair_reconnect("203.0.113.33", "198.51.100.42", t + 3 * minute),
    );
    add(
        "behaviour-opaque.pcap",
        Format::Pcap,
        opaque::tls_miner(
            "203.0.113.34:51040",
            "198.51.100.44:8443",
            t + 10 * minute,
            Some("cdn.example.org"),
            6,
        ),
    );
    add(
        "stratum-v2.pcap",
        Format::Pcap,
        opaque::stratum_v2("203.0.113.35:51050", "198.51.100.45:34254", t + 30 * minute),
    );
    add(
        "stratum-v2-noise.pcap",
        Format::Pcap,
        opaque::stratum_v2_noise("203.0.113.36:51060", "198.51.100.46:34255", t + 35 * minute),
    );
    add(
        "crypto-nodes.pcap",
        Format::Pcap,
        opaque::crypto_nodes(t + 40 * minute),
    );
    let mut web = opaque::dns_lookup(
        "192.0.2.90:40054",
        "www.example.org",
        &[[192, 0, 2, 91]],
        t + 45 * minute,
    );
    web.extend(opaque::tls_session(
        "192.0.2.90:52000",
        "192.0.2.91:443",
        t + 45 * minute + 1_000_000_000,
        Some("www.example.org"),
        None,
        3,
        200,
        (1400, 300),
    ));
    add("benign-tls-web.pcap", Format::Pcap, web);

    // The same short Stratum session in each encapsulation mirrored traffic arrives in.
    let short = Script {
        jobs: 2,
        ..Script::default()
    };
    let encaps: [(&'static str, L2); 8] = [
        ("encap-mpls.pcap", L2::Mpls(16_001)),
        ("encap-pppoe.pcap", L2::Pppoe(0x1234)),
        ("encap-gre.pcap", L2::Tunnel(Tunnel::Gre(77))),
        ("encap-erspan2.pcap", L2::Tunnel(Tunnel::ErspanII(12))),
        ("encap-erspan3.pcap", L2::Tunnel(Tunnel::ErspanIII(13))),
        ("encap-vxlan.pcap", L2::Tunnel(Tunnel::Vxlan(5001))),
        ("encap-gtpu.pcap", L2::Tunnel(Tunnel::GtpU(0x00c0_ffee))),
        ("encap-ipip.pcap", L2::Tunnel(Tunnel::IpIp)),
    ];
    for (i, (file, l2)) in encaps.into_iter().enumerate() {
        let client = format!("10.45.0.{}:4{i}000", 10 + i);
        add(
            file,
            Format::Pcap,
            stratum_session(
                &client,
                POOL,
                START_NS + 3 * hour + i as u64 * minute,
                l2,
                &short,
            ),
        );
    }
    out
}

fn ntp(start: u64) -> Vec<Frame> {
    let client = addr("192.0.2.20:123");
    let server = addr("192.0.2.30:123");
    let mut frames = Vec::new();
    for i in 0..4u64 {
        // LI=0, VN=4, mode 3 (client) / 4 (server); the second byte is the *stratum* field.
        let mut req = vec![0u8; 48];
        req[0] = 0x23;
        let mut resp = vec![0u8; 48];
        resp[0] = 0x24;
        resp[1] = 2;
        resp[12..16].copy_from_slice(b"GPS\0");
        let t = start + i * 64_000_000_000;
        frames.push(Frame {
            ts_ns: t,
            l2: L2::Ethernet,
            data: L2::Ethernet.wrap(&udp_packet(client, server, &req)),
        });
        frames.push(Frame {
            ts_ns: t + 9_000_000,
            l2: L2::Ethernet,
            data: L2::Ethernet.wrap(&udp_packet(server, client, &resp)),
        });
    }
    frames
}

fn http_quote(start: u64) -> Vec<Frame> {
    let body: String = Script::default()
        .lines()
        .iter()
        .take(8)
        .map(|l| format!("{}\n", l.text))
        .collect();
    let req = "GET /docs/stratum-protocol.txt HTTP/1.1\r\nHost: docs.example.org\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n";
    let resp = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut s = TcpSession::new(
        addr("192.0.2.40:50500"),
        addr("192.0.2.41:80"),
        start,
        L2::Ethernet,
    );
    s.handshake();
    s.send(true, req.as_bytes());
    s.wait_ms(20);
    s.send(false, resp.as_bytes());
    s.close();
    s.frames
}

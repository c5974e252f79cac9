//! Decoder tests on frames built by the project's generator.

use super::*;
use std::net::SocketAddr;
use synth::capture::{fragment_v4, udp_packet, L2};
use synth::session::segment;

fn sa(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn tcp_ip(payload: &[u8]) -> Vec<u8> {
    segment(
        sa("10.1.1.1:40000"),
        sa("10.2.2.2:3333"),
        1000,
        5,
        0x18,
        payload,
    )
}

#[test]
fn every_link_layer_reaches_the_payload() {
    for l2 in [
        L2::Ethernet,
        L2::Vlan(7),
        L2::QinQ(100, 7),
        L2::Sll,
        L2::Sll2,
        L2::Raw,
        L2::Null,
    ] {
        let frame = l2.wrap(&tcp_ip(b"hello"));
        let d = Decoder::default()
            .decode(l2.linktype(), &frame, 0)
            .unwrap_or_else(|e| panic!("{l2:?}: {e:?}"));
        assert_eq!(d.payload.bytes(), b"hello", "{l2:?}");
        assert_eq!((d.sport, d.dport, d.proto), (40000, 3333, PROTO_TCP));
        assert_eq!(d.tcp.seq, 1000);
        assert_eq!(d.tcp.flags, tcp_flags::PSH | tcp_flags::ACK);
    }
}

#[test]
fn ethernet_padding_is_not_payload() {
    let mut frame = L2::Ethernet.wrap(&tcp_ip(b""));
    frame.extend_from_slice(&[0u8; 6]); // pad to the 60-byte minimum
    let d = Decoder::default().decode(1, &frame, 0).unwrap();
    assert!(d.payload.bytes().is_empty());
}

#[test]
fn ipv4_options_are_skipped() {
    let mut ip = tcp_ip(b"opt");
    // Insert 4 bytes of options (NOP NOP NOP EOL) and fix IHL and total length.
    ip.splice(20..20, [1u8, 1, 1, 0]);
    ip[0] = 0x46;
    let total = ip.len() as u16;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    let d = Decoder::default().decode(101, &ip, 0).unwrap();
    assert_eq!(d.payload.bytes(), b"opt");
}

#[test]
fn ipv4_fragments_reassemble_in_any_order() {
    let payload: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let whole = tcp_ip(&payload);
    let mut frags = fragment_v4(&whole, 1000);
    assert!(frags.len() >= 3);
    frags.swap(0, 2);
    let mut dec = Decoder::default();
    let mut got = None;
    for f in &frags {
        match dec.decode(101, f, 0) {
            Ok(d) => got = Some(d.payload.bytes().to_vec()),
            Err(Skip::FragmentHeld) => {}
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(got.unwrap(), payload);
    assert_eq!(dec.frags.stats.reassembled, 1);
}

#[test]
fn ipv6_extension_headers_and_fragments() {
    let ip = segment(
        sa("[2001:db8::1]:40000"),
        sa("[2001:db8::2]:3333"),
        9,
        0,
        0x18,
        b"v6 data!",
    );
    // Insert a hop-by-hop header (8 bytes) and a fragment header (atomic: offset 0, M=0).
    let mut v = ip[..40].to_vec();
    let next = v[6];
    v[6] = 0; // hop-by-hop
    v.extend_from_slice(&[44, 0, 1, 4, 0, 0, 0, 0]); // next = fragment, PadN
    v.extend_from_slice(&[next, 0, 0, 0, 0, 0, 0, 42]);
    v.extend_from_slice(&ip[40..]);
    let plen = (v.len() - 40) as u16;
    v[4..6].copy_from_slice(&plen.to_be_bytes());
    let d = Decoder::default().decode(101, &v, 0).unwrap();
    assert_eq!(d.payload.bytes(), b"v6 data!");

    // Now a real two-piece fragmentation of the same TCP segment.
    let l4 = &ip[40..];
    let (a, b) = l4.split_at(16);
    let piece = |off: usize, more: bool, data: &[u8]| {
        let mut p = ip[..40].to_vec();
        p[6] = 44;
        let fo = ((off / 8) as u16) << 3 | u16::from(more);
        p.extend_from_slice(&[next, 0]);
        p.extend_from_slice(&fo.to_be_bytes());
        p.extend_from_slice(&7u32.to_be_bytes());
        p.extend_from_slice(data);
        let plen = (p.len() - 40) as u16;
        p[4..6].copy_from_slice(&plen.to_be_bytes());
        p
    };
    let mut dec = Decoder::default();
    assert_eq!(
        dec.decode(101, &piece(16, false, b), 0).unwrap_err(),
        Skip::FragmentHeld
    );
    let first = piece(0, true, a);
    let d = dec.decode(101, &first, 0).unwrap();
    assert_eq!(d.payload.bytes(), b"v6 data!");
}

#[test]
fn udp_payload() {
    let ip = udp_packet(sa("192.0.2.1:5353"), sa("192.0.2.2:53"), b"query");
    let d = Decoder::default().decode(228, &ip, 0).unwrap();
    assert_eq!((d.proto, d.dport), (PROTO_UDP, 53));
    assert_eq!(d.payload.bytes(), b"query");
}

#[test]
fn every_truncation_is_a_counted_skip_never_a_panic() {
    let frame = L2::QinQ(1, 2).wrap(&tcp_ip(b"payload"));
    let header_len = frame.len() - 7;
    for cut in 0..header_len {
        let r = Decoder::default().decode(1, &frame[..cut], 0);
        assert!(r.is_err(), "cut at {cut} decoded");
    }
    let v6 = L2::Sll2.wrap(&segment(sa("[::1]:1"), sa("[::2]:2"), 0, 0, 2, b""));
    for cut in 0..v6.len() {
        let _ = Decoder::default().decode(276, &v6[..cut], 0);
    }
}

#[test]
fn non_ip_and_unknown_links_have_their_own_reasons() {
    let mut arp = vec![0u8; 42];
    arp[12..14].copy_from_slice(&0x0806u16.to_be_bytes());
    assert_eq!(
        Decoder::default().decode(1, &arp, 0).unwrap_err(),
        Skip::NotIp
    );
    assert_eq!(
        Decoder::default().decode(147, &arp, 0).unwrap_err(),
        Skip::UnknownLinkType
    );
    let mut bad = tcp_ip(b"x");
    bad[0] = 0x43; // IHL 3
    assert_eq!(
        Decoder::default().decode(101, &bad, 0).unwrap_err(),
        Skip::BadIpHeader
    );
    let mut icmp = tcp_ip(b"x");
    icmp[9] = 1;
    assert_eq!(
        Decoder::default().decode(101, &icmp, 0).unwrap_err(),
        Skip::OtherTransport
    );
}

#[test]
fn nested_tunnels_keep_the_outermost_and_count_layers() {
    use synth::capture::Tunnel;
    // A VXLAN frame whose inner Ethernet carries an MPLS-labelled packet.
    let inner = L2::Mpls(42).wrap(&tcp_ip(b"deep"));
    let mut vx = vec![0x08, 0, 0, 0, 0, 0x13, 0x89, 0];
    vx.extend_from_slice(&inner);
    let outer = L2::Ethernet.wrap(&udp_packet(
        sa("192.0.2.1:40000"),
        sa("192.0.2.2:4789"),
        &vx,
    ));
    let d = Decoder::default().decode(1, &outer, 0).unwrap();
    assert_eq!(d.payload.bytes(), b"deep");
    let e = d.encap.unwrap();
    assert_eq!((e.kind, e.id, e.layers), (EncapKind::Vxlan, 0x1389, 2));
    // Every encapsulation the generator makes decodes to the same inner segment.
    for t in [
        Tunnel::Gre(1),
        Tunnel::ErspanII(2),
        Tunnel::ErspanIII(3),
        Tunnel::Vxlan(4),
        Tunnel::GtpU(5),
        Tunnel::IpIp,
    ] {
        let f = L2::Tunnel(t).wrap(&tcp_ip(b"inner"));
        let d = Decoder::default().decode(1, &f, 0).unwrap();
        assert_eq!(d.payload.bytes(), b"inner", "{t:?}");
        assert_eq!(d.dport, 3333);
        // Cut anywhere, never a panic.
        for cut in 0..f.len() {
            let _ = Decoder::default().decode(1, &f[..cut], 0);
        }
    }
}

#[test]
fn gtp_control_messages_and_plain_udp_to_tunnel_ports_are_not_unwrapped() {
    // A GTP echo request (type 1) is not user data: it stays a UDP packet.
    let echo = udp_packet(
        sa("192.0.2.1:2152"),
        sa("192.0.2.2:2152"),
        &[0x32, 0x01, 0, 4, 0, 0, 0, 0, 0, 1, 0, 0],
    );
    let d = Decoder::default().decode(101, &echo, 0).unwrap();
    assert_eq!((d.proto, d.dport, d.encap), (PROTO_UDP, 2152, None));
}

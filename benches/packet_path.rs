//! Per-packet costs of the hot path (criterion): decoding a frame, a flow-table update for a
//! flow that is not mining, and parsing one Stratum line.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use minetap::decode::Decoder;
use minetap::detect::mining::stratum;
use minetap::detect::Table;
use minetap::detect::{Detector, Limits};
use minetap::flow::{Dir, EvidenceBudget, FlowConfig, FlowKey, PacketMeta};
use synth::capture::L2;
use synth::session::segment;

fn frame(payload: &[u8]) -> Vec<u8> {
    let ip = segment(
        "10.1.1.1:40000".parse().unwrap(),
        "10.2.2.2:443".parse().unwrap(),
        1000,
        5,
        0x18,
        payload,
    );
    L2::Vlan(10).wrap(&ip)
}

fn decode(c: &mut Criterion) {
    let f = frame(&[0u8; 1400]);
    let mut d = Decoder::default();
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(1));
    g.bench_function("vlan_ipv4_tcp_1400", |b| {
        b.iter(|| {
            let r = d.decode(1, black_box(&f), 0);
            black_box(r.is_ok())
        })
    });
    g.finish();
}

fn flow_table(c: &mut Criterion) {
    let mut t = Table::new(
        FlowConfig::default(),
        Default::default(),
        EvidenceBudget::default(),
    );
    let mut out = Vec::new();
    let mut g = c.benchmark_group("flow");
    g.throughput(Throughput::Elements(1));
    // 1024 established non-mining flows (already given up on), visited round robin.
    let metas: Vec<PacketMeta> = (0..1024u32)
        .map(|i| {
            let (key, from_lo) = FlowKey::of(
                (std::net::Ipv4Addr::from(0x0a00_0000 + i).into(), 40000),
                ("10.200.0.1".parse().unwrap(), 443),
                6,
            );
            PacketMeta {
                ts_ns: 1_000_000_000,
                key,
                hash: key.hash64(),
                from_lo,
                tcp: minetap::decode::Tcp {
                    seq: 1,
                    ack: 1,
                    flags: 0x18,
                },
                wire_len: 1514,
                encap: None,
            }
        })
        .collect();
    let tls = [0x16u8; 1400];
    for m in &metas {
        t.packet(m, &tls, &mut out);
    }
    let mut i = 0;
    g.bench_function("established_not_mining", |b| {
        b.iter(|| {
            i = (i + 1) & 1023;
            t.packet(black_box(&metas[i]), &tls, &mut out);
        })
    });
    // Short flows, as on a tap: each packet opens a new flow (a SYN, 1 ms after the last), so
    // the table keeps making entries while its timeout sweeps end the old ones (about 120,000
    // flows live at the default TCP timeout).
    let mut churn = Table::new(
        FlowConfig::default(),
        Default::default(),
        EvidenceBudget::default(),
    );
    let server: std::net::IpAddr = "10.200.0.1".parse().unwrap();
    let mut n = 0u32;
    g.bench_function("new_flow_churn", |b| {
        b.iter(|| {
            n = n.wrapping_add(1);
            let (key, from_lo) = FlowKey::of(
                (
                    std::net::Ipv4Addr::from(0x0a00_0000 + (n & 0xf_ffff)).into(),
                    40000,
                ),
                (server, 443),
                6,
            );
            let m = PacketMeta {
                ts_ns: 1_000_000_000 + n as u64 * 1_000_000,
                key,
                hash: key.hash64(),
                from_lo,
                tcp: minetap::decode::Tcp {
                    seq: 1,
                    ack: 0,
                    flags: 0x02,
                },
                wire_len: 66,
                encap: None,
            };
            churn.packet(black_box(&m), &[], &mut out);
            out.clear();
        })
    });
    g.finish();
}

fn stratum_line(c: &mut Criterion) {
    let line = br#"{"id":null,"method":"mining.notify","params":["4f01","a1b2c3d4a1b2c3d4a1b2c3d4a1b2c3d4a1b2c3d4a1b2c3d4a1b2c3d4a1b2c3d4","01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff20020862062f503253482f04b8864e5008","072f736c7573682f000000000100f2052a010000001976a914d23fcdf86f7e756a64a7a9688ef9903327048ed988ac00000000",["b2c3d4e5b2c3d4e5b2c3d4e5b2c3d4e5b2c3d4e5b2c3d4e5b2c3d4e5b2c3d4e5"],"20000000","1703a30c","65f12a00",false]}
"#;
    let mut s = stratum::detector(&Limits::default(), false);
    s.on_data(
        Dir::Fwd,
        b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n",
        0,
    );
    let mut g = c.benchmark_group("stratum");
    g.throughput(Throughput::Bytes(line.len() as u64));
    g.bench_function("notify_line", |b| {
        b.iter(|| s.on_data(Dir::Rev, black_box(line), 0))
    });
    g.finish();
}

criterion_group!(benches, decode, flow_table, stratum_line);
criterion_main!(benches);

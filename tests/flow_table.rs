//! The flow table driving the detectors: timeouts, eviction, RST, re-sampling and the
//! evidence budget, seen from what it reports.

use minetap::decode::{tcp_flags, Tcp, PROTO_TCP};
use minetap::detect::{FlowRecord, Table};
use minetap::flow::{Dir, EndReason, EvidenceBudget, FlowConfig, FlowKey, PacketMeta, FRAME_COST};
use std::net::IpAddr;

const SUB: &[u8] = b"{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"m/1\"]}\n";

fn pkt(port: u16, ts_s: u64, flags: u8, seq: u32, from_client: bool) -> PacketMeta {
    let c: (IpAddr, u16) = ("10.0.0.1".parse().unwrap(), port);
    let s: (IpAddr, u16) = ("10.0.0.2".parse().unwrap(), 3333);
    let (src, dst) = if from_client { (c, s) } else { (s, c) };
    let (key, from_lo) = FlowKey::of(src, dst, PROTO_TCP);
    PacketMeta {
        ts_ns: ts_s * 1_000_000_000,
        key,
        hash: key.hash64(),
        from_lo,
        tcp: Tcp { seq, ack: 0, flags },
        wire_len: 60,
        encap: None,
    }
}

const PSH_ACK: u8 = tcp_flags::PSH | tcp_flags::ACK;

/// A Stratum session on `port`, opened at 1 s by the client and reset at 2 s by the pool.
fn subscribe_then_reset(t: &mut Table, port: u16, out: &mut Vec<FlowRecord>) {
    t.packet(&pkt(port, 1, tcp_flags::SYN, 0, true), b"", out);
    t.packet(&pkt(port, 1, PSH_ACK, 1, true), SUB, out);
    t.packet(&pkt(port, 2, tcp_flags::RST, 100, false), b"", out);
}

/// A table whose TCP flows time out after `secs` idle seconds.
fn with_tcp_timeout(secs: u64) -> Table {
    let cfg = FlowConfig {
        tcp_timeout_ns: secs * 1_000_000_000,
        ..FlowConfig::default()
    };
    Table::new(cfg, Default::default(), EvidenceBudget::default())
}

#[test]
fn evidence_frames_stay_within_the_budget_and_are_given_back() {
    let frame = [0u8; 100];
    let budget = EvidenceBudget::default();
    let mut t = Table::new(
        FlowConfig {
            evidence_packets: 1000,
            evidence_total_bytes: 10 * (100 + FRAME_COST),
            ..FlowConfig::default()
        },
        Default::default(),
        budget.clone(),
    );
    let mut out = Vec::new();
    let before = budget.held();
    t.packet_with_frame(
        &pkt(1000, 1, PSH_ACK, 1, true),
        SUB,
        Some((&frame, 1, 0)),
        &mut out,
    );
    for _ in 0..20 {
        t.packet_with_frame(
            &pkt(1000, 2, tcp_flags::ACK, 1 + SUB.len() as u32, true),
            b"",
            Some((&frame, 1, 0)),
            &mut out,
        );
    }
    assert_eq!(budget.held() - before, 10 * (100 + FRAME_COST));
    assert_eq!(t.stats.evidence_frames_over_budget, 11);
    t.finish(&mut out);
    let r = out.pop().unwrap();
    assert_eq!(r.evidence.as_ref().unwrap().frames.len(), 10);
    drop(r);
    drop(out);
    assert_eq!(
        budget.held(),
        before,
        "frames given back when the record is done"
    );
}

#[test]
fn idle_flows_time_out_and_are_reported() {
    let mut t = with_tcp_timeout(10);
    let mut out = Vec::new();
    t.packet(&pkt(1000, 1, PSH_ACK, 1, true), SUB, &mut out);
    assert!(out.is_empty());
    t.packet(&pkt(2000, 30, PSH_ACK, 1, true), b"", &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].end, EndReason::Timeout);
    assert_eq!(t.stats.timed_out, 1);
    assert_eq!(t.len(), 1);
}

#[test]
fn a_full_table_evicts_and_counts_but_keeps_mining_flows_longest() {
    let mut t = Table::new(
        FlowConfig {
            max_flows: 32,
            ..FlowConfig::default()
        },
        Default::default(),
        EvidenceBudget::default(),
    );
    let mut out = Vec::new();
    t.packet(&pkt(1, 1, PSH_ACK, 1, true), SUB, &mut out);
    for port in 2..200 {
        t.packet(&pkt(port, 1, tcp_flags::ACK, 1, true), b"", &mut out);
        assert!(t.len() <= 32);
    }
    assert!(t.stats.evicted > 0);
    assert!(
        out.is_empty(),
        "the mining flow was kept while others could go"
    );
    t.finish(&mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].fwd.1, 1);
}

#[test]
fn rst_ends_at_once_and_later_packets_do_not_make_a_new_flow() {
    let mut t = Table::new(
        FlowConfig::default(),
        Default::default(),
        EvidenceBudget::default(),
    );
    let mut out = Vec::new();
    subscribe_then_reset(&mut t, 5, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].end, EndReason::Reset);
    assert_eq!(out[0].syn_from, Some(Dir::Fwd));
    t.packet(&pkt(5, 2, tcp_flags::ACK, 200, true), b"", &mut out);
    assert_eq!(t.stats.flows, 1);
    // The same ports opened again are a new flow.
    t.packet(&pkt(5, 3, tcp_flags::SYN, 0, true), b"", &mut out);
    assert_eq!(t.stats.flows, 2);
}

#[test]
fn timestamps_at_the_end_of_time_do_not_overflow() {
    // Found by fuzzing the capture reader: a pcapng timestamp near u64::MAX.
    let mut t = Table::new(
        FlowConfig::default(),
        Default::default(),
        EvidenceBudget::default(),
    );
    let mut out = Vec::new();
    let mut p = pkt(9, 0, PSH_ACK, 1, true);
    p.ts_ns = u64::MAX - 5;
    t.packet(&p, b"GET / HTTP/1.1\r\n\r\n", &mut out);
    t.packet(&p, SUB, &mut out);
    t.finish(&mut out);
    assert_eq!(t.stats.flows, 1);
}

#[test]
fn a_flow_that_is_not_mining_stops_being_inspected() {
    let mut t = Table::new(
        FlowConfig::default(),
        Default::default(),
        EvidenceBudget::default(),
    );
    let mut out = Vec::new();
    t.packet(&pkt(7, 1, tcp_flags::SYN, 0, true), b"", &mut out);
    t.packet(
        &pkt(7, 1, PSH_ACK, 1, true),
        b"GET / HTTP/1.1\r\n\r\n",
        &mut out,
    );
    t.packet(
        &pkt(7, 1, PSH_ACK, 9, false),
        b"HTTP/1.1 200 OK\r\n\r\n",
        &mut out,
    );
    assert_eq!(t.stats.gave_up, 1);
    let before = t.stats.inspected_bytes;
    t.packet(&pkt(7, 2, PSH_ACK, 19, true), SUB, &mut out);
    assert_eq!(t.stats.inspected_bytes, before, "no longer inspected");
    // Re-sampled after the interval, from the middle of the stream.
    let later = 2 + FlowConfig::default().resample_after_ns / 1_000_000_000;
    let seq = 19 + SUB.len() as u32;
    t.packet(&pkt(7, later, PSH_ACK, seq, true), SUB, &mut out);
    assert_eq!(t.stats.resampled, 1);
    t.finish(&mut out);
    assert_eq!(out.len(), 1);
}

/// Live capture on a quiet link: the capture's clock, with no packet, still times flows out.
#[test]
fn the_capture_clock_times_flows_out_without_a_packet() {
    let mut t = with_tcp_timeout(10);
    let mut out = Vec::new();
    t.packet(&pkt(1000, 1, PSH_ACK, 1, true), SUB, &mut out);
    t.advance(5_000_000_000, &mut out);
    assert!(out.is_empty(), "not yet: {out:?}");
    assert_eq!(t.len(), 1);
    t.advance(30_000_000_000, &mut out);
    assert_eq!(out.len(), 1, "timed out by the clock alone");
    assert_eq!(out[0].end, EndReason::Timeout);
    assert_eq!(t.len(), 0);
}

/// An unrecognised conversation is reported early once its behaviour window has passed, then
/// again every half window while it lasts (the verdict stage keeps only a rising verdict).
#[test]
fn an_unrecognised_conversation_is_reported_early_on_a_rolling_window() {
    let mut t = Table::new(
        FlowConfig {
            early_records: true,
            behaviour_window_ns: Some(60_000_000_000),
            ..FlowConfig::default()
        },
        Default::default(),
        EvidenceBudget::default(),
    );
    let mut out = Vec::new();
    let mut seq = [1u32, 1u32];
    for s in (1..=100).step_by(3) {
        let from_client = s % 2 == 1;
        let data: &[u8] = b"\x17\x03\x03\x00\x05hello";
        t.packet(
            &pkt(1000, s, PSH_ACK, seq[from_client as usize], from_client),
            data,
            &mut out,
        );
        seq[from_client as usize] += data.len() as u32;
    }
    let ages: Vec<u64> = out
        .iter()
        .map(|r| (r.last_ts - r.first_ts) / 1_000_000_000)
        .collect();
    assert!(out.iter().all(|r| r.end == EndReason::Ongoing), "{out:?}");
    assert_eq!(
        ages,
        vec![60, 90],
        "reported at the window, then half a window later"
    );
}

/// Timeouts go by each flow's last packet, however often it was filed for one: a busy flow
/// outlives many timeouts, a reset flow lingers 10 s and goes, and the same ports opened again
/// make a flow that lives by its own packets.
#[test]
fn a_busy_flow_outlives_its_timeout_and_a_reset_one_lingers_then_goes() {
    let mut t = with_tcp_timeout(20);
    let mut out = Vec::new();
    // Port 7 talks every 7 s until 43 s; port 8 is reset at 2 s.
    subscribe_then_reset(&mut t, 8, &mut out);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].end, EndReason::Reset);
    out.clear();
    for s in (1..=43).step_by(7) {
        t.packet(&pkt(7, s, PSH_ACK, 1 + s as u32, true), SUB, &mut out);
        t.advance(s * 1_000_000_000 + 500_000_000, &mut out);
        assert!(out.is_empty(), "at {s} s: {out:?}");
        // The reset flow lingers 10 s past its last packet, not the 20 s of an open flow: it
        // goes on the first sweep after 12 s (sweeps come every 10 s: at 1, 15, 25... s).
        let lingering = usize::from(s < 15);
        assert_eq!(t.len(), 1 + lingering, "at {s} s");
    }
    // The same ports as the reset flow, opened again: a new flow, alive by its own packets.
    t.packet(&pkt(8, 44, tcp_flags::SYN, 0, true), b"", &mut out);
    t.packet(&pkt(8, 50, PSH_ACK, 1, true), SUB, &mut out);
    t.advance(60_000_000_000, &mut out);
    assert!(out.is_empty(), "{out:?}");
    assert_eq!(t.len(), 2);
    assert_eq!(t.stats.flows, 3);
    // Quiet from then on: port 7 (last packet at 43 s) goes first, then port 8 (50 s).
    t.advance(80_000_000_000, &mut out);
    let ended: Vec<(u16, EndReason)> = out.iter().map(|r| (r.fwd.1, r.end)).collect();
    assert_eq!(
        ended,
        vec![(7, EndReason::Timeout), (8, EndReason::Timeout)]
    );
    assert_eq!(t.stats.timed_out, 2);
    assert_eq!(t.len(), 0);
}

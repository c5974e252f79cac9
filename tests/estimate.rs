//! Hashrate and power estimates on generated sessions whose answer is known exactly.

mod common;

use common::*;
use synth::capture::{Format, L2};
use synth::samples::START_NS;
use synth::stratum::{stratum_session, Flavour, Script};

/// Scans a generated session; returns its event and the session's first and last timestamps.
fn session(script: &Script) -> (serde_json::Value, u64, u64) {
    let frames = stratum_session(
        "203.0.113.90:40000",
        "198.51.100.90:3333",
        START_NS,
        L2::Ethernet,
        script,
    );
    // The flow ends with the second FIN; the last ACK after it is not part of the flow.
    let (first, last) = (frames[0].ts_ns, frames[frames.len() - 2].ts_ns);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.pcap");
    std::fs::write(&path, Format::Pcap.write(&frames)).unwrap();
    let out = run(&["scan", "-q", path.to_str().unwrap()]);
    let ev = events(&out);
    assert_eq!(ev.len(), 1);
    (ev[0].clone(), first, last)
}

fn close(a: f64, b: f64) -> bool {
    ((a - b) / b).abs() < 1e-9
}

#[test]
fn fixed_difficulty_known_shares_known_time() {
    let script = Script {
        agent: "bmminer/2.0.0".into(),
        difficulty: 65536.0,
        jobs: 10,
        submits_per_job: 5,
        reject_every: 0,
        ..Script::default()
    };
    let (e, first, last) = session(&script);
    let m = &e["mining"];
    assert_eq!(m["algorithm"], "sha256d");
    assert_eq!(m["algorithm_basis"], "agent");
    assert_eq!(m["coin"], "BTC");
    let h = &m["hashrate"];
    // The script retargets to twice the difficulty half-way: jobs 0-4 at D, jobs 5-9 at 2D,
    // five accepted shares each.
    let d = 65536.0 * 2f64.powi(32);
    let work = 25.0 * d + 25.0 * 2.0 * d;
    let t = (last - first) as f64 / 1e9;
    assert_eq!(h["shares"], 50);
    assert_eq!(h["basis"], "accepted");
    assert!(close(h["observed_s"].as_f64().unwrap(), t));
    assert!(close(h["hashrate_hs"].as_f64().unwrap(), work / t));
    // Poisson 95 % interval for 50 events: 37.111 .. 65.919.
    let per_share = work / 50.0;
    assert!((h["hashrate_hs_low"].as_f64().unwrap() / (per_share / t) - 37.111).abs() < 0.01);
    assert!((h["hashrate_hs_high"].as_f64().unwrap() / (per_share / t) - 65.919).abs() < 0.01);
    // Power: typical 21.5 J/TH from the table.
    let p = &m["power"];
    assert!(close(p["watts"].as_f64().unwrap(), work / t * 21.5e-12));
    assert!(p["efficiency_row"]
        .as_str()
        .unwrap()
        .starts_with("power.table:"));
    // The difficulty timeline shows both announcements.
    assert_eq!(m["difficulty_changes"][0]["difficulty"], 65536.0);
    assert_eq!(m["difficulty_changes"][1]["difficulty"], 131072.0);
}

#[test]
fn rejected_shares_do_not_count_and_targets_need_no_algorithm() {
    let script = Script {
        flavour: Flavour::Equihash,
        agent: "unknown-miner/1.0".into(),
        jobs: 4,
        submits_per_job: 3,
        reject_every: 3,
        ..Script::default()
    };
    let (e, first, last) = session(&script);
    let m = &e["mining"];
    assert_eq!(m["shares"]["accepted"], 8);
    assert_eq!(m["algorithm"], "equihash"); // from the 8-field notify
    assert_eq!(m["algorithm_basis"], "protocol");
    let h = &m["hashrate"];
    // set_target 0x0010... = 2^244: 4096 solutions per share.
    let t = (last - first) as f64 / 1e9;
    assert!(close(h["hashrate_hs"].as_f64().unwrap(), 8.0 * 4096.0 / t));
    assert_eq!(h["hashes_per_share"], 4096.0);
}

#[test]
fn no_estimate_without_a_known_unit_and_the_event_says_why() {
    let script = Script {
        agent: "my-own-miner".into(),
        jobs: 2,
        ..Script::default()
    };
    let (e, _, _) = session(&script);
    let m = &e["mining"];
    assert!(m.get("hashrate").is_none());
    assert_eq!(
        m["hashrate_missing"],
        "difficulty without a known algorithm"
    );
    assert_eq!(m["shares"]["submitted"], 4);
}

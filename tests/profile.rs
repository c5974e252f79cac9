//! Site traffic profiles (`--profile-local`): a generated hour with a mine (twenty hosts of one
//! /24, each holding one Stratum connection to a pool, nothing else) and a data centre (one
//! host serving HTTPS to fifty clients, and one of its hosts mining). The profiles must tell
//! them apart by the figures the regulation's screening needs, and validate against the schema.

mod common;

use common::*;
use serde_json::Value;
use std::path::Path;
use synth::capture::{Format, Frame, L2};
use synth::samples::START_NS;
use synth::session::{addr, TcpSession};
use synth::stratum::{stratum_session, Script};

fn week_hour() -> Vec<Frame> {
    let mut frames = Vec::new();
    let script = Script {
        difficulty: 1.0,
        jobs: 2,
        submits_per_job: 2,
        reject_every: 0,
        job_interval_ms: 10_000,
        ..Script::default()
    };
    // The mine: 10.1.0.10-29, one pool connection each.
    for h in 0..20u64 {
        frames.extend(stratum_session(
            &format!("10.1.0.{}:4{h:04}", 10 + h),
            "198.51.100.77:3333",
            START_NS + h * 1_000_000_000,
            L2::Ethernet,
            &script,
        ));
    }
    // The data centre: 10.2.0.5 answers fifty clients on 443 (bulk both ways)...
    for c in 0..50u64 {
        let mut s = TcpSession::new(
            addr(&format!("203.0.113.{}:5{c:04}", 1 + c)),
            addr("10.2.0.5:443"),
            START_NS + 30_000_000_000 + c * 500_000_000,
            L2::Ethernet,
        );
        s.handshake();
        s.send(true, &[0x16; 300]);
        s.wait_ms(20);
        s.send(false, &[0x17; 1400]);
        s.send(false, &[0x17; 1400]);
        s.close();
        frames.extend(s.frames);
    }
    // ...and 10.2.0.9, in the same /24, mines.
    frames.extend(stratum_session(
        "10.2.0.9:40999",
        "198.51.100.78:3333",
        START_NS + 60_000_000_000,
        L2::Ethernet,
        &script,
    ));
    frames.sort_by_key(|f| f.ts_ns);
    frames
}

#[test]
fn profiles_tell_a_mine_from_a_data_centre_hosting_mining() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hour.pcap");
    std::fs::write(&path, Format::Pcap.write(&week_hour())).unwrap();
    let out = run(&[
        "scan",
        "-q",
        "--profile-local",
        "10.0.0.0/8",
        "--profile-prefix",
        "24",
        path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let all = events(&out);
    let mining = all.iter().filter(|e| e["event_type"] == "mining").count();
    assert_eq!(mining, 21, "the miners' flows are still reported");
    let profiles: Vec<&Value> = all
        .iter()
        .filter(|e| e["event_type"] == "site_profile")
        .map(|e| &e["site_profile"])
        .collect();
    let site = |name: &str| -> &Value {
        profiles
            .iter()
            .find(|p| p["site"] == name)
            .unwrap_or_else(|| panic!("no profile of {name}: {profiles:?}"))
    };
    assert_eq!(profiles.len(), 2, "{profiles:?}");
    // START_NS is 2026-03-02T08:13:24Z: the hour from 08:00.
    let start = START_NS / 1_000_000_000 / 3600 * 3600;
    let mine = site("10.1.0.0/24");
    assert_eq!(mine["interval_start"], start);
    assert_eq!(mine["interval_end"], start + 3600);
    assert_eq!(mine["flows_opened"], 20);
    assert_eq!(mine["flows_answered"], 0);
    assert_eq!(mine["mining_flows"], 20);
    assert_eq!(mine["mining_hosts"], 20);
    assert_eq!(mine["peers"], 1, "one pool");
    assert_eq!(mine["served"], serde_json::json!([]));
    let dc = site("10.2.0.0/24");
    assert_eq!(dc["flows_answered"], 50);
    assert_eq!(
        dc["served"],
        serde_json::json!([{"proto": "tcp", "port": 443, "connections": 50}])
    );
    let peers = dc["peers"].as_u64().unwrap();
    assert!((40..=60).contains(&peers), "about 51 peers: {peers}");
    assert_eq!(dc["flows_opened"], 1);
    assert_eq!(dc["mining_flows"], 1);
    assert_eq!(dc["mining_hosts"], 1);
    assert!(
        dc["bytes_sent"].as_u64().unwrap() > 50 * 2800,
        "the bulk it served: {dc}"
    );
    // Every line, profiles included, validates against the schema.
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/event.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).unwrap();
    for e in &all {
        let errors: Vec<String> = v.iter_errors(e).map(|x| x.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?} in {e}");
    }
    // The inventory reads the profiles: the data centre's miner is mining inside a data centre
    // (its /24 answered fifty peers), the mine's hosts are not.
    let ev_file = dir.path().join("events.jsonl");
    let lines: Vec<String> = all.iter().map(|e| e.to_string()).collect();
    std::fs::write(&ev_file, lines.join("\n") + "\n").unwrap();
    let inv = dir.path().join("inv");
    let out = run(&[
        "inventory",
        ev_file.to_str().unwrap(),
        "--out",
        inv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(inv.join("inventory.json")).unwrap())
            .unwrap();
    let sites = json.as_array().unwrap_or_else(|| panic!("{json}"));
    let of = |addr: &str| {
        sites
            .iter()
            .find(|s| s["addresses"][0] == addr)
            .unwrap_or_else(|| panic!("no site {addr}"))
    };
    let dc_site = of("10.2.0.9");
    assert_eq!(dc_site["classification"], "data_centre_mining", "{dc_site}");
    assert_eq!(dc_site["profile"]["answered"], 50);
    assert_eq!(
        dc_site["profile"]["networks"],
        serde_json::json!(["10.2.0.0/24"])
    );
    let mine_host = of("10.1.0.10");
    assert_eq!(mine_host["classification"], "small_scale", "{mine_host}");
    assert_eq!(mine_host["profile"]["answered"], 0);
    assert_eq!(mine_host["profile"]["mining_flows"], 20);
    // A profile with a flow field, or without its object, fails.
    let mut bad = all
        .iter()
        .find(|e| e["event_type"] == "site_profile")
        .unwrap()
        .clone();
    bad.as_object_mut().unwrap().remove("site_profile");
    assert!(!v.is_valid(&bad));
}

#[test]
fn profile_settings_are_checked() {
    for (args, want) in [
        (vec!["--profile-interval", "3600"], "need --profile-local"),
        (vec!["--profile-local", "10.0.0.0/33"], "--profile-local"),
        (
            vec!["--profile-local", "10.0.0.0/8", "--profile-interval", "5"],
            "from 60 to 604800",
        ),
        (
            vec!["--profile-local", "10.0.0.0/8", "--profile-prefix", "40"],
            "at most 32 and 128",
        ),
        (
            vec!["--profile-local", "10.0.0.0/8", "--profile-max-sites", "0"],
            "must be at least 1",
        ),
    ] {
        let mut a = vec!["scan", "-q"];
        a.extend(args);
        a.push(pcap("stratum-v1.pcap").to_str().unwrap().to_string().leak());
        let out = run(&a);
        assert_eq!(out.status.code(), Some(2), "{a:?}");
        assert!(stderr(&out).contains(want), "{a:?}: {}", stderr(&out));
    }
}

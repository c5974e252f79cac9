//! Mining inside TLS to endpoints nobody has named, told from other long-lived TLS by its
//! rhythm (`rules/behaviour.table`). The captures in `tests/data/tls/` were made with real
//! software on loopback (`make-tls.sh`, `PROVENANCE.md`): XMRig and the project's Stratum miner
//! over TLS to a pool by address (no SNI) and by a private name, and ten kinds of benign
//! long-lived TLS (MQTT, Redis, PostgreSQL, WebSocket, HTTPS polling, stunnel, OpenVPN, syslog).

mod common;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let n = p.file_name().unwrap().to_str().unwrap();
            n.starts_with(prefix) && n.ends_with(".pcap")
        })
        .collect();
    v.sort();
    v
}

fn scan(path: &Path) -> Vec<Value> {
    let out = run(&["scan", "-q", "--no-progress", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    events(&out)
}

fn signals(e: &Value) -> Vec<String> {
    e["mining"]["signals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn every_tls_mining_session_to_an_unnamed_pool_is_at_least_suspect() {
    let files = fixtures("mining-");
    assert_eq!(files.len(), 6, "{files:?}");
    for f in &files {
        let ev = scan(f);
        let name = f.file_name().unwrap().to_string_lossy();
        assert_eq!(ev.len(), 1, "{name}: {ev:?}");
        let m = &ev[0]["mining"];
        assert_eq!(m["level"], "suspect", "{name}: {m}");
        assert_eq!(m["protocol"], "tls", "{name}");
        assert!(m.get("pool").is_none(), "{name}: nobody named this pool");
        let conf = m["confidence"].as_f64().unwrap();
        assert!((0.3..=0.6).contains(&conf), "{name}: confidence {conf}");
        let s = signals(&ev[0]);
        assert!(
            s[0].starts_with("behaviour:") && s[0].contains("in TLS records"),
            "{name}: {s:?}"
        );
        assert!(s.iter().any(|x| x.contains(" answered (")), "{name}: {s:?}");
        assert!(
            s.iter().any(|x| x.starts_with("behaviour:server pushes")),
            "{name}: {s:?}"
        );
    }
}

#[test]
fn sessions_with_and_without_a_server_name_are_both_found() {
    let sni = scan(&fixtures("mining-xmrig-tls-sni")[0]);
    let ip = scan(&fixtures("mining-xmrig-tls-ip")[0]);
    assert!(sni[0]["tls"]["sni"] == "pool.private.test", "{}", sni[0]);
    assert!(ip[0]["tls"].get("sni").is_none(), "{}", ip[0]);
}

#[test]
fn no_benign_long_lived_tls_session_is_suspect() {
    let files = fixtures("benign-");
    assert_eq!(files.len(), 8, "{files:?}");
    for f in &files {
        let ev = scan(f);
        let mining: Vec<&Value> = ev.iter().filter(|e| e["event_type"] == "mining").collect();
        assert!(mining.is_empty(), "{}: {mining:?}", f.display());
    }
}

#[test]
fn the_behaviour_thresholds_are_rules_an_operator_can_set() {
    // Demanding more pushes than the session had turns the verdict off; the error for a
    // threshold that does not exist names the file and the line.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("local.table"),
        "behaviour min_pushes value=100 source=\"stricter here\"\n",
    )
    .unwrap();
    let f = fixtures("mining-stratum-tls-ip")[0].clone();
    let out = run(&[
        "scan",
        "-q",
        "--no-progress",
        "--rules",
        dir.path().to_str().unwrap(),
        f.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(events(&out).is_empty());
    std::fs::write(
        dir.path().join("local.table"),
        "behaviour min_pushs value=1 source=\"typo\"\n",
    )
    .unwrap();
    let out = run(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("local.table:1: unknown behaviour threshold 'min_pushs'"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn the_shared_corpus_benign_and_node_captures_give_no_suspect_flow() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/ndpi");
    if !root.is_dir() {
        eprintln!("SKIPPED: ../shared/corpus/ndpi is not here");
        return;
    }
    for sub in ["benign", "crypto-p2p"] {
        let out = run(&[
            "scan",
            "-q",
            "--no-progress",
            root.join(sub).to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let suspect: Vec<Value> = events(&out)
            .into_iter()
            .filter(|e| e["mining"]["level"] == "suspect")
            .collect();
        assert!(suspect.is_empty(), "{sub}: {suspect:?}");
    }
}

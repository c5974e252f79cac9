//! Each mining protocol family on its sample capture, field by field, and the traps beside them.

mod common;

use common::*;
use serde_json::Value;

fn one(file: &str) -> Value {
    let ev = scan_one(file);
    assert_eq!(ev.len(), 1, "{file}: {ev:?}");
    ev.into_iter().next().unwrap()
}

#[test]
fn cryptonote_xmrig_session() {
    let e = one("cryptonote-xmrig.pcap");
    assert_eq!(
        (e["src_ip"].as_str(), e["dest_port"].as_u64()),
        (Some("203.0.113.20"), Some(10128))
    );
    assert_eq!(e["app_proto"], "cryptonote");
    let m = &e["mining"];
    assert_eq!(m["protocol"], "cryptonote");
    assert_eq!(m["level"], "confirmed");
    assert_eq!(
        m["agent"],
        "XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0"
    );
    assert_eq!(m["workers"][1], "rig-07");
    assert_eq!(m["algorithm"], "rx/0");
    assert_eq!(m["target"], "b88d0600");
    assert_eq!(m["jobs"], 6); // one in the login answer, five pushed
    assert_eq!(m["shares"]["submitted"], 5);
    assert_eq!(m["shares"]["accepted"], 5);
    assert!(has_signal(&e, "cryptonote:login"));
    assert!(has_signal(&e, "cryptonote:algo rx/0,cn/r,rx/wow"));
}

#[test]
fn cryptonote_picked_up_from_jobs_and_submits_alone() {
    let e = one("cryptonote-midstream.pcap");
    assert_eq!(e["src_ip"], "203.0.113.21");
    let m = &e["mining"];
    assert_eq!(m["protocol"], "cryptonote");
    assert_eq!(m["handshake_seen"], false);
    assert!(m.get("agent").is_none());
    assert_eq!(m["jobs"], 5);
    assert_eq!(m["shares"]["submitted"], 5);
    assert!(!has_signal(&e, "cryptonote:login"));
}

#[test]
fn ethproxy_over_tcp() {
    let e = one("ethproxy.pcap");
    let m = &e["mining"];
    assert_eq!(m["protocol"], "ethproxy");
    assert_eq!(
        m["workers"][0],
        "0x9c99d212f7e5daa18ab50810e0fd255d1f04303b.rig2"
    );
    assert_eq!(m["workers"][1], "eth1.0");
    assert_eq!(m["claimed_hashrate_hs"], 400_000_000.0);
    assert_eq!(m["jobs"], 2); // one answered, one pushed
    assert_eq!(m["shares"]["accepted"], 1);
    assert!(has_signal(&e, "ethproxy:eth_submitWork"));
    assert!(has_signal(&e, "ethproxy:work push"));
}

#[test]
fn ethereum_getwork_over_http_with_chunked_answers() {
    let e = one("ethproxy-http.pcap");
    assert_eq!(e["dest_port"], 80);
    let m = &e["mining"];
    assert_eq!(m["protocol"], "ethproxy");
    assert_eq!(m["jobs"], 1);
    assert_eq!(m["claimed_hashrate_hs"], 100_000_000.0);
    assert_eq!(m["confidence"], 0.99);
}

#[test]
fn nicehash_ethereumstratum() {
    let e = one("ethereumstratum.pcap");
    let m = &e["mining"];
    assert_eq!(m["protocol"], "ethereumstratum");
    assert_eq!(m["agent"], "ethminer/0.19.0");
    assert_eq!(m["extranonce1"], "080c");
    assert_eq!(m["difficulty"], 0.5);
    assert_eq!(m["jobs"], 1);
    assert_eq!(m["shares"]["accepted"], 1);
    assert!(has_signal(&e, "stratum:protocol EthereumStratum/1.0.0"));
}

#[test]
fn getblocktemplate_and_submitblock_over_http() {
    let e = one("getblocktemplate.pcap");
    assert_eq!(e["app_proto"], "http");
    let m = &e["mining"];
    assert_eq!(m["protocol"], "getblocktemplate");
    assert_eq!(m["agent"], "cgminer 4.10.0");
    assert_eq!(m["jobs"], 1);
    assert_eq!(m["shares"]["submitted"], 1);
    assert_eq!(m["shares"]["accepted"], 1);
    assert!(has_signal(
        &e,
        "http:x-mining-extensions longpoll midstate rollntime submitold"
    ));
}

#[test]
fn legacy_getwork_over_http() {
    let e = one("getwork.pcap");
    let m = &e["mining"];
    assert_eq!(m["protocol"], "getwork");
    assert_eq!(m["agent"], "cgminer 3.7.2");
    assert_eq!(m["jobs"], 1);
}

#[test]
fn ordinary_node_rpc_is_not_mining() {
    assert!(scan_one("benign-node-rpc.pcap").is_empty());
}

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
    assert_eq!(m["algorithm"], "randomx"); // the protocol says rx/0
    assert_eq!(m["algorithm_basis"], "protocol");
    assert_eq!(m["coin"], "XMR");
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
    // The seed hash is the 794th Keccak-256 of zeros: blocks from 23,820,000, an Ethereum
    // Classic epoch of 60,000 blocks (ECIP-1099) in 2026; the pushed height 23,850,320 lies in
    // its second half, where a 30,000-block epoch (EthereumPoW) would have a new seed.
    let c = &m["chain"];
    assert_eq!(c["names"], serde_json::json!(["ETC"]));
    assert_eq!(c["seed_epoch"], 794);
    assert_eq!(c["height"], 23_850_320);
    assert_eq!(m["coin"], "ETC");
    assert_eq!(m["coin_basis"], "job");
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
    // The template's height, bits and time name the chain (BIP 22 fields), as a Stratum job's
    // coinbase does: Bitcoin's height at the template's time.
    assert_eq!(m["algorithm"], "sha256d");
    assert_eq!(m["algorithm_basis"], "job");
    assert_eq!(m["chain"]["names"], serde_json::json!(["BTC", "BCH"]));
    assert_eq!(m["chain"]["height"], 880000);
    assert_eq!(m["chain"]["job_time"], 1772439204);
}

#[test]
fn legacy_getwork_over_http() {
    let e = one("getwork.pcap");
    let m = &e["mining"];
    assert_eq!(m["protocol"], "getwork");
    assert_eq!(m["agent"], "cgminer 3.7.2");
    assert_eq!(m["jobs"], 1);
    // getwork has no height: block 125,552's nbits 0x1a44b9f2 (difficulty 244,112.49) at its
    // time, 2011-05-21, is Bitcoin's difficulty then (difficulty.table), so the job decides
    // sha256d where the agent (cgminer 3.7.2 mines scrypt too) could not.
    let c = &m["chain"];
    assert_eq!(c["names"], serde_json::json!(["BTC"]));
    assert!(c.get("height").is_none(), "{c}");
    assert_eq!(c["job_time"], 1_305_998_791);
    assert!((c["network_difficulty"].as_f64().unwrap() - 244_112.49).abs() < 0.01);
    assert!(c["rows"][1]
        .as_str()
        .unwrap()
        .starts_with("difficulty.table:"));
    assert_eq!(m["algorithm"], "sha256d");
    assert_eq!(m["algorithm_basis"], "job");
}

#[test]
fn ordinary_node_rpc_is_not_mining() {
    assert!(scan_one("benign-node-rpc.pcap").is_empty());
}

fn by_type<'a>(ev: &'a [Value], t: &str) -> Vec<&'a Value> {
    ev.iter().filter(|e| e["event_type"] == t).collect()
}

#[test]
fn tls_with_a_pool_server_name_is_likely() {
    let e = one("tls-sni-pool.pcap");
    assert_eq!(e["app_proto"], "tls");
    assert_eq!(e["tls"]["sni"], "xmr-eu1.nanopool.org");
    assert_eq!(e["tls"]["version"], "1.3");
    assert!(e["tls"]["ja4"].as_str().unwrap().starts_with("t13d0305h1_"));
    let m = &e["mining"];
    assert_eq!(m["protocol"], "tls");
    assert_eq!(m["level"], "likely");
    assert_eq!(m["pool"]["name"], "Nanopool");
    assert_eq!(m["pool"]["source"], "sni");
    assert_eq!(m["pool"]["host"], "xmr-eu1.nanopool.org");
    assert!(m["pool"]["rule"]
        .as_str()
        .unwrap()
        .starts_with("pools.rules:"));
}

#[test]
fn a_pool_look_up_is_an_event_and_labels_the_later_tls_flow_without_sni() {
    let ev = scan_one("tls-after-dns.pcap");
    let dns = by_type(&ev, "dns");
    assert_eq!(dns.len(), 1);
    let d = dns[0];
    assert_eq!(d["src_ip"], "203.0.113.31"); // the asking client
    assert_eq!(d["dest_port"], 53);
    assert_eq!(d["dns"]["queries"][0]["rrname"], "pool.supportxmr.com");
    assert_eq!(d["dns"]["answers"][0]["rdata"], "198.51.100.41");
    assert_eq!(d["dns"]["pool"]["name"], "SupportXMR");
    let mining = by_type(&ev, "mining");
    assert_eq!(mining.len(), 1);
    let m = mining[0];
    assert!(m["tls"].get("sni").is_none());
    assert_eq!(m["mining"]["level"], "likely");
    assert_eq!(m["mining"]["pool"]["source"], "dns");
    assert_eq!(m["mining"]["pool"]["host"], "pool.supportxmr.com");
}

#[test]
fn a_pool_certificate_without_sni_is_likely() {
    let e = one("tls-cert-pool.pcap");
    assert_eq!(e["tls"]["cert_names"][0], "*.2miners.com");
    assert_eq!(e["mining"]["pool"]["source"], "certificate");
    assert_eq!(e["mining"]["pool"]["name"], "2Miners");
    assert!(has_signal(&e, "port:3334 (weak)"));
}

#[test]
fn a_miner_reconnecting_over_tls_to_its_pool_is_likely_by_pair_memory() {
    let ev = scan_one("pair-reconnect.pcap");
    assert_eq!(ev.len(), 2);
    let (plain, tls): (Vec<&Value>, Vec<&Value>) = ev
        .iter()
        .partition(|e| e["mining"]["protocol"] == "stratum-v1");
    assert_eq!(plain[0]["mining"]["level"], "confirmed");
    let t = tls[0];
    assert_eq!(t["dest_port"], 443);
    assert_eq!(t["mining"]["level"], "likely");
    assert_eq!(t["mining"]["pool"]["source"], "pair");
    assert!(has_signal(
        t,
        "pair:203.0.113.33 confirmed stratum-v1 to 198.51.100.42 before"
    ));
}

#[test]
fn an_opaque_flow_with_a_miners_rhythm_is_suspect() {
    let e = one("behaviour-opaque.pcap");
    let m = &e["mining"];
    assert_eq!(m["level"], "suspect");
    assert_eq!(m["protocol"], "tls");
    assert!(m.get("pool").is_none());
    let signals: Vec<&str> = m["signals"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s.as_str())
        .collect();
    assert_eq!(
        m["confidence"], 0.6,
        "39 shares and 13 jobs: the most behaviour gives"
    );
    assert!(
        signals[0].starts_with("behaviour:361s in TLS records"),
        "{signals:?}"
    );
    assert!(
        signals
            .iter()
            .any(|s| s.starts_with("behaviour:client exchanges 39, 39 answered (100%), mean 190 B")),
        "{signals:?}"
    );
    assert!(
        signals
            .iter()
            .any(|s| s.starts_with("behaviour:server pushes 13, mean 448 B every")),
        "{signals:?}"
    );
}

#[test]
fn stratum_v2_in_the_clear() {
    let e = one("stratum-v2.pcap");
    let m = &e["mining"];
    assert_eq!(m["protocol"], "stratum-v2");
    assert_eq!(m["level"], "confirmed");
    assert_eq!(m["workers"][0], "farm01.w7");
    assert_eq!(m["device"]["vendor"], "Bitmain");
    assert_eq!(m["device"]["hw-version"], "S19 Pro");
    assert_eq!(m["pool_host"], "pool.example.net");
    assert_eq!(m["jobs"], 4);
    assert_eq!(m["shares"]["submitted"], 4);
    assert_eq!(m["shares"]["accepted"], 4);
    let claimed = m["claimed_hashrate_hs"].as_f64().unwrap();
    assert!((claimed - 110e12).abs() / 110e12 < 1e-6);
    // The channel's target (2^212 at opening, 2^211 after SetTarget) values each share: two
    // accepted at 2^44 hashes, two at 2^45; the estimate rests on them, not on the claim.
    let changes: Vec<f64> = m["difficulty_changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["hashes_per_share"].as_f64().unwrap())
        .collect();
    assert_eq!(changes, [2f64.powi(44), 2f64.powi(45)]);
    assert_eq!(
        m["target"],
        "0000000000080000000000000000000000000000000000000000000000000000"
    );
    let h = &m["hashrate"];
    assert_eq!(h["shares"], 4);
    let work = 6.0 * 2f64.powi(44);
    let expect = work / h["observed_s"].as_f64().unwrap();
    assert!(
        (h["hashrate_hs"].as_f64().unwrap() - expect).abs() / expect < 1e-9,
        "{h}"
    );
}

#[test]
fn stratum_v2_noise_handshake_shape() {
    let e = one("stratum-v2-noise.pcap");
    assert_eq!(e["src_ip"], "203.0.113.36");
    let m = &e["mining"];
    assert_eq!(m["protocol"], "stratum-v2-noise");
    assert_eq!(m["level"], "likely");
}

#[test]
fn crypto_currency_nodes_are_reported_as_nodes_never_as_mining() {
    let ev = scan_one("crypto-nodes.pcap");
    assert!(by_type(&ev, "mining").is_empty());
    let mut protocols: Vec<&str> = by_type(&ev, "crypto_node")
        .iter()
        .map(|e| e["crypto_node"]["protocol"].as_str().unwrap())
        .collect();
    protocols.sort();
    assert_eq!(
        protocols,
        ["bitcoin-p2p", "ethereum-discv4", "monero-levin"]
    );
}

#[test]
fn ordinary_web_tls_and_its_look_up_raise_nothing() {
    assert!(scan_one("benign-tls-web.pcap").is_empty());
}

#[test]
fn without_rules_the_endpoint_verdicts_go_but_parsed_protocols_stay() {
    let p = pcap("tls-sni-pool.pcap");
    let out = run(&["scan", "-q", "--no-rules", p.to_str().unwrap()]);
    assert!(events(&out).is_empty());
    let p = pcap("cryptonote-xmrig.pcap");
    let out = run(&["scan", "-q", "--no-rules", p.to_str().unwrap()]);
    assert_eq!(events(&out).len(), 1);
}

#[test]
fn an_endpoint_that_spoke_stratum_makes_a_later_tls_flow_to_it_likely() {
    // One miner mines in the clear at 198.51.100.60:3333; later another host opens TLS (no
    // server name, no mining rhythm) to the same address and port. One worker, so that both
    // flows meet the same endpoint memory (it is kept per worker, as pair memory is).
    let t = 1_795_000_000_000_000_000u64;
    let mut frames = synth::stratum::stratum_session(
        "203.0.113.60:47400",
        "198.51.100.60:3333",
        t,
        synth::L2::Ethernet,
        &synth::stratum::Script::default(),
    );
    let after = frames.last().unwrap().ts_ns + 60_000_000_000;
    frames.extend(synth::opaque::tls_session(
        "203.0.113.61:51000",
        "198.51.100.60:3333",
        after,
        None,
        None,
        2,
        5_000,
        (300, 100),
    ));
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("endpoint.pcap");
    std::fs::write(&path, synth::Format::Pcap.write(&frames)).unwrap();
    let out = run(&["scan", "-q", "--workers", "1", path.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ev = events(&out);
    assert_eq!(ev.len(), 2, "{ev:?}");
    let tls = ev.iter().find(|e| e["src_ip"] == "203.0.113.61").unwrap();
    assert_eq!(tls["mining"]["level"], "likely");
    assert_eq!(tls["mining"]["pool"]["source"], "endpoint");
    assert!(has_signal(
        tls,
        "endpoint:198.51.100.60:3333 spoke stratum-v1 before"
    ));
}

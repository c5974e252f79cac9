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

#[test]
fn the_job_names_the_chain_so_cpuminer_on_sha256d_and_on_scrypt_differ() {
    // Two cpuminer sessions on the same port; cpuminer runs scrypt or sha256d, so the agent
    // alone leaves both open. The pools' jobs carry the block height (BIP 34) and time:
    // Bitcoin's block 840,000 (the fourth halving, 2024-04-20, nbits 0x17034219) and
    // Litecoin's block 2,520,000 (its third halving, 2023-08-02; nbits illustrative).
    let btc = Script {
        agent: "cpuminer/2.5.1".into(),
        difficulty: 1.0,
        jobs: 10,
        submits_per_job: 3,
        reject_every: 0,
        chain: Some((840_000, 0x1703_4219, 1_713_571_767)),
        ..Script::default()
    };
    // Litecoin block 2,461,535 (2023-04-23) as its header has it (litecoinj's checkpoints).
    let ltc = Script {
        chain: Some((2_461_535, 0x1a00_ad33, 1_682_236_694)),
        ..btc.clone()
    };
    let (b, first, last) = session(&btc);
    let (l, _, _) = session(&ltc);
    let (b, l) = (&b["mining"], &l["mining"]);
    assert_eq!(b["algorithm"], "sha256d", "{b}");
    assert_eq!(b["algorithm_basis"], "job");
    assert!(b.get("algorithm_candidates").is_none());
    // Bitcoin and Bitcoin Cash share heights: both named, the coin not decided by the job.
    assert_eq!(b["chain"]["names"], serde_json::json!(["BTC", "BCH"]));
    assert_eq!(b["chain"]["basis"], "job");
    assert_eq!(b["chain"]["height"], 840_000);
    // nbits 0x17034219: 0xffff / 0x034219 * 256^(0x1d - 0x17) = 86.39 T.
    let d = b["chain"]["network_difficulty"].as_f64().unwrap();
    assert!((d - 86.388_6e12).abs() / d < 1e-4, "{d}");
    assert_eq!(l["algorithm"], "scrypt", "{l}");
    assert_eq!(l["algorithm_basis"], "job");
    assert_eq!(l["chain"]["names"], serde_json::json!(["LTC"]));
    assert_eq!(l["coin"], "LTC");
    assert_eq!(l["coin_basis"], "job");
    assert!(l["chain"]["rows"][1].as_str().is_some(), "{l}");
    assert!(l["chain"]["rows"][1]
        .as_str()
        .unwrap()
        .starts_with("difficulty.table:"));
    // The same shares are worth 2^32 hashes each on sha256d and 2^16 on scrypt.
    let hb = b["hashrate"]["hashrate_hs"].as_f64().unwrap();
    let hl = l["hashrate"]["hashrate_hs"].as_f64().unwrap();
    assert!(close(hb / hl, 65536.0), "{hb} {hl}");
    // 30 accepted shares: 15 at difficulty 1 and 15 at 2 (the pool retargets half-way).
    let t = (last - first) as f64 / 1e9;
    assert_eq!(b["hashrate"]["shares"], 30);
    assert!(close(hb, 45.0 * 2f64.powi(32) / t), "{hb}");
    // cpuminer runs on CPUs: each is priced with its algorithm's CPU row, not an ASIC's.
    for (m, row, jph) in [
        (b, "power.table:24", 8.24e-7),
        (l, "power.table:25", 3.76e-4),
    ] {
        let p = &m["power"];
        assert_eq!(p["hardware"], "cpu", "{p}");
        assert_eq!(p["hardware_basis"], "agent");
        assert_eq!(p["efficiency_row"], row);
        assert!(close(p["joules_per_hash"].as_f64().unwrap(), jph), "{p}");
    }
}

#[test]
fn an_asic_miner_is_priced_with_the_algorithms_usual_hardware() {
    let (e, _, _) = session(&Script {
        agent: "bmminer/2.0.0".into(),
        ..Script::default()
    });
    let p = &e["mining"]["power"];
    assert_eq!(p["hardware"], "asic", "{p}");
    assert_eq!(p["hardware_basis"], "algorithm");
    assert_eq!(p["efficiency_row"], "power.table:13");
}

/// A CryptoNote session whose jobs name no algorithm (xmr-stak's era): the job's height at
/// the time in its blob's header places it on Monero's chain, and Monero's hard forks say
/// which proof of work that height mined. Heights and dates from Monero's fork table: block
/// 1,546,000 (version 7, on or around 2018-04-06) and block 1,978,433 (version 12, RandomX, on
/// or around 2019-11-30); the agent alone (xmr-stak) would have said RandomX for both.
#[test]
fn a_cryptonote_job_names_monero_and_the_proof_of_work_of_its_height() {
    use synth::session::{addr, TcpSession};
    let scan_job = |major: u8, time_leb: &str, height: u64| {
        let blob = format!("{major:02x}{major:02x}{time_leb}{}", "ab".repeat(40));
        let mut s = TcpSession::new(
            addr("203.0.113.91:40000"),
            addr("198.51.100.91:3333"),
            START_NS,
            L2::Ethernet,
        );
        s.handshake();
        let login = r#"{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"44AFFq5kSiGBoZ4NMDwYtN18obc8AemS33DBLWs3H7otXft3XjrpDtQGv7SqSsaBYBb98uNbr2VBBEt7f2wfn3RVGQBEP3A","pass":"x","agent":"xmr-stak/2.4.3/cd1ef9b"}}"#;
        let answer = format!(
            r#"{{"id":1,"jsonrpc":"2.0","error":null,"result":{{"id":"w1","job":{{"blob":"{blob}","job_id":"j1","target":"e4a63d00","height":{height}}},"status":"OK"}}}}"#
        );
        synth::dialects::lines(&mut s, &[(true, login), (false, &answer)], 10);
        for i in 0..12 {
            let submit = format!(
                r#"{{"id":{},"jsonrpc":"2.0","method":"submit","params":{{"id":"w1","job_id":"j1","nonce":"{:08x}","result":"{}"}}}}"#,
                i + 2,
                0x100 + i,
                "5c".repeat(32)
            );
            let ok = format!(
                r#"{{"id":{},"jsonrpc":"2.0","error":null,"result":{{"status":"OK"}}}}"#,
                i + 2
            );
            synth::dialects::lines(&mut s, &[(true, &submit), (false, &ok)], 10_000);
        }
        s.close();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cn.pcap");
        std::fs::write(&path, Format::Pcap.write(&s.frames)).unwrap();
        let out = run(&["scan", "-q", path.to_str().unwrap()]);
        let ev = events(&out);
        assert_eq!(ev.len(), 1, "{}", stderr(&out));
        ev[0]["mining"].clone()
    };
    // 1522972800 = 2018-04-06T00:00:00Z, 1575072000 = 2019-11-30T00:00:00Z, as LEB128.
    let v7 = scan_job(7, "80f19ad605", 1_546_000);
    let v12 = scan_job(12, "80e286ef05", 1_978_433);
    for (m, algo) in [(&v7, "cryptonight"), (&v12, "randomx")] {
        assert_eq!(m["algorithm"], algo, "{m}");
        assert_eq!(m["algorithm_basis"], "job", "{m}");
        assert_eq!(m["chain"]["names"], serde_json::json!(["XMR"]), "{m}");
        assert_eq!(m["chain"]["basis"], "job");
        assert_eq!(m["coin"], "XMR");
        assert_eq!(m["coin_basis"], "job");
        assert!(m["chain"].get("network_difficulty").is_none(), "{m}");
    }
    assert_eq!(v7["chain"]["height"], 1_546_000);
    assert_eq!(v7["chain"]["job_time"], 1_522_972_800u32);
    // Target e4a63d00 (4 bytes, little-endian 0x003da6e4): 2^32 / 4,040,420 = 1,063 hashes a
    // share on either algorithm; 12 accepted.
    assert_eq!(v12["hashrate"]["shares"], 12);
    let per = v12["hashrate"]["hashes_per_share"].as_f64().unwrap();
    assert!((per - 4_294_967_295.0 / 4_040_420.0).abs() < 1e-6, "{per}");
}

/// Software that runs several algorithms decides none: BFGMiner (SHA-256d or scrypt) leaves both
/// with an estimate each; NBMiner's algorithms are candidates too, those the tables cannot price
/// (KawPow, Octopus, ...) named without an estimate, so no single figure is put forward.
#[test]
fn a_multi_algorithm_agent_leaves_candidates_even_those_without_a_unit() {
    let base = Script {
        difficulty: 1.0,
        jobs: 4,
        submits_per_job: 3,
        reject_every: 0,
        ..Script::default()
    };
    let (bfg, _, _) = session(&Script {
        agent: "bfgminer/5.5.0".into(),
        ..base.clone()
    });
    let (nb, _, _) = session(&Script {
        agent: "NBMiner/42.3".into(),
        ..base
    });
    let names = |m: &serde_json::Value| -> Vec<String> {
        m["algorithm_candidates"]
            .as_array()
            .unwrap_or_else(|| panic!("{m}"))
            .iter()
            .map(|c| c["algorithm"].as_str().unwrap().to_string())
            .collect()
    };
    let (bfg, nb) = (&bfg["mining"], &nb["mining"]);
    assert_eq!(names(bfg), ["sha256d", "scrypt"]);
    assert!(bfg.get("algorithm").is_none(), "{bfg}");
    assert!(bfg.get("hashrate").is_none(), "{bfg}");
    let n = names(nb);
    assert_eq!(n[0], "ethash", "{nb}");
    assert!(n.contains(&"kawpow".to_string()) && n.len() == 9, "{n:?}");
    let priced: Vec<&serde_json::Value> = nb["algorithm_candidates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c.get("hashrate").is_some())
        .collect();
    assert_eq!(priced.len(), 1, "only ethash has a unit: {nb}");
    assert!(
        nb.get("algorithm").is_none() && nb.get("hashrate").is_none(),
        "{nb}"
    );
}

#[test]
fn the_network_difficulty_of_the_job_tells_bitcoin_from_bitcoin_cash() {
    // Block 534,240 of each chain, from their headers (bitcoinj and bitcoincashj checkpoints):
    // the same height, two months apart, difficulties 5.95 T and 713 G.
    let btc = Script {
        agent: "bmminer/2.0.0".into(),
        jobs: 4,
        chain: Some((534_240, 0x172f_4f7b, 1_532_852_371)),
        ..Script::default()
    };
    let bch = Script {
        chain: Some((534_240, 0x1801_8ade, 1_528_737_000)),
        ..btc.clone()
    };
    for (script, name, difficulty) in [(btc, "BTC", 5.949e12), (bch, "BCH", 7.128e11)] {
        let (e, _, _) = session(&script);
        let m = &e["mining"];
        assert_eq!(m["chain"]["names"], serde_json::json!([name]), "{m}");
        assert_eq!(m["coin"], name);
        assert_eq!(m["coin_basis"], "job");
        assert_eq!(m["algorithm"], "sha256d");
        assert_eq!(m["algorithm_basis"], "job");
        let d = m["chain"]["network_difficulty"].as_f64().unwrap();
        assert!((d - difficulty).abs() / difficulty < 1e-3, "{d}");
    }
}

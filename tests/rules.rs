//! `minetap rules check` and rule folders given to `scan`.

mod common;

use common::*;

#[test]
fn the_built_in_rules_check_out() {
    let out = run(&["rules", "check"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(
            "built-in (7 files): 2 file(s), 32 domains, 0 address ranges, 15 ports; 6 algorithms, 8 efficiency rows; behaviour test on (window 60s); digest "
        ),
        "{text}"
    );
    // The chains, and how far the dated difficulty rows reach: after that day, an operator
    // adds rows (--rules) for the difficulty to keep telling chains apart.
    assert!(
        text.contains("\nchains: BTC, BCH, LTC, DOGE, XMR, ETH, ETC, ETHW (10 rows); network difficulty known until: BTC 2025-01-12, BCH 2020-11-15, LTC 2023-04-26\n"),
        "{text}"
    );
}

#[test]
fn an_operators_folder_comes_on_top_of_the_built_in_rules_and_wins() {
    let dir = tempfile::tempdir().unwrap();
    // The pool of tls-sni-pool.pcap, renamed by the operator; and a new address.
    std::fs::write(
        dir.path().join("local.rules"),
        "domain xmr-eu1.nanopool.org pool=OurName coin=XMR
ip 192.0.2.7 pool=Mine
",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let out = run(&["rules", "check", d]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("(local.rules): 3 file(s), 33 domains, 1 address ranges, 15 ports"),
        "{text}"
    );
    let out = run(&["rules", "check", "--no-builtin-rules", d]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("(local.rules): 1 file(s), 1 domains, 1 address ranges, 0 ports"),
        "{text}"
    );
    let p = pcap("tls-sni-pool.pcap");
    let out = run(&["scan", "-q", p.to_str().unwrap()]);
    assert_eq!(events(&out)[0]["mining"]["pool"]["name"], "Nanopool");
    let out = run(&["scan", "-q", "--rules", d, p.to_str().unwrap()]);
    let pool = &events(&out)[0]["mining"]["pool"];
    assert_eq!(pool["name"], "OurName", "{pool}");
    assert_eq!(pool["rule"], "local.rules:1");
}

#[test]
fn the_rules_are_the_same_from_any_folder() {
    let pcaps = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let elsewhere = tempfile::tempdir().unwrap();
    let in_project = run(&["scan", "-q", pcaps.to_str().unwrap()]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_minetap"))
        .args(["scan", "-q", pcaps.to_str().unwrap()])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let sorted = |o: &std::process::Output| {
        let mut l: Vec<String> = String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(String::from)
            .collect();
        l.sort();
        l
    };
    assert!(!sorted(&in_project).is_empty());
    assert_eq!(sorted(&out), sorted(&in_project));
    assert!(events(&out)
        .iter()
        .any(|e| e["mining"]["pool"]["name"] == "Nanopool"));
}

#[test]
fn a_bad_line_names_file_and_line_and_stops_scan() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("list.txt"),
        "# a downloaded list\npool.example.com\n0.0.0.0 xmr.example.net\n192.0.2.0/24\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("mine.rules"),
        "domain ok.example.org pool=Ok\nip 198.51.100.300 pool=Bad\n",
    )
    .unwrap();
    let out = run(&["rules", "check", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("mine.rules:2: '198.51.100.300' is not an address or CIDR"),
        "{err}"
    );
    let p = pcap("stratum-v1.pcap");
    let out = run(&[
        "scan",
        "--rules",
        dir.path().to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("mine.rules:2:"));
}

#[test]
fn a_dropped_in_blocklist_labels_flows() {
    let dir = tempfile::tempdir().unwrap();
    // An address list in the form IP blocklists use: the pool of tls-after-dns.pcap.
    std::fs::write(
        dir.path().join("ips.txt"),
        "# pools\n198.51.100.41 # seen mining\n",
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let out = run(&["rules", "check", "--no-builtin-rules", d]);
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("1 file(s), 0 domains, 1 address ranges, 0 ports"));
    let p = pcap("tls-after-dns.pcap");
    let out = run(&[
        "scan",
        "-q",
        "--no-builtin-rules",
        "--rules",
        d,
        p.to_str().unwrap(),
    ]);
    let ev = events(&out);
    let mining: Vec<_> = ev.iter().filter(|e| e["event_type"] == "mining").collect();
    assert_eq!(mining.len(), 1);
    assert_eq!(mining[0]["mining"]["pool"]["source"], "address");
    assert_eq!(mining[0]["mining"]["pool"]["rule"], "ips.txt:2");
}

#[test]
fn rules_learn_writes_the_confirmed_endpoints_as_rules_a_later_run_reads() {
    let dir = tempfile::tempdir().unwrap();
    let events = dir.path().join("events.jsonl");
    let out = run(&[
        "scan",
        "-q",
        "--events",
        events.to_str().unwrap(),
        pcap("stratum-v1.pcap").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let probes = dir.path().join("probes.jsonl");
    std::fs::write(
        &probes,
        r#"{"endpoint":"192.0.2.77:443","sni":"hidden.pool.test","pool":true,"dialect":"cryptonote","transport":"tls","reason":"login answered with a job (algo rx/0)","probed_at":1795000000,"cached":false,"attempts":[]}
{"endpoint":"192.0.2.78:443","pool":false,"reason":"an HTTP server","probed_at":1795000000,"cached":false,"attempts":[]}
"#,
    )
    .unwrap();
    let out = run(&[
        "rules",
        "learn",
        events.to_str().unwrap(),
        probes.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "# learned by `minetap rules learn` from 2 file(s): 2 address(es), 1 name(s)"
    );
    assert!(
        lines[1].starts_with(
            "ip 192.0.2.77 pool=learned   # probe cryptonote on port 443: 1 confirmation(s)"
        ),
        "{text}"
    );
    assert!(
        lines[2].starts_with("ip 198.51.100.20 pool=learned   # stratum-v1 on port 3333"),
        "{text}"
    );
    assert_eq!(
        lines[3],
        "domain hidden.pool.test pool=learned   # the name a miner used for 192.0.2.77"
    );
    assert!(!text.contains("192.0.2.78"), "not a pool: not learned");
    let rules = dir.path().join("learned");
    std::fs::create_dir(&rules).unwrap();
    std::fs::write(rules.join("learned.rules"), &text).unwrap();
    let out = run(&["rules", "check", rules.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("33 domains, 2 address ranges"));
    // A line that is not JSON is named.
    std::fs::write(&probes, "{\"endpoint\":1}\nnot json\n").unwrap();
    let out = run(&["rules", "learn", probes.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("probes.jsonl:2: not JSON"),
        "{}",
        stderr(&out)
    );
}

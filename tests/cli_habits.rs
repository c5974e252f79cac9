//! The habits operators bring from other tools: `--version` saying which rules are built in,
//! shell completions and a manual page from the command line's own definitions, and the run
//! summary as JSON for scripts.

mod common;

use common::*;

#[test]
fn version_names_the_built_in_rules_digest() {
    let out = run(&["--version"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next(),
        Some(concat!("minetap ", env!("CARGO_PKG_VERSION")))
    );
    let rules = lines.next().unwrap();
    let digest = rules
        .strip_prefix("built-in rules: 7 files, digest ")
        .unwrap();
    let check = String::from_utf8(run(&["rules", "check"]).stdout).unwrap();
    assert!(
        check.trim_end().ends_with(&format!("digest {digest}")) || check.contains(digest),
        "{check}"
    );
}

#[test]
fn completions_and_the_manual_page_come_from_the_command_line() {
    let bash = String::from_utf8(run(&["completions", "bash"]).stdout).unwrap();
    assert!(bash.contains("_minetap()"), "{bash}");
    assert!(bash.contains("--probe-allow") && bash.contains("--summary-json"));
    let zsh = run(&["completions", "zsh"]);
    assert!(
        zsh.status.success() && String::from_utf8_lossy(&zsh.stdout).contains("#compdef minetap")
    );
    let man = String::from_utf8(run(&["man"]).stdout).unwrap();
    assert!(man.contains(".TH minetap 1"), "{man}");
    assert!(
        man.contains("Finds cryptocurrency\\-mining connections"),
        "{man}"
    );
    assert!(
        man.contains("built\\-in rules: 7 files"),
        "the version section: {man}"
    );
    let bad = run(&["completions", "tcsh"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn the_summary_can_be_written_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("summary.json");
    let out = run(&[
        "scan",
        "-q",
        "--summary-json",
        file.to_str().unwrap(),
        pcap("stratum-v1.pcap").to_str().unwrap(),
        pcap("crypto-nodes.pcap").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(s["inputs_read"], 2);
    assert_eq!(s["inputs_unusable"], 0);
    assert_eq!(s["mining_flows"], 1);
    assert_eq!(s["crypto_node_flows"], 3);
    assert_eq!(s["exit_status"], 0);
    assert_eq!(s["inputs"].as_array().unwrap().len(), 2);
    assert!(s["packets"].as_u64().unwrap() > 0);
    assert_eq!(s["rules_digest"].as_str().unwrap().len(), 64);
}

#[test]
fn a_tcpdump_style_filter_narrows_a_scan_and_a_bad_one_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("s.json");
    let all = events(&run(&["scan", "-q", pcap("").to_str().unwrap()]));
    let out = run(&[
        "scan",
        "--filter",
        "tcp port 3333",
        "--summary-json",
        summary.to_str().unwrap(),
        pcap("").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ev = events(&out);
    assert!(
        !ev.is_empty() && ev.len() < all.len(),
        "{} of {}",
        ev.len(),
        all.len()
    );
    assert!(ev
        .iter()
        .all(|e| e["src_port"] == 3333 || e["dest_port"] == 3333));
    let expected = all
        .iter()
        .filter(|e| e["proto"] == "TCP" && (e["src_port"] == 3333 || e["dest_port"] == 3333))
        .count();
    assert_eq!(ev.len(), expected);
    assert!(
        stderr(&out).contains("left out by --filter: "),
        "{}",
        stderr(&out)
    );
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert!(s["filtered_packets"].as_u64().unwrap() > 0);
    let bad = run(&[
        "scan",
        "--filter",
        "tcp port http",
        pcap("").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        stderr(&bad).trim(),
        "minetap: error: --filter 'tcp port http': 'http' is not a port number at word 3"
    );
}

#[test]
fn readers_are_a_scan_setting_and_live_says_so() {
    let out = run(&["live", "-i", "lo", "--readers", "2"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("--readers is for scan: live reads each interface on a thread of its own"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "scan",
        "-q",
        "--readers",
        "0",
        pcap("stratum-v1.pcap").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("--readers must be from 1 to 1024, not 0"),
        "{}",
        stderr(&out)
    );
}

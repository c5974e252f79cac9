//! `minetap config check` and config files given to `scan`.

mod common;

use common::*;

#[test]
fn the_example_config_checks_out() {
    let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("minetap.example.toml");
    let out = run(&["config", "check", f.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("interfaces: eth1"), "{text}");
    assert!(
        text.contains("workers: 2  readers: 2  max_flows: 200000  max_flow_buffer: 65536"),
        "{text}"
    );
    assert!(
        text.contains("(32 domains, 0 address ranges, 15 ports)"),
        "{text}"
    );
}

#[test]
fn a_bad_config_is_named_with_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.toml");
    std::fs::write(&f, "workers = 2\nmax_flowz = 10\n").unwrap();
    let out = run(&["config", "check", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains("bad.toml:2:1: unknown field `max_flowz`") && err.lines().count() == 1,
        "{err}"
    );
    std::fs::write(&f, "min_level = \"sure\"\n").unwrap();
    let out = run(&["config", "check", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains(
        "bad.toml:1:13: unknown variant `sure`, expected one of `suspect`, `likely`, `confirmed`"
    ));
    std::fs::write(&f, "evidence_min_level = \"confimed\"\n").unwrap();
    let out = run(&["config", "check", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("bad.toml:1:22: unknown variant `confimed`"));
}

#[test]
fn scan_takes_settings_from_the_file_and_flags_win() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, "min_level = \"confirmed\"\nno_rules = true\n").unwrap();
    let p = pcap("tls-sni-pool.pcap");
    // With the file: no rules, confirmed only → nothing.
    let out = run(&[
        "scan",
        "-q",
        "--config",
        f.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(events(&out).is_empty());
    // A flag wins over the file.
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let out = run(&[
        "scan",
        "-q",
        "--config",
        f.to_str().unwrap(),
        "--min-level",
        "likely",
        "--rules",
        rules.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(events(&out).len(), 1);
}

#[test]
fn paths_in_a_config_file_are_relative_to_it_from_any_folder() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let f = dir.path().join("c.toml");
    std::fs::write(&f, "events = \"out/events.jsonl\"\n").unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let p = pcap("stratum-v1.pcap");
    let out = bin()
        .args([
            "scan",
            "-q",
            "--config",
            f.to_str().unwrap(),
            p.to_str().unwrap(),
        ])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let written = std::fs::read_to_string(dir.path().join("out/events.jsonl")).unwrap();
    assert_eq!(written.lines().count(), 1);
    assert!(!elsewhere.path().join("out").exists());
    // The example config checks out wherever it is checked from, with the built-in rules.
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("minetap.example.toml");
    let out = bin()
        .args(["config", "check", example.to_str().unwrap()])
        .current_dir(elsewhere.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("rules: built-in (7 files) (32 domains, 0 address ranges, 15 ports)"),
        "{text}"
    );
}

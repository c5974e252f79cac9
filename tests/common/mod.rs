//! Helpers shared by the integration tests: run the binary, read its events.
#![allow(dead_code)]

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_minetap"))
}

pub fn pcap(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pcaps")
        .join(name)
}

pub fn run(args: &[&str]) -> Output {
    bin().args(args).output().expect("minetap runs")
}

pub fn events(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("each stdout line is a JSON event"))
        .collect()
}

pub fn scan_one(name: &str) -> Vec<Value> {
    let out = scan_captures(&[], &[name]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    events(&out)
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn has_signal(e: &Value, s: &str) -> bool {
    e["mining"]["signals"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x == s)
}

/// The flags that import every sample record file written into `dir`.
fn records(dir: &Path) -> Vec<String> {
    let mut args = Vec::new();
    for (name, text) in synth::subscribers::files() {
        std::fs::write(dir.join(name), text).unwrap();
        let flag = match name {
            "registry.csv" => "--registry",
            "registry.jsonl" => "--registry-jsonl",
            "static.csv" => "--static",
            "radius.detail" => "--radius",
            "radius.csv" => "--radius-csv",
            "dhcpd.leases" => "--dhcpd",
            "kea-leases4.csv" | "kea-leases6.csv" => "--kea",
            "cgnat.csv" => "--cgnat",
            "cgnat.log" => "--cgnat-syslog",
            other => panic!("no flag for {other}"),
        };
        args.push(flag.to_string());
        args.push(dir.join(name).to_str().unwrap().to_string());
    }
    args
}

/// Imports every sample record file (written into `dir`) into the store `db`.
pub fn import(db: &Path, dir: &Path) -> std::process::Output {
    let mut args = vec![
        "subscribers".to_string(),
        "import".into(),
        "--db".into(),
        db.to_str().unwrap().into(),
    ];
    args.extend(records(dir));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    run(&a)
}

/// Runs `minetap scan -q FLAGS...` over sample captures named as in `pcaps/`.
pub fn scan_captures(flags: &[&str], captures: &[&str]) -> Output {
    let paths: Vec<String> = captures
        .iter()
        .map(|c| pcap(c).to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["scan", "-q"];
    args.extend(flags);
    args.extend(paths.iter().map(String::as_str));
    run(&args)
}

/// `minetap subscribers import --db DB [FLAG FILE]... EXTRA...`.
pub fn subscribers_import(db: &Path, inputs: &[(&str, &Path)], extra: &[&str]) -> Output {
    let mut args: Vec<&str> = vec!["subscribers", "import", "--db", db.to_str().unwrap()];
    for (flag, f) in inputs {
        args.push(flag);
        args.push(f.to_str().unwrap());
    }
    args.extend(extra);
    run(&args)
}

/// `minetap subscribers lookup --db DB IP --at TIME EXTRA...`, which must succeed, as JSON.
pub fn subscribers_lookup(db: &Path, ip: &str, at: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "subscribers",
        "lookup",
        "--db",
        db.to_str().unwrap(),
        ip,
        "--at",
        at,
    ];
    args.extend(extra);
    let out = run(&args);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_slice(&out.stdout).expect("the answer is JSON")
}

/// Closed batches waiting in a feed spool.
pub fn spooled(spool: &Path) -> usize {
    std::fs::read_dir(spool)
        .map(|d| {
            d.flatten()
                .filter(|e| e.path().extension().is_some_and(|x| x == "batch"))
                .count()
        })
        .unwrap_or(0)
}

/// Waits up to `secs` seconds for `cond`.
pub fn wait_until(what: &str, secs: u64, cond: impl Fn() -> bool) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !cond() {
        assert!(
            std::time::Instant::now() < until,
            "timed out waiting for {what}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `minetap inventory --out OUT ARGS…` (must succeed); its `inventory.json`.
pub fn inventory_json(args: &[&str], out: &Path) -> Value {
    let mut a = vec!["inventory", "--out", out.to_str().unwrap()];
    a.extend(args);
    let o = run(&a);
    assert!(o.status.success(), "{}", stderr(&o));
    serde_json::from_str(&std::fs::read_to_string(out.join("inventory.json")).unwrap()).unwrap()
}

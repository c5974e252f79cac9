//! The site inventory from several scans and a subscriber registry, and the weekly comparison.

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn store(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("s.db");
    let out = import(&db, dir);
    assert!(out.status.success(), "{}", stderr(&out));
    db
}

/// Two "runs" (scans of different captures), then the inventory of both.
fn inventory(dir: &Path, previous: Option<&Path>) -> Vec<Value> {
    let db = store(dir);
    let runs = [
        vec![
            "stratum-v1.pcap",
            "stratum-v1-vlan.pcap",
            "stratum-v1-segmented.pcap",
        ],
        vec![
            "stratum-v1-bip310.pcap",
            "stratum-v1-sll.pcap",
            "cryptonote-xmrig.pcap",
        ],
    ];
    let mut files = Vec::new();
    for (i, caps) in runs.iter().enumerate() {
        let out_file = dir.join(format!("run{i}.jsonl"));
        let flags = [
            "--subscribers",
            db.to_str().unwrap(),
            "--events",
            out_file.to_str().unwrap(),
        ];
        assert!(scan_captures(&flags, caps).status.success());
        files.push(out_file.to_str().unwrap().to_string());
    }
    let out = dir.join("inv");
    let mut args = vec!["inventory".to_string()];
    args.extend(files);
    args.extend(["--out".into(), out.to_str().unwrap().into()]);
    if let Some(p) = previous {
        args.extend(["--previous".into(), p.to_str().unwrap().into()]);
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let res = run(&a);
    assert!(res.status.success(), "{}", stderr(&res));
    serde_json::from_str(&std::fs::read_to_string(out.join("inventory.json")).unwrap()).unwrap()
}

fn site<'a>(sites: &'a [Value], key: &str) -> &'a Value {
    sites
        .iter()
        .find(|s| s["site"] == key)
        .unwrap_or_else(|| panic!("no site {key}"))
}

#[test]
fn sites_with_their_enterprises_totals_and_classes() {
    let dir = tempfile::tempdir().unwrap();
    let sites = inventory(dir.path(), None);
    let keys: Vec<&str> = sites.iter().map(|s| s["site"].as_str().unwrap()).collect();
    assert_eq!(sites.len(), 6, "{keys:?}");
    let h = site(&sites, "ENT-001");
    assert_eq!(h["name"], "Hengda Mining Co.");
    assert_eq!(h["registration_number"], "91110000MA01ABCD1X");
    assert_eq!(h["address"], "12 Industrial Road, Zone 3");
    assert_eq!(h["addresses"][0], "203.0.113.10");
    assert_eq!(h["connections"], 1);
    assert_eq!(h["wallets"][0], "bc1qexamplewallet0000000000000000000");
    assert_eq!(h["first_seen"], "2026-03-02T08:13:24.000000Z");
    // The site's hashrate is the flow's estimate (one flow here), power likewise.
    let ev: Vec<Value> = std::fs::read_to_string(dir.path().join("run1.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let bip = ev.iter().find(|e| e["src_ip"] == "2001:db8::10").unwrap();
    let farm = site(&sites, "ENT-005");
    assert_eq!(
        farm["hashrate_hs"],
        bip["mining"]["hashrate"]["hashrate_hs"]
    );
    assert_eq!(
        farm["hashrate_hs_low"],
        bip["mining"]["hashrate"]["hashrate_hs_low"]
    );
    let kw = bip["mining"]["power"]["watts"].as_f64().unwrap() / 1000.0;
    assert!((farm["power_kw"].as_f64().unwrap() - kw).abs() < 1e-12);
    assert_eq!(farm["devices"][0], "a1b2c3d4e5f60718");
    assert_eq!(farm["estimated_connections"], 1);
    // Behind CGNAT.
    assert_eq!(site(&sites, "ENT-003")["name"], "Blue Valley Data Ltd");
    // An XMRig host on CPU-class hashrate: a single compromised host.
    assert_eq!(
        site(&sites, "unattributed:203.0.113.20")["classification"],
        "cryptojacking"
    );
    assert_eq!(site(&sites, "ENT-001")["classification"], "small_scale");
    // cpuminer runs scrypt or sha256d: the flow's candidates are in its event, and the site
    // has no total rather than a figure 65,536 times off.
    assert_eq!(h["undecided_connections"], 1);
    assert_eq!(h["estimated_connections"], 0);
    assert_eq!(h["hashrate_hs"], 0.0);
    // The ambiguous address stays unattributed rather than given to one of its candidates.
    assert!(sites
        .iter()
        .any(|s| s["site"] == "unattributed:203.0.113.16"));
    let out = dir.path().join("inv");
    let csv = std::fs::read_to_string(out.join("inventory.csv")).unwrap();
    assert!(csv.starts_with("site,name,registration_number,address,addresses,first_seen"));
    assert_eq!(csv.lines().count(), 7);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("![Estimated hashrate by site](hashrate.svg)"));
    assert!(report.contains("| ENT-001 | Hengda Mining Co. |"));
    assert!(report.contains("not given: the algorithm of 1 connection(s) is open"));
    // No site total rests on too few shares: the XMRig host's 5 shares are listed, not summed.
    assert!(report.contains("not summed: 1 connection(s) with too little evidence (below)"));
    assert!(report.contains("## Left out of the totals"), "{report}");
    assert!(
        report.contains("| 5 | ") && report.contains("| too few shares (5 < 10) |"),
        "{report}"
    );
    for s in &sites {
        assert!(
            s["shares"].as_u64().unwrap() >= 10 || s["hashrate_hs"] == 0.0,
            "a total on too few shares: {s}"
        );
    }
    assert!(std::fs::read_to_string(out.join("hashrate.svg"))
        .unwrap()
        .contains("Eastern Farm Cooperative"));
    assert_eq!(
        std::fs::metadata(out.join("inventory.json"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
}

#[test]
fn the_weekly_comparison_marks_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let now = inventory(dir.path(), None);
    // Last week: ENT-005 mined `f` times as much, ENT-003 was not there, and a site that has
    // since stopped.
    let compare = |f: f64| -> Vec<Value> {
        let mut last: Vec<Value> = now.clone();
        last.retain(|s| s["site"] != "ENT-003");
        for s in &mut last {
            if s["site"] == "ENT-005" {
                s["hashrate_hs"] = (s["hashrate_hs"].as_f64().unwrap() * f).into();
            }
        }
        let mut gone = last[0].clone();
        gone["site"] = "ENT-999".into();
        last.push(gone);
        let prev = dir.path().join(format!("last-{f}.json"));
        std::fs::write(&prev, serde_json::to_string(&last).unwrap()).unwrap();
        let dir2 = tempfile::tempdir().unwrap();
        inventory(dir2.path(), Some(&prev))
    };
    let sites = compare(2.0);
    assert_eq!(site(&sites, "ENT-005")["change"], "shrunk");
    assert_eq!(site(&sites, "ENT-003")["change"], "new");
    assert_eq!(site(&sites, "ENT-999")["change"], "gone");
    // A cpuminer site has no total (its algorithm is open), nor has the XMRig host (its estimate
    // rests on 5 shares): nothing to compare.
    assert_eq!(site(&sites, "ENT-001")["change"], "continuing");
    assert_eq!(
        site(&sites, "unattributed:203.0.113.20")["change"],
        "continuing"
    );
    assert_eq!(site(&compare(0.5), "ENT-005")["change"], "grown");
}

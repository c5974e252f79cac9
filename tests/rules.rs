//! `minetap rules check` and rule folders given to `scan`.

mod common;

use common::*;

#[test]
fn the_projects_rules_check_out() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let out = run(&["rules", "check", dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(
            "2 file(s), 32 domains, 0 address ranges, 15 ports; 6 algorithms, 6 efficiency rows; digest "
        ),
        "{text}"
    );
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
    let out = run(&["rules", "check", dir.path().to_str().unwrap()]);
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("1 file(s), 0 domains, 1 address ranges, 0 ports"));
    let p = pcap("tls-after-dns.pcap");
    let out = run(&[
        "scan",
        "-q",
        "--rules",
        dir.path().to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    let ev = events(&out);
    let mining: Vec<_> = ev.iter().filter(|e| e["event_type"] == "mining").collect();
    assert_eq!(mining.len(), 1);
    assert_eq!(mining[0]["mining"]["pool"]["source"], "address");
    assert_eq!(mining[0]["mining"]["pool"]["rule"], "ips.txt:2");
}

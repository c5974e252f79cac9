//! Subscriber attribution: importing every record format, resolving the sample captures'
//! miners (CGNAT, reassignment, static prefix, ambiguity, unknown), privacy, the audit log.

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Writes RADIUS CSV `rows` (under the export's header) into `dir` and imports them into a new
/// store there: (store, CSV file, the import's output).
fn import_radius_csv(dir: &Path, rows: &str) -> (PathBuf, PathBuf, std::process::Output) {
    let db = dir.join("s.db");
    let f = dir.join("radius.csv");
    std::fs::write(
        &f,
        format!("timestamp,status,username,framed_ip_address,session_id\n{rows}"),
    )
    .unwrap();
    let out = subscribers_import(&db, &[("--radius-csv", &f)], &[]);
    (db, f, out)
}

fn store() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("store.db");
    let out = import(&db, dir.path());
    assert!(out.status.success(), "{}", stderr(&out));
    (dir, db)
}

fn counts(db: &Path) -> (i64, i64, i64) {
    let c = rusqlite::Connection::open(db).unwrap();
    let n = |t: &str| {
        c.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
            .unwrap()
    };
    (n("subscribers"), n("assignments"), n("blocks"))
}

#[test]
fn every_format_imports_and_a_second_import_changes_nothing() {
    let (dir, db) = store();
    let first = counts(&db);
    assert_eq!(first, (7, 10, 2));
    let mode = std::fs::metadata(&db).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the store is readable by its owner only");
    let out = import(&db, dir.path());
    assert!(out.status.success());
    assert_eq!(counts(&db), first);
}

#[test]
fn a_malformed_line_is_named_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (_db, f, out) = import_radius_csv(
        dir.path(),
        "2026-03-02T05:00:00Z,Start,u1,198.51.100.7,A\nnot-a-time,Start,u2,198.51.100.8,B\n2026-03-02T05:00:00Z,Start,u3,300.1.1.1,C\n",
    );
    assert!(out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "{}:3: 'not-a-time' is not a time; line skipped",
            f.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}:4: '300.1.1.1' is not an address or prefix; line skipped",
            f.display()
        )),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("1 record(s) taken, 2 skipped"));
}

fn attributed(db: &Path) -> Vec<Value> {
    let files = [
        "stratum-v1.pcap",
        "stratum-v1-vlan.pcap",
        "stratum-v1-segmented.pcap",
        "stratum-v1-bip310.pcap",
        "stratum-v1-sll.pcap",
        "cryptonote-xmrig.pcap",
        "behaviour-opaque.pcap",
    ];
    let paths: Vec<String> = files
        .iter()
        .map(|f| pcap(f).to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["scan", "-q", "--subscribers", db.to_str().unwrap()];
    args.extend(paths.iter().map(String::as_str));
    events(&run(&args))
}

fn by_src<'a>(ev: &'a [Value], ip: &str) -> &'a Value {
    ev.iter()
        .find(|e| e["src_ip"] == ip)
        .unwrap_or_else(|| panic!("no event from {ip}"))
}

#[test]
fn the_sample_miners_resolve_to_their_subscribers() {
    let (_dir, db) = store();
    let ev = attributed(&db);
    // RADIUS session, the enterprise and its address.
    let s = &by_src(&ev, "203.0.113.10")["subscriber"];
    assert_eq!(s["status"], "matched");
    assert_eq!(s["candidates"][0]["id"], "ENT-001");
    assert_eq!(s["candidates"][0]["name"], "Hengda Mining Co.");
    assert_eq!(
        s["candidates"][0]["registration_number"],
        "91110000MA01ABCD1X"
    );
    assert_eq!(s["candidates"][0]["address"], "12 Industrial Road, Zone 3");
    assert_eq!(s["candidates"][0]["matched"]["kind"], "radius");
    assert_eq!(
        s["candidates"][0]["matched"]["source"],
        "radius.detail:1 session S-1001"
    );
    // Behind CGNAT: public address and port to the private address, then its Kea lease.
    let s = &by_src(&ev, "203.0.113.13")["subscriber"];
    assert_eq!(s["status"], "matched");
    assert_eq!(s["via_cgnat"]["private_ip"], "100.64.5.6");
    assert_eq!(s["via_cgnat"]["public_port"], 47310);
    assert_eq!(s["via_cgnat"]["block"], "cgnat.log:1");
    assert_eq!(s["candidates"][0]["id"], "ENT-003");
    assert_eq!(s["candidates"][0]["matched"]["kind"], "kea");
    // dhcpd lease, by MAC; a static IPv6 prefix.
    assert_eq!(
        by_src(&ev, "203.0.113.12")["subscriber"]["candidates"][0]["id"],
        "ENT-004"
    );
    assert_eq!(
        by_src(&ev, "2001:db8::10")["subscriber"]["candidates"][0]["id"],
        "ENT-005"
    );
    // Two subscribers hold the address at once: ambiguous, both named.
    let s = &by_src(&ev, "203.0.113.16")["subscriber"];
    assert_eq!(s["status"], "ambiguous");
    assert_eq!(s["candidates"].as_array().unwrap().len(), 2);
    // In no record: unknown, still reported.
    assert_eq!(
        by_src(&ev, "203.0.113.20")["subscriber"]["status"],
        "unknown"
    );
    // Privacy: a suspect event carries no subscriber data.
    let suspect = by_src(&ev, "203.0.113.34");
    assert_eq!(suspect["mining"]["level"], "suspect");
    assert!(suspect.get("subscriber").is_none());
}

#[test]
fn an_address_reassigned_mid_day_resolves_by_time_and_lookups_are_audited() {
    let (_dir, db) = store();
    let look = |at: &str| subscribers_lookup(&db, "203.0.113.10", at, &[]);
    assert_eq!(
        look("2026-03-02T08:13:24Z")["candidates"][0]["id"],
        "ENT-001"
    );
    assert_eq!(
        look("2026-03-02T13:00:00Z")["candidates"][0]["id"],
        "ENT-002"
    );
    // Between the two sessions (beyond the tolerance): nobody.
    let gap = look("2026-03-02T11:00:00Z");
    assert_eq!(gap["status"], "unknown");
    assert!(
        gap.get("candidates").is_none(),
        "an unknown address has no candidates, not a null"
    );
    // IPv6: an address inside a RADIUS delegated prefix, and a Kea v6 lease found by DUID.
    let v6 = |ip: &str| subscribers_lookup(&db, ip, "2026-03-02T13:00:00Z", &[]);
    assert_eq!(v6("2001:db8:100:2a::1")["candidates"][0]["id"], "ENT-002");
    assert_eq!(v6("2001:db8:200::5")["candidates"][0]["id"], "ENT-007");
    let from = &v6("2001:db8:200::5")["candidates"][0]["matched"]["valid_from"];
    assert!(from.as_str().is_some_and(|t| t.ends_with('Z')), "{from}");
    let mut audit = db.clone().into_os_string();
    audit.push(".audit.log");
    let log = std::fs::read_to_string(&audit).unwrap();
    assert_eq!(log.lines().count(), 6);
    let first: Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    assert_eq!(first["query"]["ip"], "203.0.113.10");
    // Who asked: the account's name and uid, not a bare uid.
    let who = first["who"].as_str().unwrap();
    assert!(who.contains(" (uid "), "{who}");
    assert!(!who.starts_with("? ") && !who.starts_with("uid"), "{who}");
    // Times as the events write them.
    assert!(first["query"]["at"].as_str().unwrap().ends_with('Z'));
    let mode = std::fs::metadata(&audit).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn an_events_file_with_subscriber_data_is_owner_only() {
    let (dir, db) = store();
    let out_file = dir.path().join("events.jsonl");
    let p = pcap("stratum-v1.pcap");
    let out = run(&[
        "scan",
        "-q",
        "--subscribers",
        db.to_str().unwrap(),
        "--events",
        out_file.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let mode = std::fs::metadata(&out_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_session_without_stop_stays_open_until_the_next_start_for_its_address() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _f, out) = import_radius_csv(
        dir.path(),
        "2026-03-02T06:00:00Z,Start,alice,192.0.2.33,A\n2026-03-02T12:00:00Z,Start,bob,192.0.2.33,B\n",
    );
    assert!(out.status.success());
    let who = |at: &str| subscribers_lookup(&db, "192.0.2.33", at, &[]);
    let a = who("2026-03-02T11:00:00Z");
    assert_eq!(a["candidates"][0]["id"], "alice");
    assert_eq!(a["candidates"][0]["registered"], false);
    assert_eq!(who("2026-03-02T13:00:00Z")["candidates"][0]["id"], "bob");
    // Within the tolerance of the hand-over both are possible: reported as ambiguous.
    assert_eq!(who("2026-03-02T12:00:30Z")["status"], "ambiguous");
}

#[test]
fn a_missing_store_is_refused_and_not_created() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("typo.db");
    let t = typo.to_str().unwrap();
    for args in [
        vec!["subscribers", "lookup", "--db", t, "192.0.2.1"],
        vec!["scan", "-q", "--subscribers", t],
    ] {
        let mut args = args;
        let p = pcap("stratum-v1.pcap");
        if args[0] == "scan" {
            args.push(p.to_str().unwrap());
        }
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains("no such subscriber store"),
            "{}",
            stderr(&out)
        );
        assert!(!typo.exists(), "{args:?} created the store");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_store_with_a_damaged_page_is_reported_as_damaged() {
    let (_dir, db) = store();
    // Overwrite the cell pointers of the assignments table's root page.
    let c = rusqlite::Connection::open(&db).unwrap();
    let (page_size, root): (u64, u64) = (
        c.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap(),
        c.query_row(
            "SELECT rootpage FROM sqlite_master WHERE name='assignments'",
            [],
            |r| r.get(0),
        )
        .unwrap(),
    );
    drop(c);
    let mut bytes = std::fs::read(&db).unwrap();
    let at = ((root - 1) * page_size + 8) as usize;
    bytes[at..at + 16].fill(0xff);
    std::fs::write(&db, &bytes).unwrap();
    let out = run(&[
        "subscribers",
        "lookup",
        "--db",
        db.to_str().unwrap(),
        "203.0.113.10",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("the subscriber store is damaged: Tree"),
        "{}",
        stderr(&out)
    );
    assert!(out.stdout.is_empty(), "no answer from a damaged store");
}

#[test]
fn a_store_without_assignments_warns() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let reg = dir.path().join("registry.csv");
    std::fs::write(&reg, "id,name\nENT-1,Acme\n").unwrap();
    let out = run(&[
        "subscribers",
        "import",
        "--db",
        db.to_str().unwrap(),
        "--registry",
        reg.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&[
        "subscribers",
        "lookup",
        "--db",
        db.to_str().unwrap(),
        "192.0.2.1",
    ]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("the subscriber store holds no assignments"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn an_access_identity_the_registry_lacks_is_marked_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _f, out) = import_radius_csv(
        dir.path(),
        "2026-03-02T08:00:00Z,Start,someone@adsl,203.0.113.10,S-9\n",
    );
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("join: 0 of 1 access record(s) name an identity the registry knows, 1 do not (1 identity: 'someone@adsl' (1)); 0 of 0 registry row(s)"),
        "{stdout}"
    );
    let p = pcap("stratum-v1.pcap");
    let out = run(&[
        "scan",
        "-q",
        "--subscribers",
        db.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ev = events(&out);
    let c = &by_src(&ev, "203.0.113.10")["subscriber"]["candidates"][0];
    assert_eq!(c["registered"], false);
    assert_eq!(c["id"], "someone@adsl");
    assert_eq!(c["matched"]["identity"], "someone@adsl");
    assert!(
        stderr(&out).contains("minetap: subscribers: 1 event(s) matched, 0 ambiguous, 0 unknown; 1 name an identity the registry does not know"),
        "{}",
        stderr(&out)
    );
}

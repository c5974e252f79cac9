//! Operator records written by real daemons (FreeRADIUS, ISC dhcpd, Kea, conntrack, ulogd2),
//! imported as they are, and each row of their ground truth looked up.
//!
//! Two sets: the project's own, in `tests/data/realops/` (produced with the daemons from the
//! Debian packages; see the PROVENANCE file there), always; and the shared operator-records set
//! (`../shared/realops/` beside the project, or `MINETAP_REALOPS`), when it is present. Each set
//! has, per daemon, a folder with the files and a `ground_truth.tsv` (kind, identity, address,
//! start, end: `OPEN` for a session still up).

mod common;

use common::*;
use minetap::attrib::Resolver;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// The column names of the FreeRADIUS `linelog` CSV the accounting set was written with (it
/// writes no header line).
const LINELOG_HEADER: &str = "event_ts_epoch,recv_ts_epoch,packet_src_ip,nas_ip,status,user_name,acct_session_id,acct_unique_session_id,framed_ip,framed_ipv6_prefix,delegated_ipv6_prefix,nas_port,nas_port_id,calling_station_id,session_time,in_octets,in_gigawords,out_octets,out_gigawords,terminate_cause";

/// The columns of the project's own linelog CSV (see `tests/data/realops/make-radius.sh`).
const OWN_LINELOG_HEADER: &str = "event_ts_epoch,status,user_name,acct_session_id,framed_ip,framed_ipv6_prefix,delegated_ipv6_prefix,session_time,calling_station_id";

fn shared() -> Option<PathBuf> {
    let p = std::env::var_os("MINETAP_REALOPS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/realops"));
    p.is_dir().then_some(p)
}

/// Every file under `dir` whose name passes `keep`, sorted.
fn files(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(rd) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in rd.flatten() {
        let p = e.path();
        if p.is_dir() {
            if p.file_name().is_some_and(|n| n != "aux") {
                out.extend(files(&p, keep));
            }
        } else if p.file_name().and_then(|n| n.to_str()).is_some_and(keep) {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Imports `(flag, file)` pairs into a new store; every file must give records and none may
/// have a line skipped.
fn import(dir: &Path, inputs: &[(&str, PathBuf)], extra: &[&str]) -> PathBuf {
    let db = dir.join("s.db");
    let pairs: Vec<(&str, &Path)> = inputs.iter().map(|(f, p)| (*f, p.as_path())).collect();
    let out = subscribers_import(&db, &pairs, extra);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    for (_, f) in inputs {
        let line = text
            .lines()
            .find(|l| l.starts_with(f.to_str().unwrap()))
            .unwrap_or_else(|| panic!("no report for {}", f.display()));
        assert!(line.ends_with(", 0 skipped"), "{line}");
        assert!(!line.contains(": 0 record(s) taken"), "{line}");
    }
    db
}

struct Truth {
    kind: String,
    identity: String,
    address: String,
    start: i64,
    end: Option<i64>,
}

fn truth(folder: &Path) -> Vec<Truth> {
    let text = std::fs::read_to_string(folder.join("ground_truth.tsv")).unwrap();
    let t = |s: &str| minetap::attrib::time::parse(s).unwrap_or_else(|| panic!("time {s}"));
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let c: Vec<&str> = l.split('\t').collect();
            Truth {
                kind: c[0].into(),
                identity: c[1].to_lowercase(),
                address: c[2].into(),
                start: t(c[3]),
                end: (c[4] != "OPEN" && !c[4].is_empty()).then(|| t(c[4])),
            }
        })
        .collect()
}

/// Looks each row up at its start, middle and end (10 s inside, or 10 minutes after the start
/// of a session still open): the row's identity must be the one, or among the candidates of an
/// ambiguous answer only at a hand-over. Returns (rows checked, failures).
fn check(db: &Path, rows: &[Truth]) -> (usize, Vec<String>) {
    let r = Resolver::load(db, 5).unwrap();
    let mut checked = 0;
    let mut failed = Vec::new();
    for row in rows {
        let end = row.end.unwrap_or(row.start + 1200);
        let times = [row.start + 10, (row.start + end) / 2, end - 10];
        if row.kind.starts_with("nat-flow-") && !row.kind.ends_with("icmp") {
            // public ip:port → private ip.
            let (ip, port) = row.address.rsplit_once(':').unwrap();
            let (ip, port): (IpAddr, u16) = (ip.parse().unwrap(), port.parse().unwrap());
            let private = row.identity.rsplit_once(':').unwrap().0.to_string();
            checked += 1;
            let a = r.lookup(ip, Some(port), (row.start + end) / 2);
            let got = a.via_cgnat.as_ref().map(|v| v.private_ip.to_string());
            if got.as_deref() != Some(private.as_str()) {
                failed.push(format!(
                    "{} {} → {got:?}, not {private}",
                    row.kind, row.address
                ));
            }
            continue;
        }
        if !(row.kind.starts_with("radius-framed")
            || row.kind.starts_with("radius-delegated")
            || row.kind.contains("dhcp"))
        {
            continue;
        }
        checked += 1;
        let net = row.address.split('/').next().unwrap();
        let ip: IpAddr = net.parse().unwrap();
        for t in times {
            let a = r.lookup(ip, None, t);
            let ids: Vec<&str> = a.candidates.iter().map(|c| c.id.as_str()).collect();
            if a.status != "matched" || ids != [row.identity.as_str()] {
                failed.push(format!(
                    "{} {} at {}: {} {ids:?}, not {}",
                    row.kind,
                    row.address,
                    minetap::attrib::time::rfc3339(t),
                    a.status,
                    row.identity
                ));
            }
        }
    }
    (checked, failed)
}

fn radius_inputs(dir: &Path) -> Vec<(&'static str, PathBuf)> {
    let mut v: Vec<(&str, PathBuf)> = Vec::new();
    for f in files(dir, &|n| n.starts_with("detail")) {
        v.push(("--radius", f));
    }
    for f in files(dir, &|n| n.ends_with(".csv")) {
        v.push(("--radius-csv", f));
    }
    for f in files(dir, &|n| n.ends_with(".sqlite")) {
        v.push(("--radius-sql", f));
    }
    v
}

/// Imports each daemon's files of a set and checks its ground truth; returns a line per daemon.
fn set(root: &Path, linelog_header: &str) -> Vec<String> {
    let mut report = Vec::new();
    let mut failures = Vec::new();
    for (daemon, inputs) in [
        ("radius", radius_inputs(&root.join("radius"))),
        (
            "dhcpd",
            files(&root.join("dhcpd"), &|n| n.ends_with(".leases"))
                .into_iter()
                .map(|f| ("--dhcpd", f))
                .collect(),
        ),
        (
            "kea",
            files(&root.join("kea"), &|n| n.starts_with("kea-leases"))
                .into_iter()
                .map(|f| ("--kea", f))
                .collect(),
        ),
        (
            "nat",
            files(&root.join("nat"), &|n| {
                n == "conntrack-events.log" || n.ends_with(".json")
            })
            .into_iter()
            .map(|f| ("--conntrack", f))
            .collect(),
        ),
    ] {
        if !root.join(daemon).join("ground_truth.tsv").is_file() {
            continue;
        }
        assert!(!inputs.is_empty(), "{daemon}: no files");
        let dir = tempfile::tempdir().unwrap();
        let db = import(dir.path(), &inputs, &["--header", linelog_header]);
        let rows = truth(&root.join(daemon));
        let (n, failed) = check(&db, &rows);
        report.push(format!(
            "{daemon}: {} file(s), {n} ground-truth row(s), {} failed",
            inputs.len(),
            failed.len()
        ));
        failures.extend(failed.into_iter().map(|f| format!("{daemon}: {f}")));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    report
}

#[test]
fn the_shared_operator_records_import_and_match_their_ground_truth() {
    let Some(root) = shared() else {
        eprintln!(
            "SKIPPED: the shared operator records are not beside the project (set MINETAP_REALOPS)"
        );
        return;
    };
    let report = set(&root, LINELOG_HEADER);
    eprintln!("{}", report.join("\n"));
    assert_eq!(report.len(), 4, "{report:?}");
}

#[test]
fn the_projects_own_daemon_records_import_and_match_their_ground_truth() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/realops");
    let report = set(&root, OWN_LINELOG_HEADER);
    eprintln!("{}", report.join("\n"));
    assert_eq!(
        report,
        [
            "radius: 3 file(s), 6 ground-truth row(s), 0 failed",
            "dhcpd: 2 file(s), 6 ground-truth row(s), 0 failed",
            "kea: 2 file(s), 6 ground-truth row(s), 0 failed",
            "nat: 2 file(s), 12 ground-truth row(s), 0 failed",
        ]
    );
}

//! Evidence bundles: written for mining flows, verified, tampering named, packed, and the
//! bundle's pcap giving the same event again.

mod common;

use common::*;
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

struct Setup {
    _dir: tempfile::TempDir,
    key: PathBuf,
    bundles: PathBuf,
}

fn setup(captures: &[&str]) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sensor.key");
    let out = run(&["keygen", key.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let bundles = dir.path().join("bundles");
    let out = scan_captures(
        &[
            "--evidence",
            bundles.to_str().unwrap(),
            "--evidence-key",
            key.to_str().unwrap(),
        ],
        captures,
    );
    assert!(out.status.success(), "{}", stderr(&out));
    Setup {
        _dir: dir,
        key,
        bundles,
    }
}

fn bundles(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    v.sort();
    v
}

fn verify(bundle: &Path, key: &Path) -> std::process::Output {
    let mut pubkey = key.as_os_str().to_owned();
    pubkey.push(".pub");
    run(&[
        "evidence",
        "verify",
        bundle.to_str().unwrap(),
        "--pubkey",
        Path::new(&pubkey).to_str().unwrap(),
    ])
}

#[test]
fn a_bundle_verifies_and_every_tampering_is_named() {
    let s = setup(&["stratum-v1.pcap"]);
    let b = bundles(&s.bundles);
    assert_eq!(
        b.len(),
        1,
        "one mining flow, one bundle, no temporary folder left"
    );
    let b = &b[0];
    let out = verify(b, &s.key);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("ok: 3 files, signature good (the given public key)"));
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(b.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["format"], "minetap-evidence/1");
    assert!(manifest["rules_digest"].as_str().unwrap().len() == 64);
    assert_eq!(
        manifest["time_range"]["first"],
        "2026-03-02T08:13:24.000000Z"
    );
    assert_eq!(
        std::fs::metadata(b.join("flow.pcap"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777,
        0o600
    );
    for file in [
        "flow.pcap",
        "event.json",
        "transcript.jsonl",
        "manifest.json",
    ] {
        let path = b.join(file);
        let original = std::fs::read(&path).unwrap();
        let mut bytes = original.clone();
        let at = bytes.len() / 2;
        bytes[at] ^= 0x01;
        std::fs::write(&path, &bytes).unwrap();
        let out = verify(b, &s.key);
        assert_eq!(out.status.code(), Some(1), "{file}");
        let text = String::from_utf8_lossy(&out.stdout);
        if file == "manifest.json" {
            assert!(
                text.contains("FAILED: manifest.json: the signature does not verify"),
                "{text}"
            );
        } else {
            assert!(
                text.contains(&format!("FAILED: {file}: SHA-256 is")),
                "{file}: {text}"
            );
        }
        std::fs::write(&path, &original).unwrap();
    }
    // A file slipped in is named too.
    std::fs::write(b.join("extra.txt"), b"x").unwrap();
    let text = String::from_utf8_lossy(&verify(b, &s.key).stdout).into_owned();
    assert!(
        text.contains("FAILED: extra.txt: not in the manifest"),
        "{text}"
    );
}

#[test]
fn the_bundle_pcap_gives_the_same_event_and_the_transcript_the_messages() {
    let s = setup(&["stratum-v1.pcap"]);
    let b = &bundles(&s.bundles)[0];
    let original: Value =
        serde_json::from_slice(&std::fs::read(b.join("event.json")).unwrap()).unwrap();
    let out = run(&["scan", "-q", b.join("flow.pcap").to_str().unwrap()]);
    let again = events(&out);
    assert_eq!(again.len(), 1);
    for f in ["src_ip", "src_port", "dest_ip", "dest_port", "flow_id"] {
        assert_eq!(again[0][f], original[f], "{f}");
    }
    for f in [
        "protocol",
        "agent",
        "workers",
        "difficulty",
        "jobs",
        "shares",
        "first_seen",
        "last_seen",
        "to_server",
    ] {
        assert_eq!(again[0]["mining"][f], original["mining"][f], "{f}");
    }
    let t = std::fs::read_to_string(b.join("transcript.jsonl")).unwrap();
    let lines: Vec<Value> = t
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 36); // 14 requests, 22 pool messages
    assert_eq!(lines[0]["direction"], "to_server");
    assert!(lines[0]["message"]
        .as_str()
        .unwrap()
        .contains("mining.subscribe"));
}

#[test]
fn packed_bundles_verify_and_a_wrong_key_is_refused() {
    let s = setup(&["cryptonote-xmrig.pcap", "benign-jsonrpc.pcap"]);
    let b = bundles(&s.bundles);
    assert_eq!(b.len(), 1, "benign flows get no bundle");
    let packed = s.bundles.with_extension("tar.zst");
    let out = run(&[
        "evidence",
        "pack",
        b[0].to_str().unwrap(),
        "-o",
        packed.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(verify(&packed, &s.key).status.success());
    // Owner-only, never over another file, and only bundles are packed.
    let mode = std::fs::metadata(&packed).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let pack = |what: &Path, to: &Path| {
        run(&[
            "evidence",
            "pack",
            what.to_str().unwrap(),
            "-o",
            to.to_str().unwrap(),
        ])
    };
    let again = pack(&b[0], &packed);
    assert_eq!(again.status.code(), Some(1));
    assert!(stderr(&again).contains("exists already; it is not overwritten"));
    let pcaps = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let elsewhere = s.bundles.with_extension("other.tar.zst");
    let not = pack(&pcaps, &elsewhere);
    assert_eq!(not.status.code(), Some(1));
    assert!(
        stderr(&not).contains("not an evidence bundle"),
        "{}",
        stderr(&not)
    );
    assert!(!elsewhere.exists());
    // Another sensor's key does not verify this sensor's bundle.
    let other = s.key.with_file_name("other.key");
    run(&["keygen", other.to_str().unwrap()]);
    let out = verify(&b[0], &other);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("the signature does not verify with the given public key"));
}

#[test]
fn the_bundle_pcap_opens_in_tshark_when_it_is_installed() {
    if std::process::Command::new("tshark")
        .arg("-v")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED tshark check: tshark is not installed");
        return;
    }
    let s = setup(&["stratum-v1.pcap"]);
    let b = &bundles(&s.bundles)[0];
    let out = std::process::Command::new("tshark")
        .args(["-r", b.join("flow.pcap").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().count(), 77);
}

#[test]
fn each_bundle_names_the_capture_file_its_flow_came_from() {
    let s = setup(&["stratum-v1.pcap", "cryptonote-xmrig.pcap"]);
    let mut sources: Vec<(String, String)> = bundles(&s.bundles)
        .iter()
        .map(|b| {
            let m: Value =
                serde_json::from_slice(&std::fs::read(b.join("manifest.json")).unwrap()).unwrap();
            let e: Value =
                serde_json::from_slice(&std::fs::read(b.join("event.json")).unwrap()).unwrap();
            let file = m["capture_source"].as_str().unwrap().to_string();
            (e["mining"]["protocol"].as_str().unwrap().to_string(), file)
        })
        .collect();
    sources.sort();
    assert_eq!(sources.len(), 2);
    assert_eq!(sources[0].0, "cryptonote");
    assert!(
        sources[0].1.ends_with("pcaps/cryptonote-xmrig.pcap"),
        "{sources:?}"
    );
    assert_eq!(sources[1].0, "stratum-v1");
    assert!(
        sources[1].1.ends_with("pcaps/stratum-v1.pcap"),
        "{sources:?}"
    );
}

#[test]
fn frames_past_the_evidence_memory_are_counted_and_the_run_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    assert!(run(&["keygen", key.to_str().unwrap()]).status.success());
    let folder = dir.path().join("b");
    let out = scan_captures(
        &[
            "--evidence",
            folder.to_str().unwrap(),
            "--evidence-key",
            key.to_str().unwrap(),
            "--evidence-memory-mb",
            "0",
        ],
        &["stratum-v1.pcap"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("minetap: warning: 77 frame(s) were not kept for evidence bundles"),
        "{}",
        stderr(&out)
    );
    // The bundle is still written, its manifest saying how many frames it holds.
    let b = bundles(&folder);
    let m: Value =
        serde_json::from_slice(&std::fs::read(b[0].join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["frames"], 0);
}

#[test]
fn every_likely_event_gets_a_bundle_too() {
    // A pool named by the certificate, and the Stratum V2 Noise handshake: verdicts reached
    // after the inspection ended.
    let s = setup(&["tls-cert-pool.pcap", "stratum-v2-noise.pcap"]);
    let made = bundles(&s.bundles);
    assert_eq!(made.len(), 2, "{made:?}");
    for b in &made {
        let out = verify(b, &s.key);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
        let ev: Value =
            serde_json::from_str(&std::fs::read_to_string(b.join("event.json")).unwrap()).unwrap();
        assert_eq!(ev["mining"]["level"], "likely");
        assert!(std::fs::metadata(b.join("flow.pcap")).unwrap().len() > 24);
    }
}

#[test]
fn each_event_at_the_evidence_level_names_its_bundle() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    assert!(run(&["keygen", key.to_str().unwrap()]).status.success());
    let scan = |bundles: &Path, capture: &str| {
        let flags = [
            "--evidence",
            bundles.to_str().unwrap(),
            "--evidence-key",
            key.to_str().unwrap(),
        ];
        scan_captures(&flags, &[capture])
    };
    let b1 = dir.path().join("b1");
    let out = scan(&b1, "tls-cert-pool.pcap");
    assert!(out.status.success(), "{}", stderr(&out));
    let ev = events(&out);
    let made = bundles(&b1);
    assert_eq!(made.len(), 1);
    assert_eq!(
        ev[0]["evidence"]["bundle"],
        made[0].file_name().unwrap().to_str().unwrap()
    );
    // Every sample at the evidence level gets its bundle now, so no event says one is missing.
    assert!(!stderr(&out).contains("have no bundle"));
}

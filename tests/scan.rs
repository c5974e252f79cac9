//! The `minetap scan` command as a user runs it: on the sample captures, on broken inputs, on
//! stdin, with its options.

mod common;

use common::*;
use serde_json::Value;
use std::io::Write;
use std::path::Path;
use std::process::Stdio;

#[test]
fn sample_captures_are_what_the_generator_makes() {
    for s in synth::samples::all() {
        let on_disk = std::fs::read(pcap(s.file)).unwrap_or_default();
        assert!(
            on_disk == s.bytes,
            "pcaps/{} differs from the generator: run `cargo run --example gen_pcaps`",
            s.file
        );
    }
}

#[test]
fn full_session_event_field_by_field() {
    let ev = scan_one("stratum-v1.pcap");
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(e["event_type"], "mining");
    assert_eq!(e["schema"], "minetap/1");
    assert_eq!(e["src_ip"], "203.0.113.10");
    assert_eq!(e["src_port"], 47284);
    assert_eq!(e["dest_ip"], "198.51.100.20");
    assert_eq!(e["dest_port"], 3333);
    assert_eq!(e["proto"], "TCP");
    assert_eq!(e["app_proto"], "stratum");
    let m = &e["mining"];
    assert_eq!(m["protocol"], "stratum-v1");
    assert_eq!(m["level"], "confirmed");
    assert_eq!(m["confidence"], 0.99);
    assert_eq!(m["agent"], "cpuminer/2.5.1");
    assert_eq!(m["workers"][0], "bc1qexamplewallet0000000000000000000.rig1");
    assert_eq!(m["extranonce1"], "08000002");
    // Retargeted from 0.01 to 0.02 half-way through.
    assert_eq!(m["difficulty"], 0.02);
    assert_eq!(m["jobs"], 6);
    assert_eq!(m["shares"]["submitted"], 12);
    assert_eq!(m["shares"]["accepted"], 10);
    assert_eq!(m["shares"]["rejected"], 2);
    assert_eq!(m["first_seen"], "2026-03-02T08:13:24.000000Z");
    assert_eq!(m["flow_end"], "closed");
    assert_eq!(m["handshake_seen"], true);
    assert_eq!(e["timestamp"], m["last_seen"]);
    // Miner: SYN, handshake ACK, 14 requests, 22 ACKs, FIN. Pool: SYN-ACK, 22 lines, 14 ACKs, FIN.
    assert_eq!(m["to_server"]["packets"], 39);
    assert_eq!(m["to_client"]["packets"], 38);
    assert!(has_signal(e, "stratum:mining.subscribe"));
    assert!(has_signal(e, "stratum:mining.submit x12"));
    assert!(has_signal(e, "stratum:mining.notify x6"));
}

#[test]
fn mid_stream_pickup_finds_the_session_and_the_miner() {
    let ev = scan_one("stratum-v1-midstream.pcap");
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    // The capture starts with a pool packet, but the miner is still `src`.
    assert_eq!(e["src_ip"], "203.0.113.11");
    assert_eq!(e["dest_port"], 3333);
    let m = &e["mining"];
    assert_eq!(m["handshake_seen"], false);
    assert!(m.get("agent").is_none());
    assert_eq!(m["difficulty"], 0.02);
    // The first submit was cut by the start of the capture: 11 of 12 remain.
    assert_eq!(m["shares"]["submitted"], 11);
    assert_eq!(m["jobs"], 5);
    assert!(has_signal(e, "stratum:mining.set_difficulty"));
    assert!(!has_signal(e, "stratum:mining.subscribe"));
}

#[test]
fn bip310_session_over_ipv6_reports_version_rolling_and_device() {
    let ev = scan_one("stratum-v1-bip310.pcap");
    assert_eq!(ev.len(), 1);
    let e = &ev[0];
    assert_eq!(e["src_ip"], "2001:db8::10");
    assert_eq!(e["dest_ip"], "2001:db8:1::20");
    let m = &e["mining"];
    assert_eq!(m["agent"], "bmminer/2.0.0");
    assert_eq!(m["version_mask"], "1fffe000");
    assert_eq!(m["extensions"][0], "version-rolling");
    assert_eq!(m["device"]["hw-version"], "Antminer S19 Pro");
    assert_eq!(m["device"]["hw-id"], "a1b2c3d4e5f60718");
    assert_eq!(m["difficulty"], 131072.0);
    assert!(has_signal(e, "stratum:mining.configure"));
    assert!(has_signal(e, "stratum:mining.set_version_mask"));
}

#[test]
fn tiny_reordered_retransmitted_segments_give_the_same_session() {
    let clean = &scan_one("stratum-v1.pcap")[0]["mining"];
    let ev = scan_one("stratum-v1-segmented.pcap");
    assert_eq!(ev.len(), 1);
    let m = &ev[0]["mining"];
    for f in [
        "agent",
        "workers",
        "extranonce1",
        "difficulty",
        "jobs",
        "shares",
    ] {
        assert_eq!(m[f], clean[f], "field {f}");
    }
}

#[test]
fn link_layers_and_formats_give_the_same_session() {
    let clean = &scan_one("stratum-v1.pcap")[0]["mining"];
    for (file, miner) in [
        ("stratum-v1-vlan.pcap", "203.0.113.13"),
        ("stratum-v1-sll.pcap", "203.0.113.16"),
    ] {
        let ev = scan_one(file);
        assert_eq!(ev.len(), 1, "{file}");
        assert_eq!(ev[0]["src_ip"], miner, "{file}");
        for f in ["agent", "jobs", "shares", "difficulty"] {
            assert_eq!(ev[0]["mining"][f], clean[f], "{file} field {f}");
        }
    }
}

#[test]
fn pcapng_with_two_interfaces_and_an_equihash_pool() {
    let mut ev = scan_one("stratum-v1.pcapng");
    ev.sort_by_key(|e| e["src_ip"].as_str().unwrap().to_string());
    assert_eq!(ev.len(), 2);
    let eq = &ev[0];
    assert_eq!(eq["src_ip"], "203.0.113.14");
    assert_eq!(eq["dest_port"], 3357);
    assert_eq!(eq["mining"]["agent"], "EWBF 0.3.4b");
    assert_eq!(eq["mining"]["pool_host"], "pool.example.net");
    assert_eq!(eq["mining"]["extranonce1"], "8aaf9c01");
    assert_eq!(
        eq["mining"]["target"],
        "0010000000000000000000000000000000000000000000000000000000000000"
    );
    assert!(has_signal(eq, "stratum:mining.set_target"));
    assert_eq!(ev[1]["src_ip"], "203.0.113.15"); // the Linux cooked (SLL2) interface
    assert_eq!(ev[1]["mining"]["shares"]["accepted"], 10);
}

#[test]
fn benign_captures_raise_nothing() {
    for f in [
        "benign-ntp.pcap",
        "benign-http-stratum-quote.pcap",
        "benign-jsonrpc.pcap",
        "benign-electrum.pcap",
    ] {
        assert!(scan_one(f).is_empty(), "{f} was reported as mining");
    }
}

#[test]
fn a_directory_is_walked_and_the_summary_counts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let out = run(&["scan", dir.to_str().unwrap()]);
    assert!(out.status.success());
    assert_eq!(events(&out).len(), 35);
    let err = stderr(&out);
    assert!(err.contains("36 input(s) read, 0 unusable"), "{err}");
    assert!(
        err.contains("mining flows 31  pool look-ups 1  crypto-node flows 3"),
        "{err}"
    );
    assert!(err.contains("packets/s"), "{err}");
}

#[test]
fn events_validate_against_the_schema() {
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/event.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let v = jsonschema::validator_for(&schema).expect("schema compiles");
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let out = run(&["scan", "-q", dir.to_str().unwrap()]);
    let ev = events(&out);
    assert_eq!(ev.len(), 35);
    for e in &ev {
        let errors: Vec<String> = v.iter_errors(e).map(|x| x.to_string()).collect();
        assert!(errors.is_empty(), "{errors:?} in {e}");
    }
    // And the schema is not a pushover: a wrong event fails.
    let mut bad = ev[0].clone();
    bad["mining"]["level"] = "certain".into();
    assert!(!v.is_valid(&bad));
}

#[test]
fn stdin_stream_gives_the_same_event() {
    let bytes = std::fs::read(pcap("stratum-v1.pcap")).unwrap();
    let mut child = bin()
        .args(["scan", "-q", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&bytes).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let ev = events(&out);
    assert_eq!(ev, scan_one("stratum-v1.pcap"));
}

#[test]
fn events_file_option() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("out.jsonl");
    let out = run(&[
        "scan",
        "-q",
        pcap("stratum-v1.pcap").to_str().unwrap(),
        "--events",
        file.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 1);
}

#[test]
fn a_file_that_is_not_a_capture_is_named_and_the_rest_still_scanned() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("notes.pcap");
    std::fs::write(&junk, b"<html>hello</html>").unwrap();
    let missing = dir.path().join("missing.pcap");
    let good = pcap("stratum-v1.pcap");
    let out = run(&[
        "scan",
        junk.to_str().unwrap(),
        missing.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(events(&out).len(), 1, "the good capture is still scanned");
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "minetap: error: {}: not a pcap or pcapng capture (starts with 3c 68 74 6d)",
            junk.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "minetap: error: {}: No such file",
            missing.display()
        )),
        "{err}"
    );
    assert!(err.contains("1 input(s) read, 2 unusable"), "{err}");
}

#[test]
fn an_empty_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.pcap");
    std::fs::write(&empty, b"").unwrap();
    let out = run(&["scan", "-q", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("empty file, not a capture"));
}

#[test]
fn a_capture_damaged_part_way_keeps_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = std::fs::read(pcap("stratum-v1.pcap")).unwrap();
    // Overwrite the length of a record two thirds in with a huge value.
    let mut off = 24;
    let mut n = 0;
    while n < 50 {
        let len = u32::from_le_bytes(bytes[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + len;
        n += 1;
    }
    bytes[off + 8..off + 12].copy_from_slice(&0x7fff_ffffu32.to_le_bytes());
    let damaged = dir.path().join("damaged.pcap");
    std::fs::write(&damaged, &bytes).unwrap();
    let out = run(&["scan", damaged.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "damage is a warning, not a failure"
    );
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "minetap: warning: {}: pcap record longer than the snap length at byte offset {off}; the 50 packet(s) before it were used",
            damaged.display()
        )),
        "{err}"
    );
    assert!(err.contains("1 damaged part-way"), "{err}");
    let ev = events(&out);
    assert_eq!(ev.len(), 1);
    assert_eq!(ev[0]["mining"]["flow_end"], "run_end");

    // Truncated in the middle of a record.
    let trunc = dir.path().join("truncated.pcap");
    let full = std::fs::read(pcap("stratum-v1.pcap")).unwrap();
    std::fs::write(&trunc, &full[..full.len() - 5]).unwrap();
    let out = run(&["scan", trunc.to_str().unwrap()]);
    assert!(stderr(&out).contains("capture ends inside a record (truncated)"));
}

#[test]
fn min_level_filters() {
    let p = pcap("stratum-v1.pcap");
    let out = run(&[
        "scan",
        "-q",
        "--min-level",
        "confirmed",
        p.to_str().unwrap(),
    ]);
    assert_eq!(events(&out).len(), 1);
    let out = run(&["scan", "-q", "--min-level", "sure", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid value 'sure'"));
}

#[test]
fn one_worker_or_many_give_the_same_events() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let mut sets = Vec::new();
    for w in ["1", "3"] {
        let out = run(&["scan", "-q", "--workers", w, dir.to_str().unwrap()]);
        let mut ev: Vec<String> = events(&out).iter().map(|e| e.to_string()).collect();
        ev.sort();
        sets.push(ev);
    }
    assert_eq!(sets[0], sets[1]);
}

#[test]
fn gzip_zstd_and_xz_captures_are_read_as_they_are() {
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let raw = std::fs::read(pcap("stratum-v1.pcap")).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&raw).unwrap();
    std::fs::write(dir.path().join("a.pcap.gz"), gz.finish().unwrap()).unwrap();
    std::fs::write(
        dir.path().join("b.pcap.zst"),
        zstd::encode_all(&raw[..], 3).unwrap(),
    )
    .unwrap();
    let mut xz = xz2::write::XzEncoder::new(Vec::new(), 6);
    xz.write_all(&raw).unwrap();
    std::fs::write(dir.path().join("c.pcap.xz"), xz.finish().unwrap()).unwrap();
    std::fs::write(dir.path().join("d.pcap.bz2"), b"BZh9").unwrap();
    let plain = events(&run(&[
        "scan",
        "-q",
        pcap("stratum-v1.pcap").to_str().unwrap(),
    ]));
    let out = run(&["scan", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ev = events(&out);
    assert_eq!(ev.len(), 3, "one event from each compressed copy");
    for e in &ev {
        assert_eq!(e["mining"], plain[0]["mining"]);
    }
    let err = stderr(&out);
    assert!(err.contains("3 input(s) read, 0 unusable"), "{err}");
    assert!(
        err.contains("d.pcap.bz2: a bzip2-compressed capture, not read"),
        "{err}"
    );
    // A damaged stream is named.
    std::fs::write(dir.path().join("e.pcap.gz"), b"\x1f\x8b\x08\x00garbage").unwrap();
    let out = run(&["scan", "-q", dir.path().join("e.pcap.gz").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("e.pcap.gz: incomplete deflate stream"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn ten_thousand_flows_give_the_same_events_with_one_worker_or_four_and_from_stdin() {
    // (Readers and the pieces captures are cut into: `pipeline::tests`.)
    // 10,000 Stratum sessions, each from its own address, interleaved in time (short ones:
    // two jobs, a share each, so that the debug build reads them in seconds).
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("many.pcap");
    let short = synth::stratum::Script {
        jobs: 2,
        submits_per_job: 1,
        ..Default::default()
    };
    std::fs::write(&cap, synth::mix::miners_with(0, 10_000, &short)).unwrap();
    let sorted = |out: &std::process::Output| {
        assert!(out.status.success(), "{}", stderr(out));
        let mut ev: Vec<String> = events(out).iter().map(|e| e.to_string()).collect();
        ev.sort();
        ev
    };
    let path = cap.to_str().unwrap();
    let one = sorted(&run(&[
        "scan",
        "-q",
        "--workers",
        "1",
        "--readers",
        "1",
        path,
    ]));
    assert_eq!(one.len(), 10_000);
    let four = run(&["scan", "-q", "--workers", "4", "--readers", "3", path]);
    assert_eq!(one, sorted(&four));
    // Standard input redirected from the file (mapped as the file is), and through a pipe.
    let redirected = bin()
        .args(["scan", "-q", "--workers", "2", "-"])
        .stdin(std::fs::File::open(&cap).unwrap())
        .output()
        .unwrap();
    assert_eq!(one, sorted(&redirected));
    let mut child = bin()
        .args(["scan", "-q", "--workers", "2", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut pipe = child.stdin.take().unwrap();
    let bytes = std::fs::read(&cap).unwrap();
    let writer = std::thread::spawn(move || std::io::Write::write_all(&mut pipe, &bytes));
    let piped = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert_eq!(one, sorted(&piped));
}

//! The feed to the data platform: batches over HTTP POST through an on-disk spool, retried
//! while the platform refuses, kept while it is away, delivered in order once it is back.
//! The platform is a small HTTP server on 127.0.0.1 inside the test.

mod common;

use common::*;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// An HTTP server that answers `refuse_first` requests with 503, then 200, recording bodies.
fn platform(
    listener: TcpListener,
    refuse_first: usize,
    got: Arc<Mutex<Vec<(u64, String, String)>>>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let mut served = 0;
        listener.set_nonblocking(false).unwrap();
        for stream in listener.incoming() {
            let Ok(mut s) = stream else { break };
            let mut r = BufReader::new(s.try_clone().unwrap());
            let (mut len, mut batch, mut sensor) = (0usize, 0u64, String::new());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                let l = line.to_ascii_lowercase();
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                // (lower-cased with the header line; the tests' sensor ids are lower case)
                if let Some(v) = l.strip_prefix("x-minetap-sensor:") {
                    sensor = v.trim().to_string();
                }
                if let Some(v) = l.strip_prefix("x-minetap-batch:") {
                    batch = v.trim().parse().unwrap_or(0);
                }
                line.clear();
            }
            let mut body = vec![0u8; len];
            r.read_exact(&mut body).unwrap();
            if batch == 0 {
                // The test's own request to stop the server.
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
                break;
            }
            served += 1;
            if served <= refuse_first {
                let _ = s.write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            }
            got.lock()
                .unwrap()
                .push((batch, String::from_utf8(body).unwrap(), sensor));
            let _ =
                s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            if got.lock().unwrap().iter().any(|(_, b, _)| b.is_empty()) {
                break;
            }
        }
    })
}

/// Takes the platform down: a post without a batch number ends the server thread, and its port
/// closes (connections are refused from then on).
fn stop(port: u16, server: JoinHandle<()>) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n")
        .unwrap();
    let mut sink = Vec::new();
    let _ = s.read_to_end(&mut sink);
    server.join().unwrap();
}

fn events_in(got: &[(u64, String, String)]) -> Vec<Value> {
    got.iter()
        .flat_map(|(_, b, _)| {
            b.lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect::<Vec<Value>>()
        })
        .collect()
}

#[test]
fn batches_survive_a_platform_that_refuses_then_goes_away_then_returns() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/ingest");
    let got = Arc::new(Mutex::new(Vec::new()));
    // 1. The platform refuses the first two posts: the run retries until it takes them.
    let server = platform(listener, 2, got.clone());
    // Sensor tap-7 feeds the platform, one event per batch.
    let feeding = |drain: &str, captures: &[&str]| {
        let flags = [
            "--sensor-id",
            "tap-7",
            "--feed-url",
            &url,
            "--feed-spool",
            spool.to_str().unwrap(),
            "--feed-batch",
            "1",
            "--feed-drain-secs",
            drain,
        ];
        scan_captures(&flags, captures)
    };
    let out = feeding("10", &["stratum-v1.pcapng"]); // two mining flows
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("did not take"), "{}", stderr(&out));
    assert_eq!(events_in(&got.lock().unwrap()).len(), 2);
    stop(port, server);

    // 2. The platform is away: events wait in the spool; the run says so and still exits 0.
    let out = feeding("1", &["cryptonote-xmrig.pcap", "stratum-v1-bip310.pcap"]);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("the data platform did not take 2 batch(es)"),
        "{}",
        stderr(&out)
    );
    // And says why: nobody listens at the platform's address.
    assert!(
        stderr(&out).contains("Connection refused"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "feed",
        "send",
        "--spool",
        spool.to_str().unwrap(),
        "--url",
        &url,
        "--drain-secs",
        "1",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("2 batch(es) not delivered; they stay spooled (the last try: "),
        "{}",
        stderr(&out)
    );

    // 3. It is back (same address): the spooled batches go, oldest first.
    let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
    let server = platform(listener, 0, got.clone());
    let out = run(&[
        "feed",
        "send",
        "--spool",
        spool.to_str().unwrap(),
        "--url",
        &url,
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let ev = events_in(&got.lock().unwrap());
    assert_eq!(
        ev.len(),
        4,
        "every event delivered once the platform is back"
    );
    let protocols: Vec<&str> = ev[2..]
        .iter()
        .map(|e| e["mining"]["protocol"].as_str().unwrap())
        .collect();
    assert_eq!(protocols.len(), 2);
    let batches: Vec<u64> = got
        .lock()
        .unwrap()
        .iter()
        .map(|(n, _, _)| *n)
        .filter(|n| *n > 0)
        .collect();
    assert!(
        batches.windows(2).all(|w| w[0] < w[1]),
        "in order: {batches:?}"
    );
    assert!(
        got.lock().unwrap().iter().all(|(_, _, s)| s == "tap-7"),
        "every batch names the sensor that wrote it, also when sent by `feed send`"
    );
    assert_eq!(spooled(&spool), 0, "the spool is empty");
    stop(port, server);
}

/// One run reads a capture from stdin in three parts. After the first part's events have reached
/// the platform it goes away; the second part's events wait in the spool while the run goes on;
/// the platform comes back before the last part, and when the run ends every event of the
/// capture has been delivered, batches in order.
#[test]
fn the_platform_goes_away_mid_run_and_every_event_arrives_once_it_is_back() {
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    let capture = dir.path().join("mix.pcap");
    // Three read blocks' worth (the stdin reader hands over 4 MiB at a time).
    let bytes = synth::mix::big_capture(13 << 20);
    std::fs::write(&capture, &bytes).unwrap();
    let expected = events(&run(&["scan", "-q", capture.to_str().unwrap()])).len();
    assert!(expected >= 10, "the capture has {expected} events");

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/ingest");
    let got = Arc::new(Mutex::new(Vec::new()));
    let server = platform(listener, 0, got.clone());
    let mut child = bin()
        .args([
            "scan",
            "-q",
            "--feed-url",
            &url,
            "--feed-spool",
            spool.to_str().unwrap(),
            "--feed-batch",
            "2",
            "--feed-drain-secs",
            "60",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let third = bytes.len() / 3 + (1 << 20);
    // Part 1: its events arrive.
    stdin.write_all(&bytes[..third]).unwrap();
    stdin.flush().unwrap();
    wait_until("the first events", 60, || !got.lock().unwrap().is_empty());
    // The platform goes away.
    stop(port, server);
    let before = events_in(&got.lock().unwrap()).len();
    // Part 2: the run goes on; its events are spooled.
    stdin.write_all(&bytes[third..2 * third]).unwrap();
    stdin.flush().unwrap();
    wait_until("batches in the spool", 60, || spooled(&spool) >= 2);
    assert_eq!(events_in(&got.lock().unwrap()).len(), before);
    // The platform is back (same address); part 3, and the end of the input.
    let server = platform(
        TcpListener::bind(("127.0.0.1", port)).unwrap(),
        0,
        got.clone(),
    );
    stdin.write_all(&bytes[2 * third..]).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("did not take"), "{}", stderr(&out));
    stop(port, server);

    let got = got.lock().unwrap();
    let ev = events_in(&got);
    let mut flows: Vec<String> = ev.iter().map(|e| e.to_string()).collect();
    flows.sort();
    flows.dedup();
    assert_eq!(
        flows.len(),
        expected,
        "every event of the capture delivered"
    );
    assert!(
        before > 0 && before < expected,
        "{before} of {expected} before the outage"
    );
    let batches: Vec<u64> = got.iter().map(|(n, _, _)| *n).collect();
    assert!(
        batches.windows(2).all(|w| w[0] < w[1]),
        "in order: {batches:?}"
    );
    assert_eq!(spooled(&spool), 0, "the spool is empty");
}

#[test]
fn the_events_file_rotates_by_size_and_nothing_is_lost() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("events.jsonl");
    let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps");
    let out = run(&[
        "scan",
        "-q",
        "--workers",
        "1",
        "--events",
        f.to_str().unwrap(),
        "--events-rotate-kb",
        "8",
        p.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut total = 0;
    let mut files = 0;
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let path = e.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.len() <= 8 * 1024 + 4096,
            "{} holds {} bytes",
            path.display(),
            text.len()
        );
        total += text.lines().count();
        files += 1;
        // Rotated files keep the extension last, so that `*.jsonl` finds every one.
        assert_eq!(path.extension().unwrap(), "jsonl", "{}", path.display());
    }
    assert!(files > 3, "rotated into {files} files");
    assert_eq!(total, 35, "every event in one of the files");
}

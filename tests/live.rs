//! `minetap live` on a veth pair inside a network namespace this test creates: the sample
//! captures are replayed into one end, minetap captures on the other, and its events must be
//! those `minetap scan` gives for the same files. SIGHUP reloads the rules; SIGTERM flushes the
//! flows still open. Nothing leaves the namespace. Needs root and `ip`; skipped, with the
//! reason printed, where a namespace cannot be made.

mod common;
#[path = "common/netns.rs"]
mod netns;

use common::*;
use netns::Netns;
use serde_json::Value;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

/// (src, dest, protocol) → the fields compared between live and scan.
fn by_flow(ev: &[Value]) -> BTreeMap<String, String> {
    ev.iter()
        .filter(|e| e["final"] != false)
        .filter_map(|e| {
            let m = e.get("mining")?;
            let key = format!(
                "{}:{} {}:{} {}",
                e["src_ip"], e["src_port"], e["dest_ip"], e["dest_port"], m["protocol"]
            );
            let val = format!(
                "{} {} {} {} {}",
                m["level"], m["jobs"], m["shares"], m["workers"], m["agent"]
            );
            Some((key, val))
        })
        .collect()
}

/// Replays the sample captures `files` into `mt-a` at 20,000 frames/s; returns their paths.
fn replay(ns: &Netns, files: &[&str]) -> Vec<String> {
    let paths: Vec<String> = files
        .iter()
        .map(|f| pcap(f).to_str().unwrap().to_string())
        .collect();
    let mut args = vec!["replay", "-i", "mt-a", "--pps", "20000"];
    args.extend(paths.iter().map(String::as_str));
    let out = ns.exec(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    paths
}

#[test]
fn live_on_a_veth_pair_gives_the_events_scan_gives() {
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED live capture test: cannot create a network namespace ({why})");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let events_file = dir.path().join("events.jsonl");
    let stats = dir.path().join("stats.jsonl");
    let spool = dir.path().join("spool");
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut live = ns
        .exec(&[
            "live",
            "-i",
            "mt-b",
            "--rules",
            rules.to_str().unwrap(),
            "--events",
            events_file.to_str().unwrap(),
            "--stats",
            stats.to_str().unwrap(),
            "--stats-interval",
            "1",
            "--metrics-listen",
            "19477",
            // A platform that is down (nothing listens there, inside the namespace): batches
            // wait in the spool, and the metrics say so.
            "--feed-url",
            "http://127.0.0.1:9/events",
            "--feed-spool",
            spool.to_str().unwrap(),
            "--feed-batch",
            "2",
            "--feed-drain-secs",
            "0",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("ip netns exec runs");
    // Wait until it captures.
    let mut stderr = live.stderr.take().unwrap();
    // It says where its metrics are once it captures.
    let mut seen = netns::wait_for(&mut stderr, "metrics on http://127.0.0.1:19477/metrics");
    assert!(seen.contains("capturing on mt-b"), "{seen}");
    // The midstream capture goes last: its flow never closes, so only SIGTERM ends it.
    let files = [
        "stratum-v1.pcap",
        "stratum-v1-bip310.pcap",
        "stratum-v1-segmented.pcap",
        "stratum-v1-vlan.pcap",
        "cryptonote-xmrig.pcap",
        "ethproxy.pcap",
        "getblocktemplate.pcap",
        "stratum-v2.pcap",
        "encap-vxlan.pcap",
        "encap-gtpu.pcap",
        "stratum-v1-midstream.pcap",
    ];
    let paths = replay(&ns, &files);
    std::thread::sleep(Duration::from_millis(1500));
    // The metrics page, scraped from inside the namespace, as Prometheus would.
    let name = ns.0.clone();
    let page = std::thread::spawn(move || {
        netns::enter(&name).unwrap();
        let mut s = std::net::TcpStream::connect("127.0.0.1:19477").unwrap();
        std::io::Write::write_all(&mut s, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut page = String::new();
        std::io::Read::read_to_string(&mut s, &mut page).unwrap();
        page
    })
    .join()
    .unwrap();
    assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");
    let value = |name: &str| -> f64 {
        page.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok()))
            .unwrap_or_else(|| panic!("{name} not in {page}"))
    };
    assert!(value("minetap_packets_total ") >= 500.0, "{page}");
    assert_eq!(value("minetap_kernel_drops_total "), 0.0);
    let confirmed: f64 = page
        .lines()
        .filter(|l| l.starts_with("minetap_verdicts_total{level=\"confirmed\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(confirmed >= 5.0, "{page}");
    assert!(
        value("minetap_verdicts_total{level=\"confirmed\",protocol=\"stratum-v1\"} ") >= 1.0,
        "{page}"
    );
    let written = value("minetap_events_written_total{type=\"mining\"} ");
    assert!(written >= 5.0, "{page}");
    assert!(value("minetap_spool_batches ") >= 1.0, "{page}");
    assert!(value("minetap_feed_failures_total ") >= 1.0, "{page}");
    assert_eq!(value("minetap_spool_errors_total "), 0.0);
    assert!(
        value("minetap_stage_latency_seconds_count{stage=\"packet\"} ") > 0.0,
        "{page}"
    );
    assert!(page.contains("# TYPE minetap_stage_latency_seconds histogram"));
    let pid = live.id() as i32;
    unsafe {
        libc::kill(pid, libc::SIGHUP);
    }
    std::thread::sleep(Duration::from_millis(500));
    unsafe {
        libc::kill(pid, libc::SIGTERM);
    }
    let status = live.wait().unwrap();
    let mut rest = String::new();
    let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
    seen.push_str(&rest);
    assert!(status.success(), "live exited with {status}: {seen}");
    assert!(seen.contains("rules reloaded: 32 domains"), "{seen}");

    let text = std::fs::read_to_string(&events_file).unwrap();
    let live_events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut scan_args = vec!["scan", "-q"];
    scan_args.extend(paths.iter().map(String::as_str));
    let scan_events = events(&run(&scan_args));
    assert_eq!(by_flow(&live_events), by_flow(&scan_events));
    assert_eq!(by_flow(&live_events).len(), 11);

    // Early events came first, and the flow that never closed was flushed at SIGTERM.
    let mid: Vec<&Value> = live_events
        .iter()
        .filter(|e| e["src_ip"] == "203.0.113.11")
        .collect();
    assert_eq!(mid.len(), 2);
    assert_eq!(mid[0]["final"], false);
    assert_eq!(mid[0]["mining"]["flow_end"], "ongoing");
    assert_eq!(mid[1]["final"], true);
    assert_eq!(mid[1]["mining"]["flow_end"], "run_end");
    let vx = live_events
        .iter()
        .find(|e| e["final"] == true && e["tunnel"]["type"] == "vxlan");
    assert!(vx.is_some(), "the VXLAN flow was decoded live");

    // Statistics lines with the counters and latency histograms.
    let st = std::fs::read_to_string(&stats).unwrap();
    let last: Value = serde_json::from_str(st.lines().last().unwrap()).unwrap();
    assert_eq!(last["event_type"], "stats");
    assert!(last["packets"].as_u64().unwrap() >= 500, "{last}");
    assert_eq!(last["kernel_drops"], 0);
    assert!(last["latency_ns"]["packet"]["p99"].as_u64().unwrap() > 0);
    // The platform gets them too, through the feed's spool (it was down: they wait there),
    // the last one as the statistics file has it.
    let mut spooled = String::new();
    for e in std::fs::read_dir(&spool).unwrap().flatten() {
        if e.path().is_file() {
            spooled.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
        }
    }
    let stats_lines: Vec<&str> = spooled
        .lines()
        .filter(|l| l.contains(r#""event_type":"stats""#))
        .collect();
    assert!(stats_lines.len() >= 2, "{spooled}");
    assert!(stats_lines.contains(&st.lines().last().unwrap()));
}

/// The libpcap back-end with a BPF filter: only the filtered flow is seen. Built and run with
/// `cargo test --features libpcap --test live` (needs libpcap's development files).
#[cfg(feature = "libpcap")]
#[test]
fn libpcap_backend_applies_the_bpf_filter() {
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED libpcap capture test: cannot create a network namespace ({why})");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let events_file = dir.path().join("events.jsonl");
    let mut live = ns
        .exec(&[
            "live",
            "-i",
            "mt-b",
            "--no-rules",
            "--bpf",
            "tcp port 10128",
            "--events",
            events_file.to_str().unwrap(),
            "--stats",
            "/dev/null",
        ])
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let files = [pcap("stratum-v1.pcap"), pcap("cryptonote-xmrig.pcap")];
    let out = ns
        .exec(&[
            "replay",
            "-i",
            "mt-a",
            files[0].to_str().unwrap(),
            files[1].to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    std::thread::sleep(Duration::from_millis(1000));
    unsafe {
        libc::kill(live.id() as i32, libc::SIGTERM);
    }
    assert!(live.wait().unwrap().success());
    let text = std::fs::read_to_string(&events_file).unwrap();
    let ev: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(!ev.is_empty());
    assert!(
        ev.iter().all(|e| e["mining"]["protocol"] == "cryptonote"),
        "{text}"
    );
}

/// Two capture threads on one interface, in a fan-out group: the kernel hands each flow to one
/// of them, and the events are those `scan` gives for the same files.
#[test]
fn two_capture_threads_in_a_fanout_group_give_the_events_scan_gives() {
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED fan-out capture test: cannot create a network namespace ({why})");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let events_file = dir.path().join("events.jsonl");
    let rules = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut live = ns
        .exec(&[
            "live",
            "-i",
            "mt-b",
            "--threads",
            "2",
            "--rules",
            rules.to_str().unwrap(),
            "--events",
            events_file.to_str().unwrap(),
            "--stats",
            "/dev/null",
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("ip netns exec runs");
    let mut stderr = live.stderr.take().unwrap();
    let seen = netns::wait_for(&mut stderr, "capturing on mt-b");
    let files = [
        "stratum-v1.pcap",
        "stratum-v1-segmented.pcap",
        "cryptonote-xmrig.pcap",
        "ethproxy.pcap",
        "stratum-v2.pcap",
        "encap-vxlan.pcap",
    ];
    let paths = replay(&ns, &files);
    std::thread::sleep(Duration::from_millis(1500));
    unsafe {
        libc::kill(live.id() as i32, libc::SIGTERM);
    }
    let status = live.wait().unwrap();
    assert!(status.success(), "live exited with {status}: {seen}");
    let live_events: Vec<Value> = std::fs::read_to_string(&events_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut scan_args = vec!["scan", "-q"];
    scan_args.extend(paths.iter().map(String::as_str));
    let scan_events = events(&run(&scan_args));
    assert_eq!(by_flow(&live_events).len(), files.len());
    assert_eq!(by_flow(&live_events), by_flow(&scan_events));
}

/// The fan-out group itself: frames of 64 flows sent into one end reach the two sockets of the
/// group on the other, each frame once, both sockets some, and the two directions of a flow
/// the same socket.
#[test]
fn a_fanout_group_spreads_flows_over_its_sockets_both_directions_together() {
    use minetap::source::capture::LiveSource;
    use minetap::source::live::Sender;
    use minetap::source::ring::Ring;
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED fan-out group test: cannot create a network namespace ({why})");
            return;
        }
    };
    let name = ns.0.clone();
    let got = std::thread::spawn(move || {
        netns::enter(&name).unwrap();
        let (retire, wait) = (Duration::from_millis(5), Duration::from_millis(200));
        let mut socks: Vec<Ring> = (0..2)
            .map(|_| Ring::open("mt-b", 4 << 20, retire, wait).unwrap())
            .collect();
        for s in &socks {
            s.join_fanout(4242).unwrap();
        }
        let out = Sender::open("mt-a").unwrap();
        // A UDP packet from 10.0.0.X:1000+X to 10.1.0.1:53, or back (`rev`).
        let frame = |x: u8, rev: bool| {
            let (a, b) = ([10, 0, 0, x], [10, 1, 0, 1]);
            let (src, dst, sp, dp) = if rev {
                (b, a, 53u16, 1000 + x as u16)
            } else {
                (a, b, 1000 + x as u16, 53)
            };
            let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
            let ip = [
                [0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0].as_slice(),
                &src,
                &dst,
            ]
            .concat();
            f.extend_from_slice(&ip);
            f.extend_from_slice(&sp.to_be_bytes());
            f.extend_from_slice(&dp.to_be_bytes());
            f.extend_from_slice(&[0, 12, 0, 0, x, rev as u8, 0, 0]);
            f
        };
        for x in 1..=64u8 {
            out.send(&frame(x, false)).unwrap();
            out.send(&frame(x, true)).unwrap();
        }
        // (flow, direction) → the socket that got it.
        let mut got = Vec::new();
        let mut frames = Vec::new();
        for (i, s) in socks.iter_mut().enumerate() {
            while let Some(block) = s.next_block(&mut frames).unwrap() {
                for (off, f) in &frames {
                    let p = &block[*off..off + f.len];
                    if p.len() >= 46 && p[12..14] == [0x08, 0x00] && p[23] == 17 {
                        got.push((p[42], p[43], i));
                    }
                }
            }
        }
        got
    })
    .join()
    .unwrap();
    assert_eq!(got.len(), 128, "every frame once: {got:?}");
    let on = |i| got.iter().filter(|g| g.2 == i).count();
    assert!(
        on(0) > 0 && on(1) > 0,
        "both sockets get flows: {} and {}",
        on(0),
        on(1)
    );
    for x in 1..=64u8 {
        let socks: Vec<usize> = got.iter().filter(|g| g.0 == x).map(|g| g.2).collect();
        assert!(
            socks.len() == 2 && socks[0] == socks[1],
            "flow {x}: {socks:?}"
        );
    }
}

/// A UDP frame from 10.0.0.1 to 10.1.0.1 whose payload is `n`, with the 802.1Q tag `vlan`.
fn udp_frame(n: u32, vlan: Option<u16>) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
    if let Some(id) = vlan {
        f.extend_from_slice(&[0x81, 0x00]);
        f.extend_from_slice(&id.to_be_bytes());
    }
    f.extend_from_slice(&[0x08, 0x00, 0x45, 0, 0, 32, 0, 0, 0, 0, 64, 17, 0, 0]);
    f.extend_from_slice(&[10, 0, 0, 1, 10, 1, 0, 1, 0x13, 0x88, 0, 53, 0, 12, 0, 0]);
    f.extend_from_slice(&n.to_be_bytes());
    f
}

/// Whether a captured frame is one of `udp_frame`'s.
fn ours(p: &[u8]) -> bool {
    p.len() >= 12 && p[6..12] == [2, 0, 0, 0, 0, 1]
}

/// Runs `f` with a capture ring of four blocks on `mt-b` and a sender on `mt-a`, inside a new
/// namespace; `None` (with SKIPPED printed) where a namespace cannot be made.
fn with_ring<T: Send + 'static>(
    what: &str,
    f: impl FnOnce(minetap::source::ring::Ring, minetap::source::live::Sender) -> T + Send + 'static,
) -> Option<T> {
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED {what}: cannot create a network namespace ({why})");
            return None;
        }
    };
    let name = ns.0.clone();
    let out = std::thread::spawn(move || {
        netns::enter(&name).unwrap();
        let ring = minetap::source::ring::Ring::open(
            "mt-b",
            4 << 20,
            Duration::from_millis(2),
            Duration::from_millis(200),
        )
        .unwrap();
        f(ring, minetap::source::live::Sender::open("mt-a").unwrap())
    })
    .join()
    .unwrap();
    drop(ns);
    Some(out)
}

/// The kernel takes the VLAN tag off a frame before any socket sees it; the ring puts it back,
/// so the captured bytes are those sent.
#[test]
fn a_capture_ring_gives_vlan_frames_with_their_tag() {
    use minetap::source::capture::LiveSource;
    let got = with_ring("VLAN ring test", |mut ring, out| {
        out.send(&udp_frame(1, Some(0x2064))).unwrap();
        out.send(&udp_frame(2, None)).unwrap();
        let mut frames = Vec::new();
        let mut got = Vec::new();
        while let Some(block) = ring.next_block(&mut frames).unwrap() {
            for (off, f) in &frames {
                let p = &block[*off..off + f.len];
                if ours(p) {
                    got.push((p.to_vec(), f.orig_len));
                }
            }
        }
        got
    });
    let Some(got) = got else { return };
    let sent = [udp_frame(1, Some(0x2064)), udp_frame(2, None)];
    assert_eq!(got.len(), 2, "{got:?}");
    for (g, s) in got.iter().zip(&sent) {
        assert_eq!(&g.0, s);
        assert_eq!(g.1 as usize, s.len());
    }
}

/// A block goes back to the kernel when the last packet in it is dropped: 24 rounds of a frame
/// each through a ring of four blocks lose nothing. Blocks held count as kernel drops.
#[test]
fn a_capture_ring_reuses_blocks_given_back_and_counts_drops_while_they_are_held() {
    use minetap::source::capture::LiveSource;
    use minetap::source::ring::Ring;
    let got = with_ring("ring reuse test", |mut ring, out| {
        let mut frames = Vec::new();
        // The next block, and how many of the test's frames it holds (the interface sends
        // frames of its own when it comes up).
        let mut next = |ring: &mut Ring| {
            let block = ring.next_block(&mut frames).unwrap();
            let n = block.as_ref().map_or(0, |b| {
                frames
                    .iter()
                    .filter(|(off, f)| ours(&b[*off..off + f.len]))
                    .count()
            });
            (block, n)
        };
        let mut seen = 0;
        for n in 0..24u32 {
            out.send(&udp_frame(n, None)).unwrap();
            // Blocks are retired 2 ms after their first frame, and dropped at once.
            for _ in 0..10 {
                let (_, ours) = next(&mut ring);
                seen += ours;
                if ours > 0 {
                    break;
                }
            }
        }
        let before = ring.drops();
        // Now every block is held: the ring fills and the kernel drops what does not fit.
        let (mut held, mut ours_held) = (Vec::new(), 0);
        for n in 0..8u32 {
            out.send(&udp_frame(n, None)).unwrap();
            std::thread::sleep(Duration::from_millis(10));
            while let (Some(b), ours) = next(&mut ring) {
                held.push(b);
                ours_held += ours;
            }
        }
        (seen, before, held.len(), ours_held, ring.drops())
    });
    let Some((seen, before, held, ours_held, after)) = got else {
        return;
    };
    assert_eq!(seen, 24, "every round's frame");
    assert_eq!(before, 0);
    assert_eq!(held, 4, "four blocks, then the ring is full");
    assert!(
        ours_held <= 4 && ours_held as u64 + after >= 8,
        "{ours_held} frames in held blocks, {after} dropped"
    );
}

/// An interface that goes down while captured ends its capture with an error that names it,
/// instead of a loop of wake-ups.
#[test]
fn a_capture_ring_on_an_interface_that_goes_down_says_so() {
    use minetap::source::capture::LiveSource;
    let got = with_ring("interface down test", |mut ring, _out| {
        let mut frames = Vec::new();
        let down = std::process::Command::new("ip")
            .args(["link", "set", "mt-b", "down"])
            .status()
            .unwrap();
        assert!(down.success());
        let mut result = Ok(None);
        for _ in 0..20 {
            result = ring
                .next_block(&mut frames)
                .map(|b| b.map(|_| frames.len()));
            if result.is_err() {
                break;
            }
        }
        result.map_err(|e| e.to_string())
    });
    let Some(got) = got else { return };
    let err = got.expect_err("the capture ends with an error");
    assert!(err.starts_with("mt-b: capture: "), "{err}");
    assert!(err.contains("down"), "{err}");
}

/// While packets hold the block before the one the kernel fills, the kernel calls the ring
/// readable; the ring must not wake without end then (each wake-up would take a core from the
/// packets' workers): at most one empty return a millisecond.
#[test]
fn a_capture_ring_whose_last_block_is_held_waits_instead_of_spinning() {
    use minetap::source::capture::LiveSource;
    let got = with_ring("held block wait test", |mut ring, out| {
        let mut frames = Vec::new();
        out.send(&udp_frame(1, None)).unwrap();
        let mut held = Vec::new();
        while held.is_empty() {
            if let Some(b) = ring.next_block(&mut frames).unwrap() {
                held.push(b);
            }
        }
        let started = std::time::Instant::now();
        let mut empty = 0;
        while started.elapsed() < Duration::from_millis(100) {
            if ring.next_block(&mut frames).unwrap().is_none() {
                empty += 1;
            }
        }
        empty
    });
    let Some(empty) = got else { return };
    assert!(empty <= 100, "{empty} empty returns in 100 ms");
}

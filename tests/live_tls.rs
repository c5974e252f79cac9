//! `minetap live` reports a miner inside TLS early: a Stratum miner talks to a pool over TLS
//! (no server name, an address nobody listed) on the loopback of a network namespace this test
//! creates, and minetap, capturing there, must say `suspect` with `final: false` once the
//! behaviour window (60 s, `rules/behaviour.table`) has passed (it is judged again every half
//! window, so a first minute that said too little is not the last word) and before the session
//! ends, then again when it ends. With `--probe`, that early verdict sends a probe to the endpoint
//! (allowed: 127.0.0.0/8 inside the namespace); the pool answers, so the flow's final event is
//! `confirmed`, source `probe`, and the probe's report with its transcript is in the probe log.
//! Needs root; skipped, with the reason, elsewhere. Runs about 100 s.

#[path = "common/netns.rs"]
mod netns;
#[path = "common/pool.rs"]
mod pool;

use netns::Netns;
use serde_json::Value;
use std::process::Stdio;
use std::time::{Duration, Instant};

#[test]
fn a_tls_miner_is_reported_early_in_live_mode() {
    let ns = match Netns::create() {
        Ok(ns) => ns,
        Err(why) => {
            eprintln!("SKIPPED live TLS behaviour test: cannot create a network namespace ({why})");
            return;
        }
    };
    let dir = tempfile::tempdir().unwrap();
    let events_file = dir.path().join("events.jsonl");
    let probe_log = dir.path().join("probes.jsonl");
    let mut live = ns
        .exec(&[
            "live",
            "-i",
            "lo",
            "--events",
            events_file.to_str().unwrap(),
            "--probe",
            "--probe-allow",
            "127.0.0.0/8",
            "--probe-log",
            probe_log.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .expect("ip netns exec runs");
    let mut stderr = live.stderr.take().unwrap();
    let said = netns::wait_for(&mut stderr, "capturing on lo");
    let said_later = netns::drain(stderr);
    let started = Instant::now();
    let session = Duration::from_secs(100);
    let miner = std::thread::spawn({
        let ns_name = ns.0.clone();
        move || {
            netns::enter(&ns_name).expect("setns");
            let p = pool::start(
                "127.0.0.1:0",
                pool::PoolConfig {
                    job_every_s: 15.0,
                    tls: Some(pool::tls_config(&["pool.private.test"])),
                    ..Default::default()
                },
            );
            pool::stratum_miner(p.addr, Some(None), session, 5.0, 21)
        }
    });
    // The early event must be written while the session still runs.
    let mut early: Option<(Value, Duration)> = None;
    while started.elapsed() < session - Duration::from_secs(5) && early.is_none() {
        std::thread::sleep(Duration::from_millis(500));
        let text = std::fs::read_to_string(&events_file).unwrap_or_default();
        early = text
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .find(|e| e["final"] == false && e["mining"]["level"] == "suspect")
            .map(|e| (e, started.elapsed()));
    }
    let accepted = miner.join().unwrap().expect("the miner ran");
    assert!(accepted >= 5, "the pool accepted {accepted} shares");
    std::thread::sleep(Duration::from_secs(2));
    // SAFETY: signalling our own child.
    unsafe { libc::kill(live.id() as i32, libc::SIGTERM) };
    let status = live.wait().unwrap();
    let said = said + &said_later.join().unwrap_or_default();
    eprintln!("live said {} bytes on stderr; early: {early:?}", said.len());
    assert!(status.success(), "live exited {status}: {said}");
    let (e, at) = early.unwrap_or_else(|| {
        panic!(
            "no early suspect event before the session ended; events: {}\nlive said: {said}",
            std::fs::read_to_string(&events_file).unwrap_or_default()
        )
    });
    assert!(
        at >= Duration::from_secs(59),
        "not before the window: {at:?}"
    );
    assert_eq!(e["mining"]["protocol"], "tls");
    assert!(e["tls"].get("sni").is_none());
    let all: Vec<Value> = std::fs::read_to_string(&events_file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // The miner's flow and the probes' own connections (which the sensor sees too).
    let finals: Vec<&Value> = all
        .iter()
        .filter(|x| x["final"] == true && x["flow_id"] == e["flow_id"])
        .collect();
    assert_eq!(finals.len(), 1, "{all:?}");
    let m = &finals[0]["mining"];
    assert_eq!(m["level"], "confirmed", "{m}");
    assert_eq!(m["pool"]["source"], "probe", "{m}");
    assert!(
        m["signals"][0]
            .as_str()
            .unwrap()
            .contains("answered stratum-v1 over tls: mining.subscribe answered"),
        "{m}"
    );
    let reports: Vec<Value> = std::fs::read_to_string(&probe_log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0]["pool"], true);
    assert_eq!(reports[0]["transport"], "tls");
    assert!(!reports[0]["attempts"][0]["received"]
        .as_str()
        .unwrap()
        .is_empty());
}

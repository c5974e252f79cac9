//! The feed to NATS JetStream, against a real `nats-server -js` this test starts on loopback:
//! with the broker down, a scan's events wait in the spool on disk; `minetap feed send` then
//! publishes them, each event a message on `minetap.events.<sensor>` (site profiles on
//! `minetap.profiles.<sensor>`) with a `Nats-Msg-Id` unique to the event; sending the same
//! batches again (a resend after a lost acknowledgement) adds nothing to the stream. Needs
//! `nats-server` (Debian's package; `.ci/run` installs it); SKIPPED, with the reason, without.

mod common;
#[path = "common/servers.rs"]
mod servers;

use common::*;
use servers::Nats;
use std::process::Command;
use std::time::Duration;

/// The stream's messages: (subject, Nats-Msg-Id, payload).
fn stream_messages(url: &str) -> Vec<(String, String, serde_json::Value)> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let client = async_nats::connect(url).await.unwrap();
        let js = async_nats::jetstream::new(client);
        let mut stream = js.get_stream("MINETAP").await.unwrap();
        let n = stream.info().await.unwrap().state.messages;
        let mut out = Vec::new();
        for seq in 1..=n {
            let m = stream.get_raw_message(seq).await.unwrap();
            let id = m
                .headers
                .get("Nats-Msg-Id")
                .map(|v| v.to_string())
                .unwrap_or_default();
            out.push((
                m.subject.to_string(),
                id,
                serde_json::from_slice(&m.payload).unwrap(),
            ));
        }
        out
    })
}

#[test]
fn events_wait_in_the_spool_then_reach_jetstream_once_each() {
    let dir = tempfile::tempdir().unwrap();
    // The broker's address is known, the broker is down.
    let mut nats = match Nats::start(&dir.path().join("js")) {
        Ok(n) => n,
        Err(why) => return eprintln!("SKIPPED NATS feed test: {why}"),
    };
    nats.kill();
    let url = nats.url();
    let spool = dir.path().join("spool");
    // The broker is down: the scan ends, its events wait on disk.
    let out = run(&[
        "scan",
        "-q",
        "--feed-url",
        &url,
        "--feed-spool",
        spool.to_str().unwrap(),
        "--feed-drain-secs",
        "1",
        "--sensor-id",
        "tap east.1",
        "--profile-local",
        "203.0.113.0/24",
        pcap("stratum-v1.pcap").to_str().unwrap(),
        pcap("cryptonote-xmrig.pcap").to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("they stay in the feed spool"),
        "{}",
        stderr(&out)
    );
    let events = events(&out);
    let (flows, profiles) = (
        events
            .iter()
            .filter(|e| e["event_type"] != "site_profile")
            .count(),
        events
            .iter()
            .filter(|e| e["event_type"] == "site_profile")
            .count(),
    );
    assert_eq!(flows, 2);
    assert!(profiles >= 1);
    let copy = dir.path().join("copy");
    let cp = Command::new("cp")
        .args(["-r", spool.to_str().unwrap(), copy.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(cp.success());

    // The broker comes up with a stream over the project's subjects.
    nats.up();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url.as_str()).await.unwrap());
        js.create_stream(async_nats::jetstream::stream::Config {
            name: "MINETAP".into(),
            subjects: vec!["minetap.>".into()],
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .unwrap();
    });

    let send = |spool: &std::path::Path| {
        run(&[
            "feed",
            "send",
            "--spool",
            spool.to_str().unwrap(),
            "--url",
            &url,
            "--drain-secs",
            "10",
        ])
    };
    let out = send(&spool);
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("every batch delivered"), "{said}");
    let msgs = stream_messages(&url);
    assert_eq!(msgs.len(), flows + profiles, "{msgs:?}");
    let on = |s: &str| msgs.iter().filter(|m| m.0 == s).count();
    assert_eq!(on("minetap.events.tap_east_1"), flows);
    assert_eq!(on("minetap.profiles.tap_east_1"), profiles);
    let ids: std::collections::BTreeSet<&String> = msgs.iter().map(|m| &m.1).collect();
    assert_eq!(ids.len(), msgs.len(), "one id per event");
    assert!(msgs.iter().all(|m| m.1.starts_with("tap_east_1-")));
    let mut got: Vec<String> = msgs.iter().map(|m| m.2.to_string()).collect();
    let mut want: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    got.sort();
    want.sort();
    assert_eq!(got, want, "the events, as written");

    // The same batches again, as after a lost acknowledgement: the stream drops them.
    let out = send(&copy);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stream_messages(&url).len(), flows + profiles);

    // A message that is not an event reaches the stream too (another publisher's mistake).
    rt.block_on(async {
        let js = async_nats::jetstream::new(async_nats::connect(url.as_str()).await.unwrap());
        let mut h = async_nats::HeaderMap::new();
        h.insert("Nats-Msg-Id", "bad-1");
        js.publish_with_headers("minetap.events.other", h, "not json".into())
            .await
            .unwrap()
            .await
            .unwrap();
    });
    // The platform takes everything into its store: events once, the bad one as a dead letter.
    let db = dir.path().join("platform.sqlite");
    let ingest = || {
        run(&[
            "platform",
            "ingest",
            "--nats",
            &url,
            "--store",
            db.to_str().unwrap(),
            "--idle-exit",
            "2",
        ])
    };
    let out = ingest();
    assert!(out.status.success(), "{}", stderr(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    let stored = flows + profiles;
    assert!(
        said.contains(&format!(
            "{stored} event(s) stored, 0 repeat(s) ignored, 1 dead letter(s)"
        )),
        "{said}"
    );
    // Everything was acknowledged after it was committed: a second run finds nothing new.
    let out = ingest();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("0 event(s) stored"), "{said}");
    assert!(
        said.contains(&format!(
            "the store holds {stored} event(s), 1 dead letter(s)"
        )),
        "{said}"
    );
    // The week's inventory from the store is the inventory of the events themselves.
    let ev_file = dir.path().join("events.jsonl");
    let lines: Vec<String> = events.iter().map(|e| e.to_string()).collect();
    std::fs::write(&ev_file, lines.join("\n") + "\n").unwrap();
    let from_file = inventory_json(&[ev_file.to_str().unwrap()], &dir.path().join("inv1"));
    // The samples were captured on 2026-03-02, in ISO week 2026-W10.
    let from_store = inventory_json(
        &["--store", db.to_str().unwrap(), "--week", "2026-W10"],
        &dir.path().join("inv2"),
    );
    assert_eq!(from_store, from_file);
    assert_eq!(from_store.as_array().unwrap().len(), 2);
    let other_week = inventory_json(
        &["--store", db.to_str().unwrap(), "--week", "2026-W48"],
        &dir.path().join("inv3"),
    );
    assert_eq!(other_week, serde_json::json!([]));
}

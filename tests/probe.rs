//! `minetap probe` against servers this test starts on loopback: a Stratum V1 pool in the clear,
//! a Stratum pool over TLS, a CryptoNote pool over TLS (which refuses Stratum), an HTTPS server,
//! an MQTT broker (mosquitto, when installed) and a closed port. The allow-list and the rate
//! limit are checked too. Nothing is sent anywhere else.

mod common;
#[path = "common/pool.rs"]
mod pool;

use common::*;
use serde_json::Value;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn probe(args: &[&str]) -> (Vec<Value>, String, Option<i32>) {
    let mut all = vec!["probe", "--allow", "127.0.0.0/8", "--timeout", "2"];
    all.extend_from_slice(args);
    let out = run(&all);
    (events(&out), stderr(&out), out.status.code())
}

/// An HTTPS server that answers anything with 400, as web servers do to a stray JSON line.
fn https_server() -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let tls = pool::tls_config(&["www.example.test"]);
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let tls = tls.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(tls).unwrap();
                let mut s = rustls::StreamOwned::new(conn, c);
                let mut buf = [0u8; 1024];
                if s.read(&mut buf).unwrap_or(0) > 0 {
                    let _ = s.write_all(
                        b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    );
                    let _ = s.flush();
                }
            });
        }
    });
    addr
}

#[test]
fn pools_are_confirmed_in_their_own_dialect_in_the_clear_and_over_tls() {
    let plain = pool::start("127.0.0.1:0", pool::PoolConfig::default());
    let stratum_tls = pool::start(
        "127.0.0.1:0",
        pool::PoolConfig {
            tls: Some(pool::tls_config(&["pool.private.test"])),
            only: Some("stratum"),
            ..Default::default()
        },
    );
    let cn_tls = pool::start(
        "127.0.0.1:0",
        pool::PoolConfig {
            tls: Some(pool::tls_config(&["xmr.private.test"])),
            only: Some("cryptonote"),
            ..Default::default()
        },
    );
    let (ev, err, code) = probe(&[
        &plain.addr.to_string(),
        &stratum_tls.addr.to_string(),
        &cn_tls.addr.to_string(),
    ]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(ev.len(), 3, "{err}");
    let expect = [
        ("plain", "stratum-v1"),
        ("tls", "stratum-v1"),
        ("tls", "cryptonote"),
    ];
    for (e, (transport, dialect)) in ev.iter().zip(expect) {
        assert_eq!(e["pool"], true, "{e}");
        assert_eq!(e["transport"], transport, "{e}");
        assert_eq!(e["dialect"], dialect, "{e}");
        // The transcript is kept: what was sent and what came back.
        let last = e["attempts"].as_array().unwrap().last().unwrap();
        assert!(last["sent"].as_str().unwrap().contains("\"method\""), "{e}");
        assert!(!last["received"].as_str().unwrap().is_empty(), "{e}");
    }
    assert!(
        ev[2]["reason"].as_str().unwrap().contains("algo rx/0"),
        "{}",
        ev[2]
    );
    // The CryptoNote pool refused Stratum first: that attempt is in the transcript.
    assert!(ev[2]["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["dialect"] == "stratum-v1"
            && a["pool"] == false
            && a["outcome"].as_str().unwrap().contains("Unknown method")));
    assert!(
        err.contains("3 endpoint(s): 3 answered as a mining pool, 0 did not"),
        "{err}"
    );
    // Every attempt is logged.
    assert!(
        err.contains(&format!("probe {} plain stratum-v1: pool:", plain.addr)),
        "{err}"
    );
}

#[test]
fn an_https_server_a_closed_port_and_an_mqtt_broker_are_not_pools() {
    let https = https_server();
    let closed = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let (ev, err, code) = probe(&[&https.to_string(), &closed.to_string()]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0]["pool"], false);
    assert!(
        ev[0]["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["transport"] == "tls"
                && a["outcome"]
                    .as_str()
                    .unwrap()
                    .starts_with("an HTTP server (HTTP/1.1 400")),
        "{}",
        ev[0]
    );
    assert_eq!(ev[1]["pool"], false);
    assert!(
        ev[1]["reason"].as_str().unwrap().contains("refused"),
        "{}",
        ev[1]
    );
    assert!(
        err.contains("0 answered as a mining pool, 2 did not"),
        "{err}"
    );

    let Ok(_) = std::process::Command::new("mosquitto").arg("-h").output() else {
        eprintln!("SKIPPED (MQTT part): mosquitto is not installed");
        return;
    };
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut broker = std::process::Command::new("mosquitto")
        .args(["-p", &port.to_string()])
        .stderr(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (ev, err, _) = probe(&["--plain", &format!("127.0.0.1:{port}")]);
    let _ = broker.kill();
    let _ = broker.wait();
    assert_eq!(ev.len(), 1, "{err}");
    assert_eq!(ev[0]["pool"], false, "{}", ev[0]);
    assert_eq!(
        ev[0]["attempts"].as_array().unwrap().len(),
        4,
        "every dialect tried: {}",
        ev[0]
    );
}

#[test]
fn nothing_is_sent_outside_the_allowed_ranges() {
    // A listener the probe must never reach: 127.0.0.2 is outside --allow 127.0.0.1/32.
    let l = TcpListener::bind("127.0.0.2:0").unwrap();
    let addr = l.local_addr().unwrap();
    l.set_nonblocking(true).unwrap();
    let out = run(&["probe", "--allow", "127.0.0.1/32", &addr.to_string()]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        format!("minetap: probe: not probing anything: {addr} outside the allowed ranges (--allow 127.0.0.1/32)")
    );
    assert!(l.accept().is_err(), "no connection was made");
    let out = run(&["probe", "127.0.0.1:3333"]);
    assert_eq!(out.status.code(), Some(2), "--allow is required");
    assert!(stderr(&out).contains("--allow"), "{}", stderr(&out));
}

#[test]
fn probes_are_rate_limited_and_results_cached() {
    // Count the connections the pool receives.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let seen = Arc::new(AtomicUsize::new(0));
    let s = seen.clone();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            s.fetch_add(1, Ordering::SeqCst);
            let _ = c.write_all(b"{\"id\":1,\"result\":[[],\"08000002\",4],\"error\":null}\n");
        }
    });
    let other = pool::start("127.0.0.1:0", pool::PoolConfig::default());
    let a = addr.to_string();
    let b = other.addr.to_string();
    let (ev, err, code) = probe(&["--rate", "1", &a, &b, &a]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(ev.len(), 3);
    assert_eq!(
        (ev[0]["cached"].clone(), ev[2]["cached"].clone()),
        (false.into(), true.into())
    );
    assert_eq!(
        seen.load(Ordering::SeqCst),
        1,
        "the repeat came from the cache"
    );
    assert!(
        err.contains(&format!("probe {b}: waiting")),
        "the second endpoint waited: {err}"
    );
    assert!(
        err.contains(&format!("probe {a}: cached result reused")),
        "{err}"
    );
}

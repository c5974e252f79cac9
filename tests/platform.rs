//! The platform end to end, against real servers this test starts on loopback: `nats-server`
//! with JetStream and a PostgreSQL cluster of its own (Debian's packages; `.ci/run` installs
//! them; SKIPPED, with the reason, without). Two sensors read different captures from stdin
//! and publish; the broker is killed (SIGKILL) while they run and started again 12 s later; the
//! ingest process is killed mid-stream and started again; PostgreSQL is restarted during the
//! ingest. Every event arrives in the store exactly once, the spools end empty, and the
//! inventory from the store equals the inventory from the sensors' own event files. The
//! ingest's role can insert and select, not delete; its password shows nowhere.

mod common;
#[path = "common/servers.rs"]
mod servers;

use common::*;
use servers::{Nats, Postgres};
use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const INGEST_PW: &str = "ingest-s3cret-pw";

/// A sensor reading its capture from stdin, publishing through its spool.
fn sensor(nats: &str, id: &str, spool: &Path, events: &Path) -> (Child, ChildStdin) {
    let mut child = bin()
        .args(["scan", "-q", "--feed-url", nats, "--feed-spool"])
        .arg(spool)
        .args(["--feed-batch", "20", "--feed-drain-secs", "120"])
        .args(["--sensor-id", id, "--events"])
        .arg(events)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdin = child.stdin.take().unwrap();
    (child, stdin)
}

fn ingest(nats: &str, store: &str) -> Child {
    bin()
        .args(["platform", "ingest", "--nats", nats, "--store", store])
        .args(["--batch", "50", "--idle-exit", "8"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn rows(pg: &Postgres, sql: &str) -> u64 {
    pg.psql("minetap", sql)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn two_sensors_a_killed_broker_a_killed_ingest_a_restarted_database_every_event_once() {
    let dir = tempfile::tempdir().unwrap();
    let pg_dir = tempfile::tempdir().unwrap();
    let mut pg = match Postgres::start(pg_dir.path()) {
        Ok(pg) => pg,
        Err(why) => return eprintln!("SKIPPED platform test: {why}"),
    };
    let mut nats = match Nats::start(&dir.path().join("js")) {
        Ok(n) => n,
        Err(why) => return eprintln!("SKIPPED platform test: {why}"),
    };
    // The database and its two roles: the owner migrates, the ingest inserts and selects.
    for sql in [
        "CREATE ROLE minetap_owner LOGIN PASSWORD 'owner-pw'",
        &format!("CREATE ROLE minetap_ingest LOGIN PASSWORD '{INGEST_PW}'"),
        "CREATE DATABASE minetap OWNER minetap_owner",
    ] {
        pg.psql("postgres", sql).unwrap();
    }
    pg.psql(
        "minetap",
        "ALTER DEFAULT PRIVILEGES FOR ROLE minetap_owner IN SCHEMA public GRANT SELECT, INSERT ON TABLES TO minetap_ingest",
    )
    .unwrap();
    let owner = pg.url("minetap_owner", "owner-pw", "minetap");
    let store = pg.url("minetap_ingest", INGEST_PW, "minetap");

    // Before the migration the ingest refuses, and says what to do.
    let out = run(&[
        "platform",
        "ingest",
        "--nats",
        &nats.url(),
        "--store",
        &store,
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("schema is version 0: run `minetap platform migrate"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(INGEST_PW), "{}", stderr(&out));
    let out = run(&["platform", "migrate", "--store", &owner]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("schema version 0 -> 1"));

    // Two captures of different miners, 1,500 sessions each (one event a session).
    let caps = [
        synth::mix::many_miners(0, 1500),
        synth::mix::many_miners(4000, 1500),
    ];
    let ids = ["east", "west"];
    let spools = ids.map(|i| dir.path().join(format!("spool-{i}")));
    let files = ids.map(|i| dir.path().join(format!("events-{i}.jsonl")));
    let mut ing = ingest(&nats.url(), &store);
    let mut sensors: Vec<(Child, ChildStdin)> = (0..2)
        .map(|i| sensor(&nats.url(), ids[i], &spools[i], &files[i]))
        .collect();
    let part = |i: usize, k: usize| {
        let third = caps[i].len() / 3;
        let end = if k == 2 {
            caps[i].len()
        } else {
            (k + 1) * third
        };
        &caps[i][k * third..end]
    };
    // Part 1: the first events reach the store.
    for (i, s) in sensors.iter_mut().enumerate() {
        s.1.write_all(part(i, 0)).unwrap();
        s.1.flush().unwrap();
    }
    wait_until("the first rows", 60, || {
        rows(&pg, "SELECT count(*) FROM events") >= 100
    });
    // The ingest dies mid-stream (SIGKILL) and another takes its place.
    ing.kill().unwrap();
    let _ = ing.wait();
    let mut ing = ingest(&nats.url(), &store);
    // The broker dies (SIGKILL) while the sensors go on reading: their events wait on disk.
    nats.kill();
    for (i, s) in sensors.iter_mut().enumerate() {
        s.1.write_all(part(i, 1)).unwrap();
        s.1.flush().unwrap();
    }
    wait_until("batches waiting in both spools", 60, || {
        spools.iter().all(|s| spooled(s) >= 1)
    });
    std::thread::sleep(Duration::from_secs(12));
    nats.up();
    // The database goes away while the spooled events flow again: the ingest's batch waits.
    pg.down();
    let said = Arc::new(Mutex::new(String::new()));
    let reader = {
        let said = said.clone();
        let mut err = ing.stderr.take().unwrap();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            while let Ok(n) = std::io::Read::read(&mut err, &mut buf) {
                if n == 0 {
                    break;
                }
                said.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        })
    };
    let until = Instant::now() + Duration::from_secs(60);
    while !said
        .lock()
        .unwrap()
        .contains("the batch waits for the database")
    {
        assert!(
            Instant::now() < until,
            "the ingest never waited for the database: {}; spooled: {:?}",
            said.lock().unwrap(),
            spools.iter().map(|s| spooled(s)).collect::<Vec<_>>()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_secs(1));
    pg.up();
    // Part 3, the end of both inputs.
    let mut sensors: Vec<Child> = sensors
        .into_iter()
        .enumerate()
        .map(|(i, (child, mut stdin))| {
            stdin.write_all(part(i, 2)).unwrap();
            drop(stdin);
            child
        })
        .collect();
    for (i, s) in sensors.iter_mut().enumerate() {
        let st = s.wait().unwrap();
        let mut err = String::new();
        std::io::Read::read_to_string(s.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert!(st.success(), "sensor {}: {err}", ids[i]);
        assert!(!err.contains("stay in the feed spool"), "{err}");
        assert_eq!(spooled(&spools[i]), 0, "the spool of {} is empty", ids[i]);
    }
    let out = ing.wait_with_output().unwrap();
    reader.join().unwrap();
    let said = format!(
        "{}{}",
        said.lock().unwrap(),
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(out.status.success(), "{said}");
    assert!(said.contains("writing again"), "{said}");
    assert!(!said.contains(INGEST_PW), "{said}");

    // Exactly once: each sensor's events, no more, no fewer.
    let mut want = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let text = std::fs::read_to_string(f).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.len() >= 1400,
            "{} events from {}",
            lines.len(),
            ids[i]
        );
        let n = rows(
            &pg,
            &format!("SELECT count(*) FROM events WHERE sensor = '{}'", ids[i]),
        );
        assert_eq!(n as usize, lines.len(), "rows of {}", ids[i]);
        want.extend(lines.iter().map(|l| (ids[i].to_string(), l.to_string())));
    }
    let got = pg
        .psql(
            "minetap",
            "SELECT sensor || ' ' || body FROM events ORDER BY sensor, body",
        )
        .unwrap();
    let mut got: Vec<(String, String)> = got
        .lines()
        .map(|l| {
            let (s, b) = l.split_once(' ').unwrap();
            (s.to_string(), b.to_string())
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got.len(), want.len());
    assert!(got == want, "the stored events are the sensors' events");
    assert_eq!(rows(&pg, "SELECT count(*) FROM dead_letters"), 0);

    // The week's inventory from the store is the inventory of the sensors' files.
    let from_files = inventory_json(
        &[files[0].to_str().unwrap(), files[1].to_str().unwrap()],
        &dir.path().join("inv-files"),
    );
    let from_store = inventory_json(
        &["--store", &store, "--week", "2026-W10"],
        &dir.path().join("inv-store"),
    );
    assert_eq!(from_store, from_files);
    assert!(!from_store.as_array().unwrap().is_empty());

    // The ingest's role inserts and selects, and no more.
    let out = std::process::Command::new(find_psql(&pg))
        .env("PGPASSWORD", INGEST_PW)
        .args(["-h", "127.0.0.1", "-p", &pg.port.to_string()])
        .args([
            "-U",
            "minetap_ingest",
            "-d",
            "minetap",
            "-c",
            "DELETE FROM events",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("permission denied"),
        "{}",
        stderr(&out)
    );
}

fn find_psql(_pg: &Postgres) -> std::path::PathBuf {
    servers::find_postgres().unwrap().join("psql")
}

/// A broker that admits only an NKey user: the sensor and the ingest, given the user's seed,
/// publish and store; a sensor with another seed is refused, says why, and keeps its events;
/// the seed shows nowhere.
#[test]
fn an_nkey_user_publishes_and_ingests_another_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let user = nkeys::KeyPair::new_user();
    let conf = format!(
        "authorization {{ users = [ {{ nkey: {} }} ] }}\n",
        user.public_key()
    );
    let nats = match Nats::start_with(&dir.path().join("js"), Some(&conf)) {
        Ok(n) => n,
        Err(why) => return eprintln!("SKIPPED NKey test: {why}"),
    };
    let seed_file = |name: &str, seed: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, format!("{seed}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
        p
    };
    let seed = user.seed().unwrap();
    let good = seed_file("good.nk", &seed);
    let other = nkeys::KeyPair::new_user().seed().unwrap();
    let bad = seed_file("bad.nk", &other);
    let db = dir.path().join("platform.sqlite");
    let ingest = || {
        run(&[
            "platform",
            "ingest",
            "--nats",
            &nats.url(),
            "--store",
            db.to_str().unwrap(),
            "--token-file",
            good.to_str().unwrap(),
            "--idle-exit",
            "1",
        ])
    };
    // The first ingest makes the stream.
    let out = ingest();
    assert!(out.status.success(), "{}", stderr(&out));
    let scan = |key: &Path, spool: &str| {
        run(&[
            "scan",
            "-q",
            "--feed-url",
            &nats.url(),
            "--feed-spool",
            dir.path().join(spool).to_str().unwrap(),
            "--feed-token-file",
            key.to_str().unwrap(),
            "--feed-drain-secs",
            "3",
            pcap("stratum-v1.pcap").to_str().unwrap(),
        ])
    };
    let out = scan(&bad, "spool-bad");
    assert!(out.status.success(), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(said.contains("they stay in the feed spool"), "{said}");
    assert!(said.to_lowercase().contains("authorization"), "{said}");
    assert!(!said.contains(&other), "{said}");
    let out = scan(&good, "spool-good");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("stay in the feed spool"),
        "{}",
        stderr(&out)
    );
    assert!(!stderr(&out).contains(&seed));
    let out = ingest();
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(said.contains("1 event(s) stored"), "{said}");
    assert!(!said.contains(&seed) && !stderr(&out).contains(&seed));
    // An NKey seed is for NATS: an HTTP feed given one refuses to start.
    let out = run(&[
        "scan",
        "-q",
        "--feed-url",
        "http://127.0.0.1:9/ingest",
        "--feed-spool",
        dir.path().join("spool-http").to_str().unwrap(),
        "--feed-token-file",
        good.to_str().unwrap(),
        pcap("stratum-v1.pcap").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("the feed is not nats://"),
        "{}",
        stderr(&out)
    );
}

/// The NATS configurations in `deploy/` (one server; a three-node cluster) are ones
/// `nats-server` accepts.
#[test]
fn the_deployed_nats_configurations_are_valid() {
    let nats = match servers::find_nats() {
        Ok(n) => n,
        Err(why) => return eprintln!("SKIPPED NATS configuration test: {why}"),
    };
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/nats");
    let mut files = vec![deploy.join("nats-server.conf")];
    files.extend((1..=3).map(|n| deploy.join(format!("cluster/node-{n}.conf"))));
    for f in files {
        let out = std::process::Command::new(nats)
            .arg("-t")
            .arg("-c")
            .arg(&f)
            .output()
            .unwrap();
        let said = format!("{}{}", stderr(&out), String::from_utf8_lossy(&out.stdout));
        assert!(out.status.success(), "{}: {said}", f.display());
        assert!(said.contains("is valid"), "{}: {said}", f.display());
    }
}

/// NATS over TLS with client certificates (`verify: true`), under a province's own subject
/// prefix: a sensor with the platform's CA and its certificate publishes, the ingest with its
/// own stores; a sensor trusting another CA is refused and keeps its events; an ingest trusting
/// another CA stops with the reason instead of waiting for a server that is there.
#[test]
fn nats_over_mutual_tls() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let w = |n: &str, t: &str| std::fs::write(d.join(n), t).unwrap();
    for (name, file) in [("127.0.0.1", "srv"), ("tap-a", "cli")] {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_string()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        w(&format!("{file}.pem"), &cert.pem());
        w(&format!("{file}.key"), &key.serialize_pem());
    }
    w("ca.pem", &ca.pem());
    let other_key = rcgen::KeyPair::generate().unwrap();
    let other = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&other_key)
        .unwrap();
    w("other.pem", &other.pem());
    let p = |n: &str| d.join(n).to_str().unwrap().to_string();
    let conf = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\", verify: true }}\n",
        p("srv.pem"),
        p("srv.key"),
        p("ca.pem")
    );
    let nats = match Nats::start_with(&d.join("js"), Some(&conf)) {
        Ok(n) => n,
        Err(why) => return eprintln!("SKIPPED NATS TLS test: {why}"),
    };
    let url = format!("tls://127.0.0.1:{}", nats.port);
    let db = p("platform.sqlite");
    let (cli, cli_key) = (p("cli.pem"), p("cli.key"));
    let ingest = |ca: &str| {
        run(&[
            "platform",
            "ingest",
            "--nats",
            &url,
            "--store",
            &db,
            "--idle-exit",
            "1",
            "--ca",
            ca,
            "--client-cert",
            &cli,
            "--client-key",
            &cli_key,
            "--subject-prefix",
            "gd.minetap",
            "--stream",
            "GD",
        ])
    };
    let out = ingest(&p("other.pem"));
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("invalid peer certificate"),
        "{}",
        stderr(&out)
    );
    let out = ingest(&p("ca.pem"));
    assert!(out.status.success(), "{}", stderr(&out));
    let scan = |ca: &str, spool: &str, stream: &str| {
        run(&[
            "scan",
            "-q",
            "--feed-url",
            &url,
            "--feed-spool",
            &p(spool),
            "--feed-ca",
            ca,
            "--feed-client-cert",
            &cli,
            "--feed-client-key",
            &cli_key,
            "--feed-drain-secs",
            "3",
            "--feed-subject-prefix",
            "gd.minetap",
            "--sensor-id",
            "tap-a",
            "--feed-stream",
            stream,
            pcap("stratum-v1.pcap").to_str().unwrap(),
        ])
    };
    let out = scan(&p("other.pem"), "spool-other", "GD");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("they stay in the feed spool"),
        "{}",
        stderr(&out)
    );
    // A stream named that does not hold the subjects: the server refuses, the events wait.
    let out = scan(&p("ca.pem"), "spool-stream", "ELSEWHERE");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("they stay in the feed spool"),
        "{}",
        stderr(&out)
    );
    let out = scan(&p("ca.pem"), "spool", "GD");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        !stderr(&out).contains("stay in the feed spool"),
        "{}",
        stderr(&out)
    );
    let out = ingest(&p("ca.pem"));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("1 event(s) stored"), "{said}{}", stderr(&out));
    // The sensor is read from `gd.minetap.events.tap-a`.
    let store = rusqlite::Connection::open(&db).unwrap();
    let sensor: String = store
        .query_row("SELECT sensor FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(sensor, "tap-a");
    // A prefix with a wildcard is refused before anything is sent.
    let out = run(&[
        "scan",
        "-q",
        "--feed-url",
        &url,
        "--feed-spool",
        &p("spool-bad"),
        "--feed-subject-prefix",
        "gd.*",
        pcap("stratum-v1.pcap").to_str().unwrap(),
    ]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("subject prefix 'gd.*'"),
        "{}",
        stderr(&out)
    );
}

/// Three JetStream servers in a cluster, the stream at three replicas: one node is killed
/// (SIGKILL) and the sensors, publishing through the other two, lose nothing.
#[test]
fn a_three_node_cluster_loses_nothing_when_a_node_dies() {
    let dir = tempfile::tempdir().unwrap();
    let routes: Vec<u16> = (0..3).map(|_| servers::free_port()).collect();
    let conf = |i: usize| {
        let all: Vec<String> = routes
            .iter()
            .map(|p| format!("nats-route://127.0.0.1:{p}"))
            .collect();
        format!(
            "server_name: n{i}\ncluster {{ name: t, listen: \"127.0.0.1:{}\", routes: [{}] }}\n",
            routes[i],
            all.join(", ")
        )
    };
    let mut nodes = Vec::new();
    for i in 0..3 {
        match Nats::start_with(&dir.path().join(format!("n{i}")), Some(&conf(i))) {
            Ok(n) => nodes.push(n),
            Err(why) => return eprintln!("SKIPPED NATS cluster test: {why}"),
        }
    }
    let db = dir.path().join("platform.sqlite");
    let ingest = |node: &Nats| {
        run(&[
            "platform",
            "ingest",
            "--nats",
            &node.url(),
            "--store",
            db.to_str().unwrap(),
            "--replicas",
            "3",
            "--idle-exit",
            "1",
        ])
    };
    // The cluster elects its leaders first; until then the stream cannot be made.
    let until = Instant::now() + Duration::from_secs(90);
    loop {
        let out = ingest(&nodes[0]);
        if out.status.success() {
            break;
        }
        assert!(Instant::now() < until, "{}", stderr(&out));
        std::thread::sleep(Duration::from_secs(1));
    }
    let publish = |node: &Nats, i: u32| {
        let f = dir.path().join(format!("cap{i}.pcap"));
        std::fs::write(&f, synth::mix::many_miners(i * 4000, 200)).unwrap();
        let out = run(&[
            "scan",
            "-q",
            "--feed-url",
            &node.url(),
            "--sensor-id",
            &format!("s{i}"),
            "--feed-spool",
            dir.path().join(format!("spool{i}")).to_str().unwrap(),
            "--feed-drain-secs",
            "30",
            f.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        assert!(
            !stderr(&out).contains("stay in the feed spool"),
            "{}",
            stderr(&out)
        );
        events(&out).len()
    };
    let first = publish(&nodes[1], 0);
    nodes[2].kill();
    let second = publish(&nodes[1], 1);
    assert!(first >= 150 && second >= 150, "{first} and {second} events");
    let out = ingest(&nodes[0]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        said.contains(&format!("the store holds {} event(s)", first + second)),
        "{said}"
    );
}

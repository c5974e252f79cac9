//! Faults and bad input that once lost data or panicked: each ends in a clear error or in
//! complete output (the fault cases of the fault-injection suite fixed so far).

mod common;

use common::*;
use std::process::Stdio;

/// Runs minetap with its stdout a pipe whose reading end is already closed.
fn into_closed_pipe(args: &[&str]) -> std::process::Output {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe(2) writes; each is owned once below.
    let (reader, writer) = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    drop(reader);
    bin()
        .args(args)
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

#[test]
fn a_closed_stdout_ends_a_command_quietly_never_a_panic() {
    let example = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("minetap.example.toml");
    for args in [
        vec!["rules", "check"],
        vec!["config", "check", example.to_str().unwrap()],
    ] {
        let out = into_closed_pipe(&args);
        let err = stderr(&out);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn a_folder_that_links_back_to_itself_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(pcap("stratum-v1.pcap"), dir.path().join("a.pcap")).unwrap();
    std::os::unix::fs::symlink(".", dir.path().join("self")).unwrap();
    std::os::unix::fs::symlink("a.pcap", dir.path().join("b.pcap")).unwrap();
    let out = run(&["scan", "-q", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(events(&out).len(), 1, "one capture, one event");
    let err = stderr(&out);
    assert!(err.contains("self: reached again"), "{err}");
    assert!(err.contains("b.pcap: reached again"), "{err}");
}

#[test]
fn settings_out_of_range_are_refused_with_the_range() {
    let p = pcap("stratum-v1.pcap");
    for (flag, value, says) in [
        ("--workers", "0", "--workers must be from 1 to 1024, not 0"),
        (
            "--max-flows",
            "0",
            "--max-flows must be from 1 to 1073741824, not 0",
        ),
        (
            "--tcp-timeout",
            "0",
            "--tcp-timeout must be from 1 to 2592000, not 0",
        ),
        (
            "--udp-timeout",
            "0",
            "--udp-timeout must be from 1 to 2592000, not 0",
        ),
    ] {
        let out = run(&["scan", flag, value, p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}");
        assert!(stderr(&out).contains(says), "{flag}: {}", stderr(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn the_inventory_counts_a_flow_once_whatever_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let ev = dir.path().join("events.jsonl");
    let p = pcap("cryptonote-xmrig.pcap");
    let out = run(&[
        "scan",
        "-q",
        "--events",
        ev.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let copy = dir.path().join("again.jsonl");
    std::fs::copy(&ev, &copy).unwrap();
    let sites = |files: &[&std::path::Path], out: &str| {
        let o = dir.path().join(out);
        let mut args = vec!["inventory"];
        args.extend(files.iter().map(|f| f.to_str().unwrap()));
        args.extend(["--out", o.to_str().unwrap()]);
        let r = run(&args);
        assert!(r.status.success(), "{}", stderr(&r));
        let v: Vec<serde_json::Value> =
            serde_json::from_str(&std::fs::read_to_string(o.join("inventory.json")).unwrap())
                .unwrap();
        v
    };
    let once = sites(&[&ev], "once");
    let twice = sites(&[&ev, &copy], "twice");
    assert_eq!(once.len(), 1);
    assert_eq!(twice[0]["connections"], once[0]["connections"]);
    assert_eq!(twice[0]["hashrate_hs"], once[0]["hashrate_hs"]);
    assert_eq!(twice[0]["shares"], once[0]["shares"]);
}

#[test]
fn an_events_file_that_holds_events_is_never_overwritten_unasked() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("events.jsonl");
    let fs = f.to_str().unwrap();
    let p = pcap("stratum-v1.pcap");
    let ps = p.to_str().unwrap();
    let lines = || std::fs::read_to_string(&f).unwrap().lines().count();
    assert!(run(&["scan", "-q", "--events", fs, ps]).status.success());
    assert_eq!(lines(), 1);
    // A second run on the same file: refused, the first run's event kept.
    let out = run(&["scan", "-q", "--events", fs, ps]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("already holds events; --append adds to it, --force replaces it"),
        "{}",
        stderr(&out)
    );
    assert_eq!(lines(), 1);
    // --append adds, --force replaces.
    assert!(run(&["scan", "-q", "--append", "--events", fs, ps])
        .status
        .success());
    assert!(run(&["scan", "-q", "--append", "--events", fs, ps])
        .status
        .success());
    assert_eq!(lines(), 3, "three runs, three events");
    assert!(run(&["scan", "-q", "--force", "--events", fs, ps])
        .status
        .success());
    assert_eq!(lines(), 1);
}

#[test]
fn a_second_writer_is_refused_with_the_holders_pid() {
    use std::os::fd::AsRawFd;
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("events.jsonl");
    // This test process holds the lock, as a running minetap would.
    let held = std::fs::File::create(&f).unwrap();
    // SAFETY: a zeroed flock of the right size, the descriptor of a live file.
    unsafe {
        let mut l: libc::flock = std::mem::zeroed();
        l.l_type = libc::F_WRLCK as _;
        l.l_whence = libc::SEEK_SET as _;
        assert_eq!(libc::fcntl(held.as_raw_fd(), libc::F_SETLK, &l), 0);
    }
    let p = pcap("stratum-v1.pcap");
    let out = run(&[
        "scan",
        "-q",
        "--force",
        "--events",
        f.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let want = format!(
        "another process is writing events into it (pid {})",
        std::process::id()
    );
    assert!(stderr(&out).contains(&want), "{}", stderr(&out));
}

#[test]
fn an_existing_events_file_that_will_hold_subscriber_data_is_made_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    assert!(import(&db, dir.path()).status.success());
    let f = dir.path().join("events.jsonl");
    std::fs::write(&f, "").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    let p = pcap("stratum-v1.pcap");
    let out = run(&[
        "scan",
        "-q",
        "--subscribers",
        db.to_str().unwrap(),
        "--events",
        f.to_str().unwrap(),
        p.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(std::fs::read_to_string(&f)
        .unwrap()
        .contains("\"subscriber\""));
}

/// Whether process `pid` has a handler installed for signal `sig` (its `SigCgt` mask).
fn catches(pid: u32, sig: i32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("SigCgt:"))
        .and_then(|m| u64::from_str_radix(m.trim(), 16).ok())
        .is_some_and(|m| m & (1 << (sig - 1)) != 0)
}

/// Sends SIGTERM to `pid` `after_ms` after it has installed its handler (waiting at most 10 s
/// for that).
fn sigterm_once_caught(pid: u32, after_ms: u64) {
    let t0 = std::time::Instant::now();
    while !catches(pid, libc::SIGTERM) && t0.elapsed().as_secs() < 10 {
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    std::thread::sleep(std::time::Duration::from_millis(after_ms));
    // SAFETY: a signal to a child the test started.
    unsafe { libc::kill(pid as i32, libc::SIGTERM) };
}

#[test]
fn sigterm_during_a_scan_ends_the_open_flows_reports_them_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cap = dir.path().join("big.pcap");
    std::fs::write(&cap, synth::mix::big_capture(160 << 20)).unwrap();
    let ev = dir.path().join("events.jsonl");
    let child = bin()
        // One reader and one worker: the whole file takes a few hundred milliseconds, so the
        // signal lands while it is being read (two of each read it in about 0.1 s).
        .args([
            "scan",
            "--readers",
            "1",
            "--workers",
            "1",
            "--events",
            ev.to_str().unwrap(),
            cap.to_str().unwrap(),
        ])
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    sigterm_once_caught(child.id(), 20);
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    if out.status.code() == Some(0) {
        println!("SKIPPED: the scan ended before the signal reached it");
        return;
    }
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(err.contains("packets"), "the summary is printed: {err}");
    if err.contains("stopped by a signal after every input was read") {
        // The whole file was read before the signal came (about 60 ms on a fast day); that
        // case is the next test's.
        println!("SKIPPED: the scan had read the whole file when the signal reached it");
        return;
    }
    assert!(
        err.contains("stopped by a signal: 1 input(s) not read to the end"),
        "{err}"
    );
    let text = std::fs::read_to_string(&ev).unwrap();
    for l in text.lines() {
        let e: serde_json::Value = serde_json::from_str(l).expect("whole events only");
        assert_eq!(e["final"], true);
    }
}

#[test]
fn bundles_are_signed_only_with_a_secret_key_kept_secret() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("sensor.key");
    assert!(run(&["keygen", key.to_str().unwrap()]).status.success());
    let public = dir.path().join("sensor.key.pub");
    assert!(std::fs::read_to_string(&key)
        .unwrap()
        .starts_with("minetap-sensor-key-v1 "));
    assert!(std::fs::read_to_string(&public)
        .unwrap()
        .starts_with("minetap-sensor-pubkey-v1 "));
    let p = pcap("stratum-v1.pcap");
    let scan = |key: &std::path::Path, extra: &[&str]| {
        let bundles = dir.path().join("b");
        let mut args = vec![
            "scan",
            "-q",
            "--evidence",
            bundles.to_str().unwrap(),
            "--evidence-key",
            key.to_str().unwrap(),
        ];
        args.extend(extra);
        args.push(p.to_str().unwrap());
        run(&args)
    };
    // The public key as the signing key: refused, nothing signed with public bytes.
    let out = scan(&public, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("is a public key"), "{}", stderr(&out));
    // A secret key others may read: refused unless asked for.
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = scan(&key, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("others may read this secret key (mode 644)"),
        "{}",
        stderr(&out)
    );
    let out = scan(&key, &["--insecure-key-permissions"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A key file without the mark (a bare hex string) is not taken for a secret key.
    let bare = dir.path().join("bare.key");
    std::fs::write(&bare, "11".repeat(32)).unwrap();
    std::fs::set_permissions(&bare, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = scan(&bare, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("has no key mark"), "{}", stderr(&out));
}

#[test]
fn compressed_captures_in_a_folder_are_read_or_named_never_passed_over() {
    // A cut gzip file is an input that could not be used (named, exit 1); a bzip2 one, which
    // minetap does not read, is named; the plain capture beside them is scanned.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(pcap("stratum-v1.pcap"), dir.path().join("a.pcap")).unwrap();
    std::fs::write(dir.path().join("b.pcap.gz"), b"\x1f\x8b").unwrap();
    std::fs::write(dir.path().join("c.pcap.bz2"), b"BZh9").unwrap();
    let out = run(&["scan", "-q", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(events(&out).len(), 1);
    let err = stderr(&out);
    assert!(err.contains("b.pcap.gz: unexpected end of file"), "{err}");
    assert!(
        err.contains("c.pcap.bz2: a bzip2-compressed capture, not read"),
        "{err}"
    );
}

#[test]
fn an_inventory_of_something_that_is_not_events_is_one_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("notes.txt");
    std::fs::write(&f, "line one\nline two\n{\"a\":1}\n").unwrap();
    let out = run(&[
        "inventory",
        f.to_str().unwrap(),
        "--out",
        dir.path().join("inv").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("notes.txt: not minetap events (line 1: not JSON"),
        "{err}"
    );
}

/// Whether a sample is a classic little-endian microsecond pcap (as the generator writes them).
fn original_is_pcap(p: &std::path::Path) -> bool {
    std::fs::read(p).unwrap()[..4] == [0xd4, 0xc3, 0xb2, 0xa1]
}

/// Where each record of a classic little-endian pcap starts (and where the file ends).
fn record_starts(b: &[u8]) -> Vec<usize> {
    let mut v = vec![24];
    let mut at = 24;
    while at + 16 <= b.len() {
        let incl = u32::from_le_bytes(b[at + 8..at + 12].try_into().unwrap()) as usize;
        at += 16 + incl;
        v.push(at);
    }
    v
}

/// A small deterministic generator (xorshift), so that every run stresses the same cases.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

#[test]
fn fifty_damaged_captures_from_a_file_and_from_stdin_no_panic_damage_named_with_an_offset() {
    use std::io::Write;
    let samples: Vec<std::path::PathBuf> = std::fs::read_dir(pcap(""))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap" || e == "pcapng"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(0x6d69_6e65_7461_7021);
    for case in 0..50 {
        let src = &samples[rng.below(samples.len())];
        let mut bytes = std::fs::read(src).unwrap();
        let truncated = case % 2 == 0;
        if truncated {
            // Cut past the file header, so that the file is still a capture, damaged.
            bytes.truncate(40 + rng.below(bytes.len() - 40));
        } else {
            for _ in 0..1 + rng.below(8) {
                let at = 24 + rng.below(bytes.len() - 24);
                bytes[at] ^= 1 << rng.below(8);
            }
        }
        let f = dir.path().join(format!("case{case}.pcap"));
        std::fs::write(&f, &bytes).unwrap();
        let from_file = run(&["scan", "-q", f.to_str().unwrap()]);
        let mut child = bin()
            .args(["scan", "-q", "-"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let feed = bytes.clone();
        let writer = std::thread::spawn(move || {
            let _ = stdin.write_all(&feed);
        });
        let from_stdin = child.wait_with_output().unwrap();
        writer.join().unwrap();
        for (how, out) in [("file", &from_file), ("stdin", &from_stdin)] {
            let err = stderr(out);
            let what = format!("case {case} ({}) from {how}: {err}", src.display());
            assert!(!err.contains("panicked"), "{what}");
            assert!(matches!(out.status.code(), Some(0 | 1)), "{what}");
            for l in String::from_utf8_lossy(&out.stdout).lines() {
                serde_json::from_str::<serde_json::Value>(l).expect("whole events only");
            }
            if err.contains("warning") && err.contains("capture ends inside a record") {
                assert!(err.contains("at byte offset "), "{what}");
            }
        }
        // A classic pcap cut inside a record: the damage is named at the start of that record,
        // from a file and from stdin alike.
        if truncated && original_is_pcap(src) {
            let starts = record_starts(&std::fs::read(src).unwrap());
            let cut = bytes.len();
            if !starts.contains(&cut) {
                let at = starts.iter().rev().find(|s| **s < cut).unwrap();
                let want = format!("capture ends inside a record (truncated) at byte offset {at}");
                assert!(stderr(&from_file).contains(&want), "case {case}: {want}");
                assert!(
                    stderr(&from_stdin).contains(&want),
                    "case {case} stdin: {want}"
                );
            }
        }
    }
}

#[test]
fn a_capture_whose_snap_length_cut_the_payloads_says_so() {
    // The mining sample as a capture with a 54-byte snap length would hold it: headers only.
    let b = std::fs::read(pcap("stratum-v1.pcap")).unwrap();
    let mut out = b[..24].to_vec();
    out[16..20].copy_from_slice(&54u32.to_le_bytes());
    for w in record_starts(&b).windows(2) {
        let (at, end) = (w[0], w[1]);
        let incl = (end - at - 16).min(54);
        let mut h = b[at..at + 16].to_vec();
        h[8..12].copy_from_slice(&(incl as u32).to_le_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(&b[at + 16..at + 16 + incl]);
    }
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("snapped.pcap");
    std::fs::write(&f, out).unwrap();
    let r = run(&["scan", f.to_str().unwrap()]);
    assert!(r.status.success(), "{}", stderr(&r));
    assert!(events(&r).is_empty());
    let err = stderr(&r);
    assert!(err.contains("cut by the capture's snap length: "), "{err}");
    assert!(err.contains("capture with -s 0"), "{err}");
    // The whole capture says nothing of the kind.
    let whole = run(&["scan", pcap("stratum-v1.pcap").to_str().unwrap()]);
    assert!(!stderr(&whole).contains("snap length"));
}

#[test]
fn a_spool_that_cannot_take_events_fails_the_run_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    // The batch counter cannot be written (a folder stands where it goes), as on a disk that
    // refuses writes: no batch closes.
    std::fs::create_dir(spool.join("next-batch")).unwrap();
    let out = scan_captures(
        &[
            "--feed-url",
            "http://127.0.0.1:9/",
            "--feed-spool",
            spool.to_str().unwrap(),
            "--feed-batch",
            "1",
            "--feed-drain-secs",
            "0",
        ],
        &["cryptonote-xmrig.pcap"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("minetap: error: the feed spool stopped taking events (closing a batch: "),
        "{err}"
    );
    assert_eq!(
        events(&out).len(),
        1,
        "the event is still in the events output"
    );
    // The event it took waits, whole, in the open segment for the next run.
    assert_eq!(spooled_events(&spool), 1);
}

/// A tmpfs of `kib` KiB mounted on a new folder, unmounted when dropped; None (and the reason)
/// when this is not root or the mount is refused.
struct SmallDisk {
    _dir: tempfile::TempDir,
    path: std::path::PathBuf,
}

impl SmallDisk {
    fn mount(kib: u32) -> Result<SmallDisk, String> {
        if unsafe { libc::geteuid() } != 0 {
            return Err("a small disk needs root to mount a tmpfs".into());
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("disk");
        std::fs::create_dir(&path).unwrap();
        let st = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={kib}k"), "tmpfs"])
            .arg(&path)
            .status()
            .map_err(|e| format!("mount: {e}"))?;
        if !st.success() {
            return Err(format!("mount -t tmpfs refused ({st})"));
        }
        Ok(SmallDisk { _dir: dir, path })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(&self.path)
            .status();
    }
}

/// Lines of every file in `dir` whose name passes `keep`: each must be a whole JSON event.
fn spooled_events(dir: &std::path::Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".batch") || name == "open.jsonl" {
            let text = std::fs::read_to_string(e.path()).unwrap();
            assert!(
                text.is_empty() || text.ends_with('\n'),
                "{name} ends in a half line"
            );
            for l in text.lines() {
                let _: serde_json::Value = serde_json::from_str(l)
                    .unwrap_or_else(|_| panic!("{name}: a line that is not a whole event"));
                n += 1;
            }
        }
    }
    n
}

#[test]
fn a_full_disk_under_the_spool_and_the_bundles_fails_the_run_and_loses_nothing_taken() {
    let disk = match SmallDisk::mount(24) {
        Ok(d) => d,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let pcaps = pcap("");
    let all = events(&run(&["scan", "-q", pcaps.to_str().unwrap()])).len();
    assert!(all > 20, "{all}");
    // The spool: it takes what fits, whole, then takes nothing more and the run fails.
    let spool = disk.path.join("spool");
    let out = run(&[
        "scan",
        "-q",
        "--feed-url",
        "http://127.0.0.1:9/",
        "--feed-spool",
        spool.to_str().unwrap(),
        "--feed-batch",
        "3",
        "--feed-drain-secs",
        "0",
        pcaps.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(
        events(&out).len(),
        all,
        "every event is in the events output"
    );
    assert!(err.contains("No space left on device"), "{err}");
    let refused: usize = err
        .lines()
        .find_map(|l| {
            l.strip_prefix("minetap: error: ")?
                .split_once(" event(s) could not be put whole into the feed spool")
                .map(|(n, _)| n.parse().unwrap())
        })
        .unwrap_or_else(|| panic!("no count of refused events: {err}"));
    let taken = spooled_events(&spool);
    assert!(taken > 0 && refused > 0, "taken {taken}, refused {refused}");
    assert_eq!(
        taken + refused,
        all,
        "each event is either whole in the spool or counted"
    );
    // Evidence: bundles that do not fit are errors, counted, and leave no temporary folders.
    std::fs::remove_dir_all(&spool).unwrap();
    let key = tempfile::tempdir().unwrap();
    let key = key.path().join("sensor.key");
    assert!(run(&["keygen", key.to_str().unwrap()]).status.success());
    let ev = disk.path.join("evidence");
    let out = run(&[
        "scan",
        "-q",
        "--evidence",
        ev.to_str().unwrap(),
        "--evidence-key",
        key.to_str().unwrap(),
        pcaps.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("evidence bundle(s) could not be written"),
        "{err}"
    );
    let left: Vec<String> = std::fs::read_dir(&ev)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "temporary folders left: {left:?}");
    // The events file: cut back to its last whole event, and the run fails.
    std::fs::remove_dir_all(&ev).unwrap();
    let events_file = disk.path.join("events.jsonl");
    let filler = disk.path.join("filler");
    std::fs::write(&filler, vec![0u8; 12 * 1024]).unwrap();
    let out = run(&[
        "scan",
        "-q",
        "--events",
        events_file.to_str().unwrap(),
        pcaps.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("minetap: error: writing events: No space left on device"),
        "{err}"
    );
    let text = std::fs::read_to_string(&events_file).unwrap();
    assert!(
        text.is_empty() || text.ends_with('\n'),
        "a half event was left"
    );
    for l in text.lines() {
        let _: serde_json::Value = serde_json::from_str(l).expect("whole events only");
    }
    let kept = text.lines().count();
    assert!(kept < all, "{kept} of {all}: the disk did not fill");
}

/// A signal that comes once every input has been read (here while the events wait for room in
/// a pipe) still ends the scan with 143, and says that the events are complete.
#[test]
fn a_signal_after_every_input_was_read_says_the_events_are_complete() {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 writes two descriptors into the array, owned below.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: the two descriptors were just made and are owned once each.
    let (read_end, write_end) =
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // A pipe of one page: the sample captures' events (about 52 KB) fill it, and the scan
    // waits to write them after it has read every packet.
    // SAFETY: fcntl on a descriptor this test owns.
    assert!(unsafe { libc::fcntl(write_end.as_raw_fd(), libc::F_SETPIPE_SZ, 4096) } >= 4096);
    let dir = pcap("stratum-v1.pcap").parent().unwrap().to_path_buf();
    let child = bin()
        .args(["scan", "--no-progress", dir.to_str().unwrap()])
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Reading the 3,320 packets takes milliseconds; the events wait on the full pipe.
    sigterm_once_caught(child.id(), 1000);
    let mut written = String::new();
    std::io::Read::read_to_string(&mut std::fs::File::from(read_end), &mut written).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(143), "{err}");
    assert!(
        err.contains("stopped by a signal after every input was read: the events are complete"),
        "{err}"
    );
    assert!(!err.contains("not read to the end"), "{err}");
    let whole = events(&run(&["scan", "-q", dir.to_str().unwrap()]));
    assert_eq!(written.lines().count(), whole.len(), "{err}");
}

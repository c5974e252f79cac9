//! The Debian package, as an operator meets it: built by `scripts/build-deb.sh`, installed with
//! dpkg (its user, folders, conffile, man page, completions), the unit checked by
//! `systemd-analyze verify`, the service started on a veth in a network namespace this test
//! makes, reloaded (SIGHUP, as `systemctl reload` sends), stopped, and the package purged (user,
//! state and logs gone). Where systemd is the init, `systemctl` runs the unit (in the test's
//! namespace through a runtime drop-in); elsewhere the unit's own `ExecStart` is run as its
//! `User` with only its `AmbientCapabilities` (setpriv), and the test says so. Needs root,
//! dpkg and no minetap already installed; SKIPPED, with the reason, otherwise.

mod common;
#[path = "common/netns.rs"]
mod netns;

use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn sh(cmd: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(cmd)
        .args(args)
        .output()
        .map_err(|e| format!("{cmd}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd} {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Why this machine cannot run the test, if it cannot.
fn cannot() -> Option<String> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Some("not root".into());
    }
    for tool in [
        "dpkg",
        "dpkg-deb",
        "setpriv",
        "ip",
        "strip",
        "systemd-analyze",
    ] {
        if sh("sh", &["-c", &format!("command -v {tool}")]).is_err() {
            return Some(format!("{tool} is not installed"));
        }
    }
    if sh("dpkg-query", &["-W", "-f=${Status}", "minetap"]).is_ok_and(|s| s.contains("installed")) {
        return Some("a minetap package is installed here already; not touching it".into());
    }
    if Path::new("/usr/bin/minetap").exists() {
        return Some("/usr/bin/minetap exists and is not from a package".into());
    }
    None
}

/// The value of `key=` in the unit file.
fn unit_value<'a>(unit: &'a str, key: &str) -> &'a str {
    unit.lines()
        .find_map(|l| l.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("the unit has no {key}="))
}

/// Purges the package whatever happens to the test.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = sh("dpkg", &["--purge", "minetap"]);
    }
}

#[test]
fn the_package_installs_runs_as_its_own_user_reloads_stops_and_purges() {
    if let Some(why) = cannot() {
        eprintln!("SKIPPED package test: {why}");
        return;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let built = sh(
        "bash",
        &[
            root.join("scripts/build-deb.sh").to_str().unwrap(),
            "--binary",
            env!("CARGO_BIN_EXE_minetap"),
            "--out",
            dir.path().to_str().unwrap(),
            "--compress",
            "none",
        ],
    )
    .expect("the package builds");
    let deb = PathBuf::from(built.trim());
    let version = env!("CARGO_PKG_VERSION");
    assert!(
        deb.ends_with(format!(
            "minetap_{version}_{}.deb",
            sh("dpkg", &["--print-architecture"]).unwrap().trim()
        )),
        "{}",
        deb.display()
    );
    let info = sh("dpkg-deb", &["--info", deb.to_str().unwrap()]).unwrap();
    assert!(info.contains("Depends: libc6"), "{info}");

    let _installed = Installed;
    sh("dpkg", &["-i", deb.to_str().unwrap()]).expect("dpkg -i");
    // Its user, folders, conffile, man page and completions.
    let user = sh("getent", &["passwd", "minetap"]).expect("the minetap user exists");
    assert!(user.contains("/var/lib/minetap"), "{user}");
    for d in ["/var/lib/minetap", "/var/log/minetap"] {
        let owner = sh("stat", &["-c", "%U %a", d]).unwrap();
        assert_eq!(owner.trim(), "minetap 750", "{d}");
    }
    let conffiles = sh("dpkg-query", &["-W", "-f=${Conffiles}", "minetap"]).unwrap();
    assert!(
        conffiles.contains("/etc/minetap/minetap.toml"),
        "{conffiles}"
    );
    let check = sh(
        "/usr/bin/minetap",
        &["config", "check", "/etc/minetap/minetap.toml"],
    );
    assert!(check.is_ok(), "{check:?}");
    assert!(Path::new("/usr/share/man/man1/minetap.1.gz").exists());
    assert!(Path::new("/usr/share/bash-completion/completions/minetap").exists());
    let v = sh("/usr/bin/minetap", &["--version"]).unwrap();
    assert!(v.contains(version) && v.contains("rules"), "{v}");

    // The unit, as systemd reads it.
    let unit_path = "/lib/systemd/system/minetap-live@.service";
    let verify = Command::new("systemd-analyze")
        .args(["verify", "minetap-live@mt-b.service"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&verify.stderr).into_owned();
    assert!(
        verify.status.success() && !said.contains("minetap-live"),
        "systemd-analyze verify: {said}"
    );
    let unit = std::fs::read_to_string(unit_path).unwrap();
    assert_eq!(unit_value(&unit, "User"), "minetap");
    assert_eq!(
        unit_value(&unit, "AmbientCapabilities"),
        "CAP_NET_RAW CAP_NET_ADMIN"
    );
    assert_eq!(unit_value(&unit, "ProtectSystem"), "strict");
    assert_eq!(unit_value(&unit, "Restart"), "on-failure");

    let ns = netns::Netns::create().expect("a network namespace");
    let events = Path::new("/var/log/minetap/events-mt-b.jsonl");
    let systemd = Path::new("/run/systemd/system").exists();
    let mut child = None;
    if systemd {
        // The unit itself, moved into the test's namespace by a runtime drop-in.
        let drop_in = Path::new("/run/systemd/system/minetap-live@mt-b.service.d");
        std::fs::create_dir_all(drop_in).unwrap();
        std::fs::write(
            drop_in.join("netns.conf"),
            format!("[Service]\nNetworkNamespacePath=/var/run/netns/{}\n", ns.0),
        )
        .unwrap();
        sh("systemctl", &["daemon-reload"]).unwrap();
        sh("systemctl", &["start", "minetap-live@mt-b.service"]).expect("systemctl start");
    } else {
        eprintln!(
            "systemd is not the init here: the unit's ExecStart runs as its User with its \
             AmbientCapabilities (setpriv); systemctl start/reload/stop not exercised"
        );
        let exec = unit_value(&unit, "ExecStart").replace("%i", "mt-b");
        let argv: Vec<&str> = exec.split_whitespace().collect();
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &ns.0, "setpriv"])
            .args(["--reuid=minetap", "--regid=minetap", "--init-groups"])
            .args(["--inh-caps=-all,+net_raw,+net_admin"])
            .args(["--ambient-caps=-all,+net_raw,+net_admin"])
            .args(["--bounding-set=-all,+net_raw,+net_admin", "--"])
            .args(&argv)
            .stderr(Stdio::piped());
        child = Some(c.spawn().expect("setpriv runs"));
    }
    let mut svc_err = child.as_mut().and_then(|c| c.stderr.take());
    if let Some(e) = svc_err.as_mut() {
        netns::wait_for(e, "capturing on mt-b");
    } else {
        std::thread::sleep(Duration::from_secs(2));
    }
    let replay = ns
        .exec(&[
            "replay",
            "-i",
            "mt-a",
            "--pps",
            "20000",
            pcap("stratum-v1.pcap").to_str().unwrap(),
            pcap("cryptonote-xmrig.pcap").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(replay.status.success(), "{}", stderr(&replay));
    // Reload, as `systemctl reload` does (ExecReload sends SIGHUP), then stop.
    let deadline = Instant::now() + Duration::from_secs(20);
    let count = || {
        std::fs::read_to_string(events)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| e["final"] == true && e["event_type"] == "mining")
            .count()
    };
    while count() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    let said = if systemd {
        sh("systemctl", &["reload", "minetap-live@mt-b.service"]).expect("reload");
        std::thread::sleep(Duration::from_millis(500));
        sh("systemctl", &["stop", "minetap-live@mt-b.service"]).expect("stop");
        let _ = std::fs::remove_dir_all("/run/systemd/system/minetap-live@mt-b.service.d");
        sh(
            "journalctl",
            &["-u", "minetap-live@mt-b.service", "--no-pager"],
        )
        .unwrap_or_default()
    } else {
        let mut c = child.take().unwrap();
        // `ip netns exec` execs setpriv, which execs minetap: the child is minetap.
        // SAFETY: signalling our own child.
        unsafe { libc::kill(c.id() as i32, libc::SIGHUP) };
        std::thread::sleep(Duration::from_millis(500));
        // SAFETY: as above.
        unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
        let status = c.wait().unwrap();
        let mut said = String::new();
        if let Some(mut e) = svc_err {
            let _ = std::io::Read::read_to_string(&mut e, &mut said);
        }
        assert!(status.success(), "stopped with {status}: {said}");
        said
    };
    assert!(said.contains("rules reloaded"), "{said}");
    assert_eq!(count(), 2, "both miners' flows were written by the service");
    let owner = sh("stat", &["-c", "%U", events.to_str().unwrap()]).unwrap();
    assert_eq!(owner.trim(), "minetap", "written as the service's user");

    sh("dpkg", &["--purge", "minetap"]).expect("dpkg --purge");
    assert!(
        sh("getent", &["passwd", "minetap"]).is_err(),
        "the user is gone"
    );
    for gone in [
        "/var/lib/minetap",
        "/var/log/minetap",
        "/etc/minetap",
        "/usr/bin/minetap",
    ] {
        assert!(!Path::new(gone).exists(), "{gone} is still there");
    }
}

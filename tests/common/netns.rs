//! A network namespace for tests that capture or send: nothing leaves it.
#![allow(dead_code)]

use std::process::Command;

/// A network namespace with a veth pair (`mt-a`, `mt-b`) and loopback up; deleted on drop.
pub struct Netns(pub String);

impl Netns {
    /// Creates one (named after the process and a counter, so tests may run side by side).
    pub fn create() -> Result<Netns, String> {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let name = format!("minetap-test-{}-{n}", std::process::id());
        let ip = |args: &[&str]| -> Result<(), String> {
            let out = Command::new("ip")
                .args(args)
                .output()
                .map_err(|e| format!("cannot run ip: {e}"))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "ip {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr).trim()
                ))
            }
        };
        ip(&["netns", "add", &name])?;
        let ns = Netns(name);
        ip(&[
            "-n", &ns.0, "link", "add", "mt-a", "type", "veth", "peer", "name", "mt-b",
        ])?;
        ip(&["-n", &ns.0, "link", "set", "mt-a", "up"])?;
        ip(&["-n", &ns.0, "link", "set", "mt-b", "up"])?;
        ip(&["-n", &ns.0, "link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// minetap, run inside the namespace.
    pub fn exec(&self, args: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.0, env!("CARGO_BIN_EXE_minetap")])
            .args(args);
        c
    }
}

/// Moves the calling thread into the namespace `name` (threads it starts afterwards are in it
/// too).
pub fn enter(name: &str) -> Result<(), String> {
    let f = std::fs::File::open(format!("/var/run/netns/{name}"))
        .map_err(|e| format!("open netns: {e}"))?;
    // SAFETY: setns on a descriptor we hold open; only this thread changes namespace.
    let r = unsafe { libc::setns(std::os::fd::AsRawFd::as_raw_fd(&f), libc::CLONE_NEWNET) };
    if r == 0 {
        Ok(())
    } else {
        Err(format!("setns: {}", std::io::Error::last_os_error()))
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

/// Reads a child's stderr until `needle` appears (20 s at most); what was read, for messages.
pub fn wait_for(stderr: &mut std::process::ChildStderr, needle: &str) -> String {
    let mut seen = String::new();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !seen.contains(needle) {
        let mut buf = [0u8; 256];
        let n = std::io::Read::read(stderr, &mut buf).unwrap_or(0);
        assert!(
            n > 0 && std::time::Instant::now() < deadline,
            "never said \"{needle}\": {seen}"
        );
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    seen
}

/// Keeps reading a child's stderr in a thread (so a chatty child never blocks on a full pipe);
/// the handle gives back everything read once the child has closed it.
pub fn drain(mut stderr: std::process::ChildStderr) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut rest);
        rest
    })
}

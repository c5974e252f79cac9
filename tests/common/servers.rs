//! Real servers the integration tests start and stop on loopback: `nats-server` with JetStream
//! and a PostgreSQL cluster of their own (both from the Debian packages). `find_*` says why a
//! test must be SKIPPED when one is not installed.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_port(port: u16, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `nats-server` (Debian puts it in /usr/sbin, which a user's PATH may not hold), or why not.
pub fn find_nats() -> Result<&'static str, String> {
    ["nats-server", "/usr/sbin/nats-server"]
        .into_iter()
        .find(|b| Command::new(b).arg("--version").output().is_ok())
        .ok_or_else(|| "nats-server is not installed (apt-get install nats-server)".into())
}

/// A JetStream server on a fixed port and store folder, which a test may kill and start again.
pub struct Nats {
    bin: &'static str,
    pub port: u16,
    dir: PathBuf,
    conf: Option<PathBuf>,
    child: Option<Child>,
}

impl Nats {
    pub fn start(dir: &Path) -> Result<Nats, String> {
        Self::start_with(dir, None)
    }

    /// With a configuration file holding `conf` (e.g. an `authorization` block).
    pub fn start_with(dir: &Path, conf: Option<&str>) -> Result<Nats, String> {
        let conf = match conf {
            Some(text) => {
                std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
                let p = dir.join("nats.conf");
                std::fs::write(&p, text).map_err(|e| e.to_string())?;
                Some(p)
            }
            None => None,
        };
        let mut n = Nats {
            bin: find_nats()?,
            port: free_port(),
            dir: dir.to_path_buf(),
            conf,
            child: None,
        };
        n.up();
        Ok(n)
    }

    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it again (same port, same store).
    pub fn up(&mut self) {
        let mut cmd = Command::new(self.bin);
        if let Some(c) = &self.conf {
            cmd.arg("-c").arg(c);
        }
        let child = cmd
            .args(["-js", "-sd", self.dir.to_str().unwrap(), "-a", "127.0.0.1"])
            .args(["-p", &self.port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_port(self.port, "nats-server");
    }

    /// SIGKILL: no goodbye to anyone.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A PostgreSQL cluster of the test's own: `initdb` in a temporary folder (as the `postgres`
/// user when the test runs as root, as PostgreSQL requires), local connections trusted, TCP
/// ones by password; `postgres` started and stopped as a child.
pub struct Postgres {
    bin: PathBuf,
    data: PathBuf,
    pub port: u16,
    child: Option<Child>,
}

/// The newest PostgreSQL server binaries Debian installed, or why not.
pub fn find_postgres() -> Result<PathBuf, String> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map_err(|_| "PostgreSQL is not installed (apt-get install postgresql)".to_string())?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|b| b.join("initdb").exists() && b.join("postgres").exists())
        .collect();
    dirs.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name()?.to_str()?.parse::<u32>().ok())
            .unwrap_or(0)
    });
    dirs.pop()
        .ok_or_else(|| "no PostgreSQL server binaries (apt-get install postgresql)".into())
}

impl Postgres {
    fn as_owner(&self, prog: &str) -> Command {
        if is_root() {
            let mut c = Command::new("setpriv");
            c.args([
                "--reuid=postgres",
                "--regid=postgres",
                "--init-groups",
                "--",
            ]);
            c.arg(self.bin.join(prog));
            c
        } else {
            Command::new(self.bin.join(prog))
        }
    }

    pub fn start(dir: &Path) -> Result<Postgres, String> {
        let bin = find_postgres()?;
        if is_root() {
            let st = Command::new("chown")
                .args(["-R", "postgres:postgres", dir.to_str().unwrap()])
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !st.success() {
                return Err("no postgres user to run the cluster as".into());
            }
        }
        let mut pg = Postgres {
            bin,
            data: dir.join("pgdata"),
            port: free_port(),
            child: None,
        };
        let out = pg
            .as_owner("initdb")
            .args(["-D", pg.data.to_str().unwrap(), "-U", "postgres"])
            .args([
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
            ])
            .output()
            .map_err(|e| format!("initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!("initdb: {}", String::from_utf8_lossy(&out.stderr)));
        }
        pg.up();
        Ok(pg)
    }

    /// Starts the server (again).
    pub fn up(&mut self) {
        let child = self
            .as_owner("postgres")
            .args([
                "-D",
                self.data.to_str().unwrap(),
                "-p",
                &self.port.to_string(),
            ])
            .args(["-k", self.data.to_str().unwrap()])
            .args(["-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_port(self.port, "postgres");
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.psql("postgres", "SELECT 1").is_err() {
            assert!(Instant::now() < deadline, "postgres does not answer");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops it the way a restart would (fast shutdown: sessions are ended).
    pub fn down(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(c.id() as i32, libc::SIGINT) };
            let _ = c.wait();
        }
    }

    /// Runs SQL as the superuser over the local socket; its unaligned output.
    pub fn psql(&self, db: &str, sql: &str) -> Result<String, String> {
        let out = self
            .as_owner("psql")
            .args([
                "-h",
                self.data.to_str().unwrap(),
                "-p",
                &self.port.to_string(),
            ])
            .args([
                "-U",
                "postgres",
                "-d",
                db,
                "-v",
                "ON_ERROR_STOP=1",
                "-Atc",
                sql,
            ])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A URL for `role` with `password`, over TCP.
    pub fn url(&self, role: &str, password: &str, db: &str) -> String {
        format!("postgres://{role}:{password}@127.0.0.1:{}/{db}", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.down();
    }
}

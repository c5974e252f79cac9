//! A mining pool for tests and fixtures, on loopback or in a test's namespace: it answers
//! Stratum V1 (`mining.subscribe`, `mining.authorize`, `mining.submit`), CryptoNote (`login`,
//! `submit`, `keepalived`), EthProxy (`eth_submitLogin`, `eth_getWork`) and Stratum V2
//! `SetupConnection`, in the clear or over TLS, and pushes a new job now and then. It accepts
//! every share (it checks no work). Also a Stratum V1 miner that submits shares at random
//! times, for sessions no packaged miner can make (Stratum over TLS).
#![allow(dead_code)]

use minetap::probe::conn::Conn;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

/// How the pool behaves.
#[derive(Clone)]
pub struct PoolConfig {
    /// Mean seconds between job pushes (each gap drawn from 0.5..1.5 of it).
    pub job_every_s: f64,
    /// CryptoNote difficulty (hashes per share).
    pub cn_difficulty: u64,
    /// Stratum V1 difficulty.
    pub stratum_difficulty: f64,
    /// Serve TLS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Speak only this dialect (`stratum` or `cryptonote`); other methods get an error.
    pub only: Option<&'static str>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            job_every_s: 30.0,
            cn_difficulty: 2000,
            stratum_difficulty: 0.01,
            tls: None,
            only: None,
        }
    }
}

/// A self-signed certificate for `names`, as a rustls server configuration.
pub fn tls_config(names: &[&str]) -> Arc<rustls::ServerConfig> {
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let cert = rcgen::generate_simple_self_signed(names).expect("certificate");
    let der = rustls::pki_types::CertificateDer::from(cert.cert.der().to_vec());
    let key =
        rustls::pki_types::PrivateKeyDer::try_from(cert.key_pair.serialize_der()).expect("key");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("versions")
            .with_no_client_auth()
            .with_single_cert(vec![der], key)
            .expect("server config"),
    )
}

/// A running pool; stops accepting when dropped.
pub struct Pool {
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
    }
}

/// Starts a pool listening on `bind` (port 0: any).
pub fn start(bind: &str, cfg: PoolConfig) -> Pool {
    let listener = TcpListener::bind(bind).expect("pool binds");
    let addr = listener.local_addr().expect("address");
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            if s.load(Ordering::SeqCst) {
                break;
            }
            let Ok(conn) = conn else { continue };
            let cfg = cfg.clone();
            let s = s.clone();
            std::thread::spawn(move || serve(conn, cfg, s));
        }
    });
    Pool { addr, stop }
}

/// A server-side stream, plain or TLS.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ServerConnection, TcpStream>>),
}

impl Stream {
    fn io(&mut self) -> &mut dyn ReadWrite {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.as_mut(),
        }
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A small deterministic generator (xorshift), for job gaps and share times.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }
    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Exponentially distributed with this mean.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
}

fn unix() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

struct Session {
    dialect: Option<&'static str>,
    job: u64,
    cfg: PoolConfig,
}

impl Session {
    /// A Stratum V1 job: Bitcoin's parameters at block 840,000 (nbits 0x17034219; the coinbase
    /// carries the height as BIP 34 asks).
    fn notify(&mut self) -> String {
        self.job += 1;
        let coinb1 = "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff2503408d0c";
        format!(
            r#"{{"id":null,"method":"mining.notify","params":["{:x}","0000000000000000000320283a032748cef8227873ff4872689bf23f1cda83a5","{coinb1}","ffffffff0100f2052a010000001976a914000000000000000000000000000000000000000088ac00000000",[],"20000000","17034219","{:08x}",true]}}"#,
            self.job,
            unix()
        )
    }

    /// A CryptoNote job for RandomX (rx/0): a 76-byte hashing blob with the nonce at 39.
    fn cn_job(&mut self) -> String {
        self.job += 1;
        let target = (u64::from(u32::MAX) / self.cfg.cn_difficulty.max(1)) as u32;
        let blob = format!(
            "1010{:010x}{}{}{}{}",
            unix() & 0xff_ffff_ffff,
            "6a1b4c2d".repeat(8),
            "00000000",
            "5e".repeat(32),
            "01"
        );
        format!(
            r#"{{"blob":"{blob}","job_id":"{}","target":"{}","algo":"rx/0","height":3100000,"seed_hash":"{}"}}"#,
            self.job,
            hex(&target.to_le_bytes()),
            "7f".repeat(32)
        )
    }

    /// The answer to one line, and whether a job push should follow.
    fn answer(&mut self, line: &str) -> Option<(String, bool)> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let id = v.get("id").cloned().unwrap_or(serde_json::Value::Null);
        let method = v.get("method").and_then(|m| m.as_str()).unwrap_or_default();
        let r = |result: &str| format!(r#"{{"id":{id},"result":{result},"error":null}}"#);
        let dialect = match method {
            m if m.starts_with("mining.") => "stratum",
            "login" | "submit" | "keepalived" => "cryptonote",
            _ => "other",
        };
        let method = match self.cfg.only {
            Some(only) if only != dialect => "unknown",
            _ => method,
        };
        Some(match method {
            "mining.subscribe" => {
                self.dialect = Some("stratum");
                (
                    r(r#"[[["mining.set_difficulty","1"],["mining.notify","1"]],"08000002",4]"#),
                    false,
                )
            }
            "mining.authorize" => (r("true"), true),
            "mining.submit" | "eth_submitLogin" | "eth_submitWork" | "eth_submitHashrate" => {
                (r("true"), false)
            }
            "eth_getWork" => (
                r(&format!(
                    r#"["0x{}","0x{}","0x{}"]"#,
                    "ab".repeat(32),
                    "cd".repeat(32),
                    "00000000ffff".to_string() + &"ff".repeat(26)
                )),
                false,
            ),
            "login" => {
                self.dialect = Some("cryptonote");
                let job = self.cn_job();
                (
                    format!(
                        r#"{{"id":{id},"jsonrpc":"2.0","error":null,"result":{{"id":"1","job":{job},"extensions":["algo","keepalive"],"status":"OK"}}}}"#
                    ),
                    false,
                )
            }
            "submit" => (
                format!(r#"{{"id":{id},"jsonrpc":"2.0","error":null,"result":{{"status":"OK"}}}}"#),
                false,
            ),
            "keepalived" => (
                format!(
                    r#"{{"id":{id},"jsonrpc":"2.0","error":null,"result":{{"status":"KEEPALIVED"}}}}"#
                ),
                false,
            ),
            _ => (
                format!(
                    r#"{{"id":{id},"jsonrpc":"2.0","error":{{"code":-1,"message":"Unknown method"}}}}"#
                ),
                false,
            ),
        })
    }

    /// The job push for the session's dialect.
    fn push(&mut self) -> Option<String> {
        match self.dialect? {
            "stratum" => {
                let notify = self.notify();
                Some(format!(
                    "{{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[{}]}}\n{notify}",
                    self.cfg.stratum_difficulty
                ))
            }
            _ => {
                let job = self.cn_job();
                Some(format!(
                    r#"{{"jsonrpc":"2.0","method":"job","params":{job}}}"#
                ))
            }
        }
    }
}

pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn serve(conn: TcpStream, cfg: PoolConfig, stop: Arc<AtomicBool>) {
    let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
    let mut stream = match &cfg.tls {
        None => Stream::Plain(conn),
        Some(tls) => match rustls::ServerConnection::new(tls.clone()) {
            Ok(c) => Stream::Tls(Box::new(rustls::StreamOwned::new(c, conn))),
            Err(_) => return,
        },
    };
    let mut rng = Rng::new(unix() ^ 0x9e37_79b9);
    let mut session = Session {
        dialect: None,
        job: 0,
        cfg: cfg.clone(),
    };
    let mut next_push =
        Instant::now() + Duration::from_secs_f64(cfg.job_every_s * (0.5 + rng.unit()));
    let mut held = Vec::new();
    let mut buf = [0u8; 4096];
    while !stop.load(Ordering::SeqCst) {
        match stream.io().read(&mut buf) {
            Ok(0) => return,
            Ok(n) => held.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
        if session.dialect.is_none() && held.len() >= 6 && held[0] == 0 && held[2] == 0 {
            // Stratum V2 SetupConnection: answer SetupConnection.Success (version 2, no flags).
            let _ = stream
                .io()
                .write_all(&[0, 0, 0x01, 6, 0, 0, 2, 0, 0, 0, 0, 0]);
            let _ = stream.io().flush();
            return;
        }
        while let Some(i) = held.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = held.drain(..=i).collect();
            let text = String::from_utf8_lossy(&line);
            let Some((answer, push)) = session.answer(text.trim()) else {
                return; // not JSON: a pool closes on it
            };
            let mut out = answer + "\n";
            if push {
                if let Some(p) = session.push() {
                    out += &(p + "\n");
                }
            }
            if stream
                .io()
                .write_all(out.as_bytes())
                .and_then(|_| stream.io().flush())
                .is_err()
            {
                return;
            }
        }
        if held.len() > 64 * 1024 {
            return;
        }
        if Instant::now() >= next_push {
            next_push =
                Instant::now() + Duration::from_secs_f64(cfg.job_every_s * (0.5 + rng.unit()));
            if let Some(p) = session.push() {
                if stream
                    .io()
                    .write_all((p + "\n").as_bytes())
                    .and_then(|_| stream.io().flush())
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}

/// A Stratum V1 miner: subscribes, authorizes, then submits a share at random times (mean
/// `share_every_s`) for `duration`, reading the pool's pushes; over TLS with `sni` (or none,
/// for an address) when `tls`. Returns the shares the pool accepted.
pub fn stratum_miner(
    pool: SocketAddr,
    tls: Option<Option<&str>>,
    duration: Duration,
    share_every_s: f64,
    seed: u64,
) -> Result<u32, String> {
    let mut conn = Conn::open(pool, None, tls, Duration::from_secs(5))?;
    conn.set_read_timeout(Duration::from_millis(100))
        .map_err(|e| e.to_string())?;
    let send = |c: &mut Conn, s: String| -> Result<(), String> {
        c.write_all((s + "\n").as_bytes())
            .and_then(|_| c.flush())
            .map_err(|e| e.to_string())
    };
    send(
        &mut conn,
        r#"{"id":1,"method":"mining.subscribe","params":["cgminer/4.11.1"]}"#.into(),
    )?;
    send(
        &mut conn,
        r#"{"id":2,"method":"mining.authorize","params":["farm01.rig7","x"]}"#.into(),
    )?;
    let mut rng = Rng::new(seed);
    let start = Instant::now();
    let mut next = start + Duration::from_secs_f64(rng.exp(share_every_s));
    let (mut id, mut accepted) = (3u64, 0u32);
    let mut held = Vec::new();
    while start.elapsed() < duration {
        let (got, _) = conn.read_until(1 << 16, Duration::from_millis(100), |b| b.contains(&b'\n'));
        held.extend_from_slice(&got);
        while let Some(i) = held.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = held.drain(..=i).collect();
            if String::from_utf8_lossy(&line).contains(r#""result":true"#) {
                accepted += 1;
            }
        }
        if Instant::now() >= next {
            next = Instant::now() + Duration::from_secs_f64(rng.exp(share_every_s));
            let nonce = (rng.unit() * f64::from(u32::MAX)) as u32;
            send(
                &mut conn,
                format!(
                    r#"{{"params":["farm01.rig7","{:x}","{:08x}","{:08x}","{nonce:08x}"],"id":{id},"method":"mining.submit"}}"#,
                    1,
                    nonce ^ 0x5a5a,
                    unix()
                ),
            )?;
            id += 1;
        }
    }
    Ok(accepted.saturating_sub(1))
}

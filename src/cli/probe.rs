//! `minetap probe`: asks endpoints whether they are mining pools (see [`crate::probe`]). One
//! JSON line per endpoint on stdout; every attempt logged on stderr (and to `--log FILE`).

use crate::probe::{Cidr, Endpoint, Policy, Prober, Refused};
use std::io::Write;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct ProbeArgs {
    /// Endpoints as HOST:PORT (`[ADDR]:PORT` for IPv6). A host name is resolved once and, over
    /// TLS, sent as the server name unless --sni says otherwise.
    #[arg(required = true, value_name = "HOST:PORT")]
    targets: Vec<String>,
    /// Probe only addresses in these ranges (repeat the flag, or separate with commas);
    /// nothing is sent anywhere else. Required.
    #[arg(
        long,
        alias = "probe-allow",
        value_name = "CIDR",
        required = true,
        value_delimiter = ','
    )]
    allow: Vec<String>,
    /// Send probes from this address.
    #[arg(long, value_name = "ADDR")]
    source: Option<IpAddr>,
    /// The server name to send over TLS, as the miner sent it.
    #[arg(long, value_name = "NAME")]
    sni: Option<String>,
    /// Over TLS only.
    #[arg(long, conflicts_with = "plain")]
    tls: bool,
    /// In the clear only.
    #[arg(long)]
    plain: bool,
    /// Seconds to wait for each connection, handshake and answer.
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    timeout: f64,
    /// Most probes started per second, overall.
    #[arg(long, default_value_t = 2.0, value_name = "N")]
    rate: f64,
    /// Also append the log lines to FILE.
    #[arg(long, value_name = "FILE")]
    log: Option<PathBuf>,
}

/// Log lines to stderr and, when asked, a file.
struct Log(Option<std::fs::File>);

impl Write for Log {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        let _ = std::io::stderr().write_all(b);
        if let Some(f) = &mut self.0 {
            f.write_all(b)?;
        }
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `HOST:PORT` as an endpoint; the host name, if it was one, as the server name.
fn endpoint(t: &str, a: &ProbeArgs) -> Result<Endpoint, String> {
    let tls = if a.tls {
        Some(true)
    } else if a.plain {
        Some(false)
    } else {
        None
    };
    if let Ok(addr) = t.parse::<SocketAddr>() {
        return Ok(Endpoint {
            addr,
            sni: a.sni.clone(),
            tls,
        });
    }
    let (host, _) = t
        .rsplit_once(':')
        .ok_or_else(|| format!("'{t}' is not HOST:PORT"))?;
    let addr = t
        .to_socket_addrs()
        .map_err(|e| format!("'{t}': {e}"))?
        .next()
        .ok_or_else(|| format!("'{t}': no address"))?;
    Ok(Endpoint {
        addr,
        sni: a.sni.clone().or_else(|| Some(host.to_string())),
        tls,
    })
}

pub fn run(a: ProbeArgs) -> i32 {
    let fail = |m: String| {
        eprintln!("minetap: probe: {m}");
        2
    };
    let allow: Vec<Cidr> = match a.allow.iter().map(|c| Cidr::parse(c)).collect() {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let endpoints: Vec<Endpoint> = match a.targets.iter().map(|t| endpoint(t, &a)).collect() {
        Ok(v) => v,
        Err(e) => return fail(e),
    };
    let outside: Vec<String> = endpoints
        .iter()
        .filter(|e| !allow.iter().any(|c| c.contains(e.addr.ip())))
        .map(|e| e.addr.to_string())
        .collect();
    if !outside.is_empty() {
        return fail(format!(
            "not probing anything: {} outside the allowed ranges (--allow {})",
            outside.join(", "),
            a.allow.join(",")
        ));
    }
    if !(a.timeout > 0.0 && a.rate > 0.0) {
        return fail("--timeout and --rate must be above 0".into());
    }
    let file = match &a.log {
        Some(p) => match std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(p)
        {
            Ok(f) => Some(f),
            Err(e) => return fail(format!("{}: {e}", p.display())),
        },
        None => None,
    };
    let policy = Policy {
        allow,
        source: a.source,
        timeout: Duration::from_secs_f64(a.timeout),
        per_second: a.rate,
        ..Policy::default()
    };
    let mut prober = Prober::new(policy, Box::new(Log(file)));
    let (mut pools, mut others) = (0, 0);
    for ep in &endpoints {
        let report = loop {
            match prober.probe(ep) {
                Ok(r) => break r,
                Err(Refused::Busy(wait)) => {
                    eprintln!(
                        "minetap: probe {}: waiting {:.1}s for the rate limit (--rate {})",
                        ep.addr,
                        wait.as_secs_f64(),
                        a.rate
                    );
                    std::thread::sleep(wait);
                }
                Err(e) => return fail(format!("{}: {e}", ep.addr)),
            }
        };
        if report.pool {
            pools += 1;
        } else {
            others += 1;
        }
        match serde_json::to_string(&report) {
            Ok(line) => out!("{line}"),
            Err(e) => return fail(e.to_string()),
        }
    }
    eprintln!(
        "minetap: probe: {} endpoint(s): {pools} answered as a mining pool, {others} did not",
        endpoints.len()
    );
    0
}

/// Endpoints `live --probe` may still ask about, queued (the rest are dropped and counted).
const LIVE_QUEUE: usize = 1024;

/// The probe thread of `live --probe`: endpoints in (from verdicts), reports appended to the
/// probe log, endpoints that answered as a pool put into `probed` for the workers' judges.
pub struct LiveProbe {
    tx: Option<crossbeam_channel::Sender<Endpoint>>,
    thread: Option<std::thread::JoinHandle<()>>,
    /// Endpoints not queued because the queue was full.
    pub dropped: u64,
}

impl LiveProbe {
    /// Starts the thread under `policy`, appending reports to `log` when given.
    pub fn start(
        policy: Policy,
        log: Option<&std::path::Path>,
        probed: crate::verdict::Probed,
    ) -> Result<LiveProbe, String> {
        let mut file = match log {
            Some(p) => Some(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|e| format!("--probe-log {}: {e}", p.display()))?,
            ),
            None => None,
        };
        let (tx, rx) = crossbeam_channel::bounded::<Endpoint>(LIVE_QUEUE);
        let thread = std::thread::spawn(move || {
            let mut prober = Prober::new(policy, Box::new(Log(None)));
            let mut asked = std::collections::HashSet::new();
            for ep in rx {
                if !prober.allowed(ep.addr.ip()) || !asked.insert(ep.clone()) {
                    continue;
                }
                if asked.len() > 65_536 {
                    asked.clear();
                }
                let report = loop {
                    match prober.probe(&ep) {
                        Ok(r) => break Some(r),
                        Err(Refused::Busy(wait)) => std::thread::sleep(wait),
                        Err(_) => break None,
                    }
                };
                let Some(report) = report else { continue };
                if let (Some(f), Ok(line)) = (&mut file, serde_json::to_string(&report)) {
                    let _ = writeln!(f, "{line}");
                }
                if let (true, Some(d), Some(t)) = (report.pool, report.dialect, report.transport) {
                    if let Ok(mut m) = probed.write() {
                        m.insert(
                            (ep.addr.ip(), ep.addr.port()),
                            crate::verdict::ProbeHit {
                                dialect: d.name(),
                                transport: t,
                                reason: report.reason.clone(),
                            },
                        );
                    }
                }
            }
        });
        Ok(LiveProbe {
            tx: Some(tx),
            thread: Some(thread),
            dropped: 0,
        })
    }

    /// Queues the server of a flow whose verdict is `suspect` or `likely` (and not already
    /// confirmed by a probe).
    pub fn offer(&mut self, r: &crate::detect::FlowRecord, v: &crate::verdict::Verdict) {
        use crate::verdict::{EventType, Level, PoolSource};
        let wanted = v.event == EventType::Mining
            && matches!(v.level, Level::Suspect | Level::Likely)
            && v.pool
                .as_ref()
                .is_none_or(|p| p.source != PoolSource::Probe);
        let Some(tx) = &self.tx else { return };
        if !wanted {
            return;
        }
        let server = if v.client == crate::flow::Dir::Fwd {
            r.rev
        } else {
            r.fwd
        };
        let tls = r.finding.as_ref().and_then(|f| f.tls());
        let ep = Endpoint {
            addr: SocketAddr::new(server.0, server.1),
            sni: tls.and_then(|t| t.sni.clone()),
            tls: tls.map(|_| true),
        };
        if tx.try_send(ep).is_err() {
            self.dropped += 1;
        }
    }

    /// Lets the queued probes finish and stops the thread.
    pub fn finish(mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

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

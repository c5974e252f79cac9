//! **probe** (opt-in, active): an endpoint in (address, port, the server name a miner used);
//! whether it answers like a mining pool out, with the transcript. It connects in the clear and
//! over TLS, opens with each mining dialect's first message ([`dialect`]) and judges the answer.
//!
//! A probe sends traffic, so it is fenced: only to addresses inside the allow-list, only from
//! the configured source address, at most one probe per endpoint per interval and a bounded
//! number per second overall, results cached for a time, and every attempt logged. Nothing
//! here runs unless asked for (`minetap probe`).

pub mod conn;
pub mod dialect;

use conn::Conn;
use dialect::Dialect;
use serde::Serialize;
use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant, SystemTime};

/// Bytes of an answer kept in a transcript.
const TRANSCRIPT_BYTES: usize = 2048;

pub use crate::decode::filter::Cidr;

/// How probes are fenced.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Probes go only to addresses in these ranges.
    pub allow: Vec<Cidr>,
    /// Probes are sent from this address (else the system's choice).
    pub source: Option<IpAddr>,
    /// Limit on each connect, read and handshake.
    pub timeout: Duration,
    /// Least time between two probes of one endpoint.
    pub per_endpoint: Duration,
    /// Most probes started per second, overall.
    pub per_second: f64,
    /// How long a result is reused.
    pub cache_ttl: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            allow: Vec::new(),
            source: None,
            timeout: Duration::from_secs(3),
            per_endpoint: Duration::from_secs(600),
            per_second: 2.0,
            cache_ttl: Duration::from_secs(3600),
        }
    }
}

/// What to probe.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    /// The endpoint's address and port.
    pub addr: SocketAddr,
    /// The server name the miner used (sent as SNI over TLS).
    pub sni: Option<String>,
    /// Over TLS (`Some(true)`), in the clear (`Some(false)`), or both, clear first (`None`).
    pub tls: Option<bool>,
}

/// One connection of a probe.
#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// `plain` or `tls`.
    pub transport: &'static str,
    /// The dialect it opened with.
    pub dialect: Dialect,
    /// What was sent.
    pub sent: String,
    /// What came back (up to 2 KB).
    pub received: String,
    /// What the answer showed: a pool's answer, or why not.
    pub outcome: String,
    /// Whether the answer was a pool's.
    pub pool: bool,
}

/// A probe's result.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// `ADDR:PORT`.
    pub endpoint: String,
    /// The server name sent, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    /// Whether the endpoint answered like a mining pool.
    pub pool: bool,
    /// The dialect the pool answered in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialect: Option<Dialect>,
    /// `plain` or `tls`, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transport: Option<&'static str>,
    /// Why: the pool's answer, or what the endpoint did instead.
    pub reason: String,
    /// Seconds since the epoch when it was probed.
    pub probed_at: u64,
    /// Served from the cache, not probed again.
    pub cached: bool,
    /// Every connection made.
    pub attempts: Vec<Attempt>,
}

/// Why a probe was not sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Refused {
    /// The address is outside the allow-list.
    NotAllowed(IpAddr),
    /// The overall rate is used up: try again after this long.
    Busy(Duration),
    /// This endpoint was probed too recently and its result has expired.
    TooSoon(Duration),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refused::NotAllowed(ip) => {
                write!(f, "{ip} is outside the allowed ranges (--probe-allow)")
            }
            Refused::Busy(d) => write!(
                f,
                "overall rate limit: next probe in {:.1}s",
                d.as_secs_f64()
            ),
            Refused::TooSoon(d) => write!(f, "probed recently: again in {:.0}s", d.as_secs_f64()),
        }
    }
}

/// Probes endpoints under a [`Policy`], caching results and logging every attempt.
pub struct Prober {
    policy: Policy,
    cache: HashMap<Endpoint, (Instant, Report)>,
    last: HashMap<SocketAddr, Instant>,
    tokens: f64,
    refilled: Instant,
    log: Box<dyn Write + Send>,
}

impl Prober {
    /// A prober that logs each attempt, one line each, to `log`.
    pub fn new(policy: Policy, log: Box<dyn Write + Send>) -> Prober {
        Prober {
            tokens: policy.per_second.max(1.0),
            policy,
            cache: HashMap::new(),
            last: HashMap::new(),
            refilled: Instant::now(),
            log,
        }
    }

    /// Whether probes may go to `ip`.
    pub fn allowed(&self, ip: IpAddr) -> bool {
        self.policy.allow.iter().any(|c| c.contains(ip))
    }

    /// Probes `ep`, or serves a cached result, or says why it may not be probed now.
    pub fn probe(&mut self, ep: &Endpoint) -> Result<Report, Refused> {
        let now = Instant::now();
        if !self.allowed(ep.addr.ip()) {
            self.note(&format!(
                "probe {}: refused, outside the allowed ranges",
                ep.addr
            ));
            return Err(Refused::NotAllowed(ep.addr.ip()));
        }
        if let Some((at, r)) = self.cache.get(ep) {
            if now.duration_since(*at) < self.policy.cache_ttl {
                let mut r = r.clone();
                r.cached = true;
                self.note(&format!("probe {}: cached result reused", ep.addr));
                return Ok(r);
            }
        }
        if let Some(at) = self.last.get(&ep.addr) {
            let since = now.duration_since(*at);
            if since < self.policy.per_endpoint {
                return Err(Refused::TooSoon(self.policy.per_endpoint - since));
            }
        }
        let rate = self.policy.per_second.max(1e-3);
        self.tokens = (self.tokens + now.duration_since(self.refilled).as_secs_f64() * rate)
            .min(rate.max(1.0));
        self.refilled = now;
        if self.tokens < 1.0 {
            return Err(Refused::Busy(Duration::from_secs_f64(
                (1.0 - self.tokens) / rate,
            )));
        }
        self.tokens -= 1.0;
        self.last.insert(ep.addr, now);
        let report = self.run(ep);
        self.cache.insert(ep.clone(), (now, report.clone()));
        Ok(report)
    }

    fn note(&mut self, line: &str) {
        let _ = writeln!(self.log, "minetap: {line}");
    }

    fn run(&mut self, ep: &Endpoint) -> Report {
        let transports: &[bool] = match ep.tls {
            Some(true) => &[true],
            Some(false) => &[false],
            None => &[false, true],
        };
        let mut attempts = Vec::new();
        let mut reason = String::new();
        'all: for &tls in transports {
            for d in dialect::ALL {
                let sni = ep.sni.as_deref();
                let opened = Conn::open(
                    ep.addr,
                    self.policy.source,
                    tls.then_some(sni),
                    self.policy.timeout,
                );
                let mut conn = match opened {
                    Ok(c) => c,
                    Err(e) => {
                        let t = if tls { "tls" } else { "plain" };
                        self.note(&format!("probe {} {t}: {e}", ep.addr));
                        reason = e.clone();
                        if tls || e.contains("refused") || e.contains("timed out") {
                            break 'all;
                        }
                        continue 'all;
                    }
                };
                let a = self.attempt(&mut conn, ep, tls, d);
                let pool = a.pool;
                reason = a.outcome.clone();
                attempts.push(a);
                if pool {
                    break 'all;
                }
            }
        }
        let hit = attempts.iter().find(|a| a.pool);
        Report {
            endpoint: ep.addr.to_string(),
            sni: ep.sni.clone(),
            pool: hit.is_some(),
            dialect: hit.map(|a| a.dialect),
            transport: hit.map(|a| a.transport),
            reason: hit.map_or(reason, |a| a.outcome.clone()),
            probed_at: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            cached: false,
            attempts,
        }
    }

    fn attempt(&mut self, conn: &mut Conn, ep: &Endpoint, tls: bool, d: Dialect) -> Attempt {
        let opening = d.opening();
        let transport = if tls { "tls" } else { "plain" };
        let (got, why) = match conn.write_all(&opening).and_then(|_| conn.flush()) {
            Ok(()) => conn.read_until(TRANSCRIPT_BYTES, self.policy.timeout, |b| d.enough(b)),
            Err(e) => (Vec::new(), Some(format!("could not send: {e}"))),
        };
        let judged = d.judge(&got);
        let outcome = match (&judged, why) {
            (Ok(s), _) => s.clone(),
            (Err(e), Some(w)) if got.is_empty() => format!("{e} ({w})"),
            (Err(e), _) => e.clone(),
        };
        self.note(&format!(
            "probe {} {transport} {}: {}{outcome}",
            ep.addr,
            d.name(),
            if judged.is_ok() {
                "pool: "
            } else {
                "not a pool: "
            }
        ));
        Attempt {
            transport,
            dialect: d,
            sent: String::from_utf8_lossy(&opening).trim_end().to_string(),
            received: String::from_utf8_lossy(&got).trim_end().to_string(),
            outcome,
            pool: judged.is_ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_contain_what_they_should() {
        let c = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(c.contains("10.1.200.3".parse().unwrap()));
        assert!(!c.contains("10.2.0.1".parse().unwrap()));
        assert!(!c.contains("::ffff:10.1.0.1".parse().unwrap()));
        assert!(Cidr::parse("127.0.0.1")
            .unwrap()
            .contains("127.0.0.1".parse().unwrap()));
        assert!(!Cidr::parse("127.0.0.1")
            .unwrap()
            .contains("127.0.0.2".parse().unwrap()));
        assert!(Cidr::parse("0.0.0.0/0")
            .unwrap()
            .contains("8.8.8.8".parse().unwrap()));
        assert!(Cidr::parse("2001:db8::/32")
            .unwrap()
            .contains("2001:db8::1".parse().unwrap()));
        assert_eq!(
            Cidr::parse("10.0.0.0/33").unwrap_err(),
            "'10.0.0.0/33': the prefix length must be 0..=32"
        );
    }

    #[test]
    fn nothing_is_sent_outside_the_allowed_ranges() {
        let policy = Policy {
            allow: vec![Cidr::parse("127.0.0.0/8").unwrap()],
            ..Policy::default()
        };
        let mut p = Prober::new(policy, Box::new(std::io::sink()));
        let ep = Endpoint {
            addr: "192.0.2.1:3333".parse().unwrap(),
            sni: None,
            tls: None,
        };
        assert_eq!(
            p.probe(&ep).unwrap_err(),
            Refused::NotAllowed("192.0.2.1".parse().unwrap())
        );
    }
}

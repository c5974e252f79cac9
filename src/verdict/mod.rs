//! Stage 5, **verdict**: a flow's record (what the detectors found, its endpoints, its shape)
//! in; a [`Verdict`] out — the event type, the level (`confirmed`, `likely`, `suspect`), a
//! confidence in 0..1, the signals that led there, and the pool when it is known.
//!
//! - `confirmed`: a mining protocol was parsed.
//! - `likely`: no mining protocol in the clear, but the server is a known pool — by the TLS
//!   server name or certificate, by a DNS answer seen earlier for a pool name, by the rules'
//!   addresses, or because the same pair of hosts was confirmed mining before.
//! - `suspect`: behaviour only (see [`behaviour`]).
//!
//! The judge keeps per-worker memories, both bounded and expiring: pool addresses learned from
//! DNS answers, and miner–pool pairs already confirmed.

pub mod behaviour;
pub mod estimate;
mod memory;

use crate::detect::FlowRecord;
use crate::detect::{Coverage, Finding, Kind, Session};
use crate::flow::Dir;
use crate::rules::intel::{Intel, PoolInfo};
use crate::rules::tables;
use memory::Expiring;
use serde::Serialize;
use std::net::IpAddr;
use std::sync::Arc;

/// How sure the verdict is, weakest first.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Serialize,
    serde::Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Behaviour only.
    Suspect,
    /// Opaque or encrypted, but the endpoint is a known pool.
    Likely,
    /// The mining protocol itself was parsed.
    Confirmed,
}

/// What kind of event a verdict makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Mining,
    Dns,
    CryptoNode,
}

/// How a pool was recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PoolSource {
    /// A host name the mining protocol itself carried.
    Protocol,
    Sni,
    Certificate,
    Dns,
    Address,
    /// The same miner–pool pair was confirmed before.
    Pair,
    /// The same server endpoint (address and port) spoke a mining protocol before.
    Endpoint,
    /// The endpoint answered an active probe as a pool does.
    Probe,
}

/// The pool a flow talks to, as far as it is known.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Pool {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coin: Option<String>,
    /// The host name it was known by, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    pub source: PoolSource,
    /// The rule that matched (file:line), when a rule did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
}

impl Pool {
    fn from_rule(info: &PoolInfo, host: Option<&str>, source: PoolSource) -> Pool {
        Pool {
            name: info.name.clone(),
            coin: info.coin.clone(),
            host: host.map(str::to_string),
            source,
            rule: Some(info.rule.clone()),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub event: EventType,
    pub level: Level,
    pub confidence: f64,
    pub signals: Vec<String>,
    pub pool: Option<Pool>,
    /// The direction the miner (or the asking client, or the connecting node) sends in.
    pub client: Dir,
    /// How much is mined, for flows whose protocol was parsed.
    pub estimate: Option<estimate::Estimate>,
}

/// Pool addresses learned from DNS answers, per worker.
const DNS_MEMORY: usize = 65_536;
/// Confirmed miner–pool pairs remembered, per worker.
const PAIR_MEMORY: usize = 65_536;
/// How long a confirmed pair makes later flows likely.
const PAIR_TTL_NS: u64 = 24 * 3600 * 1_000_000_000;
/// Server endpoints seen speaking a mining protocol, remembered per worker.
const ENDPOINT_MEMORY: usize = 65_536;

/// What an active probe showed about an endpoint that answered as a pool.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeHit {
    /// The dialect it answered in.
    pub dialect: &'static str,
    /// `plain` or `tls`.
    pub transport: &'static str,
    /// What showed it was a pool.
    pub reason: String,
}

/// Endpoints that answered a probe as a pool, shared by the run's workers (read once per
/// judged flow, written by the probe thread).
pub type Probed = Arc<std::sync::RwLock<std::collections::HashMap<(IpAddr, u16), ProbeHit>>>;

/// A flow's two ends, once it is known which side is the client (the miner).
struct Ends {
    client: Dir,
    miner: (IpAddr, u16),
    server: (IpAddr, u16),
}

pub struct Judge {
    intel: Arc<Intel>,
    tables: Arc<tables::Tables>,
    /// Address → (pool domain) until the answer's TTL runs out.
    dns: Expiring<IpAddr, String>,
    /// (miner, pool) → the protocol confirmed.
    pairs: Expiring<(IpAddr, IpAddr), &'static str>,
    /// The behaviour thresholds, when the tables give them all.
    behaviour: Option<crate::rules::behaviour::Behaviour>,
    /// (server, port) → the protocol it spoke, with the pool's side seen.
    endpoints: Expiring<(IpAddr, u16), &'static str>,
    /// Endpoints confirmed by an active probe (live `--probe`).
    probed: Option<Probed>,
    /// Open flows given an early verdict (live capture), and its level: a flow reported early
    /// again (its behaviour window once more) gets another only at a higher level. Entries
    /// go when the flow's final record comes, so this holds no more than the open flows.
    early: std::collections::HashMap<u64, Level>,
}

impl Judge {
    pub fn new(intel: Arc<Intel>, tables: Arc<tables::Tables>) -> Self {
        Judge {
            behaviour: crate::rules::behaviour::Behaviour::from_rows(&tables.behaviour).ok(),
            intel,
            tables,
            dns: Expiring::new(DNS_MEMORY),
            pairs: Expiring::new(PAIR_MEMORY),
            endpoints: Expiring::new(ENDPOINT_MEMORY),
            probed: None,
            early: std::collections::HashMap::new(),
        }
    }

    /// Consults the endpoints an active probe confirmed (shared with the probe thread).
    pub fn set_probed(&mut self, probed: Probed) {
        self.probed = Some(probed);
    }

    /// Takes up new rules; what was learned (DNS answers, confirmed pairs) is kept.
    pub fn set_rules(&mut self, intel: Arc<Intel>, tables: Arc<tables::Tables>) {
        self.behaviour = crate::rules::behaviour::Behaviour::from_rows(&tables.behaviour).ok();
        self.intel = intel;
        self.tables = tables;
    }

    /// Remembers a pool address from a DNS answer seen at `ts`.
    /// The pool rules this judge consults.
    pub fn intel(&self) -> &Intel {
        &self.intel
    }

    pub fn learn_dns(&mut self, addr: IpAddr, domain: String, ttl_s: u32, ts: u64) {
        let ttl = u64::from(ttl_s.clamp(60, 86_400)) * 1_000_000_000;
        self.dns.insert(addr, domain, ts.saturating_add(ttl), ts);
    }

    /// The pool behind a server address, from DNS memory or the rules.
    fn pool_by_address(&self, server: IpAddr, at: u64) -> Option<(Pool, String)> {
        if let Some(domain) = self.dns.get(&server, at) {
            let info = self.intel.domain(domain)?;
            let mut p = Pool::from_rule(info, Some(domain), PoolSource::Dns);
            p.rule = Some(info.rule.clone());
            return Some((p, format!("dns:{server} answered for {domain}")));
        }
        let info = self.intel.address(server)?;
        Some((
            Pool::from_rule(info, None, PoolSource::Address),
            format!("address:{server} listed ({})", info.rule),
        ))
    }

    /// The pool named by a TLS handshake or the protocol itself.
    fn pool_by_name(&self, f: &Finding) -> Option<(Pool, String)> {
        if let Some(t) = f.tls() {
            if let Some(sni) = &t.sni {
                if let Some(info) = self.intel.domain(sni) {
                    return Some((
                        Pool::from_rule(info, Some(sni), PoolSource::Sni),
                        format!("tls:sni {sni} ({})", info.rule),
                    ));
                }
            }
            for n in &t.cert_names {
                if let Some(info) = self.intel.domain(n.trim_start_matches("*.")) {
                    return Some((
                        Pool::from_rule(info, Some(n), PoolSource::Certificate),
                        format!("tls:certificate {n} ({})", info.rule),
                    ));
                }
            }
        }
        let host = f.session()?.pool_host.as_deref()?;
        let info = self.intel.domain(host)?;
        Some((
            Pool::from_rule(info, Some(host), PoolSource::Protocol),
            format!("pool host {host} ({})", info.rule),
        ))
    }

    /// Judges an ended flow.
    pub fn judge(&mut self, r: &FlowRecord) -> Option<Verdict> {
        let v = self.judge_record(r);
        if r.end != crate::flow::EndReason::Ongoing {
            self.early.remove(&r.id);
            return v;
        }
        let v = v?;
        match self.early.get(&r.id) {
            Some(said) if *said >= v.level => None,
            _ => {
                self.early.insert(r.id, v.level);
                Some(v)
            }
        }
    }

    fn judge_record(&mut self, r: &FlowRecord) -> Option<Verdict> {
        let f = r.finding.as_ref();
        // Who is the client: the protocol's word first, then the TCP handshake, then who spoke
        // first.
        let client = f
            .and_then(|f| f.miner_sends)
            .or(r.syn_from)
            .unwrap_or(Dir::Fwd);
        let ends = if client == Dir::Fwd {
            Ends {
                client,
                miner: r.fwd,
                server: r.rev,
            }
        } else {
            Ends {
                client,
                miner: r.rev,
                server: r.fwd,
            }
        };
        match f.map(|f| f.kind) {
            Some(Kind::Dns) => Some(self.lookup(f?, client)),
            Some(Kind::CryptoNode) => Some(Verdict {
                event: EventType::CryptoNode,
                // Not mining: reported at `likely`, as DNS look-ups are.
                level: Level::Likely,
                confidence: 0.95,
                signals: f?.signals.clone(),
                pool: None,
                client,
                estimate: None,
            }),
            Some(Kind::Mining) => Some(self.parsed(r, f?, &ends)),
            Some(Kind::Observation | Kind::Shape) | None => self.opaque(r, f, &ends),
        }
    }

    /// Look-ups of pool names.
    fn lookup(&self, f: &Finding, client: Dir) -> Verdict {
        let first = f.lookups().and_then(|l| l.queries.first());
        let pool = first.and_then(|(q, _)| {
            self.intel
                .domain(q)
                .map(|i| Pool::from_rule(i, Some(q), PoolSource::Dns))
        });
        Verdict {
            event: EventType::Dns,
            level: Level::Likely,
            confidence: 0.9,
            signals: f.signals.clone(),
            pool,
            client,
            estimate: None,
        }
    }

    /// A mining protocol was parsed: confirmed, with the pool if it is known, and how much.
    fn parsed(&mut self, r: &FlowRecord, f: &Finding, ends: &Ends) -> Verdict {
        let mut signals = f.signals.clone();
        let found = self
            .pool_by_name(f)
            .or_else(|| self.pool_by_address(ends.server.0, r.first_ts));
        let pool = found.map(|(p, s)| {
            signals.push(s);
            p
        });
        self.pairs.insert(
            (ends.miner.0, ends.server.0),
            f.protocol,
            r.last_ts.saturating_add(PAIR_TTL_NS),
            r.last_ts,
        );
        if f.coverage != Coverage::MinerOnly {
            // The server spoke the protocol: later opaque flows to it are likely.
            self.endpoints.insert(
                ends.server,
                f.protocol,
                r.last_ts.saturating_add(PAIR_TTL_NS),
                r.last_ts,
            );
        }
        let confidence = match f.coverage {
            // Both ends spoke the protocol, each in its own role.
            Coverage::BothSides => 0.99,
            // Pool pushes (jobs, difficulty) with the right shapes.
            Coverage::PoolOnly => 0.95,
            // A host asking to mine; nobody answered in what the tap saw.
            Coverage::MinerOnly => 0.8,
        };
        let empty = Session::default();
        let estimate = estimate::estimate(
            f.session().unwrap_or(&empty),
            pool.as_ref(),
            ends.server.1,
            r.first_ts,
            r.last_ts,
            &self.tables,
        );
        Verdict {
            event: EventType::Mining,
            level: Level::Confirmed,
            confidence,
            signals,
            pool,
            client: ends.client,
            estimate: Some(estimate),
        }
    }

    /// What the server is known as: by name, by address, or as a pair confirmed before.
    fn known_endpoint(
        &self,
        r: &FlowRecord,
        f: Option<&Finding>,
        ends: &Ends,
    ) -> Option<(Pool, String, f64)> {
        let by_name = f.and_then(|f| self.pool_by_name(f));
        by_name
            .map(|(p, s)| (p, s, 0.9))
            .or_else(|| {
                self.pool_by_address(ends.server.0, r.first_ts)
                    .map(|(p, s)| (p, s, 0.8))
            })
            .or_else(|| {
                let proto = self.endpoints.get(&ends.server, r.first_ts)?;
                Some((
                    Pool {
                        name: None,
                        coin: None,
                        host: None,
                        source: PoolSource::Endpoint,
                        rule: None,
                    },
                    format!(
                        "endpoint:{}:{} spoke {proto} before",
                        ends.server.0, ends.server.1
                    ),
                    0.75,
                ))
            })
            .or_else(|| {
                let proto = self.pairs.get(&(ends.miner.0, ends.server.0), r.first_ts)?;
                Some((
                    Pool {
                        name: None,
                        coin: None,
                        host: None,
                        source: PoolSource::Pair,
                        rule: None,
                    },
                    format!(
                        "pair:{} confirmed {proto} to {} before",
                        ends.miner.0, ends.server.0
                    ),
                    0.7,
                ))
            })
    }

    /// An opaque flow to an endpoint that answered a probe as a pool: confirmed, source probe.
    fn probe_confirmed(&self, f: Option<&Finding>, ends: &Ends) -> Option<Verdict> {
        let probed = self.probed.as_ref()?.read().ok()?;
        let hit = probed.get(&ends.server)?;
        let host = f.and_then(|f| f.tls()).and_then(|t| t.sni.clone());
        Some(Verdict {
            event: EventType::Mining,
            level: Level::Confirmed,
            confidence: 0.9,
            signals: vec![format!(
                "probe:{}:{} answered {} over {}: {}",
                ends.server.0, ends.server.1, hit.dialect, hit.transport, hit.reason
            )],
            pool: Some(Pool {
                name: None,
                coin: None,
                host,
                source: PoolSource::Probe,
                rule: None,
            }),
            client: ends.client,
            estimate: None,
        })
    }

    /// Nothing in the clear: likely when the endpoint is known or the handshake is a mining
    /// protocol's, suspect by behaviour, else nothing.
    fn opaque(&self, r: &FlowRecord, f: Option<&Finding>, ends: &Ends) -> Option<Verdict> {
        let shape = f.filter(|f| f.kind == Kind::Shape);
        let likely = |confidence, signals, pool| Verdict {
            event: EventType::Mining,
            level: Level::Likely,
            confidence,
            signals,
            pool,
            client: ends.client,
            estimate: None,
        };
        if let Some(v) = self.probe_confirmed(f, ends) {
            return Some(v);
        }
        if let Some((pool, signal, confidence)) = self.known_endpoint(r, f, ends) {
            let mut signals = shape.map(|f| f.signals.clone()).unwrap_or_default();
            signals.push(signal);
            if let Some(ja4) = f.and_then(|f| f.tls()).and_then(|t| t.ja4.as_ref()) {
                signals.push(format!("tls:ja4 {ja4}"));
            }
            if self.intel.mining_port(ends.server.1) {
                signals.push(format!("port:{} (weak)", ends.server.1));
            }
            return Some(likely(confidence, signals, Some(pool)));
        }
        if let Some(f) = shape {
            // A mining protocol's own handshake shape, on an unknown endpoint.
            return Some(likely(0.7, f.signals.clone(), None));
        }
        let (confidence, signals) = behaviour::suspect(r, ends.client, self.behaviour.as_ref()?)?;
        Some(Verdict {
            event: EventType::Mining,
            level: Level::Suspect,
            confidence,
            signals,
            pool: None,
            client: ends.client,
            estimate: None,
        })
    }
}

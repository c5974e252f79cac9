//! The events a verdict becomes: Suricata EVE field names at the top; the details under
//! `mining`, `dns` or `crypto_node`, and the TLS handshake under `tls`. The miner (or the asking
//! client, or the connecting node) is `src`; the pool (resolver, peer) is `dest`.

use super::time::rfc3339_micros;
use crate::detect::FlowRecord;
use crate::detect::{Finding, Lookups, Session, ShareValue, Shares};
use crate::flow::{Counters, EndReason};
use crate::verdict::estimate::{Algo, Estimate};
use crate::verdict::{EventType, Level, Pool, Verdict};
use serde::Serialize;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// The version of the event contract.
pub const SCHEMA: &str = "minetap/1";

#[derive(Debug, Serialize)]
pub struct Event {
    pub timestamp: String,
    pub flow_id: u64,
    pub event_type: &'static str,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dest_ip: IpAddr,
    pub dest_port: u16,
    pub proto: &'static str,
    pub app_proto: &'static str,
    pub schema: &'static str,
    /// false for an early event sent when the flow was first recognised; the flow's final
    /// record follows when it ends.
    #[serde(rename = "final")]
    pub is_final: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mining: Option<Mining>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<Dns>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crypto_node: Option<CryptoNode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// The tunnel or label stack the flow was mirrored in (the inner flow is what is described).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<Tunnel>,
    /// Who held the miner's address (and port) at the flow's start, when a subscriber store is
    /// in use and the event's level allows it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscriber: Option<crate::attrib::Attribution>,
    /// The flow's evidence bundle, or why it has none (events at the evidence level only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence: Option<EvidenceRef>,
}

/// Where an event's evidence is: its bundle's folder, or why there is none.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EvidenceRef {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct Tunnel {
    #[serde(rename = "type")]
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub src_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_ip: Option<IpAddr>,
    /// MPLS label, PPPoE session, GRE key, ERSPAN session, VXLAN VNI or GTP-U TEID.
    pub id: u32,
    /// Encapsulation layers around the flow.
    pub layers: u8,
}

#[derive(Debug, Serialize)]
pub struct Mining {
    pub protocol: &'static str,
    pub level: Level,
    pub confidence: f64,
    pub signals: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    pub workers: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extranonce1: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub jobs: u64,
    pub shares: SharesOut,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version_mask: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub device: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool_host: Option<String>,
    /// Algorithm, coin, hashrate and power, as the shares say.
    #[serde(flatten)]
    pub estimate: Estimate,
    /// Difficulty or target changes as the pool announced them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub difficulty_changes: Vec<DifficultyChange>,
    /// What the miner says its hashrate is (H/s); not an estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_hashrate_hs: Option<f64>,
    #[serde(flatten)]
    pub flow: FlowOut,
}

/// When the flow was seen and how much it carried, in the event's roles.
#[derive(Debug, Serialize)]
pub struct FlowOut {
    pub first_seen: String,
    pub last_seen: String,
    /// How the flow ended: closed, reset, timeout, evicted, run_end.
    pub flow_end: &'static str,
    /// Whether the connection's opening (TCP handshake) was seen.
    pub handshake_seen: bool,
    pub to_server: CountersOut,
    pub to_client: CountersOut,
}

#[derive(Debug, Serialize)]
pub struct DifficultyChange {
    pub at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub difficulty: Option<f64>,
    /// Expected hashes per share, for pools that send targets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashes_per_share: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct Dns {
    /// Pool names looked up.
    pub queries: Vec<DnsQuery>,
    /// Addresses answered for them.
    pub answers: Vec<DnsAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pool: Option<Pool>,
    #[serde(flatten)]
    pub flow: FlowOut,
}

#[derive(Debug, Serialize)]
pub struct DnsQuery {
    pub rrname: String,
    pub rrtype: &'static str,
}

#[derive(Debug, Serialize)]
pub struct DnsAnswer {
    pub rrname: String,
    pub rdata: IpAddr,
    pub ttl: u32,
}

#[derive(Debug, Serialize)]
pub struct CryptoNode {
    pub protocol: &'static str,
    pub confidence: f64,
    pub signals: Vec<String>,
    #[serde(flatten)]
    pub flow: FlowOut,
}

#[derive(Debug, Serialize)]
pub struct Tls {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sni: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub alpn: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ja4: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cert_names: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct SharesOut {
    pub submitted: u64,
    pub accepted: u64,
    pub rejected: u64,
}

impl From<Shares> for SharesOut {
    fn from(s: Shares) -> Self {
        SharesOut {
            submitted: s.submitted,
            accepted: s.accepted,
            rejected: s.rejected,
        }
    }
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct CountersOut {
    pub packets: u64,
    pub bytes: u64,
}

impl From<Counters> for CountersOut {
    fn from(c: Counters) -> Self {
        CountersOut {
            packets: c.packets,
            bytes: c.bytes,
        }
    }
}

fn end_name(e: EndReason) -> &'static str {
    match e {
        EndReason::Closed => "closed",
        EndReason::Reset => "reset",
        EndReason::Timeout => "timeout",
        EndReason::Evicted => "evicted",
        EndReason::RunEnd => "run_end",
        EndReason::Ongoing => "ongoing",
    }
}

impl Mining {
    /// The `mining` object: what the protocol said, the verdict, and the estimate.
    fn new(f: &Finding, v: &Verdict, flow: FlowOut) -> Mining {
        let empty = Session::default();
        let s = f.session().unwrap_or(&empty);
        let mut estimate = v.estimate.clone().unwrap_or_default();
        if let (Algo::Unknown, Some(a)) = (&estimate.algorithm, &s.algorithm) {
            estimate.algorithm = Algo::Known(a.clone());
        }
        Mining {
            protocol: f.protocol,
            level: v.level,
            confidence: v.confidence,
            signals: v.signals.clone(),
            pool: v.pool.clone(),
            agent: s.agent.clone(),
            workers: s.workers.clone(),
            extranonce1: s.extranonce1.clone(),
            difficulty: s.difficulty,
            target: s.target.clone(),
            jobs: s.jobs,
            shares: s.shares.into(),
            version_mask: s.version_mask.clone(),
            extensions: s.extensions.clone(),
            device: s.device.iter().cloned().collect(),
            pool_host: s.pool_host.clone(),
            estimate,
            difficulty_changes: s
                .difficulty_changes
                .iter()
                .map(|(ts, v)| DifficultyChange {
                    at: rfc3339_micros(*ts),
                    difficulty: match v {
                        ShareValue::Difficulty(d) => Some(*d),
                        ShareValue::Hashes(_) => None,
                    },
                    hashes_per_share: match v {
                        ShareValue::Hashes(h) => Some(*h),
                        ShareValue::Difficulty(_) => None,
                    },
                })
                .collect(),
            claimed_hashrate_hs: s.claimed_hashrate_hs,
            flow,
        }
    }
}

impl Dns {
    /// The `dns` object: the pool names looked up and the addresses answered.
    fn new(f: &Finding, v: &Verdict, flow: FlowOut) -> Dns {
        let empty = Lookups::default();
        let l = f.lookups().unwrap_or(&empty);
        Dns {
            queries: l
                .queries
                .iter()
                .map(|(q, t)| DnsQuery {
                    rrname: q.clone(),
                    rrtype: t,
                })
                .collect(),
            answers: l
                .answers
                .iter()
                .map(|(n, a, ttl)| DnsAnswer {
                    rrname: n.clone(),
                    rdata: *a,
                    ttl: *ttl,
                })
                .collect(),
            pool: v.pool.clone(),
            flow,
        }
    }
}

impl Event {
    pub fn new(r: &FlowRecord, v: &Verdict) -> Event {
        let client = v.client;
        let (src, dest) = if client == crate::flow::Dir::Fwd {
            (r.fwd, r.rev)
        } else {
            (r.rev, r.fwd)
        };
        let flow = || FlowOut {
            first_seen: rfc3339_micros(r.first_ts),
            last_seen: rfc3339_micros(r.last_ts),
            flow_end: end_name(r.end),
            handshake_seen: r.syn_from.is_some(),
            to_server: r.counters[client.index()].into(),
            to_client: r.counters[client.flip().index()].into(),
        };
        // Flows judged on their endpoints or shape carry no mining protocol of their own.
        let tls = r.finding.as_ref().and_then(|f| f.tls().cloned());
        let opaque = Finding::new(
            if tls.is_some() { "tls" } else { "unknown" },
            if tls.is_some() { "tls" } else { "unknown" },
        );
        let f = r.finding.as_ref().unwrap_or(&opaque);
        let (event_type, mining, dns, crypto_node) = match v.event {
            EventType::Mining => ("mining", Some(Mining::new(f, v, flow())), None, None),
            EventType::Dns => ("dns", None, Some(Dns::new(f, v, flow())), None),
            EventType::CryptoNode => {
                let node = CryptoNode {
                    protocol: f.protocol,
                    confidence: v.confidence,
                    signals: v.signals.clone(),
                    flow: flow(),
                };
                ("crypto_node", None, None, Some(node))
            }
        };
        Event {
            timestamp: rfc3339_micros(r.last_ts),
            flow_id: r.id,
            event_type,
            src_ip: src.0,
            src_port: src.1,
            dest_ip: dest.0,
            dest_port: dest.1,
            proto: if r.proto == crate::decode::PROTO_TCP {
                "TCP"
            } else {
                "UDP"
            },
            app_proto: f.app_proto,
            schema: SCHEMA,
            is_final: r.end != EndReason::Ongoing,
            mining,
            dns,
            crypto_node,
            tls: tls.map(|t| Tls {
                sni: t.sni,
                alpn: t.alpn,
                version: t.version,
                ja4: t.ja4,
                cert_names: t.cert_names,
            }),
            subscriber: None,
            evidence: None,
            tunnel: r.encap.map(|e| Tunnel {
                kind: e.kind.name(),
                src_ip: e.outer.map(|o| o.0),
                dest_ip: e.outer.map(|o| o.1),
                id: e.id,
                layers: e.layers,
            }),
        }
    }

    /// The event as one line of JSON (without the newline).
    pub fn to_json(&self) -> String {
        // Serialising plain data to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

//! The event a mining flow becomes: Suricata EVE field names at the top, the rest under `mining`.
//! The miner is `src` and the pool `dest`.

use super::time::rfc3339_micros;
use crate::detect::Shares;
use crate::flow::{Counters, Dir, EndReason, FlowRecord};
use crate::verdict::{Level, Verdict};
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
    pub mining: Mining,
}

#[derive(Debug, Serialize)]
pub struct Mining {
    pub protocol: &'static str,
    pub level: Level,
    pub confidence: f64,
    pub signals: Vec<String>,
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
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// What the miner says its hashrate is (H/s); not an estimate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claimed_hashrate_hs: Option<f64>,
    pub first_seen: String,
    pub last_seen: String,
    /// How the flow ended: closed, reset, timeout, evicted, run_end.
    pub flow_end: &'static str,
    /// Whether the connection's opening (TCP handshake) was seen.
    pub handshake_seen: bool,
    pub to_server: CountersOut,
    pub to_client: CountersOut,
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
    }
}

impl Event {
    pub fn new(r: &FlowRecord, v: &Verdict) -> Event {
        let f = &r.finding;
        // The miner's side: what the protocol said, else who opened the connection, else who
        // sent the first packet the tap saw.
        let miner = f.miner_sends.or(r.syn_from).unwrap_or(Dir::Fwd);
        let (src, dest) = if miner == Dir::Fwd {
            (r.fwd, r.rev)
        } else {
            (r.rev, r.fwd)
        };
        Event {
            timestamp: rfc3339_micros(r.last_ts),
            flow_id: r.id,
            event_type: "mining",
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
            mining: Mining {
                protocol: f.protocol,
                level: v.level,
                confidence: v.confidence,
                signals: v.signals.clone(),
                agent: f.agent.clone(),
                workers: f.workers.clone(),
                extranonce1: f.extranonce1.clone(),
                difficulty: f.difficulty,
                target: f.target.clone(),
                jobs: f.jobs,
                shares: f.shares.into(),
                version_mask: f.version_mask.clone(),
                extensions: f.extensions.clone(),
                device: f.device.iter().cloned().collect(),
                pool_host: f.pool_host.clone(),
                algorithm: f.algorithm.clone(),
                claimed_hashrate_hs: f.claimed_hashrate_hs,
                first_seen: rfc3339_micros(r.first_ts),
                last_seen: rfc3339_micros(r.last_ts),
                flow_end: end_name(r.end),
                handshake_seen: r.syn_from.is_some(),
                to_server: r.counters[miner.index()].into(),
                to_client: r.counters[miner.flip().index()].into(),
            },
        }
    }

    /// The event as one line of JSON (without the newline).
    pub fn to_json(&self) -> String {
        // Serialising plain data to a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }
}

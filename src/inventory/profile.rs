//! What the sensor's site traffic profiles (`site_profile` events, `--profile-local`) say of a
//! mining site: the traffic of the addresses or prefixes that hold its miners, summed over the
//! intervals. A site whose own network answers many peers is a data centre, and mining there is
//! `data_centre_mining` (the regulation forbids mining under a data centre's name).

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::net::IpAddr;

/// The profiles of the networks holding a site's miners, summed over their intervals.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProfileEvidence {
    /// The profiled sites (addresses or prefixes) that hold the site's addresses.
    pub networks: Vec<String>,
    /// Intervals profiled.
    pub intervals: u64,
    /// Connections those networks answered, in all.
    pub answered: u64,
    /// The most distinct peers in one interval.
    pub peers_max: u64,
    /// Distinct (protocol, port) pairs they answered on.
    pub served_ports: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Connections they opened, and those that were mining.
    pub opened: u64,
    pub mining_flows: u64,
}

/// A profiled network: an address, or a prefix `ADDR/LEN`.
fn contains(site: &str, ip: IpAddr) -> bool {
    let (net, len) = match site.split_once('/') {
        Some((a, l)) => (a, l.parse::<u8>().ok()),
        None => (site, None),
    };
    let Ok(net) = net.parse::<IpAddr>() else {
        return false;
    };
    match len {
        None => net == ip,
        Some(len) => crate::decode::filter::Cidr { addr: net, len }.contains(ip),
    }
}

/// The profile evidence for a site with these addresses, if any profile covers one of them.
pub fn evidence<'a>(
    events: &[Value],
    addresses: impl Iterator<Item = &'a String>,
) -> Option<ProfileEvidence> {
    let ips: Vec<IpAddr> = addresses.filter_map(|a| a.parse().ok()).collect();
    let mut ev = ProfileEvidence::default();
    let mut ports = std::collections::BTreeSet::new();
    for e in events {
        let Some(p) = e.get("site_profile") else {
            continue;
        };
        let Some(site) = p["site"].as_str() else {
            continue;
        };
        if !ips.iter().any(|ip| contains(site, *ip)) {
            continue;
        }
        let n = |k: &str| p[k].as_u64().unwrap_or(0);
        if !ev.networks.iter().any(|s| s == site) {
            ev.networks.push(site.to_string());
        }
        ev.intervals += 1;
        ev.answered += n("flows_answered");
        ev.peers_max = ev.peers_max.max(n("peers"));
        ev.bytes_sent += n("bytes_sent");
        ev.bytes_received += n("bytes_received");
        ev.opened += n("flows_opened");
        ev.mining_flows += n("mining_flows");
        for s in p["served"].as_array().into_iter().flatten() {
            ports.insert((s["proto"].to_string(), s["port"].as_u64().unwrap_or(0)));
        }
    }
    ev.served_ports = ports.len() as u64;
    (ev.intervals > 0).then_some(ev)
}

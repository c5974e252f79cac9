//! Stage 8, **inventory**: events of one or more runs in; the list of mining sites the
//! regulation asks for out — per subscriber (or, unattributed, per address): enterprise, address,
//! addresses seen, first and last seen, connections, workers, devices, pools, coins, wallets,
//! estimated hashrate with its interval and power with its range, and a classification (mining
//! farm, small-scale mining, single compromised host). Written as CSV and JSON for machines and
//! a Markdown report with an SVG chart for people; `--previous` marks sites new, continuing,
//! grown, shrunk or gone.

pub mod crosscheck;
pub mod html;
mod profile;
pub mod reference;
pub mod render;

use render::join;
pub use render::{chart, report, to_csv};

pub use profile::ProfileEvidence;
pub mod store;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Classification thresholds (`rules/inventory.toml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    pub farm_min_power_kw: f64,
    /// Power counts towards `mining_farm` only when the site's estimate rests on at least this
    /// many shares: one lucky block is not a farm.
    #[serde(default = "default_min_shares")]
    pub farm_min_shares: u64,
    pub farm_min_workers: usize,
    pub farm_min_connections: usize,
    pub cpu_algorithms: Vec<String>,
    pub cpu_max_hashrate_hs: f64,
    pub cryptojacking_agents: Vec<String>,
    pub change_threshold: f64,
    /// A connection's estimate counts in its site's totals only when it rests on at least this
    /// many shares...
    #[serde(default = "default_min_shares")]
    pub total_min_shares: u64,
    /// ...and its interval's high end is at most this many times its low end.
    #[serde(default = "default_max_spread")]
    pub total_max_spread: f64,
    /// A site whose own network (its `site_profile`s) answered at least this many
    /// connections...
    #[serde(default = "default_dc_answered")]
    pub data_centre_min_answered: u64,
    /// ...from at least this many distinct peers in one interval is a data centre.
    #[serde(default = "default_dc_peers")]
    pub data_centre_min_peers: u64,
    /// Words of a declared business (grid metering) that name a data centre.
    #[serde(default = "default_dc_business")]
    pub data_centre_business: Vec<String>,
    /// The surcharge on mining's electricity, yuan per kWh.
    #[serde(default = "default_surcharge")]
    pub surcharge_yuan_per_kwh: f64,
    /// Flag a site whose estimated mining energy is at least this share of its metered use.
    #[serde(default = "default_energy_explains")]
    pub energy_explains: f64,
    /// Flag a site whose metered use is at least this many times its estimated mining energy.
    #[serde(default = "default_energy_far_above")]
    pub energy_far_above: f64,
}

fn default_energy_far_above() -> f64 {
    10.0
}

fn default_dc_business() -> Vec<String> {
    [
        "data centre",
        "data center",
        "datacenter",
        "idc",
        "数据中心",
        "算力中心",
        "云计算",
    ]
    .map(String::from)
    .to_vec()
}

fn default_surcharge() -> f64 {
    0.30
}

fn default_energy_explains() -> f64 {
    0.5
}

fn default_dc_answered() -> u64 {
    50
}

fn default_dc_peers() -> u64 {
    20
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            farm_min_power_kw: 10.0,
            farm_min_shares: default_min_shares(),
            farm_min_workers: 10,
            farm_min_connections: 20,
            cpu_algorithms: vec!["randomx".into(), "cryptonight".into()],
            cpu_max_hashrate_hs: 50_000.0,
            cryptojacking_agents: vec!["xmrig".into(), "xmr-stak".into(), "cpuminer".into()],
            change_threshold: 0.25,
            total_min_shares: default_min_shares(),
            total_max_spread: default_max_spread(),
            data_centre_min_answered: default_dc_answered(),
            data_centre_min_peers: default_dc_peers(),
            data_centre_business: default_dc_business(),
            surcharge_yuan_per_kwh: default_surcharge(),
            energy_explains: default_energy_explains(),
            energy_far_above: default_energy_far_above(),
        }
    }
}

fn default_min_shares() -> u64 {
    10
}

fn default_max_spread() -> f64 {
    100.0
}

impl Thresholds {
    /// Thresholds from a TOML file.
    pub fn load(path: &Path) -> Result<Thresholds, String> {
        let t = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        toml::from_str(&t).map_err(|e| format!("{}: {e}", path.display()))
    }

    /// The built-in thresholds (the project's `rules/inventory.toml`).
    pub fn builtin() -> Result<Thresholds, String> {
        toml::from_str(crate::rules::BUILTIN_INVENTORY)
            .map_err(|e| format!("built-in inventory.toml: {e}"))
    }
}

/// One mining site.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Site {
    /// Subscriber id, or `unattributed:ADDRESS`.
    pub site: String,
    pub name: String,
    pub registration_number: String,
    pub address: String,
    pub addresses: BTreeSet<String>,
    pub first_seen: String,
    pub last_seen: String,
    pub connections: u64,
    pub workers: BTreeSet<String>,
    pub devices: BTreeSet<String>,
    pub agents: BTreeSet<String>,
    pub pools: BTreeSet<String>,
    pub coins: BTreeSet<String>,
    pub algorithms: BTreeSet<String>,
    pub wallets: BTreeSet<String>,
    /// Connections whose shares gave an estimate; with none, the totals below are 0 because
    /// nothing could be estimated, not because nothing was mined.
    pub estimated_connections: u64,
    /// Shares the estimates rest on (their sum over those connections).
    #[serde(default)]
    pub shares: u64,
    /// Connections whose algorithm the evidence left open (an agent that runs several): their
    /// candidates' estimates are in the events, and they are kept out of the totals.
    #[serde(default)]
    pub undecided_connections: u64,
    /// Connections with an estimate too weak to add up (too few shares, too wide an interval):
    /// listed here, kept out of the totals.
    #[serde(default)]
    pub left_out: Vec<LeftOut>,
    /// Sum over the site's flows of each flow's estimate (H/s), with the intervals' ends summed.
    pub hashrate_hs: f64,
    pub hashrate_hs_low: f64,
    pub hashrate_hs_high: f64,
    pub power_kw: f64,
    pub power_kw_low: f64,
    pub power_kw_high: f64,
    /// data_centre_mining, mining_farm, small_scale, cryptojacking
    pub classification: String,
    /// The evidence bundles of its connections (`--evidence` at the scan).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub bundles: BTreeSet<String>,
    /// The cross-checks with other agencies' data (`crosscheck`): region, park, commitment,
    /// metered energy, surcharge, and the evidence for the class.
    #[serde(default, flatten)]
    pub checks: crosscheck::Checks,
    /// What the sensor's site profiles say of the networks holding its miners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<ProfileEvidence>,
    /// new, continuing, grown, shrunk, gone (with --previous)
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub change: String,
}

/// A connection kept out of its site's totals, and why.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct LeftOut {
    /// The miner's address and port, and the flow's start.
    pub flow: String,
    pub shares: u64,
    pub hashrate_hs: f64,
    pub hashrate_hs_low: f64,
    pub hashrate_hs_high: f64,
    /// "too few shares (1 < 10)", "too wide an interval (x1000 > x100)".
    pub why: String,
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string).filter(|x| !x.is_empty())
}

impl Site {
    /// In last week's list and not in this one's (`--previous`): listed, never counted.
    pub fn gone(&self) -> bool {
        self.change == "gone"
    }

    /// Adds one final mining event `e` (its `mining` object `m`) to the site's totals.
    fn add_connection(&mut self, e: &Value, m: &Value, th: &Thresholds) {
        let site = self;
        site.connections += 1;
        for w in m["workers"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str())
        {
            site.workers.insert(w.to_string());
            // An account name "WALLET.worker": the part before the dot is the wallet.
            if let Some((wallet, _)) = w.split_once(['.', '/']) {
                if wallet.len() >= 20 {
                    site.wallets.insert(wallet.to_string());
                }
            }
        }
        if let Some(d) = m["device"].as_object() {
            let id = ["hw-id", "device-id"]
                .iter()
                .find_map(|k| d.get(*k).and_then(|v| v.as_str()));
            let model = ["hw-version"]
                .iter()
                .find_map(|k| d.get(*k).and_then(|v| v.as_str()));
            if let Some(x) = id.or(model) {
                site.devices.insert(x.to_string());
            }
        }
        if let Some(a) = s(&m["agent"]) {
            site.agents.insert(a);
        }
        if let Some(b) = s(&e["evidence"]["bundle"]) {
            site.bundles.insert(b);
        }
        let pool = m["pool"]["name"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| {
                format!(
                    "{}:{}",
                    e["dest_ip"].as_str().unwrap_or_default(),
                    e["dest_port"]
                )
            });
        site.pools.insert(pool);
        if let Some(c) = s(&m["coin"]) {
            site.coins.insert(c);
        }
        if let Some(a) = s(&m["algorithm"]) {
            site.algorithms.insert(a);
        }
        if m.get("algorithm_candidates").is_some() {
            site.undecided_connections += 1;
        }
        if let Some(h) = m.get("hashrate") {
            let f = |k: &str| h[k].as_f64().unwrap_or(0.0);
            let shares = h["shares"].as_u64().unwrap_or(0);
            let (low, high) = (f("hashrate_hs_low"), f("hashrate_hs_high"));
            let why = if shares < th.total_min_shares {
                Some(format!(
                    "too few shares ({shares} < {})",
                    th.total_min_shares
                ))
            } else if high > low * th.total_max_spread {
                Some(format!(
                    "too wide an interval (x{:.0} > x{:.0})",
                    high / low.max(f64::MIN_POSITIVE),
                    th.total_max_spread
                ))
            } else {
                None
            };
            if let Some(why) = why {
                site.left_out.push(LeftOut {
                    flow: format!(
                        "{}:{} {}",
                        e["src_ip"].as_str().unwrap_or_default(),
                        e["src_port"],
                        m["first_seen"].as_str().unwrap_or_default()
                    ),
                    shares,
                    hashrate_hs: f("hashrate_hs"),
                    hashrate_hs_low: low,
                    hashrate_hs_high: high,
                    why,
                });
                return;
            }
            site.estimated_connections += 1;
            site.shares += shares;
            site.hashrate_hs += f("hashrate_hs");
            site.hashrate_hs_low += low;
            site.hashrate_hs_high += high;
        }
        if let Some(p) = m.get("power") {
            site.power_kw += p["watts"].as_f64().unwrap_or(0.0) / 1000.0;
            site.power_kw_low += p["watts_low"].as_f64().unwrap_or(0.0) / 1000.0;
            site.power_kw_high += p["watts_high"].as_f64().unwrap_or(0.0) / 1000.0;
        }
    }
}

/// Builds the inventory from event lines (final mining events count, each flow once; others
/// are ignored).
pub fn build(events: &[Value], th: &Thresholds) -> Vec<Site> {
    let mut sites: BTreeMap<String, Site> = BTreeMap::new();
    // Each flow once, however often its events were given (the same file twice, overlapping
    // runs): by its id, its two ends and its start.
    let mut seen = BTreeSet::new();
    for e in events {
        let Some(m) = e.get("mining") else { continue };
        if e["final"] == false {
            continue;
        }
        let flow = (
            e["flow_id"].to_string(),
            e["src_ip"].to_string(),
            e["src_port"].to_string(),
            e["dest_ip"].to_string(),
            e["dest_port"].to_string(),
            m["first_seen"].to_string(),
        );
        if !seen.insert(flow) {
            continue;
        }
        let src = e["src_ip"].as_str().unwrap_or_default().to_string();
        let sub = e
            .get("subscriber")
            .filter(|s| s["status"] == "matched")
            .map(|s| &s["candidates"][0]);
        let key = sub
            .and_then(|c| s(&c["id"]))
            .unwrap_or_else(|| format!("unattributed:{src}"));
        let site = sites.entry(key.clone()).or_insert_with(|| Site {
            site: key,
            ..Site::default()
        });
        if let Some(c) = sub {
            site.checks.region_code = s(&c["region"]);
            site.name = s(&c["name"]).unwrap_or_default();
            site.registration_number = s(&c["registration_number"]).unwrap_or_default();
            site.address = s(&c["address"]).unwrap_or_default();
        }
        site.addresses.insert(src);
        let (first, last) = (
            s(&m["first_seen"]).unwrap_or_default(),
            s(&m["last_seen"]).unwrap_or_default(),
        );
        if site.first_seen.is_empty() || first < site.first_seen {
            site.first_seen = first;
        }
        if last > site.last_seen {
            site.last_seen = last;
        }
        site.add_connection(e, m, th);
    }
    let mut out: Vec<Site> = sites.into_values().collect();
    for site in &mut out {
        site.profile = profile::evidence(events, site.addresses.iter());
        let (class, evidence) = classify(site, th);
        site.classification = class.into();
        site.checks.class_evidence = evidence;
    }
    out.sort_by(|a, b| {
        b.hashrate_hs
            .total_cmp(&a.hashrate_hs)
            .then(a.site.cmp(&b.site))
    });
    out
}

/// The site's class and the evidence for it, each a figure against its threshold.
fn classify(s: &Site, th: &Thresholds) -> (&'static str, Vec<String>) {
    if let Some(p) = s.profile.as_ref().filter(|p| {
        p.answered >= th.data_centre_min_answered && p.peers_max >= th.data_centre_min_peers
    }) {
        return (
            "data_centre_mining",
            vec![format!(
                "its network answered {} connections (>= {}), up to {} peers in an interval (>= {})",
                p.answered, th.data_centre_min_answered, p.peers_max, th.data_centre_min_peers
            )],
        );
    }
    let mut farm = Vec::new();
    if s.power_kw >= th.farm_min_power_kw && s.shares >= th.farm_min_shares {
        farm.push(format!(
            "power {:.1} kW (>= {} kW) on {} shares",
            s.power_kw, th.farm_min_power_kw, s.shares
        ));
    }
    if s.workers.len() >= th.farm_min_workers {
        farm.push(format!(
            "{} workers (>= {})",
            s.workers.len(),
            th.farm_min_workers
        ));
    }
    if s.connections as usize >= th.farm_min_connections {
        farm.push(format!(
            "{} connections (>= {})",
            s.connections, th.farm_min_connections
        ));
    }
    if !farm.is_empty() {
        return ("mining_farm", farm);
    }
    let cpu =
        !s.algorithms.is_empty() && s.algorithms.iter().all(|a| th.cpu_algorithms.contains(a));
    let agent = s.agents.iter().find(|a| {
        let a = a.to_ascii_lowercase();
        th.cryptojacking_agents
            .iter()
            .any(|x| a.contains(x.as_str()))
    });
    if let Some(agent) =
        agent.filter(|_| s.addresses.len() == 1 && cpu && s.hashrate_hs < th.cpu_max_hashrate_hs)
    {
        return (
            "cryptojacking",
            vec![format!(
                "one address, CPU-class algorithm ({}), agent {agent}, below {} H/s",
                join(&s.algorithms),
                th.cpu_max_hashrate_hs
            )],
        );
    }
    ("small_scale", vec!["no farm threshold reached".into()])
}

/// Marks each site against last week's inventory; sites that are gone are added.
pub fn compare(now: &mut Vec<Site>, previous: &[Site], th: &Thresholds) {
    let prev: BTreeMap<&str, &Site> = previous.iter().map(|s| (s.site.as_str(), s)).collect();
    for s in now.iter_mut() {
        s.change = match prev.get(s.site.as_str()) {
            None => "new",
            Some(p)
                if p.hashrate_hs > 0.0
                    && s.hashrate_hs > p.hashrate_hs * (1.0 + th.change_threshold) =>
            {
                "grown"
            }
            Some(p)
                if p.hashrate_hs > 0.0
                    && s.hashrate_hs < p.hashrate_hs * (1.0 - th.change_threshold) =>
            {
                "shrunk"
            }
            Some(_) => "continuing",
        }
        .into();
    }
    let present: BTreeSet<String> = now.iter().map(|s| s.site.clone()).collect();
    for p in previous.iter().filter(|p| !present.contains(&p.site)) {
        now.push(Site {
            change: "gone".into(),
            ..(*p).clone()
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(src: &str, shares: u64, watts: f64) -> Value {
        json!({
            "src_ip": src, "dest_ip": "198.51.100.1", "dest_port": 3333, "final": true,
            "mining": {
                "protocol": "stratum-v1", "algorithm": "sha256d",
                "hashrate": {"hashrate_hs": 1e18, "hashrate_hs_low": 1e17,
                             "hashrate_hs_high": 1e19, "shares": shares},
                "power": {"watts": watts, "watts_low": watts / 10.0, "watts_high": watts * 10.0}
            }
        })
    }

    #[test]
    fn power_makes_a_farm_only_when_enough_shares_stand_behind_it() {
        let th = Thresholds::default();
        let sites = build(
            &[
                event("192.0.2.1", 1, 5e7),  // one lucky block: 50 MW on paper
                event("192.0.2.2", 40, 5e7), // forty shares: a farm
                event("192.0.2.3", 40, 500.0),
            ],
            &th,
        );
        let class = |a: &str| {
            sites
                .iter()
                .find(|s| s.addresses.contains(a))
                .map(|s| (s.classification.as_str(), s.shares))
                .unwrap()
        };
        assert_eq!(class("192.0.2.1"), ("small_scale", 0));
        assert_eq!(class("192.0.2.2"), ("mining_farm", 40));
        assert_eq!(class("192.0.2.3"), ("small_scale", 40));
    }

    #[test]
    fn a_site_without_shares_has_no_estimate_rather_than_zero() {
        let mut e = event("192.0.2.9", 0, 0.0);
        e["mining"].as_object_mut().unwrap().remove("hashrate");
        e["mining"].as_object_mut().unwrap().remove("power");
        let sites = build(&[e], &Thresholds::default());
        assert_eq!(sites[0].estimated_connections, 0);
        assert!(report(&sites).contains("no shares seen"));
        let csv = to_csv(&sites);
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .contains(",0,0,0,,,,,,,small_scale,"),
            "{csv}"
        );
    }

    #[test]
    fn a_flow_on_too_little_evidence_is_listed_but_not_added_up() {
        let th = Thresholds::default();
        let mut wide = event("192.0.2.1", 50, 100.0);
        wide["mining"]["hashrate"]["hashrate_hs_high"] = json!(1e20);
        wide["src_port"] = json!(50001);
        let sites = build(
            &[
                event("192.0.2.1", 1, 5e7), // one solo block: exahashes on paper
                wide,                       // many shares, but an interval of x1000
                event("192.0.2.2", 40, 500.0),
            ],
            &th,
        );
        // The site with evidence comes first; the other has no total.
        assert_eq!(sites[0].site, "unattributed:192.0.2.2");
        assert_eq!(sites[0].hashrate_hs, 1e18);
        let weak = &sites[1];
        assert_eq!(
            (weak.hashrate_hs, weak.power_kw, weak.shares),
            (0.0, 0.0, 0)
        );
        let why: Vec<&str> = weak.left_out.iter().map(|l| l.why.as_str()).collect();
        assert_eq!(
            why,
            [
                "too few shares (1 < 10)",
                "too wide an interval (x1000 > x100)"
            ]
        );
        let r = report(&sites);
        assert!(
            r.contains("not summed: 2 connection(s) with too little evidence (below)"),
            "{r}"
        );
        assert!(r.contains("## Left out of the totals"), "{r}");
        assert!(
            r.contains("| unattributed:192.0.2.1 | 192.0.2.1:null  | 1 | 1.00 EH/s"),
            "{r}"
        );
    }
}

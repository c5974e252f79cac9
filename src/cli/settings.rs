//! What `scan` and `live` share: the flow and output flags, the TOML config file that can set
//! every one of them (flags win over the file), and turning them into a pipeline configuration,
//! rules and an event writer.

use super::scan::MinLevel;
use crate::output::writer::{BundleWriter, EventWriter};
use crate::pipeline::ScanConfig;
use crate::rules::intel::{Intel, RuleError};
use crate::rules::tables::Tables;
use crate::verdict::Level;
use clap::Args;
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// Flags for the flow table, detectors, rules and output.
#[derive(Debug, Args, Default)]
pub struct FlowArgs {
    /// Read settings from a TOML file (flags given here win over it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Write events to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub events: Option<PathBuf>,
    /// Report only flows at this level or above [default: suspect].
    #[arg(long, value_enum)]
    pub min_level: Option<MinLevel>,
    /// Flow-processing threads [default: number of CPUs].
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Most flows tracked at once [default: 200000].
    #[arg(long, value_name = "N")]
    pub max_flows: Option<usize>,
    /// Out-of-order bytes held per flow direction [default: 65536].
    #[arg(long, value_name = "BYTES")]
    pub max_flow_buffer: Option<usize>,
    /// Idle seconds after which a TCP flow ends [default: 600].
    #[arg(long, value_name = "SECS")]
    pub tcp_timeout: Option<u64>,
    /// Idle seconds after which a UDP flow ends [default: 120].
    #[arg(long, value_name = "SECS")]
    pub udp_timeout: Option<u64>,
    /// Bytes of a flow shown to the detectors before it is given up on [default: 16384].
    #[arg(long, value_name = "BYTES")]
    pub inspect_budget: Option<usize>,
    /// Folder of pool rules and estimation tables [default: ./rules when it exists].
    #[arg(long, value_name = "DIR", conflicts_with = "no_rules")]
    pub rules: Option<PathBuf>,
    /// Use no pool rules.
    #[arg(long)]
    pub no_rules: bool,
    /// Fill `subscriber` in events from this store (see `minetap subscribers import`).
    #[arg(long, value_name = "DB")]
    pub subscribers: Option<PathBuf>,
    /// Lowest event level that carries subscriber data [default: likely].
    #[arg(long, value_enum)]
    pub subscriber_min_level: Option<MinLevel>,
    /// Seconds of slack at the edges of an assignment's validity [default: 60].
    #[arg(long, value_name = "SECS")]
    pub attribution_tolerance: Option<i64>,
    /// Write an evidence bundle per mining flow into DIR (signed with --evidence-key).
    #[arg(long, value_name = "DIR", requires = "evidence_key")]
    pub evidence: Option<PathBuf>,
    /// The sensor key that signs bundles (make one with `minetap keygen`).
    #[arg(long, value_name = "FILE")]
    pub evidence_key: Option<PathBuf>,
    /// Lowest level of the flows that get a bundle [default: likely].
    #[arg(long, value_enum)]
    pub evidence_min_level: Option<MinLevel>,
    /// Frames kept per flow for its bundle [default: 1000].
    #[arg(long, value_name = "N")]
    pub evidence_packets: Option<usize>,
    /// Memory for frames held for bundles, in all flows together, MB [default: 512]; past it
    /// frames are not kept (counted, and the run says so).
    #[arg(long, value_name = "MB")]
    pub evidence_memory_mb: Option<usize>,
    /// This sensor's name in bundles and the feed [default: the host name].
    #[arg(long, value_name = "NAME")]
    pub sensor_id: Option<String>,
    /// Also push events in batches over HTTP POST to this URL (through --feed-spool).
    #[arg(long, value_name = "URL", requires = "feed_spool")]
    pub feed_url: Option<String>,
    /// The feed's on-disk spool: events wait there until the platform has taken them.
    #[arg(long, value_name = "DIR")]
    pub feed_spool: Option<PathBuf>,
    /// Events per feed batch [default: 100].
    #[arg(long, value_name = "N")]
    pub feed_batch: Option<usize>,
    /// Seconds the end of a run waits for the platform before leaving batches spooled
    /// [default: 10].
    #[arg(long, value_name = "SECS")]
    pub feed_drain_secs: Option<u64>,
    /// Start a new events file when it reaches this many kilobytes.
    #[arg(long, value_name = "KB")]
    pub events_rotate_kb: Option<u64>,
    /// Start a new events file after this many seconds.
    #[arg(long, value_name = "SECS")]
    pub events_rotate_secs: Option<u64>,
}

/// The config file: every flag of `scan` and `live`, by the flag's name with `_`.
#[derive(Debug, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub events: Option<PathBuf>,
    pub min_level: Option<String>,
    pub workers: Option<usize>,
    pub max_flows: Option<usize>,
    pub max_flow_buffer: Option<usize>,
    pub tcp_timeout: Option<u64>,
    pub udp_timeout: Option<u64>,
    pub inspect_budget: Option<usize>,
    pub rules: Option<PathBuf>,
    pub no_rules: Option<bool>,
    pub subscribers: Option<PathBuf>,
    pub subscriber_min_level: Option<String>,
    pub attribution_tolerance: Option<i64>,
    pub evidence: Option<PathBuf>,
    pub evidence_key: Option<PathBuf>,
    pub evidence_min_level: Option<String>,
    pub evidence_packets: Option<usize>,
    pub evidence_memory_mb: Option<usize>,
    pub sensor_id: Option<String>,
    pub feed_url: Option<String>,
    pub feed_spool: Option<PathBuf>,
    pub feed_batch: Option<usize>,
    pub feed_drain_secs: Option<u64>,
    pub events_rotate_kb: Option<u64>,
    pub events_rotate_secs: Option<u64>,
    // live only
    pub interfaces: Option<Vec<String>>,
    pub stats: Option<PathBuf>,
    pub stats_interval: Option<u64>,
    pub rcvbuf: Option<usize>,
    pub max_delay_ms: Option<u64>,
    pub early_events: Option<bool>,
}

impl Settings {
    pub fn load(path: &Path) -> Result<Settings, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let s: Settings = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        for (key, value) in [
            ("min_level", &s.min_level),
            ("subscriber_min_level", &s.subscriber_min_level),
            ("evidence_min_level", &s.evidence_min_level),
        ] {
            if let Some(l) = value {
                if !["suspect", "likely", "confirmed"].contains(&l.as_str()) {
                    return Err(format!(
                        "{}: {key} must be suspect, likely or confirmed, not '{l}'",
                        path.display()
                    ));
                }
            }
        }
        Ok(s)
    }
}

/// A level from its flag, else from the file (checked by `Settings::load`), else `default`.
fn level(flag: Option<MinLevel>, file: Option<&str>, default: Level) -> Level {
    match (flag, file) {
        (Some(m), _) => m.into(),
        (None, Some("suspect")) => Level::Suspect,
        (None, Some("likely")) => Level::Likely,
        (None, Some("confirmed")) => Level::Confirmed,
        _ => default,
    }
}

/// Flags and config merged.
pub struct Effective {
    pub cfg: ScanConfig,
    /// Where events go and what goes with them.
    pub output: Output,
    pub rules_dir: Option<PathBuf>,
    pub settings: Settings,
}

/// The settings of the event writer.
pub struct Output {
    pub events: Option<PathBuf>,
    pub min: Level,
    /// The subscriber index and the lowest level whose events carry subscriber data.
    pub attribution: Option<(crate::attrib::Resolver, Level)>,
    /// The bundle writer and the lowest level that gets a bundle.
    pub evidence: Option<(crate::evidence::Bundler, Level)>,
    pub feed: Option<crate::output::feed::FeedConfig>,
    /// Rotation of the events file: (bytes, seconds).
    pub rotate: (Option<u64>, Option<u64>),
}

impl Output {
    /// Opens the event writer with everything the settings ask for; `inputs` are the run's
    /// inputs in order, as bundles name them.
    pub fn writer(self, flush_each: bool, inputs: Vec<String>) -> Result<EventWriter, String> {
        let evidence = self.evidence.map(|(mut b, l)| {
            b.inputs = inputs;
            (Box::new(b) as Box<dyn BundleWriter>, l)
        });
        EventWriter::open(
            self.events.as_deref(),
            self.min,
            flush_each,
            self.attribution,
        )?
        .with_evidence(evidence)
        .with_rotation(self.rotate)
        .with_feed(self.feed)
    }
}

impl FlowArgs {
    /// Merges the flags with the config file and loads the rules.
    pub fn resolve(&self) -> Result<Effective, String> {
        let settings = match &self.config {
            Some(p) => Settings::load(p)?,
            None => Settings::default(),
        };
        let s = &settings;
        let mut cfg = ScanConfig::default();
        if let Some(w) = self.workers.or(s.workers) {
            cfg.workers = w.max(1);
        }
        if let Some(n) = self.max_flows.or(s.max_flows) {
            cfg.flow.max_flows = n.max(1);
        }
        if let Some(n) = self.max_flow_buffer.or(s.max_flow_buffer) {
            cfg.flow.max_held = n;
        }
        if let Some(t) = self.tcp_timeout.or(s.tcp_timeout) {
            cfg.flow.tcp_timeout_ns = t.saturating_mul(1_000_000_000);
        }
        if let Some(t) = self.udp_timeout.or(s.udp_timeout) {
            cfg.flow.udp_timeout_ns = t.saturating_mul(1_000_000_000);
        }
        if let Some(b) = self.inspect_budget.or(s.inspect_budget) {
            cfg.flow.inspect_budget = b;
        }
        let min = level(self.min_level, s.min_level.as_deref(), Level::Suspect);
        // A flag wins over the file: --no-rules, then --rules, then the file's settings.
        let rules_dir = if self.no_rules {
            None
        } else if let Some(d) = &self.rules {
            Some(d.clone())
        } else if s.no_rules == Some(true) {
            None
        } else if let Some(d) = &s.rules {
            Some(d.clone())
        } else {
            Path::new("rules").is_dir().then(|| PathBuf::from("rules"))
        };
        let (intel, tables) = load_rules(rules_dir.as_deref()).map_err(|e| e.to_string())?;
        cfg.intel = std::sync::Arc::new(intel);
        cfg.tables = std::sync::Arc::new(tables);
        let attribution = match self.subscribers.clone().or(s.subscribers.clone()) {
            Some(db) => {
                let tol = self
                    .attribution_tolerance
                    .or(s.attribution_tolerance)
                    .unwrap_or(60);
                let r = crate::attrib::Resolver::load(&db, tol)?;
                let lvl = level(
                    self.subscriber_min_level,
                    s.subscriber_min_level.as_deref(),
                    Level::Likely,
                );
                Some((r, lvl))
            }
            None => None,
        };
        let sensor = self
            .sensor_id
            .clone()
            .or(s.sensor_id.clone())
            .unwrap_or_else(|| {
                std::fs::read_to_string("/etc/hostname")
                    .map(|h| h.trim().to_string())
                    .unwrap_or_else(|_| "sensor".into())
            });
        let evidence = match self.evidence.clone().or(s.evidence.clone()) {
            Some(dir) => {
                let key_path =
                    self.evidence_key.clone().or(s.evidence_key.clone()).ok_or(
                        "--evidence needs --evidence-key (make one with `minetap keygen`)",
                    )?;
                let key = crate::evidence::load_key(&key_path)?;
                std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                let lvl = level(
                    self.evidence_min_level,
                    s.evidence_min_level.as_deref(),
                    Level::Likely,
                );
                cfg.flow.evidence_packets = self
                    .evidence_packets
                    .or(s.evidence_packets)
                    .unwrap_or(1000)
                    .max(1);
                cfg.flow.evidence_total_bytes = self
                    .evidence_memory_mb
                    .or(s.evidence_memory_mb)
                    .unwrap_or(512)
                    << 20;
                cfg.detect.transcript = 256;
                Some((
                    crate::evidence::Bundler {
                        dir,
                        key,
                        sensor: sensor.clone(),
                        rules_digest: cfg.intel.digest_hex(),
                        inputs: Vec::new(),
                    },
                    lvl,
                ))
            }
            None => None,
        };
        let feed = match (
            self.feed_url.clone().or(s.feed_url.clone()),
            self.feed_spool.clone().or(s.feed_spool.clone()),
        ) {
            (Some(url), Some(spool)) => Some(crate::output::feed::FeedConfig {
                url: crate::output::feed::check_url(&url).map(|()| url)?,
                spool,
                sensor,
                batch: self.feed_batch.or(s.feed_batch).unwrap_or(100).max(1),
                linger: std::time::Duration::from_secs(1),
                drain: std::time::Duration::from_secs(
                    self.feed_drain_secs.or(s.feed_drain_secs).unwrap_or(10),
                ),
            }),
            (Some(_), None) => return Err("--feed-url needs --feed-spool".into()),
            (None, Some(_)) => return Err("--feed-spool needs --feed-url".into()),
            _ => None,
        };
        Ok(Effective {
            cfg,
            output: Output {
                events: self.events.clone().or(s.events.clone()),
                min,
                attribution,
                evidence,
                feed,
                rotate: (
                    self.events_rotate_kb
                        .or(s.events_rotate_kb)
                        .map(|k| k << 10),
                    self.events_rotate_secs.or(s.events_rotate_secs),
                ),
            },
            rules_dir,
            settings,
        })
    }
}

/// The pool rules and estimation tables of a folder (none without one).
pub fn load_rules(dir: Option<&Path>) -> Result<(Intel, Tables), RuleError> {
    match dir {
        Some(d) => Ok((Intel::load_dir(d)?, Tables::load_dir(d)?)),
        None => Ok(Default::default()),
    }
}

/// `minetap config check FILE`: parses the file, loads the rules it names, prints the settings.
pub fn check(file: &Path) -> i32 {
    let args = FlowArgs {
        config: Some(file.to_path_buf()),
        ..FlowArgs::default()
    };
    match args.resolve() {
        Ok(eff) => {
            let s = &eff.settings;
            let c = eff.cfg.intel.counts();
            println!("{}: ok", file.display());
            println!(
                "  interfaces: {}",
                s.interfaces
                    .as_deref()
                    .map_or("(none)".into(), |i| i.join(", "))
            );
            println!(
                "  events: {}",
                eff.output
                    .events
                    .as_deref()
                    .map_or("stdout".into(), |p| p.display().to_string())
            );
            println!("  min_level: {:?}", eff.output.min);
            println!(
                "  workers: {}  max_flows: {}  max_flow_buffer: {}",
                eff.cfg.workers, eff.cfg.flow.max_flows, eff.cfg.flow.max_held
            );
            println!(
                "  tcp_timeout: {} s  udp_timeout: {} s  inspect_budget: {}",
                eff.cfg.flow.tcp_timeout_ns / 1_000_000_000,
                eff.cfg.flow.udp_timeout_ns / 1_000_000_000,
                eff.cfg.flow.inspect_budget
            );
            println!(
                "  rules: {} ({} domains, {} address ranges, {} ports)",
                eff.rules_dir
                    .as_deref()
                    .map_or("none".into(), |p| p.display().to_string()),
                c.domains,
                c.ranges,
                c.ports
            );
            0
        }
        Err(e) => {
            eprintln!("minetap: error: {e}");
            1
        }
    }
}

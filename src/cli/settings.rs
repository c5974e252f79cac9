//! What `scan` and `live` share: one [`Settings`] type that is both the flags (clap) and the
//! keys of the TOML config file (serde), merged flag over file, and turned into a pipeline
//! configuration, rules and an event writer. Defaults live in the stages' own `Default`s
//! (`FlowConfig`, `LiveOptions`) and, for the rest, in [`defaults`].

use super::error::CliError;
use crate::output::writer::{BundleWriter, EventWriter, Existing};
use crate::pipeline::ScanConfig;
use crate::rules::Choice;
use crate::verdict::Level;
use clap::Args;
use std::path::{Path, PathBuf};

use super::defaults;

/// Declares the settings structs: every field an `Option`, so that "not given" differs from
/// any value; each struct is clap `Args` (the flags), and [`ConfigFile`] holds every field of
/// both for serde (the file's keys are the flags' names with `_`, unknown keys are errors).
macro_rules! settings {
    ($(
        $(#[$sm:meta])* $name:ident { $( $(#[$m:meta])* $field:ident : $ty:ty, )* }
    )*) => {
        $(
            $(#[$sm])*
            #[derive(Debug, Default, Clone, PartialEq, Args)]
            pub struct $name { $( $(#[$m])* pub $field: Option<$ty>, )* }

            impl $name {
                /// Each setting from `self`, else from `other`.
                pub fn or(self, other: Self) -> Self {
                    $name { $( $field: self.$field.or(other.$field), )* }
                }
            }
        )*

        /// A config file: every setting of `scan` and `live`, by the flag's name with `_`.
        #[derive(Debug, Default, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct ConfigFile { $( $( $field: Option<$ty>, )* )* }

        impl ConfigFile {
            /// The file's settings, apart as the commands take them.
            fn split(self) -> ($($name,)*) {
                ($( $name { $( $field: self.$field, )* }, )*)
            }
        }
    };
}

settings! {
    /// Flags for the flow table, detectors, rules and output (`scan` and `live`).
    Settings {
        /// Write events to FILE instead of stdout (a file that holds events already is refused
        /// unless --append or --force).
        #[arg(long, value_name = "FILE")]
        events: PathBuf,
        /// Add events to the end of an existing events file.
        #[arg(long, num_args = 0, default_missing_value = "true", conflicts_with = "force")]
        append: bool,
        /// Replace an existing events file.
        #[arg(long, num_args = 0, default_missing_value = "true")]
        force: bool,
        /// Report only flows at this level or above [default: suspect].
        #[arg(long, value_enum)]
        min_level: Level,
        /// Flow-processing threads [default: number of CPUs].
        #[arg(long, value_name = "N")]
        workers: usize,
        /// Threads that decode capture files and streams, each taking pieces of them in turn
        /// (`scan`; `live` reads each interface on a thread of its own) [default: number of
        /// CPUs].
        #[arg(long, value_name = "N")]
        readers: usize,
        /// Most flows tracked at once [default: 200000].
        #[arg(long, value_name = "N")]
        max_flows: usize,
        /// Out-of-order bytes held per flow direction [default: 65536].
        #[arg(long, value_name = "BYTES")]
        max_flow_buffer: usize,
        /// Idle seconds after which a TCP flow ends [default: 600].
        #[arg(long, value_name = "SECS")]
        tcp_timeout: u64,
        /// Idle seconds after which a UDP flow ends [default: 120].
        #[arg(long, value_name = "SECS")]
        udp_timeout: u64,
        /// Bytes of a flow shown to the detectors before it is given up on [default: 16384].
        #[arg(long, value_name = "BYTES")]
        inspect_budget: usize,
        /// A folder of pool rules and estimation tables read on top of the built-in ones (its
        /// lines win over theirs).
        #[arg(long, value_name = "DIR", conflicts_with = "no_rules")]
        rules: PathBuf,
        /// Look only at packets this passes, in tcpdump's words (a subset, applied by minetap
        /// itself, no libpcap): tcp, udp, ip, ip6, [src|dst] host ADDR, net ADDR/LEN, port N,
        /// portrange A-B, and, or, not, parentheses. E.g. 'tcp port 3333 or host 198.51.100.20'.
        #[arg(long, value_name = "EXPR")]
        filter: String,
        /// Use no rules at all, built-in or other.
        #[arg(long, num_args = 0, default_missing_value = "true")]
        no_rules: bool,
        /// Leave the built-in rules out (only `--rules DIR` is in force).
        #[arg(long, num_args = 0, default_missing_value = "true")]
        no_builtin_rules: bool,
        /// Fill `subscriber` in events from this store (see `minetap subscribers import`).
        #[arg(long, value_name = "DB")]
        subscribers: PathBuf,
        /// Lowest event level that carries subscriber data [default: likely].
        #[arg(long, value_enum)]
        subscriber_min_level: Level,
        /// Seconds of slack at the edges of an assignment's validity [default: 60].
        #[arg(long, value_name = "SECS")]
        attribution_tolerance: i64,
        /// Write an evidence bundle per mining flow into DIR (signed with --evidence-key).
        #[arg(long, value_name = "DIR", requires = "evidence_key")]
        evidence: PathBuf,
        /// The sensor key that signs bundles (make one with `minetap keygen`).
        #[arg(long, value_name = "FILE")]
        evidence_key: PathBuf,
        /// Sign with a secret key that others may read (refused otherwise, as ssh does).
        #[arg(long, num_args = 0, default_missing_value = "true")]
        insecure_key_permissions: bool,
        /// Lowest level of the flows that get a bundle [default: likely].
        #[arg(long, value_enum)]
        evidence_min_level: Level,
        /// Frames kept per flow for its bundle [default: 1000].
        #[arg(long, value_name = "N")]
        evidence_packets: usize,
        /// Memory for frames held for bundles, in all flows together, MB [default: 512]; past
        /// it frames are not kept (counted, and the run says so).
        #[arg(long, value_name = "MB")]
        evidence_memory_mb: usize,
        /// This sensor's name in bundles and the feed [default: the host name].
        #[arg(long, value_name = "NAME")]
        sensor_id: String,
        /// Also push events in batches over HTTP POST to this URL (through --feed-spool).
        #[arg(long, value_name = "URL", requires = "feed_spool")]
        feed_url: String,
        /// The feed's on-disk spool: events wait there until the platform has taken them.
        #[arg(long, value_name = "DIR")]
        feed_spool: PathBuf,
        /// A file holding the platform's bearer token (NATS: a token, an NKey seed or a
        /// credentials file); never on the command line.
        #[arg(long, value_name = "FILE")]
        feed_token_file: PathBuf,
        /// The platform's CA certificate(s), PEM [default: the bundled Mozilla roots].
        #[arg(long, value_name = "FILE")]
        feed_ca: PathBuf,
        /// Client certificate (PEM) for mutual TLS, with --feed-client-key.
        #[arg(long, value_name = "FILE")]
        feed_client_cert: PathBuf,
        /// The client certificate's private key (PEM).
        #[arg(long, value_name = "FILE")]
        feed_client_key: PathBuf,
        /// NATS feeds: the subjects' prefix, one or more dot-separated tokens [default: minetap].
        #[arg(long, value_name = "PREFIX")]
        feed_subject_prefix: String,
        /// NATS feeds: the stream that must take the events (others holding the subjects refuse).
        #[arg(long, value_name = "NAME")]
        feed_stream: String,
        /// Events per feed batch [default: 100].
        #[arg(long, value_name = "N")]
        feed_batch: usize,
        /// Seconds a run's end waits for the platform, then leaves batches spooled [default: 10].
        #[arg(long, value_name = "SECS")]
        feed_drain_secs: u64,
        /// Profile the sites of these local networks (`site_profile` events; repeat or use commas).
        #[arg(long, value_name = "CIDR", value_delimiter = ',')]
        profile_local: Vec<String>,
        /// Seconds per site profile [default: 3600].
        #[arg(long, value_name = "SECS")]
        profile_interval: u64,
        /// A site's prefix length, IPv4[,IPv6] [default: 32,64: each address, each /64].
        #[arg(long, value_name = "V4[,V6]")]
        profile_prefix: String,
        /// Sites profiled per interval; further ones are summed as `other` [default: 100000].
        #[arg(long, value_name = "N")]
        profile_max_sites: usize,
        /// Start a new events file when it reaches this many kilobytes.
        #[arg(long, value_name = "KB")]
        events_rotate_kb: u64,
        /// Start a new events file after this many seconds.
        #[arg(long, value_name = "SECS")]
        events_rotate_secs: u64,
    }

    /// Flags of `live` only.
    LiveSettings {
        /// Interface to capture from (repeat for more).
        #[arg(short = 'i', long = "interface", value_name = "IFACE")]
        interfaces: Vec<String>,
        /// Write statistics to FILE instead of stderr.
        #[arg(long, value_name = "FILE")]
        stats: PathBuf,
        /// Seconds between statistics lines [default: 60].
        #[arg(long, value_name = "SECS")]
        stats_interval: u64,
        /// Capture ring per socket, bytes (in 1 MiB blocks) [default: 67108864].
        #[arg(long, value_name = "BYTES")]
        rcvbuf: usize,
        /// Capture threads per interface, each with its own socket; the kernel hands each
        /// flow's packets to one of them (fan-out by flow hash) [default: 1].
        #[arg(long, value_name = "N")]
        threads: usize,
        /// Longest a captured packet waits before processing, milliseconds [default: 50].
        #[arg(long, value_name = "MS")]
        max_delay_ms: u64,
        /// Capture through libpcap with this BPF filter (needs a build with `--features libpcap`).
        #[arg(long, value_name = "EXPR")]
        bpf: String,
        /// Write mining flows only when they end (no early `final: false` events); the file's
        /// `early_events = false`.
        #[arg(long = "no-early-events", num_args = 0, default_missing_value = "false")]
        early_events: bool,
        /// Ask endpoints that reach `suspect` or `likely` whether they answer as a pool (active:
        /// it sends traffic; only inside --probe-allow). A pool's answer makes later verdicts
        /// on it `confirmed`, source `probe`.
        #[arg(long, num_args = 0, default_missing_value = "true")]
        probe: bool,
        /// Ranges probes may go to (repeat, or separate with commas); required with --probe.
        #[arg(long, value_name = "CIDR", value_delimiter = ',')]
        probe_allow: Vec<String>,
        /// Send probes from this address.
        #[arg(long, value_name = "ADDR")]
        probe_source: std::net::IpAddr,
        /// Most probes started per second [default: 2].
        #[arg(long, value_name = "N")]
        probe_rate: f64,
        /// Append each probe's report (with its transcript) as a JSON line to FILE.
        #[arg(long, value_name = "FILE")]
        probe_log: PathBuf,
        /// Serve Prometheus metrics on [ADDR:]PORT (localhost unless ADDR is given).
        #[arg(long, value_name = "[ADDR:]PORT")]
        metrics_listen: String,
    }

    /// How `subscribers import` reads operators' files.
    ImportSettings {
        /// Registry columns the built-in English and Chinese names do not cover, as
        /// FIELD=HEADER,... (fields: id, name, registration_number, address, contact,
        /// account_type, region, circuit, username, mac, duid).
        #[arg(long, value_name = "FIELD=HEADER,...")]
        registry_columns: String,
        /// The files' encoding: auto (UTF-8, or GBK/GB18030 when the file is), utf-8, gbk,
        /// gb18030 [default: auto].
        #[arg(long, value_name = "ENCODING")]
        encoding: String,
        /// CSV field separator [default: the one of `,` `;` tab `|` the header line has most of].
        #[arg(long, value_name = "CHAR")]
        delimiter: char,
        /// Column names (comma-separated) for CSV files whose first line is data, not a header
        /// (FreeRADIUS linelog writes none).
        #[arg(long, value_name = "NAMES")]
        header: String,
        /// Zone of times written without one: UTC, +08:00, UTC+8, Asia/Shanghai [default: UTC].
        #[arg(long, value_name = "ZONE")]
        timezone: String,
        /// Year of syslog times written without one [default: the year of the file's date].
        #[arg(long, value_name = "YEAR")]
        year: i16,
    }
}

/// The config file flag, and the settings flags beside it.
#[derive(Debug, Args, Default)]
pub struct SettingsArgs {
    /// Read settings from a TOML file (flags given here win over it).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub settings: Settings,
}

/// Reads a config file: its settings for every command, and those of `live`.
pub(super) fn load_file(path: &Path) -> Result<(Settings, LiveSettings, ImportSettings), CliError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| CliError::Usage(format!("{}: {e}", path.display())))?;
    let file: ConfigFile =
        toml::from_str(&text).map_err(|e| CliError::Usage(toml_error(path, &text, &e)))?;
    let (mut s, mut live, import) = file.split();
    // Paths in a config file are relative to the file, wherever minetap is started.
    let base = path.parent().unwrap_or(Path::new("."));
    for p in [
        &mut s.events,
        &mut s.rules,
        &mut s.subscribers,
        &mut s.evidence,
        &mut s.evidence_key,
        &mut s.feed_spool,
        &mut live.stats,
    ] {
        if let Some(rel) = p.as_ref().filter(|p| p.is_relative()) {
            *p = Some(base.join(rel));
        }
    }
    Ok((s, live, import))
}

/// A TOML error as one line: `FILE:LINE:COLUMN: what`.
fn toml_error(path: &Path, text: &str, e: &toml::de::Error) -> String {
    let at = e.span().map_or(String::new(), |r| {
        let before = text.get(..r.start).unwrap_or(text);
        let line = before.matches('\n').count() + 1;
        let col = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!(":{line}:{col}")
    });
    format!("{}{at}: {}", path.display(), e.message().trim())
}

/// Flags and config merged, ready for a run.
pub struct Effective {
    pub cfg: ScanConfig,
    /// Where events go and what goes with them.
    pub output: Output,
    /// Which rules are in force (and are read again on a reload).
    pub rules: Choice,
    /// What the rules in force are, in words.
    pub rules_in_force: String,
    /// The `live` settings the config file gave (flags are merged over them by `live`).
    pub file_live: LiveSettings,
    /// The site traffic profiles, when asked for (`--profile-local`).
    pub profile: Option<crate::output::profile::ProfileConfig>,
}

/// The settings of the event writer.
pub struct Output {
    pub events: Option<PathBuf>,
    /// What to do when the events file already holds events.
    pub existing: Existing,
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
    pub fn writer(self, flush_each: bool, inputs: Vec<String>) -> Result<EventWriter, CliError> {
        let evidence = self.evidence.map(|(mut b, l)| {
            b.inputs = inputs;
            (Box::new(b) as Box<dyn BundleWriter>, l)
        });
        EventWriter::open(
            (self.events.as_deref(), self.existing),
            self.min,
            flush_each,
            self.attribution,
        )
        .map_err(CliError::Output)?
        .with_evidence(evidence)
        .with_rotation(self.rotate)
        .with_feed(self.feed)
        .map_err(CliError::Usage)
    }
}

impl SettingsArgs {
    /// Merges the flags over the config file and loads the rules, the store and the key they
    /// name.
    pub fn resolve(&self) -> Result<Effective, CliError> {
        let (file, file_live, _) = match &self.config {
            Some(p) => load_file(p)?,
            None => Default::default(),
        };
        let mut file = file;
        if self.settings.rules.is_some() {
            // `--rules DIR` wins over the file's `no_rules`, as every flag wins over the file.
            file.no_rules = None;
        }
        let s = self.settings.clone().or(file);
        let mut cfg = s.scan_config()?;
        let rules = s.rules_choice();
        let loaded = crate::rules::load(&rules).map_err(|e| CliError::Usage(e.to_string()))?;
        let rules_in_force = loaded.describe();
        cfg.intel = std::sync::Arc::new(loaded.intel);
        cfg.tables = std::sync::Arc::new(loaded.tables);
        let attribution = s.attribution()?;
        let sensor = s.sensor();
        let evidence = s.evidence(&mut cfg, &sensor)?;
        let feed = s.feed(sensor)?;
        let local = s.profile_local.as_deref().unwrap_or_default();
        let (interval, prefix) = (s.profile_interval, s.profile_prefix.as_deref());
        let profile = super::profile::config((local, interval, prefix, s.profile_max_sites))?;
        cfg.flow.summaries = profile.is_some();
        Ok(Effective {
            profile,
            cfg,
            output: Output {
                existing: match (s.append, s.force) {
                    (Some(true), _) => Existing::Append,
                    (_, Some(true)) => Existing::Replace,
                    _ => Existing::Refuse,
                },
                events: s.events,
                min: s.min_level.unwrap_or(defaults::MIN_LEVEL),
                attribution,
                evidence,
                feed,
                rotate: (s.events_rotate_kb.map(|k| k << 10), s.events_rotate_secs),
            },
            rules,
            rules_in_force,
            file_live,
        })
    }
}

impl Settings {
    /// The pipeline's configuration: the stages' defaults with what was set; a setting out of
    /// its range is refused with the range, never clamped silently.
    fn scan_config(&self) -> Result<ScanConfig, CliError> {
        fn within<T: PartialOrd + Copy + std::fmt::Display>(
            name: &str,
            v: Option<T>,
            (lo, hi): (T, T),
        ) -> Result<Option<T>, CliError> {
            match v {
                Some(x) if x < lo || x > hi => Err(CliError::Usage(format!(
                    "--{} must be from {lo} to {hi}, not {x}",
                    name.replace('_', "-")
                ))),
                v => Ok(v),
            }
        }
        let mut cfg = ScanConfig::default();
        let f = &mut cfg.flow;
        cfg.workers = within("workers", self.workers, (1, 1024))?.unwrap_or(cfg.workers);
        cfg.readers = within("readers", self.readers, (1, 1024))?.unwrap_or(cfg.readers);
        f.max_flows = within("max_flows", self.max_flows, (1, 1 << 30))?.unwrap_or(f.max_flows);
        f.max_held =
            within("max_flow_buffer", self.max_flow_buffer, (0, 1 << 30))?.unwrap_or(f.max_held);
        let secs = |n: &str, v, d: u64| -> Result<u64, CliError> {
            Ok(within(n, v, (1, 30 * 86_400))?.map_or(d, |s| s * 1_000_000_000))
        };
        f.tcp_timeout_ns = secs("tcp_timeout", self.tcp_timeout, f.tcp_timeout_ns)?;
        f.udp_timeout_ns = secs("udp_timeout", self.udp_timeout, f.udp_timeout_ns)?;
        f.inspect_budget = within("inspect_budget", self.inspect_budget, (0, 1 << 30))?
            .unwrap_or(f.inspect_budget);
        if let Some(expr) = &self.filter {
            let parsed = crate::decode::filter::Filter::parse(expr)
                .map_err(|e| CliError::Usage(format!("--filter '{expr}': {e}")))?;
            cfg.filter = Some(std::sync::Arc::new(parsed));
        }
        Ok(cfg)
    }

    /// The built-in rules unless `no_rules` or `no_builtin_rules`, and the `rules` folder on
    /// top unless `no_rules` (flags were merged over the file's settings already).
    fn rules_choice(&self) -> Choice {
        let none = self.no_rules == Some(true);
        Choice {
            builtin: !none && self.no_builtin_rules != Some(true),
            extra: self.rules.clone().filter(|_| !none),
        }
    }

    fn attribution(&self) -> Result<Option<(crate::attrib::Resolver, Level)>, CliError> {
        let Some(db) = &self.subscribers else {
            return Ok(None);
        };
        let tol = self
            .attribution_tolerance
            .unwrap_or(defaults::ATTRIBUTION_TOLERANCE_S);
        let r = crate::attrib::Resolver::load(db, tol).map_err(CliError::Usage)?;
        if r.is_empty() {
            eprintln!(
                "minetap: warning: {}: the subscriber store holds no assignments; every miner will be 'unknown'",
                db.display()
            );
        }
        let lvl = self
            .subscriber_min_level
            .unwrap_or(defaults::SUBSCRIBER_MIN_LEVEL);
        Ok(Some((r, lvl)))
    }

    /// The sensor's name: set, else the host name.
    fn sensor(&self) -> String {
        self.sensor_id.clone().unwrap_or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "sensor".into())
        })
    }

    /// The bundle writer, when bundles are asked for; sets the flow table to keep frames.
    fn evidence(
        &self,
        cfg: &mut ScanConfig,
        sensor: &str,
    ) -> Result<Option<(crate::evidence::Bundler, Level)>, CliError> {
        let Some(dir) = self.evidence.clone() else {
            return Ok(None);
        };
        let key_path = self.evidence_key.as_ref().ok_or_else(|| {
            CliError::Usage(
                "--evidence needs --evidence-key (make one with `minetap keygen`)".into(),
            )
        })?;
        let insecure = self.insecure_key_permissions == Some(true);
        let key = crate::evidence::load_key(key_path, insecure).map_err(CliError::Usage)?;
        std::fs::create_dir_all(&dir)
            .map_err(|e| CliError::Output(format!("{}: {e}", dir.display())))?;
        let lvl = self
            .evidence_min_level
            .unwrap_or(defaults::EVIDENCE_MIN_LEVEL);
        cfg.flow.evidence_packets = self
            .evidence_packets
            .unwrap_or(defaults::EVIDENCE_PACKETS)
            .max(1);
        cfg.flow.evidence_total_bytes = self
            .evidence_memory_mb
            .unwrap_or(defaults::EVIDENCE_MEMORY_MB)
            << 20;
        cfg.detect.transcript = defaults::TRANSCRIPT;
        let bundler = crate::evidence::Bundler {
            dir,
            key,
            sensor: sensor.to_string(),
            rules_digest: cfg.intel.digest_hex(),
            inputs: Vec::new(),
        };
        Ok(Some((bundler, lvl)))
    }
}

/// `minetap config check FILE`: parses the file, loads the rules it names, prints the settings.
pub fn check(file: &Path) -> i32 {
    let args = SettingsArgs {
        config: Some(file.to_path_buf()),
        ..SettingsArgs::default()
    };
    match args.resolve() {
        Ok(eff) => {
            let s = &eff.file_live;
            let c = eff.cfg.intel.counts();
            out!("{}: ok", file.display());
            out!(
                "  interfaces: {}",
                s.interfaces
                    .as_deref()
                    .map_or("(none)".into(), |i| i.join(", "))
            );
            out!(
                "  events: {}",
                eff.output
                    .events
                    .as_deref()
                    .map_or("stdout".into(), |p| p.display().to_string())
            );
            out!("  min_level: {:?}", eff.output.min);
            out!(
                "  workers: {}  readers: {}  max_flows: {}  max_flow_buffer: {}",
                eff.cfg.workers,
                eff.cfg.readers,
                eff.cfg.flow.max_flows,
                eff.cfg.flow.max_held
            );
            out!(
                "  tcp_timeout: {} s  udp_timeout: {} s  inspect_budget: {}",
                eff.cfg.flow.tcp_timeout_ns / 1_000_000_000,
                eff.cfg.flow.udp_timeout_ns / 1_000_000_000,
                eff.cfg.flow.inspect_budget
            );
            out!(
                "  rules: {} ({} domains, {} address ranges, {} ports)",
                eff.rules_in_force,
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

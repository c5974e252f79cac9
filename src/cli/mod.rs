//! Stage 8, **cli**: command-line arguments in; a run of the pipeline, events on stdout or in a
//! file, a summary and clear error lines on stderr, and the exit status out.

/// Writes a line to stdout; a closed pipe (`minetap rules check | head -1`) ends the command
/// quietly, as Unix tools do, instead of a panic.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::cli::write_line(format_args!($($t)*))
    };
}

mod defaults;
mod error;
mod inventory;
mod learn;
#[cfg(target_os = "linux")]
mod live;
mod metrics;
mod platform;
mod probe;
mod profile;
#[cfg(target_os = "linux")]
mod replay;
mod scan;
mod settings;
mod subscribers;
mod summary;

use clap::{Parser, Subcommand};
use error::CliError;

#[derive(Debug, Parser)]
#[command(
    name = "minetap",
    version,
    about = "Finds cryptocurrency-mining connections in network traffic"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Scan capture files, directories of captures, or a pcap stream on stdin (`-`).
    Scan(scan::ScanArgs),
    /// Capture from network interfaces and report mining as it is seen, until stopped.
    #[cfg(target_os = "linux")]
    Live(live::LiveArgs),
    /// Send the frames of Ethernet captures out of an interface (for tests and acceptance runs
    /// on an interface you choose; nothing else is sent).
    #[cfg(target_os = "linux")]
    Replay(replay::ReplayArgs),
    /// Make the sensor key that signs evidence bundles (the public key goes to FILE.pub).
    Keygen {
        /// Where the private key goes (created readable by its owner only; never overwritten).
        #[arg(value_name = "FILE")]
        key: std::path::PathBuf,
    },
    /// Check or pack evidence bundles.
    #[command(subcommand)]
    Evidence(EvidenceCommand),
    /// Send the batches a feed spool still holds to the data platform.
    #[command(subcommand)]
    Feed(FeedCommand),
    /// Build the list of mining sites (CSV, JSON, a report) from the events of one or more runs.
    Inventory(inventory::InventoryArgs),
    /// The data platform's side: take every sensor's events from NATS JetStream into a store.
    #[command(subcommand)]
    Platform(PlatformCommand),
    /// Build the subscriber store and look addresses up.
    #[command(subcommand)]
    Subscribers(subscribers::SubscribersCommand),
    /// Check a configuration file and show the settings it makes.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Work with the pool rules.
    #[command(subcommand)]
    Rules(RulesCommand),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff) on stdout: `minetap man > minetap.1`.
    Man,
    /// Ask endpoints (only inside --allow ranges) whether they answer like a mining pool: in the
    /// clear and over TLS, with each mining dialect's opening. Active: it sends traffic.
    Probe(probe::ProbeArgs),
}

#[derive(Debug, Subcommand)]
enum EvidenceCommand {
    /// Check every file's hash and the manifest's signature; say exactly what differs.
    Verify {
        /// Bundle folders or packed `.tar.zst` files.
        #[arg(required = true, value_name = "BUNDLE")]
        bundles: Vec<std::path::PathBuf>,
        /// The sensor's public key (FILE.pub from keygen); without it, the key the manifest
        /// names is used and the output says so.
        #[arg(long, value_name = "FILE")]
        pubkey: Option<std::path::PathBuf>,
    },
    /// Pack a bundle folder into one `.tar.zst` file.
    Pack {
        /// The bundle folder.
        #[arg(value_name = "BUNDLE")]
        bundle: std::path::PathBuf,
        /// The packed file to write (`.tar.zst`).
        #[arg(short, long, value_name = "FILE")]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PlatformCommand {
    /// Store every sensor's events from the stream (a durable consumer; acknowledged once
    /// committed; idempotent on sensor and message id; bad messages kept as dead letters).
    Ingest(Box<platform::IngestArgs>),
    /// Bring the store's schema up to date (PostgreSQL: run as the database's owner; the
    /// ingest's role then needs only INSERT and SELECT).
    Migrate(platform::MigrateArgs),
}

#[derive(Debug, Subcommand)]
enum FeedCommand {
    /// Post every spooled batch, oldest first; what the platform does not take stays spooled.
    Send {
        /// The spool folder given to `--feed-spool`.
        #[arg(long, value_name = "DIR", required = true)]
        spool: std::path::PathBuf,
        /// The data platform's URL.
        #[arg(long, value_name = "URL", required = true)]
        url: String,
        /// Seconds to keep retrying.
        #[arg(long, value_name = "SECS", default_value_t = 30)]
        drain_secs: u64,
        /// The sensor id sent with the batches [default: the one the spool was written by].
        #[arg(long, value_name = "NAME")]
        sensor_id: Option<String>,
        /// NATS: the subjects' prefix.
        #[arg(long, value_name = "PREFIX", default_value = defaults::FEED_SUBJECT_PREFIX)]
        subject_prefix: String,
        /// NATS: the stream that must take the events.
        #[arg(long, value_name = "NAME")]
        stream: Option<String>,
        /// A file holding the platform's bearer token.
        #[arg(long, value_name = "FILE")]
        feed_token_file: Option<std::path::PathBuf>,
        /// The platform's CA certificate(s), PEM [default: the bundled Mozilla roots].
        #[arg(long, value_name = "FILE")]
        feed_ca: Option<std::path::PathBuf>,
        /// Client certificate (PEM) for mutual TLS, with --feed-client-key.
        #[arg(long, value_name = "FILE")]
        feed_client_cert: Option<std::path::PathBuf>,
        /// The client certificate's private key (PEM).
        #[arg(long, value_name = "FILE")]
        feed_client_key: Option<std::path::PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Parse and validate a TOML configuration file (and the rules it names).
    Check {
        #[arg(value_name = "FILE")]
        file: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum RulesCommand {
    /// Load and validate the rules in force — the built-in ones and a folder on top — and say
    /// what they hold.
    Check {
        /// An operator's folder read on top of the built-in rules.
        #[arg(value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
        /// Leave the built-in rules out (check the folder alone).
        #[arg(long, requires = "dir")]
        no_builtin_rules: bool,
    },
    /// Write, as pool rules lines on stdout, the endpoints that events (and probe reports)
    /// confirmed: `minetap rules learn events.jsonl > learned.rules`.
    Learn {
        /// Event files, and probe reports (`minetap probe` output, live's --probe-log).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<std::path::PathBuf>,
    },
}

/// The command line, with `--version` saying which built-in rules it carries.
fn command() -> clap::Command {
    use clap::CommandFactory;
    let rules = crate::rules::load(&crate::rules::Choice {
        builtin: true,
        extra: None,
    })
    .map(|l| l.intel.digest_hex()[..12].to_string())
    .unwrap_or_else(|e| format!("unreadable: {e}"));
    let long = format!(
        "{}\nbuilt-in rules: {} files, digest {rules}",
        env!("CARGO_PKG_VERSION"),
        crate::rules::BUILTIN.len()
    );
    // Once per run, at start: the text lives as long as the command line.
    Cli::command().long_version(&*Box::leak(long.into_boxed_str()))
}

/// Runs the command line; returns the process exit status.
pub fn main() -> i32 {
    use clap::{CommandFactory, FromArgMatches};
    let matches = command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(c) => c,
        Err(e) => e.exit(),
    };
    let done = match cli.command {
        Command::Scan(a) => return scan::run(a),
        #[cfg(target_os = "linux")]
        Command::Live(a) => return live::run(a),
        #[cfg(target_os = "linux")]
        Command::Replay(a) => return replay::run(a),
        Command::Config(ConfigCommand::Check { file }) => return settings::check(&file),
        Command::Subscribers(c) => return subscribers::run(c),
        Command::Inventory(a) => return inventory::run(a),
        Command::Platform(PlatformCommand::Ingest(a)) => platform::run(*a),
        Command::Platform(PlatformCommand::Migrate(a)) => return platform::migrate(a),
        Command::Probe(a) => return probe::run(a),
        Command::Completions { shell } => {
            let mut c = Cli::command();
            clap_complete::generate(shell, &mut c, "minetap", &mut std::io::stdout());
            return 0;
        }
        Command::Man => {
            let mut buf = Vec::new();
            if let Err(e) = clap_mangen::Man::new(command()).render(&mut buf) {
                eprintln!("minetap: error: {e}");
                return 2;
            }
            out!("{}", String::from_utf8_lossy(&buf).trim_end());
            return 0;
        }
        Command::Feed(FeedCommand::Send {
            spool,
            url,
            drain_secs,
            sensor_id,
            subject_prefix,
            stream,
            feed_token_file,
            feed_ca,
            feed_client_cert,
            feed_client_key,
        }) => feed_auth(
            &url,
            [
                feed_token_file.as_deref(),
                feed_ca.as_deref(),
                feed_client_cert.as_deref(),
                feed_client_key.as_deref(),
            ],
        )
        .and_then(|auth| {
            feed_send(
                spool,
                url,
                drain_secs,
                sensor_id,
                (subject_prefix, stream),
                auth,
            )
        }),
        Command::Keygen { key } => crate::evidence::keygen(&key)
            .map(|public| {
                out!(
                    "{}: sensor key written (owner-only); public key {public} in {}.pub",
                    key.display(),
                    key.display()
                );
                0
            })
            .map_err(CliError::Input),
        Command::Evidence(EvidenceCommand::Pack { bundle, out }) => {
            crate::evidence::pack(&bundle, &out)
                .map(|()| 0)
                .map_err(CliError::Input)
        }
        Command::Evidence(EvidenceCommand::Verify { bundles, pubkey }) => verify(bundles, pubkey),
        Command::Rules(RulesCommand::Learn { files }) => learn::run(&files),
        Command::Rules(RulesCommand::Check {
            dir,
            no_builtin_rules,
        }) => rules_check(crate::rules::Choice {
            builtin: !no_builtin_rules,
            extra: dir,
        }),
    };
    done.unwrap_or_else(|e| e.report())
}

/// `minetap feed send`: delivers what a spool holds.
/// The feed's token, CA and client certificate from the files the flags name (token file, CA,
/// client certificate, client key).
pub(crate) fn feed_auth(
    url: &str,
    [token_file, ca, client_cert, client_key]: [Option<&std::path::Path>; 4],
) -> Result<crate::output::feed_auth::FeedAuth, CliError> {
    crate::output::feed_auth::FeedAuth::load(&crate::output::feed_auth::AuthFiles {
        nats: crate::output::nats::is_nats(url),
        token_file,
        ca,
        client_cert,
        client_key,
    })
    .map_err(|e| CliError::Usage(format!("feed: {e}")))
}

impl settings::Settings {
    /// The feed's settings, when `--feed-url` (and `--feed-spool`) ask for one.
    pub(super) fn feed(
        &self,
        sensor: String,
    ) -> Result<Option<crate::output::feed::FeedConfig>, CliError> {
        match (self.feed_url.clone(), self.feed_spool.clone()) {
            (Some(url), Some(spool)) => Ok(Some(crate::output::feed::FeedConfig {
                url: crate::output::feed::check_url(&url)
                    .map(|()| url)
                    .map_err(CliError::Usage)?,
                spool,
                sensor,
                subjects: crate::output::nats::subject_prefix(
                    self.feed_subject_prefix
                        .as_deref()
                        .unwrap_or(defaults::FEED_SUBJECT_PREFIX),
                )
                .map_err(CliError::Usage)?,
                stream: self.feed_stream.clone(),
                batch: self.feed_batch.unwrap_or(defaults::FEED_BATCH).max(1),
                linger: std::time::Duration::from_secs(1),
                drain: std::time::Duration::from_secs(
                    self.feed_drain_secs.unwrap_or(defaults::FEED_DRAIN_S),
                ),
                auth: feed_auth(
                    self.feed_url.as_deref().unwrap_or_default(),
                    [
                        self.feed_token_file.as_deref(),
                        self.feed_ca.as_deref(),
                        self.feed_client_cert.as_deref(),
                        self.feed_client_key.as_deref(),
                    ],
                )?,
            })),
            (Some(_), None) => Err(CliError::Usage("--feed-url needs --feed-spool".into())),
            (None, Some(_)) => Err(CliError::Usage("--feed-spool needs --feed-url".into())),
            _ => Ok(None),
        }
    }
}

fn feed_send(
    spool: std::path::PathBuf,
    url: String,
    drain_secs: u64,
    sensor_id: Option<String>,
    (subjects, stream): (String, Option<String>),
    auth: crate::output::feed_auth::FeedAuth,
) -> Result<i32, CliError> {
    crate::output::feed::check_url(&url).map_err(CliError::Usage)?;
    let subjects = crate::output::nats::subject_prefix(&subjects).map_err(CliError::Usage)?;
    if !spool.is_dir() {
        return Err(CliError::Usage(format!(
            "{}: no such spool folder",
            spool.display()
        )));
    }
    let sensor = sensor_id
        .or_else(|| crate::output::feed::spool_sensor(&spool))
        .ok_or_else(|| {
            CliError::Usage(format!(
                "{}: the spool does not say which sensor wrote it; give --sensor-id",
                spool.display()
            ))
        })?;
    let (left, why) = crate::output::feed::flush(&crate::output::feed::FeedConfig {
        url,
        spool: spool.clone(),
        sensor,
        subjects,
        stream,
        batch: defaults::FEED_BATCH,
        linger: std::time::Duration::from_secs(1),
        drain: std::time::Duration::from_secs(drain_secs),
        auth,
    });
    if left > 0 {
        return Err(CliError::Input(format!(
            "{}: {left} batch(es) not delivered; they stay spooled (the last try: {})",
            spool.display(),
            why.as_deref().unwrap_or("not tried")
        )));
    }
    out!("{}: every batch delivered", spool.display());
    Ok(0)
}

/// `minetap evidence verify`: every bundle's hashes and signature.
fn verify(
    bundles: Vec<std::path::PathBuf>,
    pubkey: Option<std::path::PathBuf>,
) -> Result<i32, CliError> {
    let key = pubkey
        .as_deref()
        .map(crate::evidence::load_public)
        .transpose()
        .map_err(CliError::Usage)?;
    let mut status = 0;
    for b in bundles {
        match crate::evidence::verify(&b, key.as_ref()) {
            Ok(what) => out!("{}: ok: {what}", b.display()),
            Err(problems) => {
                status = 1;
                for p in problems {
                    out!("{}: FAILED: {p}", b.display());
                }
            }
        }
    }
    Ok(status)
}

/// `minetap rules check`: what the chosen rules hold, or their first error.
fn rules_check(choice: crate::rules::Choice) -> Result<i32, CliError> {
    let loaded = crate::rules::load(&choice).map_err(|e| CliError::Input(e.to_string()))?;
    let (i, t) = (&loaded.intel, &loaded.tables);
    let c = i.counts();
    let behaviour = match crate::rules::behaviour::Behaviour::from_rows(&t.behaviour) {
        Ok(b) => format!("behaviour test on (window {}s)", b.window_s),
        Err(missing) if missing.len() == crate::rules::behaviour::NAMES.len() => {
            "behaviour test off (no thresholds)".into()
        }
        Err(missing) => format!("behaviour test off (missing {})", missing.join(", ")),
    };
    out!(
        "{}: {} file(s), {} domains, {} address ranges, {} ports; {} algorithms, {} efficiency rows; {behaviour}; digest {}",
        loaded.describe(),
        c.files,
        c.domains,
        c.ranges,
        c.ports,
        t.algorithms.len(),
        t.efficiency.len(),
        i.digest_hex()
    );
    let mut chains: Vec<&str> = t.chains.iter().map(|c| c.name.as_str()).collect();
    chains.dedup();
    let until: Vec<String> = t
        .difficulty_until()
        .iter()
        .map(|(chain, at)| {
            let day = jiff::Timestamp::from_second(*at)
                .map(|t| t.strftime("%Y-%m-%d").to_string())
                .unwrap_or_else(|_| at.to_string());
            format!("{chain} {day}")
        })
        .collect();
    out!(
        "chains: {} ({} rows); network difficulty known until: {}",
        chains.join(", "),
        t.chains.len(),
        if until.is_empty() {
            "none".into()
        } else {
            until.join(", ")
        }
    );
    Ok(0)
}

/// The body of `out!`: the line, or the end of the command when stdout is gone.
pub(crate) fn write_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut o = std::io::stdout().lock();
    if let Err(e) = o.write_fmt(args).and_then(|()| o.write_all(b"\n")) {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("minetap: error: writing to stdout: {e}");
        std::process::exit(2);
    }
}

/// A flag that each of `signals` sets (SIGINT, SIGTERM, SIGHUP: the runs poll it).
pub(crate) fn signal_flag(
    signals: &[i32],
) -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>, CliError> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for &sig in signals {
        signal_hook::flag::register(sig, flag.clone())
            .map_err(|e| CliError::Usage(format!("cannot handle signals: {e}")))?;
    }
    Ok(flag)
}

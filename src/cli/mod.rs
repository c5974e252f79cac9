//! Stage 8, **cli**: command-line arguments in; a run of the pipeline, events on stdout or in a
//! file, a summary and clear error lines on stderr, and the exit status out.

#[cfg(target_os = "linux")]
mod live;
#[cfg(target_os = "linux")]
mod replay;
mod scan;
mod settings;
mod subscribers;

use clap::{Parser, Subcommand};

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
    /// Build the subscriber store and look addresses up.
    #[command(subcommand)]
    Subscribers(subscribers::SubscribersCommand),
    /// Check a configuration file and show the settings it makes.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Work with the pool rules.
    #[command(subcommand)]
    Rules(RulesCommand),
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
    /// Load and validate a rules folder, and say what it holds.
    Check {
        /// The folder [default: ./rules].
        #[arg(value_name = "DIR", default_value = "rules")]
        dir: std::path::PathBuf,
    },
}

/// Runs the command line; returns the process exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(a) => scan::run(a),
        #[cfg(target_os = "linux")]
        Command::Live(a) => live::run(a),
        #[cfg(target_os = "linux")]
        Command::Replay(a) => replay::run(a),
        Command::Config(ConfigCommand::Check { file }) => settings::check(&file),
        Command::Subscribers(c) => subscribers::run(c),
        Command::Rules(RulesCommand::Check { dir }) => match settings::load_rules(Some(&dir)) {
            Ok((i, t)) => {
                let c = i.counts();
                println!(
                        "{}: {} file(s), {} domains, {} address ranges, {} ports; {} algorithms, {} efficiency rows; digest {}",
                        dir.display(),
                        c.files,
                        c.domains,
                        c.ranges,
                        c.ports,
                        t.algorithms.len(),
                        t.efficiency.len(),
                        i.digest_hex()
                    );
                0
            }
            Err(e) => {
                eprintln!("minetap: error: {e}");
                1
            }
        },
    }
}

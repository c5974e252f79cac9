//! Stage 8, **cli**: command-line arguments in; a run of the pipeline, events on stdout or in a
//! file, a summary and clear error lines on stderr, and the exit status out.

mod scan;

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
    /// Work with the pool rules.
    #[command(subcommand)]
    Rules(RulesCommand),
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
        Command::Rules(RulesCommand::Check { dir }) => match scan::load_rules(Some(&dir), false) {
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

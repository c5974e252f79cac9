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
}

/// Runs the command line; returns the process exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    match cli.command {
        Command::Scan(a) => scan::run(a),
    }
}

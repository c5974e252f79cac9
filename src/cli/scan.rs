//! `minetap scan`: the forensic path over capture files.

use super::settings::SettingsArgs;
use crate::cli::summary;
use crate::pipeline::{self, InputReport, Progress};
use crate::source::{collect_inputs, InputName};
use clap::Args;
use std::io::{self, IsTerminal};
use std::path::PathBuf;

/// Inputs smaller than this in total get no progress bar.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Capture files (pcap, pcapng), directories (searched for .pcap, .pcapng, .cap), or `-`
    /// for a pcap stream on stdin.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    #[command(flatten)]
    flow: SettingsArgs,
    /// Do not print the summary on stderr.
    #[arg(long, short)]
    quiet: bool,
    /// Never show a progress bar.
    #[arg(long)]
    no_progress: bool,
}

struct Bar(indicatif::ProgressBar);

impl Progress for Bar {
    fn start_input(&self, name: &InputName, size: Option<u64>) {
        self.0.set_message(name.to_string());
        if let Some(s) = size {
            self.0.set_length(s);
        }
        self.0.set_position(0);
    }
    fn advance(&self, pos: u64) {
        self.0.set_position(pos);
    }
}

fn progress_bar(inputs: &[InputName]) -> Option<Bar> {
    if !io::stderr().is_terminal() {
        return None;
    }
    let total: u64 = inputs
        .iter()
        .map(|i| match i {
            InputName::Stdin => PROGRESS_MIN_BYTES,
            InputName::Path(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
        })
        .sum();
    if total < PROGRESS_MIN_BYTES {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(Bar(bar))
}

pub fn run(a: ScanArgs) -> i32 {
    let eff = match a.flow.resolve() {
        Ok(e) => e,
        Err(e) => return e.report(),
    };
    let collected = collect_inputs(&a.inputs);
    for p in &collected.repeated {
        eprintln!(
            "minetap: warning: {}: reached again (a link or a repeated name); read once",
            p.display()
        );
    }
    let (names, walk_errors) = (collected.names, collected.errors);
    let writer = match eff
        .output
        .writer(false, names.iter().map(ToString::to_string).collect())
    {
        Ok(w) => w,
        Err(e) => return e.report(),
    };
    let cfg = eff.cfg;
    let rules_in_force = eff.rules_in_force;
    let counts = cfg.intel.counts();

    let bar = if a.no_progress {
        None
    } else {
        progress_bar(&names)
    };
    let mut sink = |r, v: crate::verdict::Verdict| writer.write(&r, &v);
    let progress: &dyn Progress = match &bar {
        Some(b) => b,
        None => &pipeline::Silent,
    };
    let stats = pipeline::scan(names, &cfg, progress, &mut sink);
    if let Some(b) = &bar {
        b.0.finish_and_clear();
    }
    let mut status = writer.finish();
    crate::cli::summary::warn_evidence_budget(&stats);
    for e in &walk_errors {
        eprintln!("minetap: error: {e}");
        status = 1;
    }
    for i in &stats.inputs {
        match i {
            InputReport::Failed(e) => {
                eprintln!("minetap: error: {e}");
                status = status.max(1);
            }
            InputReport::Read {
                name,
                packets,
                damage: Some(d),
            } => eprintln!(
                "minetap: warning: {name}: {d}; the {packets} packet(s) before it were used"
            ),
            InputReport::Read { .. } => {}
        }
    }
    if !a.quiet {
        eprint!("{}", summary::render(&stats));
        eprintln!(
            "  rules: {}, digest {}: {} domains, {} address ranges, {} ports",
            rules_in_force,
            &cfg.intel.digest_hex()[..12],
            counts.domains,
            counts.ranges,
            counts.ports
        );
    }
    status
}

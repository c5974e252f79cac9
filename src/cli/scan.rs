//! `minetap scan`: the forensic path over capture files.

use super::settings::SettingsArgs;
use crate::cli::summary;
use crate::pipeline::{self, InputReport, Progress};
use crate::source::{collect_inputs, InputName};
use clap::Args;
use std::io::{self, IsTerminal};
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

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
    /// Also write the summary as one JSON object to FILE (`-` for stdout is not allowed: the
    /// events may be there).
    #[arg(long, value_name = "FILE")]
    summary_json: Option<PathBuf>,
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

/// SIGINT and SIGTERM end a scan early as they end `live`: reading stops, the flows open then
/// are ended and reported, the outputs flushed and the summary printed.
type StopFlag = std::sync::Arc<std::sync::atomic::AtomicBool>;
fn stop_flags() -> Result<(StopFlag, StopFlag), super::CliError> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    Ok((
        super::signal_flag(&[SIGINT])?,
        super::signal_flag(&[SIGTERM])?,
    ))
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
    for p in &collected.compressed {
        eprintln!(
            "minetap: warning: {}: a bzip2-compressed capture, not read (gzip, zstd and xz are; or pipe it: bzcat FILE | minetap scan -)",
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
    let profiles = eff.profile.map(crate::output::profile::Profiles::new);
    let rules_in_force = eff.rules_in_force;
    let counts = cfg.intel.counts();

    let bar = if a.no_progress {
        None
    } else {
        progress_bar(&names)
    };
    let mut sink = super::profile::ProfilingSink {
        writer: &writer,
        profiles,
        also: None,
    };
    let progress: &dyn Progress = match &bar {
        Some(b) => b,
        None => &pipeline::Silent,
    };
    let (int, term) = match stop_flags() {
        Ok(f) => f,
        Err(e) => return e.report(),
    };
    let mut tick = |shared: &pipeline::Shared| {
        if int.load(Ordering::Relaxed) || term.load(Ordering::Relaxed) {
            shared.stop.store(true, Ordering::Relaxed);
        }
    };
    let inputs = names.len();
    let every = Duration::from_millis(50);
    let stats = pipeline::scan(names, &cfg, progress, &mut sink, Some((every, &mut tick)));
    sink.finish();
    if let Some(b) = &bar {
        b.0.finish_and_clear();
    }
    let mut status = writer.finish();
    crate::cli::summary::warn_evidence_budget(&stats);
    for e in &walk_errors {
        eprintln!("minetap: error: {e}");
        status = 1;
    }
    let (inputs_status, stopped) = report_inputs(&stats, inputs);
    status = status.max(inputs_status);
    if let Some(s) = signal_status(&term, &int, stopped) {
        status = s;
    }
    if let Some(p) = &a.summary_json {
        let mut j = summary::json(&stats);
        j["rules_digest"] = cfg.intel.digest_hex().into();
        j["exit_status"] = status.into();
        if let Err(e) = std::fs::write(p, format!("{j}\n")) {
            eprintln!("minetap: error: --summary-json {}: {e}", p.display());
            status = status.max(2);
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

/// The exit status a SIGTERM (143) or SIGINT (130) calls for, if one came; when it came after
/// every input was read (`stopped` is 0), says that the events are complete.
fn signal_status(term: &StopFlag, int: &StopFlag, stopped: usize) -> Option<i32> {
    let status = if term.load(Ordering::Relaxed) {
        143
    } else if int.load(Ordering::Relaxed) {
        130
    } else {
        return None;
    };
    if stopped == 0 {
        eprintln!("minetap: warning: stopped by a signal after every input was read: the events are complete");
    }
    Some(status)
}

/// Says what happened to each input that did not simply read to its end; the exit status that
/// calls for (1 when an input could not be used), and how many inputs a signal stopped.
fn report_inputs(stats: &pipeline::RunStats, inputs: usize) -> (i32, usize) {
    let mut status = 0;
    let mut stopped = inputs.saturating_sub(stats.inputs.len());
    for i in &stats.inputs {
        match i {
            InputReport::Failed(e) => {
                eprintln!("minetap: error: {e}");
                status = 1;
            }
            InputReport::Read {
                name,
                packets,
                damage: Some(d),
                ..
            } => eprintln!(
                "minetap: warning: {name}: {d}; the {packets} packet(s) before it were used"
            ),
            InputReport::Read {
                interrupted: true, ..
            } => stopped += 1,
            InputReport::Read { .. } => {}
        }
    }
    if stopped > 0 {
        eprintln!("minetap: warning: stopped by a signal: {stopped} input(s) not read to the end; the flows open then were ended and reported");
    }
    (status, stopped)
}

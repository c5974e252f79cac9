//! `minetap scan`: the forensic path over capture files.

use crate::pipeline::{self, InputReport, Progress, ScanConfig};
use crate::sink::{summary, Event};
use crate::source::{collect_inputs, InputName};
use crate::verdict::intel::Intel;
use crate::verdict::tables::Tables;
use crate::verdict::Level;
use clap::{Args, ValueEnum};
use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Mutex;

/// Inputs smaller than this in total get no progress bar.
const PROGRESS_MIN_BYTES: u64 = 64 << 20;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MinLevel {
    Suspect,
    Likely,
    Confirmed,
}

impl From<MinLevel> for Level {
    fn from(m: MinLevel) -> Level {
        match m {
            MinLevel::Suspect => Level::Suspect,
            MinLevel::Likely => Level::Likely,
            MinLevel::Confirmed => Level::Confirmed,
        }
    }
}

#[derive(Debug, Args)]
pub struct ScanArgs {
    /// Capture files (pcap, pcapng), directories (searched for .pcap, .pcapng, .cap), or `-`
    /// for a pcap stream on stdin.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Write events to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    events: Option<PathBuf>,
    /// Report only flows at this level or above.
    #[arg(long, value_enum, default_value = "suspect")]
    min_level: MinLevel,
    /// Flow-processing threads [default: number of CPUs].
    #[arg(long, value_name = "N")]
    workers: Option<usize>,
    /// Most flows tracked at once.
    #[arg(long, value_name = "N", default_value_t = 200_000)]
    max_flows: usize,
    /// Out-of-order bytes held per flow direction.
    #[arg(long, value_name = "BYTES", default_value_t = 65_536)]
    max_flow_buffer: usize,
    /// Idle seconds after which a TCP flow ends.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    tcp_timeout: u64,
    /// Idle seconds after which a UDP flow ends.
    #[arg(long, value_name = "SECS", default_value_t = 120)]
    udp_timeout: u64,
    /// Bytes of a flow shown to the detectors before it is given up on as not mining.
    #[arg(long, value_name = "BYTES", default_value_t = 16_384)]
    inspect_budget: usize,
    /// Folder of pool rules [default: ./rules when it exists].
    #[arg(long, value_name = "DIR", conflicts_with = "no_rules")]
    rules: Option<PathBuf>,
    /// Use no pool rules.
    #[arg(long)]
    no_rules: bool,
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
    let out: Box<dyn Write + Send> = match &a.events {
        Some(p) => match File::create(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!(
                    "minetap: error: cannot create events file {}: {e}",
                    p.display()
                );
                return 2;
            }
        },
        None => Box::new(io::stdout()),
    };
    let (intel, tables) = match load_rules(a.rules.as_deref(), a.no_rules) {
        Ok(i) => i,
        Err(e) => {
            eprintln!("minetap: error: {e}");
            return 2;
        }
    };
    let (names, walk_errors) = collect_inputs(&a.inputs);
    let mut cfg = ScanConfig::default();
    let counts = intel.counts();
    cfg.intel = std::sync::Arc::new(intel);
    cfg.tables = std::sync::Arc::new(tables);
    if let Some(w) = a.workers {
        cfg.workers = w.max(1);
    }
    cfg.flow.max_flows = a.max_flows.max(1);
    cfg.flow.max_held = a.max_flow_buffer;
    cfg.flow.tcp_timeout_ns = a.tcp_timeout.saturating_mul(1_000_000_000);
    cfg.flow.udp_timeout_ns = a.udp_timeout.saturating_mul(1_000_000_000);
    cfg.flow.inspect_budget = a.inspect_budget;

    let bar = if a.no_progress {
        None
    } else {
        progress_bar(&names)
    };
    let min: Level = a.min_level.into();
    let writer = Mutex::new(BufWriter::with_capacity(1 << 16, out));
    let write_error: Mutex<Option<io::Error>> = Mutex::new(None);
    let mut sink = |r, v: crate::verdict::Verdict| {
        let event = Event::new(&r, &v);
        if event.level() < min {
            return;
        }
        let line = event.to_json();
        let mut err = write_error.lock().unwrap_or_else(|e| e.into_inner());
        if err.is_none() {
            let mut w = writer.lock().unwrap_or_else(|e| e.into_inner());
            if let Err(e) = writeln!(w, "{line}") {
                *err = Some(e);
            }
        }
    };
    let progress: &dyn Progress = match &bar {
        Some(b) => b,
        None => &pipeline::Silent,
    };
    let stats = pipeline::scan(names, &cfg, progress, &mut sink);
    if let Some(b) = &bar {
        b.0.finish_and_clear();
    }
    let flushed = writer
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .flush();
    let mut status = 0;
    let write_error = write_error.into_inner().unwrap_or_else(|e| e.into_inner());
    if let Some(e) = write_error.or(flushed.err()) {
        if e.kind() != io::ErrorKind::BrokenPipe {
            eprintln!("minetap: error: writing events: {e}");
            status = 2;
        }
    }
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
            "  rules: {} file(s), {} domains, {} address ranges, {} ports",
            counts.files, counts.domains, counts.ranges, counts.ports
        );
    }
    status
}

/// The pool rules and estimation tables: the folder given, else `./rules` when it exists,
/// else none.
pub fn load_rules(
    dir: Option<&std::path::Path>,
    none: bool,
) -> Result<(Intel, Tables), crate::verdict::intel::RuleError> {
    let dir = match (none, dir) {
        (true, _) => return Ok(Default::default()),
        (false, Some(d)) => d,
        (false, None) if std::path::Path::new("rules").is_dir() => std::path::Path::new("rules"),
        (false, None) => return Ok(Default::default()),
    };
    Ok((Intel::load_dir(dir)?, Tables::load_dir(dir)?))
}

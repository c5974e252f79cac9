//! `minetap live`: the sensor at a tap point, capturing from interfaces until stopped.
//! SIGINT/SIGTERM end it cleanly (open flows and outputs flushed); SIGHUP reloads the rules
//! without losing flows. Statistics are written as JSON lines every interval.

use super::settings::{load_rules, FlowArgs};
use crate::output::time::rfc3339_micros;
use crate::pipeline::{self, ReaderJob, Rules, Shared};
use crate::source::capture::LiveOptions;
use crate::source::live::AfPacket;
use clap::Args;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct LiveArgs {
    /// Interface to capture from (repeat for more).
    #[arg(short = 'i', long = "interface", value_name = "IFACE")]
    interfaces: Vec<String>,
    #[command(flatten)]
    flow: FlowArgs,
    /// Write statistics to FILE instead of stderr.
    #[arg(long, value_name = "FILE")]
    stats: Option<PathBuf>,
    /// Seconds between statistics lines [default: 60].
    #[arg(long, value_name = "SECS")]
    stats_interval: Option<u64>,
    /// Kernel receive buffer per interface, bytes [default: 67108864].
    #[arg(long, value_name = "BYTES")]
    rcvbuf: Option<usize>,
    /// Longest a captured packet waits before processing, milliseconds [default: 50].
    #[arg(long, value_name = "MS")]
    max_delay_ms: Option<u64>,
    /// Capture through libpcap with this BPF filter (needs a build with `--features libpcap`).
    #[arg(long, value_name = "EXPR")]
    bpf: Option<String>,
    /// Write mining flows only when they end (no early `final: false` events).
    #[arg(long)]
    no_early_events: bool,
    /// Do not print the summary on stderr at the end.
    #[arg(long, short)]
    quiet: bool,
}

fn percentiles(h: &hdrhistogram::Histogram<u64>) -> serde_json::Value {
    json!({
        "count": h.len(),
        "p50": h.value_at_quantile(0.5),
        "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999),
        "max": h.max(),
    })
}

/// One statistics line.
fn stats_line(shared: &Shared, started: Instant) -> String {
    let r = Ordering::Relaxed;
    let latency = shared.latency.lock().map_or(json!({}), |l| {
        json!({
            "queue": percentiles(&l.queue),
            "packet": percentiles(&l.packet),
            "verdict": percentiles(&l.verdict),
        })
    });
    json!({
        "timestamp": rfc3339_micros(crate::source::now_ns()),
        "event_type": "stats",
        "schema": crate::output::SCHEMA,
        "uptime_s": started.elapsed().as_secs_f64(),
        "packets": shared.packets.load(r),
        "bytes": shared.bytes.load(r),
        "kernel_drops": shared.kernel_drops.load(r),
        "flows_active": shared.active_flows.load(r),
        "flows": shared.flows.load(r),
        "evictions": shared.evicted.load(r),
        "verdicts": shared.verdicts.load(r),
        "evidence_bytes_held": shared.evidence.held(),
        "latency_ns": latency,
    })
    .to_string()
}

pub fn run(a: LiveArgs) -> i32 {
    let eff = match a.flow.resolve() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("minetap: error: {e}");
            return 2;
        }
    };
    let s = &eff.settings;
    let interfaces = if a.interfaces.is_empty() {
        s.interfaces.clone().unwrap_or_default()
    } else {
        a.interfaces.clone()
    };
    if interfaces.is_empty() {
        eprintln!("minetap: error: no interface to capture from (give -i IFACE, or interfaces in the config file)");
        return 2;
    }
    let defaults = LiveOptions::default();
    let opts = LiveOptions {
        rcvbuf: a.rcvbuf.or(s.rcvbuf).unwrap_or(defaults.rcvbuf),
        max_delay: a
            .max_delay_ms
            .or(s.max_delay_ms)
            .map_or(defaults.max_delay, Duration::from_millis),
    };
    let interval = Duration::from_secs(a.stats_interval.or(s.stats_interval).unwrap_or(60).max(1));
    let early = !a.no_early_events && s.early_events != Some(false);
    let stats_path = a.stats.clone().or(s.stats.clone());
    let mut cfg = eff.cfg;
    cfg.flow.early_records = early;

    if a.bpf.is_some() && !cfg!(feature = "libpcap") {
        eprintln!("minetap: error: --bpf needs libpcap: this minetap was built without it (cargo build --release --features libpcap)");
        return 2;
    }
    let mut sockets = Vec::new();
    if a.bpf.is_none() {
        for i in &interfaces {
            match AfPacket::open(i, opts.rcvbuf, Duration::from_millis(20)) {
                Ok(sock) => sockets.push(sock),
                Err(e) => {
                    eprintln!("minetap: error: {e}");
                    return 1;
                }
            }
        }
    }
    let writer = match eff.output.writer(
        true,
        interfaces.iter().map(|i| format!("live: {i}")).collect(),
    ) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("minetap: error: {e}");
            return 2;
        }
    };
    let mut stats_out: Box<dyn Write + Send> = match &stats_path {
        Some(p) => match std::fs::File::create(p) {
            Ok(f) => Box::new(f),
            Err(e) => {
                eprintln!(
                    "minetap: error: cannot create statistics file {}: {e}",
                    p.display()
                );
                return 2;
            }
        },
        None => Box::new(std::io::stderr()),
    };
    let stop = Arc::new(AtomicBool::new(false));
    let hup = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        if let Err(e) = signal_hook::flag::register(sig, stop.clone()) {
            eprintln!("minetap: error: cannot handle signals: {e}");
            return 2;
        }
    }
    if let Err(e) = signal_hook::flag::register(signal_hook::consts::SIGHUP, hup.clone()) {
        eprintln!("minetap: error: cannot handle signals: {e}");
        return 2;
    }

    let shared = Shared::new(Rules {
        intel: cfg.intel.clone(),
        tables: cfg.tables.clone(),
    });
    let started = Instant::now();
    let capture_errors = std::sync::Mutex::new(Vec::new());
    #[allow(unused_mut)]
    let mut jobs: Vec<ReaderJob<'_>> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, sock)| {
            let errors = &capture_errors;
            let job: ReaderJob<'_> = Box::new(move |reader: &mut pipeline::Reader<'_>| {
                reader.set_input(i as u32);
                let mut sock = sock;
                let name = sock.name.clone();
                if let Err(e) = reader.capture(&mut sock, &opts) {
                    errors
                        .lock()
                        .map(|mut v| v.push(format!("{name}: {e}")))
                        .ok();
                }
            });
            job
        })
        .collect();
    #[cfg(feature = "libpcap")]
    if let Some(bpf) = &a.bpf {
        for (i, iface) in interfaces.iter().enumerate() {
            let errors = &capture_errors;
            jobs.push(Box::new(move |reader: &mut pipeline::Reader<'_>| {
                reader.set_input(i as u32);
                let res = crate::source::pcap_live::PcapLive::open(iface, Some(bpf), &opts)
                    .and_then(|mut src| reader.capture(&mut src, &opts));
                if let Err(e) = res {
                    errors.lock().map(|mut v| v.push(e.to_string())).ok();
                }
            }));
        }
    }
    eprintln!("minetap: capturing on {}", interfaces.join(", "));
    let rules_dir = eff.rules_dir.clone();
    let mut next_stats = Instant::now() + interval;
    let mut tick = |shared: &Shared| {
        if stop.load(Ordering::Relaxed) {
            shared.stop.store(true, Ordering::Relaxed);
        }
        if hup.swap(false, Ordering::Relaxed) {
            match load_rules(rules_dir.as_deref()) {
                Ok((intel, tables)) => {
                    let c = intel.counts();
                    shared.replace_rules(Rules {
                        intel: Arc::new(intel),
                        tables: Arc::new(tables),
                    });
                    eprintln!(
                        "minetap: rules reloaded: {} domains, {} address ranges",
                        c.domains, c.ranges
                    );
                }
                Err(e) => eprintln!("minetap: error: rules not reloaded, the old ones stay: {e}"),
            }
        }
        if Instant::now() >= next_stats {
            let _ = writeln!(stats_out, "{}", stats_line(shared, started));
            let _ = stats_out.flush();
            next_stats += interval;
        }
    };
    let mut sink = |r, v: crate::verdict::Verdict| {
        shared.verdicts.fetch_add(1, Ordering::Relaxed);
        writer.write(&r, &v);
    };
    let stats = pipeline::run(
        &cfg,
        &shared,
        &mut sink,
        jobs,
        Some((Duration::from_millis(100), &mut tick)),
    );
    let mut status = writer.finish();
    crate::cli::summary::warn_evidence_budget(&stats);
    let mut out: Box<dyn Write> = match &stats_path {
        Some(p) => match std::fs::OpenOptions::new().append(true).open(p) {
            Ok(f) => Box::new(f),
            Err(_) => Box::new(std::io::stderr()),
        },
        None => Box::new(std::io::stderr()),
    };
    let _ = writeln!(out, "{}", stats_line(&shared, started));
    for e in capture_errors.into_inner().unwrap_or_default() {
        eprintln!("minetap: error: {e}");
        status = status.max(1);
    }
    if !a.quiet {
        eprint!("{}", crate::cli::summary::render(&stats));
    }
    status
}

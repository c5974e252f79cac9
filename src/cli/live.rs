//! `minetap live`: the sensor at a tap point, capturing from interfaces until stopped.
//! SIGINT/SIGTERM end it cleanly (open flows and outputs flushed); SIGHUP reloads the rules
//! without losing flows. Statistics are written as JSON lines every interval.

use super::error::CliError;
use super::settings::{LiveSettings, SettingsArgs};
use crate::output::time::rfc3339_micros;
use crate::output::writer::EventWriter;
use crate::pipeline::{self, ReaderJob, Rules, Shared};
use crate::rules::Choice;
use crate::source::capture::LiveOptions;
use crate::source::ring::Ring;
use clap::Args;
use serde_json::json;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct LiveArgs {
    #[command(flatten)]
    live: LiveSettings,
    #[command(flatten)]
    flow: SettingsArgs,
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
    live(a).unwrap_or_else(|e| e.report())
}

/// The sources to capture from: `--threads` capture rings per interface (in one fan-out group
/// when more than one), each with the interface's index in `interfaces`; or, with a BPF
/// filter, libpcap (opened on the reader threads).
fn open_rings(
    interfaces: &[String],
    l: &LiveSettings,
    opts: &LiveOptions,
) -> Result<Vec<(usize, Ring)>, CliError> {
    if l.bpf.is_some() {
        if !cfg!(feature = "libpcap") {
            return Err(CliError::Usage("--bpf needs libpcap: this minetap was built without it (cargo build --release --features libpcap)".into()));
        }
        return Ok(Vec::new());
    }
    let threads = match l.threads {
        Some(n) if !(1..=64).contains(&n) => {
            return Err(CliError::Usage(format!(
                "--threads must be from 1 to 64, not {n}"
            )))
        }
        n => n.unwrap_or(1),
    };
    let mut sockets = Vec::new();
    for (i, iface) in interfaces.iter().enumerate() {
        // A group id of this process and interface: another sensor's groups stay apart.
        let group = (std::process::id() as u16)
            .wrapping_mul(31)
            .wrapping_add(i as u16);
        for _ in 0..threads {
            // Blocks are handed over at half the longest delay, so that the capture loop's
            // ticks keep a frame within it.
            let sock = Ring::open(
                iface,
                opts.rcvbuf,
                opts.max_delay / 2,
                Duration::from_millis(20),
            )
            .and_then(|s| match threads {
                1 => Ok(s),
                _ => s.join_fanout(group).map(|()| s),
            })
            .map_err(|e| CliError::Input(e.to_string()))?;
            sockets.push((i, sock));
        }
    }
    Ok(sockets)
}

/// One reader job per source; capture errors are collected in `errors`. (`interfaces` and `l`
/// name the libpcap sources, in a build with that feature.)
#[cfg_attr(not(feature = "libpcap"), allow(unused_variables))]
fn reader_jobs<'a>(
    sockets: Vec<(usize, Ring)>,
    interfaces: &'a [String],
    l: &'a LiveSettings,
    opts: LiveOptions,
    errors: &'a std::sync::Mutex<Vec<String>>,
) -> Vec<ReaderJob<'a>> {
    let note = move |e: std::io::Error| {
        errors.lock().map(|mut v| v.push(e.to_string())).ok();
    };
    let mut jobs: Vec<ReaderJob<'a>> = Vec::new();
    for (i, mut sock) in sockets {
        jobs.push(Box::new(move |reader: &mut pipeline::Reader<'_>| {
            reader.set_input(i as u32);
            if let Err(e) = reader.capture(&mut sock, &opts) {
                note(e);
            }
        }));
    }
    #[cfg(feature = "libpcap")]
    if let Some(bpf) = &l.bpf {
        for (i, iface) in interfaces.iter().enumerate() {
            jobs.push(Box::new(move |reader: &mut pipeline::Reader<'_>| {
                reader.set_input(i as u32);
                let res = crate::source::pcap_live::PcapLive::open(iface, Some(bpf), &opts)
                    .and_then(|src| {
                        let mut src = crate::source::capture::Copying::new(src, &opts);
                        reader.capture(&mut src, &opts)
                    });
                if let Err(e) = res {
                    note(e);
                }
            }));
        }
    }
    jobs
}

/// Where statistics lines go: the file, or stderr.
fn stats_output(
    path: Option<&std::path::Path>,
    append: bool,
) -> Result<Box<dyn Write + Send>, CliError> {
    let Some(p) = path else {
        return Ok(Box::new(std::io::stderr()));
    };
    let f = if append {
        std::fs::OpenOptions::new().append(true).open(p)
    } else {
        std::fs::File::create(p)
    };
    f.map(|f| Box::new(f) as Box<dyn Write + Send>)
        .map_err(|e| {
            CliError::Output(format!(
                "cannot create statistics file {}: {e}",
                p.display()
            ))
        })
}

/// The run's last statistics line: to the statistics file (or stderr) and to the feed.
fn last_stats(
    path: Option<&std::path::Path>,
    (shared, started): (&Shared, Instant),
    writer: &EventWriter,
) {
    let mut out = stats_output(path, true).unwrap_or_else(|_| Box::new(std::io::stderr()));
    let last = stats_line(shared, started);
    let _ = writeln!(out, "{last}");
    writer.feed_stats(&last);
}

/// Called every 100 ms while the run goes on: stop and reload requests, statistics lines.
fn ticker<'a>(
    (stop, hup): (Arc<AtomicBool>, Arc<AtomicBool>),
    rules: Choice,
    (mut out, interval): (Box<dyn Write + Send>, Duration),
    (started, writer): (Instant, &'a EventWriter),
) -> impl FnMut(&Shared) + Send + 'a {
    let mut next_stats = Instant::now() + interval;
    move |shared: &Shared| {
        if stop.load(Ordering::Relaxed) {
            shared.stop.store(true, Ordering::Relaxed);
        }
        if hup.swap(false, Ordering::Relaxed) {
            match crate::rules::load(&rules) {
                Ok(loaded) => {
                    let c = loaded.intel.counts();
                    shared.replace_rules(Rules {
                        intel: Arc::new(loaded.intel),
                        tables: Arc::new(loaded.tables),
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
            let line = stats_line(shared, started);
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
            writer.feed_stats(&line);
            next_stats += interval;
        }
    }
}

/// The probe thread when `--probe` is on; the workers' judges then see what it confirms.
fn live_probe(
    l: &LiveSettings,
    shared: &mut Shared,
) -> Result<Option<super::probe::LiveProbe>, CliError> {
    if l.probe != Some(true) {
        return Ok(None);
    }
    let allow = l
        .probe_allow
        .iter()
        .flatten()
        .map(|c| crate::probe::Cidr::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Usage(format!("--probe-allow: {e}")))?;
    if allow.is_empty() {
        return Err(CliError::Usage(
            "--probe needs --probe-allow CIDR: the ranges probes may go to".into(),
        ));
    }
    let policy = crate::probe::Policy {
        allow,
        source: l.probe_source,
        per_second: l.probe_rate.unwrap_or(2.0),
        ..crate::probe::Policy::default()
    };
    let probed = crate::verdict::Probed::default();
    shared.probed = Some(probed.clone());
    super::probe::LiveProbe::start(policy, l.probe_log.as_deref(), probed)
        .map(Some)
        .map_err(CliError::Output)
}

/// The settings, refusing what only `scan` takes.
fn resolve(a: &SettingsArgs) -> Result<super::settings::Effective, CliError> {
    if a.settings.readers.is_some() {
        return Err(CliError::Usage(
            "--readers is for scan: live reads each interface on a thread of its own".into(),
        ));
    }
    a.resolve()
}

fn live(a: LiveArgs) -> Result<i32, CliError> {
    let eff = resolve(&a.flow)?;
    let l = a.live.clone().or(eff.file_live.clone());
    let interfaces = l.interfaces.clone().unwrap_or_default();
    if interfaces.is_empty() {
        return Err(CliError::Usage(
            "no interface to capture from (give -i IFACE, or interfaces in the config file)".into(),
        ));
    }
    let opts = l.live_options();
    let mut cfg = eff.cfg;
    let profile = eff.profile;
    cfg.flow.early_records = l.early_events != Some(false);
    cfg.flow.behaviour_window_ns =
        crate::rules::behaviour::Behaviour::from_rows(&cfg.tables.behaviour)
            .ok()
            .map(|b| (b.window_s * 1e9) as u64);
    let sockets = open_rings(&interfaces, &l, &opts)?;
    let inputs = interfaces.iter().map(|i| format!("live: {i}")).collect();
    let writer = eff.output.writer(true, inputs)?;
    let stats_out = stats_output(l.stats.as_deref(), false)?;
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let flags = (
        super::signal_flag(&[SIGINT, SIGTERM])?,
        super::signal_flag(&[SIGHUP])?,
    );
    let mut shared = Shared::new(Rules {
        intel: cfg.intel.clone(),
        tables: cfg.tables.clone(),
    });
    let mut probe = live_probe(&l, &mut shared)?;
    let started = Instant::now();
    let capture_errors = std::sync::Mutex::new(Vec::new());
    let jobs = reader_jobs(sockets, &interfaces, &l, opts, &capture_errors);
    eprintln!("minetap: capturing on {}", interfaces.join(", "));
    let mut tick = ticker(
        flags,
        eff.rules.clone(),
        (stats_out, l.stats_interval()),
        (started, &writer),
    );
    let metrics = l
        .metrics_listen
        .as_deref()
        .map(super::metrics::listen)
        .transpose()?;
    let levels = super::metrics::Levels::default();
    let metrics_stop = std::sync::atomic::AtomicBool::new(false);
    let mut also = |r: &crate::detect::FlowRecord, v: &crate::verdict::Verdict| {
        shared.verdicts.fetch_add(1, Ordering::Relaxed);
        if v.event == crate::verdict::EventType::Mining && r.end != crate::flow::EndReason::Ongoing
        {
            let protocol = r.finding.as_ref().map_or("unknown", |f| f.protocol);
            levels.add(v.level, protocol);
        }
        if let Some(p) = &mut probe {
            p.offer(r, v);
        }
    };
    let mut sink = super::profile::ProfilingSink {
        writer: &writer,
        profiles: profile.map(crate::output::profile::Profiles::new),
        also: Some(&mut also),
    };
    let every = Duration::from_millis(100);
    let stats = std::thread::scope(|s| {
        if let Some(listener) = metrics {
            let (shared, levels, stop) = (&shared, &levels, &metrics_stop);
            let counts = || writer.counts();
            s.spawn(move || super::metrics::serve(listener, (shared, levels), &counts, stop));
        }
        let stats = pipeline::run(&cfg, &shared, &mut sink, jobs, Some((every, &mut tick)));
        sink.finish();
        metrics_stop.store(true, Ordering::Relaxed);
        stats
    });
    if let Some(p) = probe {
        if p.dropped > 0 {
            eprintln!(
                "minetap: probe: {} endpoint(s) not probed (queue full)",
                p.dropped
            );
        }
        p.finish();
    }
    drop(tick);
    last_stats(l.stats.as_deref(), (&shared, started), &writer);
    let mut status = writer.finish();
    crate::cli::summary::warn_evidence_budget(&stats);
    for e in capture_errors.into_inner().unwrap_or_default() {
        eprintln!("minetap: error: {e}");
        status = status.max(1);
    }
    if !a.quiet {
        eprint!("{}", crate::cli::summary::render(&stats));
    }
    Ok(status)
}

impl LiveSettings {
    /// The capture options: `LiveOptions`' defaults with what was set.
    pub fn live_options(&self) -> LiveOptions {
        let d = LiveOptions::default();
        LiveOptions {
            rcvbuf: self.rcvbuf.unwrap_or(d.rcvbuf),
            max_delay: self.max_delay_ms.map_or(d.max_delay, Duration::from_millis),
        }
    }

    /// Seconds between statistics lines.
    pub fn stats_interval(&self) -> Duration {
        Duration::from_secs(
            self.stats_interval
                .unwrap_or(super::defaults::STATS_INTERVAL_S)
                .max(1),
        )
    }
}

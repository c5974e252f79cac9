//! `live --metrics-listen [ADDR:]PORT`: the run's counters in Prometheus' text format, on a
//! small HTTP server of its own thread (any path answers; localhost unless an address is given).

use crate::output::writer::OutputCounts;
use crate::pipeline::Shared;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Final mining verdicts counted by level (suspect, likely, confirmed) and protocol, as the
/// sink sees them (a lock per flow's verdict, never per packet).
#[derive(Default)]
pub struct Levels(std::sync::Mutex<std::collections::BTreeMap<(usize, &'static str), u64>>);

impl Levels {
    /// Counts one verdict.
    pub fn add(&self, level: crate::verdict::Level, protocol: &'static str) {
        if let Ok(mut m) = self.0.lock() {
            *m.entry((level as usize, protocol)).or_default() += 1;
        }
    }
}

/// `PORT` or `ADDR:PORT` as an address to listen on (localhost when no address is given).
pub fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.trim_start_matches(':').parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse()
        .map_err(|_| format!("--metrics-listen '{s}': expected PORT or ADDR:PORT"))
}

/// Binds `--metrics-listen`'s address and says where the page is.
pub fn listen(a: &str) -> Result<TcpListener, super::CliError> {
    let addr = listen_addr(a).map_err(super::CliError::Usage)?;
    let listener = TcpListener::bind(addr)
        .map_err(|e| super::CliError::Usage(format!("--metrics-listen {addr}: {e}")))?;
    eprintln!("minetap: metrics on http://{addr}/metrics");
    Ok(listener)
}

/// Bucket bounds of the latency histograms, in seconds.
const BOUNDS: [f64; 8] = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0];

fn histogram(o: &mut String, stage: &str, h: &hdrhistogram::Histogram<u64>) {
    for b in BOUNDS {
        let n = h.count_between(0, (b * 1e9) as u64);
        o.push_str(&format!(
            "minetap_stage_latency_seconds_bucket{{stage=\"{stage}\",le=\"{b}\"}} {n}\n"
        ));
    }
    let (n, mean) = (h.len(), h.mean());
    o.push_str(&format!(
        "minetap_stage_latency_seconds_bucket{{stage=\"{stage}\",le=\"+Inf\"}} {n}\n"
    ));
    o.push_str(&format!(
        "minetap_stage_latency_seconds_sum{{stage=\"{stage}\"}} {}\n",
        mean * n as f64 / 1e9
    ));
    o.push_str(&format!(
        "minetap_stage_latency_seconds_count{{stage=\"{stage}\"}} {n}\n"
    ));
}

/// Counters and gauges without labels: (name, type, help, value).
fn plain_rows(o: &mut String, rows: &[(&str, &str, &str, u64)]) {
    for (name, kind, help, v) in rows {
        o.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    }
}

/// The metrics page.
pub fn render(shared: &Shared, levels: &Levels, out: &OutputCounts) -> String {
    let r = Ordering::Relaxed;
    let mut o = String::new();
    let plain: [(&str, &str, &str, u64); 7] = [
        (
            "minetap_packets_total",
            "counter",
            "Packets read.",
            shared.packets.load(r),
        ),
        (
            "minetap_bytes_total",
            "counter",
            "Bytes read.",
            shared.bytes.load(r),
        ),
        (
            "minetap_kernel_drops_total",
            "counter",
            "Frames the kernel dropped.",
            shared.kernel_drops.load(r),
        ),
        (
            "minetap_flows_total",
            "counter",
            "Flows seen.",
            shared.flows.load(r),
        ),
        (
            "minetap_flows_active",
            "gauge",
            "Flows tracked now.",
            shared.active_flows.load(r),
        ),
        (
            "minetap_flows_evicted_total",
            "counter",
            "Flows pushed out to make room.",
            shared.evicted.load(r),
        ),
        (
            "minetap_evidence_bytes_held",
            "gauge",
            "Bytes of frames held for evidence bundles.",
            shared.evidence.held() as u64,
        ),
    ];
    plain_rows(&mut o, &plain);
    o.push_str(
        "# HELP minetap_verdicts_total Mining verdicts reached (final), by level and protocol.\n",
    );
    o.push_str("# TYPE minetap_verdicts_total counter\n");
    let names = ["suspect", "likely", "confirmed"];
    if let Ok(m) = levels.0.lock() {
        for ((level, protocol), n) in m.iter() {
            let level = names.get(*level).copied().unwrap_or("other");
            o.push_str(&format!(
                "minetap_verdicts_total{{level=\"{level}\",protocol=\"{protocol}\"}} {n}\n"
            ));
        }
    }
    output_metrics(&mut o, out);
    o.push_str("# HELP minetap_stage_latency_seconds Time per stage: queue (capture to worker), packet (worker time per packet), verdict (judging a flow).\n");
    o.push_str("# TYPE minetap_stage_latency_seconds histogram\n");
    if let Ok(l) = shared.latency.lock() {
        histogram(&mut o, "queue", &l.queue);
        histogram(&mut o, "packet", &l.packet);
        histogram(&mut o, "verdict", &l.verdict);
    }
    o
}

/// The output stage's part: events written, the feed's spool and failures, bundle errors.
fn output_metrics(o: &mut String, out: &OutputCounts) {
    o.push_str("# HELP minetap_events_written_total Events written, by type.\n");
    o.push_str("# TYPE minetap_events_written_total counter\n");
    for (i, t) in ["mining", "dns", "crypto_node", "site_profile"]
        .iter()
        .enumerate()
    {
        o.push_str(&format!(
            "minetap_events_written_total{{type=\"{t}\"}} {}\n",
            out.written[i]
        ));
    }
    let mut plain = vec![
        (
            "minetap_spool_errors_total",
            "counter",
            "Events the feed's spool could not take.",
            out.spool_errors,
        ),
        (
            "minetap_evidence_bundle_errors_total",
            "counter",
            "Evidence bundles that could not be written.",
            out.bundle_errors,
        ),
    ];
    if let Some((batches, open, failures)) = out.feed {
        plain.extend([
            (
                "minetap_spool_batches",
                "gauge",
                "Closed batches waiting in the feed's spool.",
                batches as u64,
            ),
            (
                "minetap_spool_open_events",
                "gauge",
                "Events in the spool's open segment, not yet in a batch.",
                open as u64,
            ),
            (
                "minetap_feed_failures_total",
                "counter",
                "Posts the platform did not take (each retry counts).",
                failures,
            ),
        ]);
    }
    plain_rows(o, &plain);
}

/// Serves the page on `listener` until `stop` is set; `counts` gives the output stage's.
pub fn serve(
    listener: TcpListener,
    (shared, levels): (&Shared, &Levels),
    counts: &(dyn Fn() -> OutputCounts + Sync),
    stop: &AtomicBool,
) {
    let _ = listener.set_nonblocking(true);
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((mut s, _)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf);
                let body = render(shared, levels, &counts());
                let _ = write!(
                    s,
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

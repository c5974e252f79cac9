//! `live --metrics-listen [ADDR:]PORT`: the run's counters in Prometheus' text format, on a
//! small HTTP server of its own thread (any path answers; localhost unless an address is given).

use crate::pipeline::Shared;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Verdicts counted by level, as the sink sees them (suspect, likely, confirmed).
#[derive(Default)]
pub struct Levels(pub [AtomicU64; 3]);

/// `PORT` or `ADDR:PORT` as an address to listen on (localhost when no address is given).
pub fn listen_addr(s: &str) -> Result<SocketAddr, String> {
    if let Ok(port) = s.trim_start_matches(':').parse::<u16>() {
        return Ok(SocketAddr::from(([127, 0, 0, 1], port)));
    }
    s.parse()
        .map_err(|_| format!("--metrics-listen '{s}': expected PORT or ADDR:PORT"))
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

/// The metrics page.
pub fn render(shared: &Shared, levels: &Levels) -> String {
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
    for (name, kind, help, v) in plain {
        o.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}\n"
        ));
    }
    o.push_str("# HELP minetap_verdicts_total Mining verdicts reached, by level.\n");
    o.push_str("# TYPE minetap_verdicts_total counter\n");
    for (i, level) in ["suspect", "likely", "confirmed"].iter().enumerate() {
        o.push_str(&format!(
            "minetap_verdicts_total{{level=\"{level}\"}} {}\n",
            levels.0[i].load(r)
        ));
    }
    o.push_str("# HELP minetap_stage_latency_seconds Time per stage: queue (capture to worker), packet (worker time per packet), verdict (judging a flow).\n");
    o.push_str("# TYPE minetap_stage_latency_seconds histogram\n");
    if let Ok(l) = shared.latency.lock() {
        histogram(&mut o, "queue", &l.queue);
        histogram(&mut o, "packet", &l.packet);
        histogram(&mut o, "verdict", &l.verdict);
    }
    o
}

/// Serves the page on `listener` until `stop` is set.
pub fn serve(listener: TcpListener, shared: &Shared, levels: &Levels, stop: &AtomicBool) {
    let _ = listener.set_nonblocking(true);
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((mut s, _)) => {
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 2048];
                let _ = s.read(&mut buf);
                let body = render(shared, levels);
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

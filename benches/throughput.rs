//! Whole-file throughput: scans a large mixed capture (made by `synth::mix`, cached under
//! `target/bench-data/`) through the full pipeline and prints packets/s and Gbit/s.
//!
//! `cargo bench --bench throughput` — size with MINETAP_BENCH_MB (default 400), workers with
//! MINETAP_BENCH_WORKERS (default: CPUs), repetitions with MINETAP_BENCH_RUNS (default 3).

use minetap::pipeline::{scan, ScanConfig, Silent};
use minetap::source::InputName;
use std::path::PathBuf;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // `cargo test --benches` runs bench binaries with no `--bench`: do nothing costly then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mb = env_or("MINETAP_BENCH_MB", 400);
    let runs = env_or("MINETAP_BENCH_RUNS", 3);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data folder");
    let path = dir.join(format!("mix-v2-{mb}mb.pcap"));
    if !path.exists() {
        let bytes = synth::mix::big_capture(mb << 20);
        std::fs::write(&path, bytes).expect("write bench capture");
    }
    let mut cfg = ScanConfig::default();
    cfg.workers = env_or("MINETAP_BENCH_WORKERS", cfg.workers);
    println!(
        "throughput: {} ({} MB), {} worker(s)",
        path.display(),
        std::fs::metadata(&path).map(|m| m.len() >> 20).unwrap_or(0),
        cfg.workers
    );
    for run in 0..runs {
        let mut found = 0u64;
        let mut sink = |_, _| found += 1;
        let s = scan(
            vec![InputName::Path(path.clone())],
            &cfg,
            &Silent,
            &mut sink,
            None,
        );
        let secs = s.elapsed.as_secs_f64();
        println!(
            "run {run}: {} packets, {} flows, {} mining, {:.3} s, {:.2} Mpackets/s, {:.2} Gbit/s",
            s.packets,
            s.flows.flows,
            found,
            secs,
            s.packets as f64 / secs / 1e6,
            s.bytes as f64 * 8.0 / secs / 1e9
        );
    }
}

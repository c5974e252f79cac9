//! Whole-file throughput through the full pipeline (every detector on, the built-in rules):
//! packets/s, Gbit/s, CPU seconds per million packets, and the speedup from one CPU with one
//! reader and one worker to N CPUs with N of each.
//!
//! Two captures: a generated one (made by `synth::mix`, cached under `target/bench-data/`), and
//! the capture built from the real traffic of the shared corpus by its `bench/make_bigpcap.sh`
//! (taken from `MINETAP_BENCH_CORPUS`, or built once next to the generated one when the corpus
//! is beside the project; SKIPPED, with the reason, otherwise).
//!
//! Beside each, the floor on N CPUs: the same pieces read by N threads with nothing done per
//! packet but counting it, then with each packet decoded as well. No scan can be faster than
//! its floor on the same machine.
//!
//! `cargo bench --bench throughput` — generated size with MINETAP_BENCH_MB (default 852, the
//! corpus capture's), N with MINETAP_BENCH_WORKERS (default: CPUs), repetitions with
//! MINETAP_BENCH_RUNS (default 3; the best is reported); MINETAP_BENCH_SKIP_GENERATED set: the
//! corpus capture only.

use minetap::decode::Decoder;
use minetap::pipeline::{scan, ScanConfig, Silent};
use minetap::source::{open_input, InputName, PIECE_BYTES};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// CPU seconds (user and system) this process has used.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let s = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    s(u.ru_utime) + s(u.ru_stime)
}

/// Keeps this thread (and the threads it starts from now on) on the first `n` CPUs.
fn pin(n: usize) {
    // SAFETY: a zeroed cpu_set_t filled by CPU_SET, passed with its size, for this thread.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        for c in 0..n {
            libc::CPU_SET(c, &mut set);
        }
        libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set);
    }
}

/// The best of `runs` scans of `path` with `n` readers and `n` workers on `n` CPUs: (packets,
/// seconds, CPU seconds, bytes, mining flows).
fn best(path: &Path, cfg: &ScanConfig, n: usize, runs: usize) -> (u64, f64, f64, u64, u64) {
    pin(n);
    let cfg = ScanConfig {
        workers: n,
        readers: n,
        ..cfg.clone()
    };
    let mut best: Option<(u64, f64, f64, u64, u64)> = None;
    for _ in 0..runs {
        let mut found = 0u64;
        let mut sink = |_, _| found += 1;
        let cpu = cpu_seconds();
        let s = scan(
            vec![InputName::Path(path.to_path_buf())],
            &cfg,
            &Silent,
            &mut sink,
            None,
        );
        let r = (
            s.packets,
            s.elapsed.as_secs_f64(),
            cpu_seconds() - cpu,
            s.bytes,
            found,
        );
        if best.is_none_or(|b| r.1 < b.1) {
            best = Some(r);
        }
    }
    best.unwrap_or_default()
}

/// The best of `runs` reads of `path`'s pieces by `n` threads on `n` CPUs, each packet only
/// counted, or decoded too: (packets, seconds).
fn floor(path: &Path, n: usize, runs: usize, decode: bool) -> (u64, f64) {
    pin(n);
    let stop = AtomicBool::new(false);
    let mut best: Option<(u64, f64)> = None;
    for _ in 0..runs {
        let start = std::time::Instant::now();
        let Ok(mut input) = open_input(InputName::Path(path.to_path_buf())) else {
            return (0, 0.0);
        };
        let mut pieces = Vec::new();
        input.cut(PIECE_BYTES, &stop, &mut |p| pieces.push(p));
        pieces.reverse();
        let queue = Mutex::new(pieces);
        let take = || queue.lock().ok().and_then(|mut q| q.pop());
        let packets: u64 = std::thread::scope(|s| {
            let threads: Vec<_> = (0..n)
                .map(|_| {
                    s.spawn(|| {
                        let (mut count, mut decoder) = (0u64, Decoder::default());
                        while let Some(mut piece) = take() {
                            piece.read(&stop, |_, p| {
                                count += 1;
                                if decode {
                                    let d = decoder.decode(p.link, p.data, p.ts_ns);
                                    std::hint::black_box(d.is_ok());
                                }
                            });
                        }
                        count
                    })
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap_or(0)).sum()
        });
        let r = (packets, start.elapsed().as_secs_f64());
        if best.is_none_or(|b| r.1 < b.1) {
            best = Some(r);
        }
    }
    best.unwrap_or_default()
}

fn report(name: &str, path: &Path, cfg: &ScanConfig, runs: usize) {
    let n = cfg.workers.max(1);
    let mb = std::fs::metadata(path).map(|m| m.len() >> 20).unwrap_or(0);
    println!("throughput: {name}: {} ({mb} MB)", path.display());
    let one = best(path, cfg, 1, runs);
    for (k, r) in [(1, one), (n, best(path, cfg, n, runs))] {
        let (packets, secs, cpu, bytes, found) = r;
        println!(
            "  {k} CPU(s), {k} reader(s), {k} worker(s): {packets} packets, {found} verdicts, {secs:.3} s, \
             {:.2} Mpackets/s, {:.2} Gbit/s, {:.3} CPU s per million packets, x{:.2} of one",
            packets as f64 / secs / 1e6,
            bytes as f64 * 8.0 / secs / 1e9,
            cpu / (packets as f64 / 1e6),
            one.1 / secs
        );
    }
    for (what, decode) in [("counted", false), ("decoded", true)] {
        let (packets, secs) = floor(path, n, runs, decode);
        println!(
            "  floor, {n} CPU(s), each packet {what} only: {packets} packets, {secs:.3} s, \
             {:.2} Mpackets/s",
            packets as f64 / secs / 1e6
        );
    }
}

fn main() {
    // `cargo test --benches` runs bench binaries with no `--bench`: do nothing costly then.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench data folder");
    let rules = minetap::bench::builtin_rules();
    let mut cfg = ScanConfig {
        intel: rules.intel,
        tables: rules.tables,
        ..ScanConfig::default()
    };
    cfg.workers = env_or("MINETAP_BENCH_WORKERS", cfg.workers);
    let runs = env_or("MINETAP_BENCH_RUNS", 3);

    let mb = env_or("MINETAP_BENCH_MB", 852);
    let generated = dir.join(format!("mix-v2-{mb}mb.pcap"));
    if !generated.exists() {
        let bytes = synth::mix::big_capture(mb << 20);
        std::fs::write(&generated, bytes).expect("write bench capture");
    }
    if std::env::var_os("MINETAP_BENCH_SKIP_GENERATED").is_none() {
        report("generated", &generated, &cfg, runs);
    }

    let corpus = match std::env::var_os("MINETAP_BENCH_CORPUS") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            let script = root.join("../shared/bench/make_bigpcap.sh");
            let out = dir.join("corpus-800.pcap");
            if !out.exists() && script.exists() {
                let ok = std::process::Command::new("bash")
                    .arg(&script)
                    .arg(&out)
                    .arg("800")
                    .status()
                    .is_ok_and(|s| s.success());
                if !ok {
                    println!("throughput: corpus: SKIPPED (its build script failed)");
                }
            }
            out.exists().then_some(out)
        }
    };
    match corpus {
        Some(p) if p.exists() => report("corpus", &p, &cfg, runs),
        _ => println!(
            "throughput: corpus: SKIPPED (no shared corpus beside the project, and \
             MINETAP_BENCH_CORPUS not set)"
        ),
    }
}

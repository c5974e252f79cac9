//! The pipeline as live capture runs it, on the TLS fixtures (`tests/data/tls/`, made with real
//! software): early records on a rolling window, judged by the workers.

use super::{scan, ScanConfig, Silent};
use crate::flow::EndReason;
use crate::source::InputName;
use crate::verdict::Level;
use std::path::{Path, PathBuf};

fn fixtures(prefix: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/tls");
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let n = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            n.starts_with(prefix) && n.ends_with(".pcap")
        })
        .collect();
    v.sort();
    v
}

/// (flow id, early, level) of every verdict on one capture, as live capture would give them,
/// with a behaviour window of `window_s` (an operator's rule over the built-in one).
fn verdicts(path: &Path, window_s: u64) -> Vec<(u64, bool, Level)> {
    let dir = tempfile::tempdir().expect("a temporary folder");
    std::fs::write(
        dir.path().join("window.table"),
        format!("behaviour window_s value={window_s} source=\"test\"\n"),
    )
    .expect("write the rule");
    let rules = crate::rules::load(&crate::rules::Choice {
        builtin: true,
        extra: Some(dir.path().to_path_buf()),
    })
    .expect("the rules load");
    let mut cfg = ScanConfig {
        intel: std::sync::Arc::new(rules.intel),
        tables: std::sync::Arc::new(rules.tables),
        ..ScanConfig::default()
    };
    cfg.flow.early_records = true;
    cfg.flow.behaviour_window_ns = Some(window_s * 1_000_000_000);
    let mut seen = Vec::new();
    let mut sink = |r: crate::detect::FlowRecord, v: crate::verdict::Verdict| {
        seen.push((r.id, r.end == EndReason::Ongoing, v.level))
    };
    scan(
        vec![InputName::Path(path.to_path_buf())],
        &cfg,
        &Silent,
        &mut sink,
        None,
    );
    seen
}

/// With a 20-second window, each 65-second TLS miner's flow is reported early at 20, 30,
/// 40... seconds; the first reports say too little (a verdict needs the window's length of
/// conversation), later ones are `suspect`: the flow gets exactly one early `suspect`
/// verdict, then its final one. No benign session gets an early verdict.
#[test]
fn early_verdicts_come_once_per_flow_on_the_rolling_window() {
    let mining: Vec<PathBuf> = fixtures("mining-")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("65s"))
        .collect();
    assert_eq!(mining.len(), 2, "the fixtures are there");
    for p in mining {
        let seen = verdicts(&p, 20);
        let early: Vec<_> = seen.iter().filter(|s| s.1).collect();
        assert_eq!(early.len(), 1, "{}: {seen:?}", p.display());
        assert_eq!(early[0].2, Level::Suspect, "{}", p.display());
        assert!(
            seen.iter().any(|f| !f.1 && f.0 == early[0].0),
            "{}: the flow's final verdict follows: {seen:?}",
            p.display()
        );
    }
    let benign = fixtures("benign-");
    assert!(benign.len() >= 8, "the fixtures are there");
    for p in benign {
        let early: Vec<_> = verdicts(&p, 60).into_iter().filter(|s| s.1).collect();
        assert!(early.is_empty(), "{}: {early:?}", p.display());
    }
}

/// Every verdict of a scan of `inputs`, as text, sorted; and the packets read.
fn sorted_verdicts(inputs: &[PathBuf], cfg: &ScanConfig) -> (Vec<String>, u64) {
    let mut seen = Vec::new();
    let mut sink = |r: crate::detect::FlowRecord, v: crate::verdict::Verdict| {
        seen.push(format!("{r:?} {v:?}"))
    };
    let names = inputs.iter().map(|p| InputName::Path(p.clone())).collect();
    let stats = scan(names, cfg, &Silent, &mut sink, None);
    seen.sort();
    (seen, stats.packets)
}

/// The same verdicts, whatever the number of workers and readers and however small the pieces
/// the captures are cut into: on the sample captures, and on a capture of 10,000 Stratum
/// sessions interleaved in time.
#[test]
fn verdicts_are_the_same_with_any_number_of_readers_and_workers() {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let many = dir.path().join("many.pcap");
    let short = synth::stratum::Script {
        jobs: 2,
        submits_per_job: 1,
        ..Default::default()
    };
    std::fs::write(&many, synth::mix::miners_with(0, 10_000, &short)).expect("write");
    let samples =
        crate::source::collect_inputs(&[Path::new(env!("CARGO_MANIFEST_DIR")).join("pcaps")]);
    let samples: Vec<PathBuf> = samples
        .names
        .into_iter()
        .filter_map(|n| match n {
            InputName::Path(p) => Some(p),
            InputName::Stdin => None,
        })
        .collect();
    assert!(samples.len() >= 30, "the sample captures are there");
    let super::Rules { intel, tables } = crate::bench::builtin_rules();
    for (inputs, want) in [(vec![many], 10_000), (samples, 35)] {
        let cfg = |workers, readers, piece_bytes| ScanConfig {
            workers,
            readers,
            piece_bytes,
            intel: intel.clone(),
            tables: tables.clone(),
            ..ScanConfig::default()
        };
        let (one, packets) = sorted_verdicts(&inputs, &cfg(1, 1, 1 << 30));
        assert!(one.len() >= want, "{} verdicts", one.len());
        for (w, r, piece) in [(1, 3, 64 << 10), (3, 2, 100_000), (2, 4, 8 << 20)] {
            let (other, n) = sorted_verdicts(&inputs, &cfg(w, r, piece));
            assert_eq!(n, packets, "{w} workers, {r} readers, pieces of {piece}");
            assert!(
                one == other,
                "{w} workers, {r} readers, pieces of {piece}: verdicts differ"
            );
        }
    }
}

//! Subscriber store: import one million RADIUS sessions (Start and Stop, CSV export form), build
//! the index, and resolve one million look-ups. Prints the times.
//! `cargo bench --bench subscribers` (MINETAP_BENCH_SESSIONS to change the count).

use minetap::attrib::formats::Format;
use minetap::attrib::store::Store;
use minetap::attrib::Resolver;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n: u32 = std::env::var("MINETAP_BENCH_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temporary folder");
    let csv = dir.path().join("radius.csv");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).expect("create"));
        writeln!(f, "timestamp,status,username,framed_ip_address,session_id").expect("write");
        let t0 = 1_772_409_600u64; // 2026-03-02T00:00:00Z
        for i in 0..n {
            // 250,000 addresses, each reused by four sessions over the day.
            let addr = Ipv4Addr::from(0x0a00_0000 + (i % 250_000));
            let start = t0 + (i / 250_000) as u64 * 21_600;
            writeln!(f, "{start},Start,user{i},{addr},S{i}").expect("write");
            writeln!(f, "{},Stop,user{i},{addr},S{i}", start + 21_000).expect("write");
        }
    }
    let db = dir.path().join("store.db");
    let t = Instant::now();
    let mut store = Store::open(&db).expect("store");
    let r = store
        .import(Format::RadiusCsv, &csv, &Default::default())
        .expect("import");
    let import_s = t.elapsed().as_secs_f64();
    println!(
        "import: {} sessions taken, {} skipped, {import_s:.2} s ({:.0} sessions/s)",
        r.taken,
        r.skipped,
        r.taken as f64 / import_s
    );
    let t = Instant::now();
    let resolver = Resolver::load(&db, 60).expect("index");
    println!(
        "index: {} assignments in {:.2} s",
        resolver.assignments(),
        t.elapsed().as_secs_f64()
    );
    let t = Instant::now();
    let mut matched = 0u64;
    for i in 0..n {
        let addr = IpAddr::V4(Ipv4Addr::from(
            0x0a00_0000 + (i.wrapping_mul(2_654_435_761) % 250_000),
        ));
        let at = 1_772_409_600 + (i as i64 * 7919) % 86_000;
        if resolver.lookup(addr, None, at).status == "matched" {
            matched += 1;
        }
    }
    let s = t.elapsed().as_secs_f64();
    println!(
        "lookups: {n} in {s:.2} s ({:.0}/s), {matched} matched",
        n as f64 / s
    );
}

//! Site profiles under one million local addresses: every flow from a different address of
//! 10.0.0.0/8 to one of 5,000 peers, through one interval, with the default cap of 100,000 sites
//! and with none (a cap of 2,000,000). Prints the peak heap (a counting allocator) and the time:
//! memory stays bounded by the cap, not by the addresses seen.
//! `cargo bench --bench site_profile` (MINETAP_BENCH_ADDRESSES to change the count).

use minetap::bench::{ProfileConfig, Profiles};
use minetap::decode::filter::Cidr;
use minetap::flow::FlowSummary;
use std::alloc::{GlobalAlloc, Layout, System};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::time::Instant;

struct Counting;

static NOW: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is passed on to the system allocator unchanged; only sizes are counted.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let n = NOW.fetch_add(l.size(), Relaxed) + l.size();
        PEAK.fetch_max(n, Relaxed);
        // SAFETY: the caller's layout, as GlobalAlloc::alloc requires.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        NOW.fetch_sub(l.size(), Relaxed);
        // SAFETY: `p` came from `alloc` above with this layout.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static A: Counting = Counting;

fn run(addresses: u32, max_sites: usize) -> (usize, usize, f64) {
    let local = Cidr::parse("10.0.0.0/8").expect("cidr");
    let mut p = Profiles::new(ProfileConfig {
        local: vec![local],
        interval_ns: 3_600_000_000_000,
        max_sites,
        prefix: (32, 64),
    });
    let base = NOW.load(Relaxed);
    PEAK.store(base, Relaxed);
    let t = Instant::now();
    let t0 = 1_772_409_600_000_000_000u64;
    for i in 0..addresses {
        let f = FlowSummary {
            id: u64::from(i),
            proto: 6,
            client: (IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), 40_000),
            server: (IpAddr::V4(Ipv4Addr::from(0xc633_6400 + i % 5_000)), 3333),
            bytes: [2_000, 3_000],
            answered: true,
            ended_ns: t0 + u64::from(i) * 1_000,
            mining: i % 3 == 0,
        };
        p.add(&f);
    }
    let held = PEAK.load(Relaxed) - base;
    let out = p.finish();
    (held, out.len(), t.elapsed().as_secs_f64())
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n: u32 = std::env::var("MINETAP_BENCH_ADDRESSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    for cap in [100_000usize, 2_000_000] {
        let (peak, records, secs) = run(n, cap);
        println!(
            "site profiles: {n} local addresses, cap {cap} sites: peak heap while adding {:.1} MB, {records} records (the last is `other` when capped), {:.2} s ({:.2} M flows/s)",
            peak as f64 / 1e6,
            secs,
            f64::from(n) / secs / 1e6
        );
        // The bound: about a kilobyte per site kept, whatever the addresses seen.
        let bound = cap.min(n as usize) * 1024;
        assert!(
            peak < bound,
            "site profiles over their bound: {peak} > {bound} bytes"
        );
    }
}

//! `minetap replay`: sends the frames of Ethernet captures out of one interface, at a chosen
//! rate — to feed a sensor in tests and acceptance runs (for example a veth pair inside a
//! network namespace). It sends only the captured frames, only on the interface named.

use crate::source::{linktype, open_input, InputName};
use clap::Args;
use std::path::PathBuf;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// Interface to send on.
    #[arg(short = 'i', long = "interface", value_name = "IFACE", required = true)]
    interface: String,
    /// Frames per second (0: as fast as possible).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pps: u64,
    /// Send each capture this many times.
    #[arg(long, value_name = "N", default_value_t = 1)]
    repeat: u32,
    /// Ethernet captures to send, in order.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

pub fn run(a: ReplayArgs) -> i32 {
    let sock = match crate::source::live::Sender::open(&a.interface) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("minetap: error: {e}");
            return 1;
        }
    };
    let started = Instant::now();
    let (mut sent, mut skipped, mut failed) = (0u64, 0u64, 0u64);
    for _ in 0..a.repeat {
        for f in &a.files {
            let mut input = match open_input(InputName::Path(f.clone())) {
                Ok(i) => i,
                Err(e) => {
                    eprintln!("minetap: error: {e}");
                    return 1;
                }
            };
            input.run(|_, raw| {
                if raw.link != linktype::ETHERNET {
                    skipped += 1;
                    return;
                }
                if let Some(at) = (sent * 1_000_000_000).checked_div(a.pps) {
                    let due = started + Duration::from_nanos(at);
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        std::thread::sleep(wait);
                    }
                }
                match sock.send(raw.data) {
                    Ok(()) => sent += 1,
                    Err(_) => failed += 1,
                }
            });
        }
    }
    let secs = started.elapsed().as_secs_f64().max(1e-9);
    eprintln!(
        "minetap: sent {sent} frames on {} in {secs:.3} s ({:.0} frames/s); {skipped} not Ethernet, {failed} failed",
        a.interface,
        sent as f64 / secs
    );
    i32::from(failed > 0)
}

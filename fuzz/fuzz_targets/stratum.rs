//! Any bytes as the two directions of a Stratum conversation, in chunks, with gaps.
#![no_main]
use libfuzzer_sys::fuzz_target;
use minetap::detect::mining::stratum;
use minetap::detect::{Detector, Limits};
use minetap::flow::Dir;

fuzz_target!(|data: &[u8]| {
    let limits = Limits {
        max_line: 512,
        max_depth: 8,
        transcript: 16,
    };
    let mut s = stratum::detector(&limits, data.first().is_some_and(|b| b & 1 == 1));
    // Each chunk: one control byte (direction, gap, length), then that many bytes.
    let mut rest = data.get(1..).unwrap_or_default();
    while let Some((&ctl, tail)) = rest.split_first() {
        let n = ((ctl >> 2) as usize + 1).min(tail.len());
        let dir = if ctl & 1 == 0 { Dir::Fwd } else { Dir::Rev };
        if ctl & 2 != 0 {
            s.on_gap(dir);
        }
        s.on_data(dir, &tail[..n], 0);
        rest = &tail[n..];
    }
    let _ = s.interest();
    let _ = s.finding();
});

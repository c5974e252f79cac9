//! Any bytes as the two directions of a TCP or UDP flow, through every detector the first byte
//! selects (and, with the first byte's low bit, the mid-stream set).
#![no_main]
use libfuzzer_sys::fuzz_target;
use minetap::detect::{for_flow, Context, FlowStart};
use minetap::flow::Dir;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let ctx = Context::default();
    let tcp = ctl & 2 == 0;
    let ports = if ctl & 4 == 0 { (40000, 3333) } else { (5353, 53) };
    let start = FlowStart {
        tcp,
        ports,
        mid_stream: ctl & 1 == 1,
        first: rest,
    };
    let mut ds = for_flow(&ctx, &start);
    let mut off = 0;
    let mut dir = Dir::Fwd;
    while off < rest.len() {
        let n = (rest[off] as usize % 97 + 1).min(rest.len() - off);
        for d in ds.iter_mut() {
            d.on_data(dir, &rest[off..off + n], 0);
            if rest[off] == 0xff {
                d.on_gap(dir);
            }
        }
        off += n;
        dir = if rest[off - 1] & 1 == 0 { dir } else { dir.flip() };
    }
    for d in &ds {
        let _ = d.interest();
        let _ = d.finding();
    }
});

//! Any bytes as a frame of any link type (the first two bytes choose it).
#![no_main]
use libfuzzer_sys::fuzz_target;
use minetap::decode::Decoder;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let link = u16::from_le_bytes([data[0], data[1]]) % 300;
    let mut d = Decoder::default();
    // Twice, so that fragments can meet their other halves.
    for _ in 0..2 {
        let _ = d.decode(link, &data[2..], 0);
    }
});

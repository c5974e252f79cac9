//! Writes a large mixed capture for throughput and memory measurements:
//! `cargo run --release --example gen_mix -- OUT.pcap [MEGABYTES]` (default 400 MB).

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "mix.pcap".into());
    let mb: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(400);
    let bytes = synth::mix::big_capture(mb << 20);
    std::fs::write(&out, &bytes)?;
    println!("{out}: {} bytes", bytes.len());
    Ok(())
}

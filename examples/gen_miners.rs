//! Writes a capture of many short Stratum sessions, one mining event each:
//! `cargo run --example gen_miners -- OUT.pcap [MINERS] [FIRST]` (default 1,000 from 0).

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let out = args.next().unwrap_or_else(|| "miners.pcap".into());
    let miners: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let first: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(0);
    let bytes = synth::mix::many_miners(first, miners);
    std::fs::write(&out, &bytes)?;
    println!("{out}: {} bytes", bytes.len());
    Ok(())
}

//! Writes the sample captures into a folder (default `pcaps/`):
//! `cargo run --example gen_pcaps [-- DIR]`.

fn main() -> std::io::Result<()> {
    let dir = std::env::args().nth(1).unwrap_or_else(|| "pcaps".into());
    std::fs::create_dir_all(&dir)?;
    for s in synth::samples::all() {
        let path = std::path::Path::new(&dir).join(s.file);
        std::fs::write(&path, &s.bytes)?;
        println!("{} ({} bytes)", path.display(), s.bytes.len());
    }
    Ok(())
}

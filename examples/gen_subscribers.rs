//! Writes the sample operator records (subscriber registry, RADIUS, DHCP, CGNAT, ...) for the
//! sample captures into a folder: `cargo run --example gen_subscribers -- DIR`.

fn main() -> std::io::Result<()> {
    let dir = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "subscribers".into());
    std::fs::create_dir_all(&dir)?;
    for (name, text) in synth::subscribers::files() {
        std::fs::write(std::path::Path::new(&dir).join(name), text)?;
        println!("{dir}/{name}");
    }
    Ok(())
}

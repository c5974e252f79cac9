//! The project's licence and its dependencies': `LICENSE` is the Apache-2.0 text that
//! `Cargo.toml` declares, and every crate built into the binary (normal and build dependencies,
//! from `cargo tree`) is under licences from the allowed list below, all permissive and
//! compatible with shipping the binary under Apache-2.0. A new dependency under another
//! licence fails here until someone decides on it and adds it, with the reason.

use std::process::Command;

/// SPDX identifiers allowed in the binary.
const ALLOWED: [&str; 13] = [
    "Apache-2.0",
    "Apache-2.0 WITH LLVM-exception",
    "MIT",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "ISC",
    "Zlib",
    "0BSD",
    "BSL-1.0",
    "CC0-1.0",
    "Unlicense",
    // The Unicode data tables (icu crates).
    "Unicode-3.0",
    // Mozilla's root certificates (webpki-roots): permissive, attribution only.
    "CDLA-Permissive-2.0",
];

/// Whether an SPDX expression (with `OR`, `AND`, `WITH`, parentheses, and the old `/` for OR)
/// is satisfied by the allowed licences.
fn allowed(expr: &str) -> Result<bool, String> {
    let spaced = expr
        .replace('(', " ( ")
        .replace(')', " ) ")
        .replace('/', " OR ");
    let tokens: Vec<&str> = spaced.split_whitespace().collect();
    let mut pos = 0;
    let v = or_expr(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return Err(format!("cannot read licence '{expr}'"));
    }
    Ok(v)
}

fn or_expr(t: &[&str], pos: &mut usize) -> Result<bool, String> {
    let mut v = and_expr(t, pos)?;
    while t.get(*pos) == Some(&"OR") {
        *pos += 1;
        v |= and_expr(t, pos)?;
    }
    Ok(v)
}

fn and_expr(t: &[&str], pos: &mut usize) -> Result<bool, String> {
    let mut v = one(t, pos)?;
    while t.get(*pos) == Some(&"AND") {
        *pos += 1;
        v &= one(t, pos)?;
    }
    Ok(v)
}

fn one(t: &[&str], pos: &mut usize) -> Result<bool, String> {
    match t.get(*pos) {
        Some(&"(") => {
            *pos += 1;
            let v = or_expr(t, pos)?;
            if t.get(*pos) != Some(&")") {
                return Err("unbalanced parentheses".into());
            }
            *pos += 1;
            Ok(v)
        }
        Some(id) => {
            *pos += 1;
            let mut name = id.to_string();
            if t.get(*pos) == Some(&"WITH") {
                name = format!("{name} WITH {}", t.get(*pos + 1).ok_or("WITH what?")?);
                *pos += 2;
            }
            Ok(ALLOWED.contains(&name.as_str()))
        }
        None => Err("an empty licence".into()),
    }
}

#[test]
fn licence_expressions_are_read_as_spdx_says() {
    assert_eq!(allowed("MIT OR Apache-2.0"), Ok(true));
    assert_eq!(allowed("MIT/Apache-2.0"), Ok(true));
    assert_eq!(allowed("(MIT OR Apache-2.0) AND Unicode-3.0"), Ok(true));
    assert_eq!(allowed("GPL-3.0-only"), Ok(false));
    assert_eq!(allowed("MIT AND GPL-2.0-only"), Ok(false));
    assert_eq!(allowed("GPL-2.0-only OR MIT"), Ok(true));
    assert!(allowed("(MIT").is_err());
}

#[test]
fn the_project_is_apache_2_and_every_crate_in_the_binary_is_under_an_allowed_licence() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let licence = std::fs::read_to_string(root.join("LICENSE")).expect("a LICENSE file");
    assert!(
        licence.trim_start().starts_with("Apache License")
            && licence.contains("Version 2.0, January 2004")
    );
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    assert!(manifest.contains("license = \"Apache-2.0\""));
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .current_dir(root)
        .args(["tree", "--offline", "-e", "normal,build", "-p", "minetap"])
        .args(["--prefix", "none", "--format", "{p}|{l}"])
        .output();
    let out = match out {
        Ok(o) if o.status.success() => o,
        Ok(o) => {
            eprintln!(
                "SKIPPED dependency licence check: cargo tree failed: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            return;
        }
        Err(e) => {
            eprintln!("SKIPPED dependency licence check: cannot run cargo: {e}");
            return;
        }
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let mut crates = 0;
    let mut refused = Vec::new();
    for line in text.lines() {
        let line = line.trim_end_matches(" (*)");
        let Some((package, expr)) = line.split_once('|') else {
            continue;
        };
        crates += 1;
        match allowed(expr) {
            Ok(true) => {}
            Ok(false) => refused.push(format!("{package}: {expr}")),
            Err(e) => refused.push(format!("{package}: {e}")),
        }
    }
    assert!(crates > 50, "cargo tree listed {crates} crates: {text}");
    assert!(refused.is_empty(), "not allowed: {refused:#?}");
}

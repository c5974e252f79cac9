//! The layout keeps its promises: imports run one way, down the pipeline, and the graph in
//! `docs/ARCHITECTURE.md` is the one the code has.
//!
//! A stage may use the stages before it (and the `rules` leaf), never one after it. The test
//! reads every `crate::STAGE` path in `src/` (comments left out) and compares.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The stages, in pipeline order: each may import only those before it.
const ORDER: &[&str] = &[
    "wire",
    "rules",
    "source",
    "decode",
    "flow",
    "detect",
    "verdict",
    "probe",
    "attrib",
    "output",
    "evidence",
    "inventory",
    "pipeline",
    "cli",
];

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// Stage → the other stages its files name (`crate::X`).
fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut g: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in files {
        let rel = f.strip_prefix(&src).unwrap();
        let Some(stage) = rel.components().next().and_then(|c| c.as_os_str().to_str()) else {
            continue;
        };
        let stage = stage.trim_end_matches(".rs").to_string();
        if !ORDER.contains(&stage.as_str()) {
            continue;
        }
        let text = std::fs::read_to_string(&f).unwrap();
        let deps = g.entry(stage.clone()).or_default();
        for line in text.lines() {
            let code = line.split("//").next().unwrap_or("");
            assert!(
                !code.contains("crate::{"),
                "{}: name each stage's path apart, not `crate::{{...}}`, so it can be read here",
                f.display()
            );
            for (i, _) in code.match_indices("crate::") {
                let name: String = code[i + 7..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                if name != stage && ORDER.contains(&name.as_str()) {
                    deps.insert(name);
                }
            }
        }
    }
    g
}

fn rank(s: &str) -> usize {
    ORDER.iter().position(|x| *x == s).unwrap()
}

#[test]
fn no_stage_imports_a_later_one() {
    let mut wrong = Vec::new();
    for (stage, deps) in graph() {
        for d in deps {
            if rank(&d) > rank(&stage) {
                wrong.push(format!("{stage} -> {d}"));
            }
        }
    }
    assert!(wrong.is_empty(), "imports that run back up: {wrong:?}");
}

/// The graph as `docs/ARCHITECTURE.md` shows it, between its markers.
fn rendered() -> String {
    let g = graph();
    let mut s = String::new();
    for stage in ORDER {
        let deps: Vec<&str> = g
            .get(*stage)
            .map(|d| {
                let mut v: Vec<&str> = d.iter().map(String::as_str).collect();
                v.sort_by_key(|x| rank(x));
                v
            })
            .unwrap_or_default();
        let deps = if deps.is_empty() {
            "(nothing of the crate)".to_string()
        } else {
            deps.join(", ")
        };
        s.push_str(&format!("{stage:<10} uses {deps}\n"));
    }
    s
}

#[test]
fn the_architecture_doc_shows_the_import_graph_the_code_has() {
    let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/ARCHITECTURE.md");
    let text = std::fs::read_to_string(doc).unwrap();
    let start = "<!-- import graph: checked by tests/architecture.rs -->\n```text\n";
    let shown = text
        .split_once(start)
        .and_then(|(_, rest)| rest.split_once("```"))
        .map(|(g, _)| g.to_string())
        .unwrap_or_default();
    let actual = rendered();
    assert_eq!(
        shown, actual,
        "docs/ARCHITECTURE.md's import graph is out of date; it should read:\n{actual}"
    );
}

/// The product's files (test modules left out) and their lines.
fn product_files() -> Vec<(String, Vec<String>)> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).unwrap();
            let lines = text
                .lines()
                .take_while(|l| l.trim() != "#[cfg(test)]")
                .map(str::to_string)
                .collect();
            (f.display().to_string(), lines)
        })
        .collect()
}

#[test]
fn rooms_stay_small_no_file_over_600_lines_no_function_over_100() {
    let mut big = Vec::new();
    for (file, lines) in product_files() {
        if lines.len() > 600 {
            big.push(format!("{file}: {} lines", lines.len()));
        }
        for (i, l) in lines.iter().enumerate() {
            let body = l.trim_start();
            let indent = &l[..l.len() - body.len()];
            let is_fn = ["fn ", "pub fn ", "pub(crate) fn ", "pub(super) fn "]
                .iter()
                .any(|p| body.starts_with(p));
            if !is_fn || l.ends_with(';') {
                continue;
            }
            let close = format!("{indent}}}");
            if let Some(n) = lines[i..].iter().position(|x| *x == close) {
                if n + 1 > 100 {
                    big.push(format!("{file}:{}: a function of {} lines", i + 1, n + 1));
                }
            }
        }
    }
    assert!(big.is_empty(), "rooms too big: {big:#?}");
}

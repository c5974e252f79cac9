//! **rules**, the leaf every stage may read: facts about the world from plain files — pool
//! domains, addresses and ports ([`intel`]) and the estimation tables ([`tables`]: algorithm
//! units, power per hash). The project's own `rules/` folder is compiled into the binary and in
//! force wherever minetap runs; an operator's folder is read on top of it, its lines first, so
//! that they win over the built-in ones. Files in; validated, indexed rules and where they came
//! from out, or an error naming the file and line. It imports nothing of the crate.

pub mod behaviour;
pub mod chains;
pub mod intel;
pub mod tables;

use intel::{Intel, RuleError};
use std::path::{Path, PathBuf};
use tables::Tables;

/// The project's `rules/` folder as it was built in: (file name, text).
pub const BUILTIN: &[(&str, &str)] = &[
    ("pools.rules", include_str!("../../rules/pools.rules")),
    ("ports.rules", include_str!("../../rules/ports.rules")),
    (
        "algorithms.table",
        include_str!("../../rules/algorithms.table"),
    ),
    ("power.table", include_str!("../../rules/power.table")),
    ("chains.table", include_str!("../../rules/chains.table")),
    (
        "difficulty.table",
        include_str!("../../rules/difficulty.table"),
    ),
    (
        "behaviour.table",
        include_str!("../../rules/behaviour.table"),
    ),
];

/// The built-in inventory thresholds (`rules/inventory.toml`).
pub const BUILTIN_INVENTORY: &str = include_str!("../../rules/inventory.toml");

/// Which rules to load: the built-in ones, an operator's folder, both or neither.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Choice {
    pub builtin: bool,
    pub extra: Option<PathBuf>,
}

/// The rules in force and where they came from.
#[derive(Debug, Default)]
pub struct Loaded {
    pub intel: Intel,
    pub tables: Tables,
    /// The built-in rules are in force.
    pub builtin: bool,
    /// The operator's folder and the files read from it.
    pub extra: Option<(PathBuf, Vec<String>)>,
}

impl Loaded {
    /// One line saying what is in force, for summaries: `built-in + DIR (a.rules, b.txt)`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.builtin {
            parts.push(format!("built-in ({} files)", BUILTIN.len()));
        }
        if let Some((dir, files)) = &self.extra {
            parts.push(format!("{} ({})", dir.display(), files.join(", ")));
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(" + ")
        }
    }
}

/// The files of an operator's folder that hold rules (not recursive, sorted by name; hidden
/// files, `.md` and `.toml` passed over), with their text.
fn folder(dir: &Path) -> Result<Vec<(PathBuf, String)>, RuleError> {
    let err = |file: &Path, e: std::io::Error| RuleError {
        file: file.to_path_buf(),
        line: 0,
        message: e.to_string(),
    };
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| err(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            !name.starts_with('.') && !name.ends_with(".md") && !name.ends_with(".toml")
        })
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|f| {
            let text = std::fs::read_to_string(&f).map_err(|e| err(&f, e))?;
            Ok((f, text))
        })
        .collect()
}

/// Loads the chosen rules: the operator's files first (their lines win), then the built-in
/// ones. `.table` files are estimation tables, the rest pool rules. The digest covers the name
/// and text of every file, in that order.
pub fn load(choice: &Choice) -> Result<Loaded, RuleError> {
    let mut files = match &choice.extra {
        Some(d) => folder(d)?,
        None => Vec::new(),
    };
    let extra_names: Vec<String> = files
        .iter()
        .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    if choice.builtin {
        files.extend(
            BUILTIN
                .iter()
                .map(|(n, t)| (PathBuf::from(n), t.to_string())),
        );
    }
    let mut intel = Intel::default();
    let mut tables = Tables::default();
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    for (path, text) in &files {
        let name = path
            .file_name()
            .map(|n| n.as_encoded_bytes())
            .unwrap_or_default();
        sha2::Digest::update(&mut hasher, name);
        sha2::Digest::update(&mut hasher, text.as_bytes());
        if path.extension().is_some_and(|e| e == "table") {
            tables.add_text(path, text)?;
        } else {
            intel.add_text(path, text)?;
            intel.files += 1;
        }
    }
    intel.digest = sha2::Digest::finalize(hasher).into();
    intel.finish();
    Ok(Loaded {
        intel,
        tables,
        builtin: choice.builtin,
        extra: choice.extra.clone().map(|d| (d, extra_names)),
    })
}

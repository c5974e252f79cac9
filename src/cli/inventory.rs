//! `minetap inventory`: the weekly list of mining sites from the events of one or more runs.

use crate::inventory::{self, Site, Thresholds};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct InventoryArgs {
    /// Event files (JSON lines) of one or more runs.
    #[arg(required_unless_present = "store", value_name = "EVENTS")]
    events: Vec<PathBuf>,
    /// The platform's store (`minetap platform ingest`): every sensor's events; a SQLite file
    /// or postgres://ROLE@HOST/DB.
    #[arg(long, value_name = "FILE|URL")]
    store: Option<String>,
    /// Only the events of this ISO week (e.g. 2026-W48), from the store.
    #[arg(long, value_name = "YYYY-Www", requires = "store")]
    week: Option<String>,
    /// Folder for inventory.json, inventory.csv, ledger.json, report.md, report.html and
    /// hashrate.svg.
    #[arg(long, value_name = "DIR", required = true)]
    out: PathBuf,
    /// Last week's inventory.json, to mark sites new, continuing, grown, shrunk or gone.
    #[arg(long, value_name = "FILE")]
    previous: Option<PathBuf>,
    /// Classification thresholds [default: the built-in rules/inventory.toml].
    #[arg(long, value_name = "FILE")]
    thresholds: Option<PathBuf>,
    /// Parks (CSV, UTF-8 or GBK, English or Chinese columns): name, kind, region, networks
    /// (CIDRs, `;`-separated), enterprise ids.
    #[arg(long, value_name = "CSV")]
    parks: Vec<PathBuf>,
    /// Grid metering (CSV): enterprise id, period (a day or a month), kWh, and optionally the
    /// contracted capacity (kVA) and the declared business.
    #[arg(long, value_name = "CSV")]
    metering: Vec<PathBuf>,
    /// Signed no-mining commitments (CSV): enterprise id, the day signed, kind.
    #[arg(long, value_name = "CSV")]
    commitments: Vec<PathBuf>,
    /// Regions (CSV): code (the registry's region column), province, city, county.
    #[arg(long, value_name = "CSV")]
    regions: Vec<PathBuf>,
    /// Where the scan's evidence bundles are, as the report's links should reach them (a path
    /// relative to the --out folder, or a URL).
    #[arg(long, value_name = "PATH", default_value = "evidence")]
    evidence_dir: String,
    /// The period the inventory covers, for metered and estimated energy: START/END as days
    /// (2026-11-23/2026-11-30, END not included) [default: from the first to the last sighting].
    #[arg(long, value_name = "START/END")]
    period: Option<String>,
}

/// The reference data the flags name.
fn reference(a: &InventoryArgs) -> Result<inventory::reference::Reference, String> {
    let mut r = inventory::reference::Reference::default();
    for p in &a.parks {
        r.add_parks(p)?;
    }
    for p in &a.metering {
        r.add_metering(p)?;
    }
    for p in &a.commitments {
        r.add_commitments(p)?;
    }
    for p in &a.regions {
        r.add_regions(p)?;
    }
    Ok(r)
}

/// `--period START/END`, or the span of the sightings.
fn period(a: &InventoryArgs, sites: &[Site]) -> Result<inventory::crosscheck::Period, String> {
    use inventory::crosscheck::{period_of, Period};
    let Some(spec) = &a.period else {
        return Ok(period_of(sites).unwrap_or(Period { start: 0, end: 0 }));
    };
    let day = |d: &str| {
        inventory::reference::period(d)
            .filter(|(s, e)| e - s == 86_400)
            .map(|(s, _)| s)
    };
    match spec.split_once('/').map(|(s, e)| (day(s), day(e))) {
        Some((Some(start), Some(end))) if end > start => Ok(Period { start, end }),
        _ => Err(format!(
            "--period '{spec}': expected START/END as days, END after START (2026-11-23/2026-11-30)"
        )),
    }
}

fn write_private(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub fn run(a: InventoryArgs) -> i32 {
    match build(&a) {
        Ok(n) => {
            out!("{}: {n} site(s)", a.out.display());
            0
        }
        Err(e) => {
            eprintln!("minetap: error: {e}");
            1
        }
    }
}

fn build(a: &InventoryArgs) -> Result<usize, String> {
    let th = match &a.thresholds {
        Some(p) => Thresholds::load(p)?,
        None => Thresholds::builtin()?,
    };
    let mut events = Vec::new();
    for f in &a.events {
        events.extend(read_events(f)?);
    }
    if let Some(spec) = &a.store {
        use inventory::store;
        let (from, to) = match &a.week {
            Some(w) => store::iso_week(w)?,
            None => ("0000".into(), "9999".into()),
        };
        events.extend(store::block_on(async {
            store::Store::open(spec).await?.events((&from, &to)).await
        })?);
    }
    let reference = reference(a)?;
    let mut sites = inventory::build(&events, &th);
    let period = period(a, &sites)?;
    inventory::crosscheck::apply(&mut sites, &reference, period, &th);
    if let Some(p) = &a.previous {
        let text = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        let prev: Vec<Site> = serde_json::from_str(&text)
            .map_err(|e| format!("{}: not an inventory: {e}", p.display()))?;
        inventory::compare(&mut sites, &prev, &th);
    }
    std::fs::create_dir_all(&a.out).map_err(|e| format!("{}: {e}", a.out.display()))?;
    write_private(
        &a.out.join("inventory.json"),
        &serde_json::to_string_pretty(&sites).unwrap_or_default(),
    )?;
    write_private(&a.out.join("inventory.csv"), &inventory::to_csv(&sites))?;
    let ledger = inventory::crosscheck::ledger(&sites, &reference, period, &th);
    write_private(
        &a.out.join("ledger.json"),
        &serde_json::to_string_pretty(&ledger).unwrap_or_default(),
    )?;
    let mut report = inventory::report(&sites);
    report.push_str(&inventory::render::ledger_report(&ledger, &sites));
    write_private(&a.out.join("report.md"), &report)?;
    write_private(
        &a.out.join("report.html"),
        &inventory::html::page(&sites, &ledger, &a.evidence_dir),
    )?;
    write_private(&a.out.join("hashrate.svg"), &inventory::chart(&sites))?;
    Ok(sites.len())
}

/// The events of one file. A file in which no line is a minetap event is an error (one line
/// naming it); lines that are not events among events are counted and the first one named.
fn read_events(f: &Path) -> Result<Vec<serde_json::Value>, String> {
    let text = std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
    let mut events = Vec::new();
    let mut bad: Option<(usize, String)> = None;
    let mut skipped = 0;
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        match serde_json::from_str::<serde_json::Value>(l) {
            Ok(v) if v.get("schema").is_some() && v.get("event_type").is_some() => events.push(v),
            Ok(_) => {
                skipped += 1;
                bad.get_or_insert((i + 1, "a JSON object that is not a minetap event".into()));
            }
            Err(e) => {
                skipped += 1;
                bad.get_or_insert((i + 1, format!("not JSON ({e})")));
            }
        }
    }
    match bad {
        Some((line, why)) if events.is_empty() => Err(format!(
            "{}: not minetap events (line {line}: {why})",
            f.display()
        )),
        Some((line, why)) => {
            eprintln!(
                "minetap: warning: {}: {skipped} line(s) that are not events skipped, the first at line {line}: {why}",
                f.display()
            );
            Ok(events)
        }
        None => Ok(events),
    }
}

//! The inventory cross-checked with other agencies' data (`reference`): each site's region and
//! park, a data centre's declared business (mining under a data centre's name is
//! `data_centre_mining`), a signed no-mining commitment and whether mining was seen after it,
//! metered energy beside the estimated mining energy over the same period, and the surcharge on
//! the mining share. Then the ledger: counts and totals by province, city and county, and every
//! park, mining found in it or not. Sites and reference data in; sites with their checks, and
//! the ledger, out.

use super::reference::{Commitment, Reference, Region};
use super::{Site, Thresholds};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What the cross-checks found for one site.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Checks {
    /// Why the site has its class: each figure against its threshold, or the declared business.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_evidence: Vec<String>,
    /// The registry's region code for the subscriber (the events' `region`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region_code: Option<String>,
    /// The region: from the registry, or else from the park the site is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Region>,
    /// The park the site is in (by its enterprise id or its addresses), and the row.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_park: Option<String>,
    /// The business its metering declares (the latest reading that names one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_business: Option<String>,
    /// A signed no-mining commitment of the site's enterprise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commitment: Option<Commitment>,
    /// Mining was seen on or after the day the commitment was signed.
    #[serde(default)]
    pub commitment_breached: bool,
    /// Metered kWh over the inventory's period (readings prorated to the days they share with
    /// it); absent without metering.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metered_kwh: Option<f64>,
    /// The estimated mining power over the period: kW x hours, as if it ran throughout.
    #[serde(default)]
    pub estimated_mining_kwh: f64,
    /// The estimate over the metered use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mining_share: Option<f64>,
    /// Said when metered use and the estimate need a look.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub energy_flag: Option<String>,
    /// The surcharge due on the mining energy: the estimate, capped by the metered use when
    /// there is metering (`surcharge_basis`: metered or estimated).
    #[serde(default)]
    pub surcharge_yuan: f64,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub surcharge_basis: String,
}

/// The period the inventory covers, seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Period {
    pub start: i64,
    pub end: i64,
}

impl Period {
    /// Its length in hours.
    pub fn hours(&self) -> f64 {
        (self.end - self.start).max(0) as f64 / 3600.0
    }

    /// The share of `[start, end)` inside the period.
    fn overlap(&self, start: i64, end: i64) -> f64 {
        let inside = (self.end.min(end) - self.start.max(start)).max(0);
        if end > start {
            inside as f64 / (end - start) as f64
        } else {
            0.0
        }
    }
}

/// `2026-11-23T10:00:00.000Z` to seconds.
fn seconds(t: &str) -> Option<i64> {
    t.parse::<jiff::Timestamp>().ok().map(|t| t.as_second())
}

/// The period spanned by the sites' first and last sightings.
pub fn period_of(sites: &[Site]) -> Option<Period> {
    let start = sites.iter().filter_map(|s| seconds(&s.first_seen)).min()?;
    let end = sites.iter().filter_map(|s| seconds(&s.last_seen)).max()?;
    Some(Period { start, end })
}

fn in_park<'a>(site: &Site, r: &'a Reference) -> Option<&'a super::reference::Park> {
    r.parks.iter().find(|p| {
        p.enterprises.contains(&site.site)
            || site
                .addresses
                .iter()
                .filter_map(|a| a.parse::<IpAddr>().ok())
                .any(|a| p.cidrs.iter().any(|c| c.contains(a)))
    })
}

/// Whether a declared business names a data centre.
fn data_centre(business: &str, th: &Thresholds) -> bool {
    let b = business.to_lowercase();
    th.data_centre_business
        .iter()
        .any(|w| b.contains(&w.to_lowercase()))
}

/// Cross-checks every site with the reference data over `period`.
pub fn apply(sites: &mut [Site], r: &Reference, period: Period, th: &Thresholds) {
    for site in sites.iter_mut() {
        check(site, r, period, th);
    }
}

fn check(site: &mut Site, r: &Reference, period: Period, th: &Thresholds) {
    let park = in_park(site, r);
    let c = &mut site.checks;
    c.in_park = park.map(|p| p.name.clone());
    let code = c
        .region_code
        .clone()
        .or_else(|| park.map(|p| p.region.clone()).filter(|x| !x.is_empty()));
    c.region = code.map(|code| r.region(&code));
    let meters: Vec<_> = r
        .metering
        .iter()
        .filter(|m| m.enterprise == site.site)
        .collect();
    c.declared_business = meters
        .iter()
        .filter(|m| !m.business.is_empty())
        .max_by_key(|m| m.start)
        .map(|m| m.business.clone());
    if let Some(b) = c
        .declared_business
        .as_deref()
        .filter(|b| data_centre(b, th))
    {
        // Mining under a data centre's name: the farm figures, if any, stay as evidence.
        if site.classification != "mining_farm" {
            c.class_evidence.clear();
        }
        site.classification = "data_centre_mining".into();
        c.class_evidence
            .insert(0, format!("declared business: {b} (grid metering)"));
    }
    c.commitment = r
        .commitments
        .iter()
        .filter(|x| x.enterprise == site.site)
        .min_by(|a, b| a.signed.cmp(&b.signed))
        .cloned();
    c.commitment_breached = c
        .commitment
        .as_ref()
        .is_some_and(|x| site.last_seen.get(..10).unwrap_or_default() >= x.signed.as_str());
    let overlapping: Vec<f64> = meters
        .iter()
        .map(|m| (m.kwh, period.overlap(m.start, m.end)))
        .filter(|(_, share)| *share > 0.0)
        .map(|(kwh, share)| kwh * share)
        .collect();
    c.metered_kwh = (!overlapping.is_empty()).then(|| overlapping.iter().sum());
    c.estimated_mining_kwh = site.power_kw * period.hours();
    c.mining_share = c
        .metered_kwh
        .filter(|m| *m > 0.0)
        .map(|m| c.estimated_mining_kwh / m);
    // A site whose own traffic shows no other business (its network serves next to nobody and
    // opens no more other connections than mining ones) and that draws far more than the
    // mining seen: mining the sensor does not see?
    let quiet = site.profile.as_ref().map(|p| {
        p.answered < th.data_centre_min_answered
            && p.opened.saturating_sub(p.mining_flows) <= p.mining_flows
    });
    c.energy_flag = match (c.metered_kwh, c.mining_share) {
        (None, _) => Some("no metering for the period".into()),
        (Some(_), Some(share)) if share >= th.energy_explains => Some(format!(
            "the mining estimate explains {:.0} % of the metered use",
            share.min(9.99) * 100.0
        )),
        (Some(m), _)
            if m >= th.energy_far_above * c.estimated_mining_kwh.max(f64::MIN_POSITIVE) =>
        {
            let times = m / c.estimated_mining_kwh.max(f64::MIN_POSITIVE);
            Some(match quiet {
                Some(true) => format!("metered use is {times:.0} x the mining estimate and the site's traffic shows no other business: mining not seen?"),
                Some(false) => format!("metered use is {times:.0} x the mining estimate (the site's traffic shows other business)"),
                None => format!("metered use is {times:.0} x the mining estimate (no traffic profile to tell what else draws it)"),
            })
        }
        _ => None,
    };
    let (billable, basis) = match c.metered_kwh {
        Some(m) => (c.estimated_mining_kwh.min(m), "metered"),
        None => (c.estimated_mining_kwh, "estimated"),
    };
    c.surcharge_yuan = billable * th.surcharge_yuan_per_kwh;
    c.surcharge_basis = basis.into();
}

/// One line of the ledger: a province, city or county and what it answers for.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LedgerRow {
    /// province, city or county
    pub level: &'static str,
    /// "浙江省", "浙江省 / 杭州市", "浙江省 / 杭州市 / 余杭区"
    pub name: String,
    pub sites: u64,
    pub new: u64,
    pub existing: u64,
    pub hashrate_hs: f64,
    pub power_kw: f64,
    pub estimated_mining_kwh: f64,
    pub surcharge_yuan: f64,
}

/// A park and the mining found in it (none is a line too: screening leaves no gap).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParkRow {
    pub name: String,
    pub kind: String,
    pub region: String,
    pub mining_sites: Vec<String>,
    pub row: String,
}

impl ParkRow {
    /// Its mining sites, or "none found": screening leaves no blank.
    pub fn sites_text(&self) -> String {
        if self.mining_sites.is_empty() {
            "none found".into()
        } else {
            self.mining_sites.join(", ")
        }
    }
}

/// The ledger of one inventory.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Ledger {
    pub period: Period,
    pub surcharge_yuan_per_kwh: f64,
    pub regions: Vec<LedgerRow>,
    /// Sites whose region is not known: listed, never dropped.
    pub no_region: LedgerRow,
    pub parks: Vec<ParkRow>,
}

fn add(row: &mut LedgerRow, s: &Site) {
    row.sites += 1;
    if s.change == "new" {
        row.new += 1;
    } else if !s.change.is_empty() {
        row.existing += 1;
    }
    row.hashrate_hs += s.hashrate_hs;
    row.power_kw += s.power_kw;
    row.estimated_mining_kwh += s.checks.estimated_mining_kwh;
    row.surcharge_yuan += s.checks.surcharge_yuan;
}

/// The ledger by province, city and county, and the parks. Sites gone since last week are not
/// counted.
pub fn ledger(sites: &[Site], r: &Reference, period: Period, th: &Thresholds) -> Ledger {
    let mut rows: BTreeMap<(String, u8), LedgerRow> = BTreeMap::new();
    let mut no_region = LedgerRow {
        level: "none",
        name: "region not known".into(),
        ..LedgerRow::default()
    };
    for s in sites.iter().filter(|s| !s.gone()) {
        let Some(region) = &s.checks.region else {
            add(&mut no_region, s);
            continue;
        };
        let province = if region.province.is_empty() {
            format!("region {} (not in the regions table)", region.code)
        } else {
            region.province.clone()
        };
        let city = format!("{province} / {}", region.city);
        let county = format!("{city} / {}", region.county);
        let levels = [
            (province, "province", true),
            (city, "city", !region.city.is_empty()),
            (county, "county", !region.county.is_empty()),
        ];
        for (rank, (name, level, known)) in levels.into_iter().enumerate() {
            if known {
                let row = rows
                    .entry((name.clone(), rank as u8))
                    .or_insert_with(|| LedgerRow {
                        level,
                        name,
                        ..LedgerRow::default()
                    });
                add(row, s);
            }
        }
    }
    let parks = r
        .parks
        .iter()
        .map(|p| ParkRow {
            name: p.name.clone(),
            kind: p.kind.clone(),
            region: p.region.clone(),
            mining_sites: sites
                .iter()
                .filter(|s| !s.gone() && s.checks.in_park.as_deref() == Some(&p.name))
                .map(|s| s.site.clone())
                .collect(),
            row: p.row.clone(),
        })
        .collect();
    Ledger {
        period,
        surcharge_yuan_per_kwh: th.surcharge_yuan_per_kwh,
        regions: rows.into_values().collect(),
        no_region,
        parks,
    }
}

//! The inventory written out: CSV for machines, a Markdown report (the sites, then the ledger,
//! the parks and the cross-checks) and an SVG chart of hashrate by site for people. Sites and
//! the ledger in; text out.

use super::crosscheck::Ledger;
use super::reference::Region;
use super::Site;
use std::collections::BTreeSet;

pub(super) fn join(v: &BTreeSet<String>) -> String {
    v.iter().cloned().collect::<Vec<_>>().join(";")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub fn to_csv(sites: &[Site]) -> String {
    let mut out = String::from("site,name,registration_number,address,addresses,first_seen,last_seen,connections,workers,devices,agents,pools,coins,algorithms,wallets,estimated_connections,left_out_connections,shares,hashrate_hs,hashrate_hs_low,hashrate_hs_high,power_kw,power_kw_low,power_kw_high,classification,change,class_evidence,region_code,province,city,county,in_park,declared_business,commitment_signed,commitment_breached,metered_kwh,estimated_mining_kwh,mining_share,energy_flag,surcharge_yuan,surcharge_basis\n");
    for s in sites {
        let row = [
            s.site.clone(),
            s.name.clone(),
            s.registration_number.clone(),
            s.address.clone(),
            join(&s.addresses),
            s.first_seen.clone(),
            s.last_seen.clone(),
            s.connections.to_string(),
            s.workers.len().to_string(),
            s.devices.len().to_string(),
            join(&s.agents),
            join(&s.pools),
            join(&s.coins),
            join(&s.algorithms),
            join(&s.wallets),
            s.estimated_connections.to_string(),
            s.left_out.len().to_string(),
            s.shares.to_string(),
            estimate(s, format!("{:.6e}", s.hashrate_hs)),
            estimate(s, format!("{:.6e}", s.hashrate_hs_low)),
            estimate(s, format!("{:.6e}", s.hashrate_hs_high)),
            estimate(s, format!("{:.3}", s.power_kw)),
            estimate(s, format!("{:.3}", s.power_kw_low)),
            estimate(s, format!("{:.3}", s.power_kw_high)),
            s.classification.clone(),
            s.change.clone(),
        ];
        let c = &s.checks;
        let region = c.region.clone().unwrap_or_default();
        let checks = [
            c.class_evidence.join("; "),
            region.code,
            region.province,
            region.city,
            region.county,
            c.in_park.clone().unwrap_or_default(),
            c.declared_business.clone().unwrap_or_default(),
            c.commitment
                .as_ref()
                .map(|x| x.signed.clone())
                .unwrap_or_default(),
            c.commitment_breached.to_string(),
            c.metered_kwh.map(|m| format!("{m:.3}")).unwrap_or_default(),
            format!("{:.3}", c.estimated_mining_kwh),
            c.mining_share
                .map(|m| format!("{m:.4}"))
                .unwrap_or_default(),
            c.energy_flag.clone().unwrap_or_default(),
            format!("{:.2}", c.surcharge_yuan),
            c.surcharge_basis.clone(),
        ];
        out.push_str(
            &row.iter()
                .chain(checks.iter())
                .map(|f| csv_field(f))
                .collect::<Vec<_>>()
                .join(","),
        );
        out.push('\n');
    }
    out
}

/// A total, or nothing when none of the site's connections could be estimated.
fn estimate(s: &Site, v: String) -> String {
    if s.estimated_connections == 0 {
        String::new()
    } else {
        v
    }
}

/// A hashrate with its SI prefix: `14.79 TH/s`.
pub(super) fn si(v: f64) -> String {
    let units = [
        ("E", 1e18),
        ("P", 1e15),
        ("T", 1e12),
        ("G", 1e9),
        ("M", 1e6),
        ("k", 1e3),
    ];
    for (u, f) in units {
        if v >= f {
            return format!("{:.2} {u}H/s", v / f);
        }
    }
    format!("{v:.2} H/s")
}

/// An SVG bar chart of hashrate by site (log scale, with the interval as a whisker).
pub fn chart(sites: &[Site]) -> String {
    let rows: Vec<&Site> = sites
        .iter()
        .filter(|s| s.hashrate_hs > 0.0)
        .take(30)
        .collect();
    let h = 30 + rows.len() * 22;
    let max = rows
        .iter()
        .map(|s| s.hashrate_hs_high.max(s.hashrate_hs))
        .fold(1.0f64, f64::max)
        .log10();
    let x = |v: f64| 260.0 + 420.0 * (v.max(1.0).log10() / max.max(1.0));
    let mut svg = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n<text x=\"10\" y=\"18\">Estimated hashrate by site (H/s, log scale; whiskers: 95 % interval)</text>\n");
    for (i, s) in rows.iter().enumerate() {
        let y = 30 + i * 22;
        let label = if s.name.is_empty() {
            s.site.clone()
        } else {
            s.name.clone()
        };
        svg.push_str(&format!(
            "<text x=\"10\" y=\"{}\">{}</text><rect x=\"260\" y=\"{y}\" width=\"{:.1}\" height=\"14\" fill=\"#4a7ab5\"/><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#222\"/><text x=\"{:.1}\" y=\"{}\">{}</text>\n",
            y + 11,
            label.replace('&', "&amp;").replace('<', "&lt;"),
            x(s.hashrate_hs) - 260.0,
            x(s.hashrate_hs_low),
            x(s.hashrate_hs_high),
            y + 7,
            y + 7,
            x(s.hashrate_hs_high) + 4.0,
            y + 11,
            si(s.hashrate_hs)
        ));
    }
    svg.push_str("</svg>\n");
    svg
}

pub fn report(sites: &[Site]) -> String {
    let mut r =
        String::from("# Mining site inventory\n\n![Estimated hashrate by site](hashrate.svg)\n\n");
    r.push_str("| site | enterprise | registration number | address | addresses | first seen | last seen | connections | workers | coins | hashrate (95 % interval) | power kW (range) | class | change |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for s in sites {
        r.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            s.site,
            s.name,
            s.registration_number,
            s.address,
            join(&s.addresses),
            s.first_seen,
            s.last_seen,
            s.connections,
            s.workers.len(),
            join(&s.coins),
            if s.estimated_connections == 0 && s.undecided_connections > 0 {
                format!(
                    "not given: the algorithm of {} connection(s) is open (see their events' algorithm_candidates)",
                    s.undecided_connections
                )
            } else if s.estimated_connections == 0 && !s.left_out.is_empty() {
                format!(
                    "not summed: {} connection(s) with too little evidence (below)",
                    s.left_out.len()
                )
            } else if s.estimated_connections == 0 {
                "no shares seen".to_string()
            } else {
                format!(
                    "{} ({} – {}; {} shares){}",
                    si(s.hashrate_hs),
                    si(s.hashrate_hs_low),
                    si(s.hashrate_hs_high),
                    s.shares,
                    if s.left_out.is_empty() {
                        String::new()
                    } else {
                        format!("; {} more left out (below)", s.left_out.len())
                    }
                )
            },
            estimate(
                s,
                format!(
                    "{:.3} ({:.3} – {:.3})",
                    s.power_kw, s.power_kw_low, s.power_kw_high
                )
            ),
            s.classification,
            s.change
        ));
    }
    r.push_str("\nHashrates and power are estimates from the shares seen, never exact: see each event's share count and interval.\n");
    let left: Vec<&Site> = sites.iter().filter(|s| !s.left_out.is_empty()).collect();
    if !left.is_empty() {
        r.push_str("\n## Left out of the totals\n\nThese connections' estimates rest on too little evidence to be added up; each is listed with its own interval.\n\n| site | connection | shares | hashrate (95 % interval) | why |\n|---|---|---|---|---|\n");
        for s in left {
            for l in &s.left_out {
                r.push_str(&format!(
                    "| {} | {} | {} | {} ({} – {}) | {} |\n",
                    s.site,
                    l.flow,
                    l.shares,
                    si(l.hashrate_hs),
                    si(l.hashrate_hs_low),
                    si(l.hashrate_hs_high),
                    l.why
                ));
            }
        }
    }
    r
}

fn day(t: i64) -> String {
    jiff::Timestamp::from_second(t)
        .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_default()
}

/// The ledger, the parks and each site's cross-checks, as Markdown after the site table.
pub fn ledger_report(l: &Ledger, sites: &[Site]) -> String {
    let mut r = format!(
        "\n## Ledger by region\n\nPeriod {} to {} UTC ({:.1} h); surcharge {:.2} yuan per kWh of mining electricity. Energy is the estimated mining power over the whole period.\n\n| level | region | sites | new | existing | hashrate | power kW | mining kWh | surcharge yuan |\n|---|---|---|---|---|---|---|---|---|\n",
        day(l.period.start),
        day(l.period.end),
        l.period.hours(),
        l.surcharge_yuan_per_kwh
    );
    for x in l.regions.iter().chain(std::iter::once(&l.no_region)) {
        if x.sites == 0 && x.level == "none" {
            continue;
        }
        r.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {:.3} | {:.1} | {:.2} |\n",
            x.level,
            x.name,
            x.sites,
            x.new,
            x.existing,
            si(x.hashrate_hs),
            x.power_kw,
            x.estimated_mining_kwh,
            x.surcharge_yuan
        ));
    }
    if !l.parks.is_empty() {
        r.push_str("\n## Parks\n\nEvery park in the reference data, mining found in it or not.\n\n| park | kind | region | mining sites |\n|---|---|---|---|\n");
        for p in &l.parks {
            r.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                p.name,
                p.kind,
                p.region,
                p.sites_text()
            ));
        }
    }
    r.push_str("\n## Cross-checks by site\n\n| site | class | why | region | park | declared business | commitment | metered kWh | mining kWh (estimate) | share | flag | surcharge yuan |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for s in sites.iter().filter(|s| !s.gone()) {
        let c = &s.checks;
        r.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {} | {} | {:.2} ({}) |\n",
            s.site,
            s.classification,
            c.class_evidence.join("; "),
            c.region.as_ref().map(Region::name).unwrap_or_default(),
            c.in_park.as_deref().unwrap_or_default(),
            c.declared_business.as_deref().unwrap_or_default(),
            c.commitment.as_ref().map_or(String::new(), |x| format!(
                "signed {}{}",
                x.signed,
                if c.commitment_breached {
                    ": BREACHED, mining seen since"
                } else {
                    ""
                }
            )),
            c.metered_kwh.map_or("none".into(), |m| format!("{m:.1}")),
            c.estimated_mining_kwh,
            c.mining_share
                .map_or(String::new(), |x| format!("{:.0} %", x * 100.0)),
            c.energy_flag.as_deref().unwrap_or_default(),
            c.surcharge_yuan,
            c.surcharge_basis
        ));
    }
    r
}

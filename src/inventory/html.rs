//! The inventory as one self-contained HTML page for people: the ledger by region, the parks,
//! a chart of hashrate and power by site with axes, units and 95 % intervals, and the sites in
//! a table that sorts and filters, each row linking its evidence bundles. No network fetch:
//! styles and script are inline, and the fonts are the reader's own CJK-capable ones.
//! Sites and the ledger in; the page out.

use super::crosscheck::Ledger;
use super::reference::Region;
use super::render::si;
use super::Site;
use std::fmt::Write;

/// Text for HTML (element content and quoted attributes).
fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const STYLE: &str = r#"
body { font-family: "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif; margin: 24px; color: #1b1f24; }
h1 { font-size: 22px; } h2 { font-size: 17px; margin-top: 28px; }
table { border-collapse: collapse; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #c8ccd2; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #eef1f5; cursor: pointer; user-select: none; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
tr.province td { font-weight: 600; background: #f7f8fa; }
.flag { color: #a3161c; font-weight: 600; }
.note { color: #4b5563; font-size: 12px; max-width: 1100px; }
input, select { font: inherit; font-size: 13px; margin-right: 8px; }
"#;

const SCRIPT: &str = r#"
(function () {
  var errors = [];
  window.addEventListener('error', function (e) { errors.push(String(e.message)); document.body.dataset.errors = errors.join('; '); });
  function cell(tr, i) { var td = tr.children[i]; return td ? (td.dataset.sort !== undefined ? td.dataset.sort : td.textContent) : ''; }
  document.querySelectorAll('table.sortable').forEach(function (table) {
    table.querySelectorAll('th').forEach(function (th, i) {
      th.addEventListener('click', function () {
        var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
        var up = th.dataset.dir !== 'up'; th.dataset.dir = up ? 'up' : 'down';
        rows.sort(function (a, b) {
          var x = cell(a, i), y = cell(b, i), nx = parseFloat(x), ny = parseFloat(y);
          var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
          return up ? c : -c;
        });
        rows.forEach(function (r) { body.appendChild(r); });
      });
    });
  });
  var text = document.getElementById('filter'), cls = document.getElementById('class');
  function filter() {
    var t = text.value.toLowerCase(), c = cls.value, shown = 0;
    document.querySelectorAll('#sites tbody tr').forEach(function (tr) {
      var ok = tr.textContent.toLowerCase().indexOf(t) >= 0 && (!c || tr.dataset.class === c);
      tr.style.display = ok ? '' : 'none'; if (ok) { shown++; }
    });
    document.getElementById('shown').textContent = shown;
  }
  text.addEventListener('input', filter); cls.addEventListener('change', filter); filter();
  document.body.dataset.ready = 'yes';
})();
"#;

/// A horizontal bar chart on a log axis with decade ticks, the 95 % interval as whiskers.
/// `rows`: label, value, low, high; `tick`: the label of the decade 10^d, if it has one.
fn chart(
    title: &str,
    unit: &str,
    rows: &[(String, f64, f64, f64)],
    tick: &dyn Fn(i32) -> Option<String>,
) -> String {
    let (left, width, bar) = (240.0, 560.0, 22.0);
    let positive = |v: f64| v > 0.0 && v.is_finite();
    let lo = rows
        .iter()
        .flat_map(|r| [r.1, r.2])
        .filter(|v| positive(*v))
        .fold(f64::INFINITY, f64::min);
    let hi = rows
        .iter()
        .flat_map(|r| [r.1, r.3])
        .filter(|v| positive(*v))
        .fold(0.0, f64::max);
    if rows.is_empty() || !positive(hi) {
        return format!("<p class=\"note\">{}: no estimate to draw.</p>", esc(title));
    }
    let (d0, d1) = (
        lo.log10().floor() as i32,
        (hi.log10().ceil() as i32).max(lo.log10().floor() as i32 + 1),
    );
    let x = |v: f64| {
        left + width * ((v.max(10f64.powi(d0)).log10() - f64::from(d0)) / f64::from(d1 - d0))
    };
    let height = 50.0 + bar * rows.len() as f64 + 40.0;
    let mut s = format!(
        "<svg role=\"img\" aria-label=\"{t}\" width=\"{w}\" height=\"{height}\" font-size=\"12\">\n<text x=\"0\" y=\"16\" font-weight=\"600\">{t}</text>\n",
        t = esc(title),
        w = left + width + 120.0
    );
    let axis_y = 30.0 + bar * rows.len() as f64 + 6.0;
    for d in d0..=d1 {
        let tx = x(10f64.powi(d));
        let _ = write!(
            s,
            "<line x1=\"{tx:.1}\" x2=\"{tx:.1}\" y1=\"26\" y2=\"{axis_y}\" stroke=\"#dde1e6\"/>"
        );
        if let Some(t) = tick(d) {
            let _ = write!(
                s,
                "<text x=\"{tx:.1}\" y=\"{}\" text-anchor=\"middle\">{}</text>",
                axis_y + 16.0,
                esc(&t)
            );
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "<line x1=\"{left}\" x2=\"{}\" y1=\"{axis_y}\" y2=\"{axis_y}\" stroke=\"#333\"/><text x=\"{}\" y=\"{}\" text-anchor=\"middle\">{} (log scale; whiskers: 95 % interval)</text>",
        left + width,
        left + width / 2.0,
        axis_y + 32.0,
        esc(unit)
    );
    for (i, (label, v, l, h)) in rows.iter().enumerate() {
        let y = 30.0 + bar * i as f64;
        let _ = writeln!(
            s,
            "<text x=\"0\" y=\"{}\">{}</text><rect x=\"{left}\" y=\"{y}\" width=\"{:.1}\" height=\"14\" fill=\"#4a7ab5\"><title>{}</title></rect><line x1=\"{:.1}\" x2=\"{:.1}\" y1=\"{}\" y2=\"{}\" stroke=\"#111\"/>",
            y + 11.0,
            esc(label),
            (x(*v) - left).max(1.0),
            esc(&format!("{label}: {v:.4e} ({l:.4e} – {h:.4e}) {unit}")),
            x(*l),
            x(*h),
            y + 7.0,
            y + 7.0
        );
    }
    s.push_str("</svg>\n");
    s
}

fn label(s: &Site) -> String {
    if s.name.is_empty() {
        s.site.clone()
    } else {
        format!("{} ({})", s.name, s.site)
    }
}

fn ledger_table(l: &Ledger) -> String {
    let mut h = String::from("<table id=\"ledger\"><thead><tr><th>level</th><th>region</th><th>sites</th><th>new</th><th>existing</th><th>hashrate</th><th>power kW</th><th>mining kWh</th><th>surcharge yuan</th></tr></thead><tbody>\n");
    for r in l.regions.iter().chain(std::iter::once(&l.no_region)) {
        if r.level == "none" && r.sites == 0 {
            continue;
        }
        let _ = writeln!(
            h,
            "<tr class=\"{lv}\" data-name=\"{n}\" data-sites=\"{}\" data-power-kw=\"{}\" data-surcharge=\"{}\"><td>{lv}</td><td>{n}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{:.3}</td><td class=\"n\">{:.1}</td><td class=\"n\">{:.2}</td></tr>",
            r.sites,
            r.power_kw,
            r.surcharge_yuan,
            r.sites,
            r.new,
            r.existing,
            si(r.hashrate_hs),
            r.power_kw,
            r.estimated_mining_kwh,
            r.surcharge_yuan,
            lv = r.level,
            n = esc(&r.name),
        );
    }
    h.push_str("</tbody></table>\n");
    h
}

fn site_row(s: &Site, evidence: &str) -> String {
    let c = &s.checks;
    let mut flags = Vec::new();
    if c.commitment_breached {
        if let Some(x) = &c.commitment {
            flags.push(format!("pledge of {} breached", x.signed));
        }
    }
    flags.extend(c.energy_flag.clone());
    let links: Vec<String> = s
        .bundles
        .iter()
        .map(|b| format!("<a href=\"{}/{}/\">{}</a>", esc(evidence), esc(b), esc(b)))
        .collect();
    let region = c.region.as_ref().map_or(String::new(), Region::name);
    format!(
        "<tr data-site=\"{id}\" data-class=\"{cl}\" data-hashrate=\"{hr}\" data-surcharge=\"{sy}\"><td>{id}</td><td>{name}</td><td>{region}</td><td>{park}</td><td title=\"{why}\">{cl}</td><td class=\"n\">{conn}</td><td class=\"n\">{w}</td><td class=\"n\" data-sort=\"{hr}\">{hrs} ({lo} – {hi})</td><td class=\"n\" data-sort=\"{pw}\">{pw:.3}</td><td class=\"n\" data-sort=\"{mk}\">{mks}</td><td class=\"n\">{ek:.1}</td><td class=\"n\" data-sort=\"{sy}\">{sy:.2}</td><td class=\"flag\">{flags}</td><td>{change}</td><td>{links}</td></tr>\n",
        id = esc(&s.site),
        name = esc(&s.name),
        region = esc(&region),
        park = esc(c.in_park.as_deref().unwrap_or_default()),
        why = esc(&c.class_evidence.join("; ")),
        cl = esc(&s.classification),
        conn = s.connections,
        w = s.workers.len(),
        hr = s.hashrate_hs,
        hrs = si(s.hashrate_hs),
        lo = si(s.hashrate_hs_low),
        hi = si(s.hashrate_hs_high),
        pw = s.power_kw,
        mk = c.metered_kwh.unwrap_or(-1.0),
        mks = c.metered_kwh.map_or("none".into(), |m| format!("{m:.1}")),
        ek = c.estimated_mining_kwh,
        sy = c.surcharge_yuan,
        flags = esc(&flags.join("; ")),
        change = esc(&s.change),
        links = links.join(" "),
    )
}

/// The page. `evidence` is where the evidence bundles are, relative to the page.
pub fn page(sites: &[Site], l: &Ledger, evidence: &str) -> String {
    let live: Vec<&Site> = sites.iter().filter(|s| !s.gone()).collect();
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><title>Mining site inventory</title><style>{STYLE}</style></head><body>\n<h1>Mining site inventory</h1>\n<p class=\"note\">{} sites; surcharge {:.2} yuan per kWh of mining electricity. Hashrates and power are estimates from the shares seen, never exact; energy is the estimated power over the whole period.</p>\n<h2>Ledger by region</h2>\n",
        live.len(),
        l.surcharge_yuan_per_kwh
    );
    h.push_str(&ledger_table(l));
    if !l.parks.is_empty() {
        h.push_str("<h2>Parks</h2><table id=\"parks\"><thead><tr><th>park</th><th>kind</th><th>region</th><th>mining sites</th></tr></thead><tbody>\n");
        for p in &l.parks {
            let _ = writeln!(
                h,
                "<tr data-park=\"{n}\" data-mining=\"{}\"><td>{n}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                p.mining_sites.len(),
                esc(&p.kind),
                esc(&p.region),
                esc(&p.sites_text()),
                n = esc(&p.name),
            );
        }
        h.push_str("</tbody></table>\n");
    }
    let drawn: Vec<&&Site> = live
        .iter()
        .filter(|s| s.hashrate_hs > 0.0)
        .take(40)
        .collect();
    let rows = |f: &dyn Fn(&Site) -> (f64, f64, f64)| -> Vec<(String, f64, f64, f64)> {
        drawn
            .iter()
            .map(|s| {
                let (v, lo, hi) = f(s);
                (label(s), v, lo, hi)
            })
            .collect()
    };
    h.push_str("<h2>Hashrate and power by site</h2>\n");
    h.push_str(&chart(
        "Estimated hashrate by site",
        "hashes per second (H/s)",
        &rows(&|s| (s.hashrate_hs, s.hashrate_hs_low, s.hashrate_hs_high)),
        // 1 H/s, 1 kH/s, 1 MH/s, ...: every third decade.
        &|d| (d.rem_euclid(3) == 0).then(|| si(10f64.powi(d)).replace(".00", "")),
    ));
    h.push_str(&chart(
        "Estimated power by site",
        "kilowatts (kW)",
        &rows(&|s| (s.power_kw, s.power_kw_low, s.power_kw_high)),
        &|d| Some(format!("{} kW", 10f64.powi(d))),
    ));
    let left: usize = live.iter().map(|s| s.left_out.len()).sum();
    let undecided: u64 = live.iter().map(|s| s.undecided_connections).sum();
    let _ = writeln!(
        h,
        "<p class=\"note\" id=\"left-out\">Left out of the totals and the charts: {left} connection(s) whose estimate rests on too few shares or too wide an interval, and {undecided} whose algorithm the evidence leaves open (their candidates are in the events).</p>"
    );
    let mut classes: Vec<&str> = live.iter().map(|s| s.classification.as_str()).collect();
    classes.sort_unstable();
    classes.dedup();
    let options: String = classes
        .iter()
        .map(|c| format!("<option>{}</option>", esc(c)))
        .collect();
    let _ = write!(
        h,
        "<h2>Sites</h2><p><input id=\"filter\" placeholder=\"filter\"><select id=\"class\"><option value=\"\">every class</option>{options}</select><span id=\"shown\"></span> shown; click a column to sort.</p>\n<table id=\"sites\" class=\"sortable\"><thead><tr><th>site</th><th>enterprise</th><th>region</th><th>park</th><th>class</th><th>connections</th><th>workers</th><th>hashrate (95 % interval)</th><th>power kW</th><th>metered kWh</th><th>mining kWh</th><th>surcharge yuan</th><th>flags</th><th>change</th><th>evidence</th></tr></thead><tbody>\n"
    );
    for s in &live {
        h.push_str(&site_row(s, evidence));
    }
    h.push_str("</tbody></table>\n<script>");
    h.push_str(SCRIPT);
    h.push_str("</script>\n</body></html>\n");
    h
}

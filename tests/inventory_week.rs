//! A generated week cross-checked with other agencies' data: a mining farm, a data centre with
//! no mining, a data centre hosting mining, a cryptojacked office and an unattributed miner;
//! sites in and out of a park; metering for each enterprise (GBK, Chinese columns); two
//! commitments. Each site's class, flags and surcharge are computed by hand below; the ledger's
//! province totals equal the sum of their sites; the next week marks new and existing.

mod common;

use common::*;
use serde_json::{json, Value};
use std::path::Path;

/// One final mining event of `site` (subscriber id, or None: unattributed) from `src`.
fn event(n: u32, site: Option<(&str, &str, &str)>, src: &str, m: Value) -> Value {
    let mut e = json!({
        "schema": "minetap/1", "event_type": "mining", "final": true,
        "timestamp": "2026-11-29T12:00:00.000000Z", "flow_id": n,
        "src_ip": src, "src_port": 40000 + n, "dest_ip": "198.51.100.7", "dest_port": 3333,
        "mining": m,
    });
    if let Some((id, name, region)) = site {
        e["subscriber"] = json!({"status": "matched", "candidates": [
            {"id": id, "name": name, "region": region, "registered": true,
             "matched": {"identity": id, "kind": "radius", "source": "t", "valid_from": 0}}
        ]});
    }
    e
}

/// A connection's mining object: `watts` on `shares` shares of sha256d (or what `extra` says).
fn mining(worker: &str, watts: f64, shares: u64, extra: Value) -> Value {
    let mut m = json!({
        "protocol": "stratum-v1", "algorithm": "sha256d", "agent": "bmminer/2.0.0",
        "workers": [worker], "first_seen": "2026-11-23T00:10:00.000000Z",
        "last_seen": "2026-11-29T23:50:00.000000Z",
        "hashrate": {"hashrate_hs": 1e14, "hashrate_hs_low": 9e13, "hashrate_hs_high": 1.1e14,
                     "shares": shares},
        "power": {"watts": watts, "watts_low": watts * 0.9, "watts_high": watts * 1.1},
    });
    if let (Some(m), Some(x)) = (m.as_object_mut(), extra.as_object()) {
        m.extend(x.clone());
    }
    m
}

const FARM: (&str, &str, &str) = ("E-FARM", "恒远矿业有限公司", "330110");
const DC2: (&str, &str, &str) = ("E-DC2", "星河算力科技", "330106");
const OFFICE: (&str, &str, &str) = ("E-OFFICE", "兰亭贸易", "320102");
const NEW: (&str, &str, &str) = ("E-NEW", "新开矿场", "330110");
const QUIET: (&str, &str, &str) = ("E-QUIET", "静安仓储", "330110");

fn week_one() -> Vec<Value> {
    let mut ev = Vec::new();
    // The farm: 12 rigs of 2 kW, one worker each.
    for i in 0..12u32 {
        let m = mining(&format!("farm.rig{i}"), 2000.0, 40, json!({}));
        let mut e = event(i, Some(FARM), &format!("10.1.0.{}", 10 + i), m);
        if i == 0 {
            e["evidence"] = json!({"bundle": "20261123T001000Z-farm-rig0"});
        }
        ev.push(e);
    }
    // The data centre hosting mining: 3 connections of 1.5 kW from its park network.
    for i in 0..3u32 {
        let m = mining(&format!("dc.{i}"), 1500.0, 30, json!({}));
        ev.push(event(20 + i, Some(DC2), "10.2.3.4", m));
    }
    // The office: one host, XMRig on RandomX, 30 W.
    let m = mining(
        "4AdUndXHHZ6cfufTMvppY6JwXNouMBzSkbLYfpAV5Usx3skxNgYeYTRj5UzqtReoS44qo9mtmXCqY45DJ852K5Jv2684Rge.office",
        30.0,
        25,
        json!({"algorithm": "randomx", "agent": "XMRig/6.21.0", "protocol": "cryptonote",
               "hashrate": {"hashrate_hs": 3000.0, "hashrate_hs_low": 2500.0,
                            "hashrate_hs_high": 3600.0, "shares": 25}}),
    );
    ev.push(event(30, Some(OFFICE), "10.3.0.9", m));
    // Nobody's: 500 W from an address the registry does not know.
    ev.push(event(
        40,
        None,
        "203.0.113.77",
        mining("x", 500.0, 12, json!({})),
    ));
    // A quiet building: one 1 kW rig seen, its network opening nothing else.
    let m = mining("q.0", 1000.0, 15, json!({}));
    ev.push(event(45, Some(QUIET), "10.4.0.2", m));
    // The sensor's profiles of the office's and the quiet building's networks.
    for (site, opened, mining_flows) in [("10.3.0.9", 300, 1), ("10.4.0.0/24", 1, 1)] {
        ev.push(json!({
            "schema": "minetap/1", "event_type": "site_profile",
            "timestamp": "2026-11-29T13:00:00.000000Z",
            "site_profile": {"site": site, "interval_start": 1_764_417_600u64,
                "interval_end": 1_764_421_200u64, "flows_opened": opened,
                "flows_answered": 0, "peers": 3, "bytes_sent": 10_000, "bytes_received": 20_000,
                "mining_flows": mining_flows, "served": []}
        }));
    }
    ev
}

fn write_lines(path: &Path, events: &[Value]) {
    let text: String = events.iter().map(|e| format!("{e}\n")).collect();
    std::fs::write(path, text).unwrap();
}

/// The reference files: parks (UTF-8, English), metering (GBK, Chinese), commitments
/// (English), regions (UTF-8, Chinese).
fn reference(dir: &Path) -> Vec<String> {
    std::fs::write(
        dir.join("parks.csv"),
        "park_name,kind,region_code,networks,enterprises\n\
         钱塘大数据产业园,big-data park,330110,10.2.0.0/16,E-DC1;E-DC2\n\
         紫金高新区,high-tech zone,320102,10.9.0.0/16,\n",
    )
    .unwrap();
    let metering = "企业编号,计量周期,用电量(kWh),合同容量(kVA),申报业务\n\
         E-FARM,2026-11,20000,800,制造业\n\
         E-DC1,2026-11,90000,4000,数据中心\n\
         E-OFFICE,2026年11月,3000,50,贸易\n\
         E-QUIET,2026-11,36000,300,仓储\n"
        .to_string()
        + &(23..30)
            .map(|d| format!("E-DC2,2026-11-{d},5000,2500,数据中心\n"))
            .collect::<String>();
    let (gbk, _, unmappable) = encoding_rs::GBK.encode(&metering);
    assert!(!unmappable);
    std::fs::write(dir.join("metering.csv"), gbk).unwrap();
    std::fs::write(
        dir.join("commitments.csv"),
        "enterprise_id,signed_date,kind\nE-DC1,2026-03-01,data-centre no-mining pledge\nE-DC2,2026-06-15,data-centre no-mining pledge\n",
    )
    .unwrap();
    std::fs::write(
        dir.join("regions.csv"),
        "行政区划代码,省,市,区县\n330110,浙江省,杭州市,余杭区\n330106,浙江省,杭州市,西湖区\n320102,江苏省,南京市,玄武区\n",
    )
    .unwrap();
    let p = |f: &str| dir.join(f).to_str().unwrap().to_string();
    vec![
        "--parks".into(),
        p("parks.csv"),
        "--metering".into(),
        p("metering.csv"),
        "--commitments".into(),
        p("commitments.csv"),
        "--regions".into(),
        p("regions.csv"),
        "--period".into(),
        "2026-11-23/2026-11-30".into(),
    ]
}

fn inventory(dir: &Path, events: &Path, out: &str, previous: Option<&Path>) -> (Vec<Value>, Value) {
    let mut args = vec![
        "inventory".to_string(),
        events.to_str().unwrap().into(),
        "--out".into(),
        dir.join(out).to_str().unwrap().into(),
    ];
    args.extend(reference(dir));
    if let Some(p) = previous {
        args.extend(["--previous".into(), p.to_str().unwrap().into()]);
    }
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let res = run(&a);
    assert!(res.status.success(), "{}", stderr(&res));
    let read = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(dir.join(out).join(f)).unwrap()).unwrap()
    };
    let sites = read("inventory.json").as_array().unwrap().clone();
    (sites, read("ledger.json"))
}

fn site<'a>(sites: &'a [Value], key: &str) -> &'a Value {
    sites
        .iter()
        .find(|s| s["site"] == key)
        .unwrap_or_else(|| panic!("no site {key}"))
}

fn close(a: &Value, b: f64) -> bool {
    a.as_f64()
        .is_some_and(|a| (a - b).abs() < 1e-6 * b.abs().max(1.0))
}

#[test]
fn a_week_cross_checked_with_parks_metering_commitments_and_regions() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_lines(&d.join("w1.jsonl"), &week_one());
    let (sites, ledger) = inventory(d, &d.join("w1.jsonl"), "w1", None);
    assert_eq!(sites.len(), 5, "{sites:#?}");
    let hours = 168.0;

    // The farm: 24 kW for the week = 4,032 kWh; metered 20,000 kWh in November, 7/30 of it
    // in the week = 4,666.667 kWh; the estimate explains 86 %: flagged. Surcharge on
    // min(4,032, 4,666.667) at 0.30 = 1,209.60 yuan.
    let farm = site(&sites, "E-FARM");
    assert_eq!(farm["classification"], "mining_farm");
    assert_eq!(
        farm["class_evidence"][0],
        "power 24.0 kW (>= 10 kW) on 480 shares"
    );
    assert!(farm.get("in_park").is_none());
    assert_eq!(farm["region"]["county"], "余杭区");
    assert!(close(&farm["metered_kwh"], 20_000.0 * 7.0 / 30.0), "{farm}");
    assert!(close(&farm["estimated_mining_kwh"], 24.0 * hours));
    assert!(close(&farm["surcharge_yuan"], 1_209.6));
    assert_eq!(farm["surcharge_basis"], "metered");
    assert_eq!(
        farm["energy_flag"],
        "the mining estimate explains 86 % of the metered use"
    );
    assert_eq!(farm["declared_business"], "制造业");

    // The data centre hosting mining: 4.5 kW would be small-scale; its declared business makes
    // it data_centre_mining; in the park by its network; its pledge of 2026-06-15 is breached.
    // 756 kWh of 35,000 metered: no flag; surcharge 756 x 0.30 = 226.80.
    let dc = site(&sites, "E-DC2");
    assert_eq!(dc["classification"], "data_centre_mining");
    assert_eq!(
        dc["class_evidence"][0],
        "declared business: 数据中心 (grid metering)"
    );
    assert_eq!(dc["in_park"], "钱塘大数据产业园");
    assert_eq!(dc["commitment"]["signed"], "2026-06-15");
    assert_eq!(dc["commitment_breached"], true);
    assert!(close(&dc["metered_kwh"], 35_000.0));
    assert!(close(&dc["surcharge_yuan"], 4.5 * hours * 0.30));
    assert_eq!(
        dc["energy_flag"],
        "metered use is 46 x the mining estimate (no traffic profile to tell what else draws it)"
    );

    // The office: cryptojacking; 0.03 kW x 168 h = 5.04 kWh, surcharge 1.512.
    let office = site(&sites, "E-OFFICE");
    assert_eq!(office["classification"], "cryptojacking");
    assert!(close(&office["metered_kwh"], 700.0));
    assert!(close(&office["surcharge_yuan"], 0.03 * hours * 0.30));
    assert_eq!(office["region"]["province"], "江苏省");
    // 700 kWh metered is 139 x the estimate, and its traffic shows other business (300
    // connections opened, 1 of them mining).
    assert_eq!(
        office["energy_flag"],
        "metered use is 139 x the mining estimate (the site's traffic shows other business)",
        "{office}"
    );
    // The second farm's building draws 50 x what its one rig explains, and its network does
    // nothing else: the flag asks whether mining goes unseen.
    let quiet = site(&sites, "E-QUIET");
    assert_eq!(
        quiet["energy_flag"],
        "metered use is 50 x the mining estimate and the site's traffic shows no other business: mining not seen?"
    );

    // Nobody's: no region, no metering: the estimate is charged, and it is said.
    let other = site(&sites, "unattributed:203.0.113.77");
    assert_eq!(other["classification"], "small_scale");
    assert_eq!(other["surcharge_basis"], "estimated");
    assert!(close(&other["surcharge_yuan"], 0.5 * hours * 0.30));
    assert_eq!(other["energy_flag"], "no metering for the period");
    assert_eq!(other["commitment_breached"], false);

    // The ledger: each province's totals are the sum of its sites.
    let rows = ledger["regions"].as_array().unwrap();
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["name"] == name)
            .unwrap_or_else(|| panic!("no ledger row {name}: {rows:#?}"))
    };
    let zj = row("浙江省");
    assert_eq!(zj["level"], "province");
    assert_eq!(zj["sites"], 3);
    let sum = |field: &str, keys: &[&str]| -> f64 {
        keys.iter()
            .map(|k| site(&sites, k)[field].as_f64().unwrap())
            .sum()
    };
    assert!(close(
        &zj["surcharge_yuan"],
        sum("surcharge_yuan", &["E-FARM", "E-DC2", "E-QUIET"])
    ));
    assert!(close(&zj["surcharge_yuan"], 1_209.6 + 226.8 + 50.4));
    assert!(close(
        &zj["power_kw"],
        sum("power_kw", &["E-FARM", "E-DC2", "E-QUIET"])
    ));
    assert!(close(
        &zj["hashrate_hs"],
        sum("hashrate_hs", &["E-FARM", "E-DC2", "E-QUIET"])
    ));
    assert_eq!(row("浙江省 / 杭州市")["sites"], 3);
    assert_eq!(row("浙江省 / 杭州市 / 西湖区")["sites"], 1);
    assert_eq!(row("江苏省 / 南京市 / 玄武区")["sites"], 1);
    assert_eq!(ledger["no_region"]["sites"], 1);
    // Every park is listed, the one where no mining was found too.
    let parks = ledger["parks"].as_array().unwrap();
    assert_eq!(parks[0]["mining_sites"], json!(["E-DC2"]));
    assert_eq!(parks[1]["name"], "紫金高新区");
    assert_eq!(parks[1]["mining_sites"], json!([]));
    let report = std::fs::read_to_string(d.join("w1/report.md")).unwrap();
    assert!(
        report.contains("| 紫金高新区 | high-tech zone | 320102 | none found |"),
        "{report}"
    );
    assert!(
        report.contains("signed 2026-06-15: BREACHED, mining seen since"),
        "{report}"
    );

    // The next week: the farm and the office go on, the data centre stopped, a new farm.
    let mut w2: Vec<Value> = week_one()
        .into_iter()
        .filter(|e| e["subscriber"]["candidates"][0]["id"] != "E-DC2")
        .collect();
    w2.push(event(
        50,
        Some(NEW),
        "10.1.9.9",
        mining("new.0", 1000.0, 20, json!({})),
    ));
    write_lines(&d.join("w2.jsonl"), &w2);
    let (sites2, ledger2) = inventory(
        d,
        &d.join("w2.jsonl"),
        "w2",
        Some(&d.join("w1/inventory.json")),
    );
    assert_eq!(site(&sites2, "E-NEW")["change"], "new");
    assert_eq!(site(&sites2, "E-FARM")["change"], "continuing");
    assert_eq!(site(&sites2, "E-DC2")["change"], "gone");
    let rows2 = ledger2["regions"].as_array().unwrap();
    let zj2 = rows2.iter().find(|r| r["name"] == "浙江省").unwrap();
    assert_eq!(
        (
            zj2["sites"].as_u64(),
            zj2["new"].as_u64(),
            zj2["existing"].as_u64()
        ),
        (Some(3), Some(1), Some(2))
    );
    assert_eq!(ledger2["parks"][0]["mining_sites"], json!([]));
}

#[test]
fn a_bad_reference_file_is_named_by_line_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_lines(&d.join("w.jsonl"), &week_one());
    std::fs::write(
        d.join("parks.csv"),
        "园区名称,园区类型,网段\nA,big-data park,10.0.0.0/33\nB,high-tech zone,\n",
    )
    .unwrap();
    let out = run(&[
        "inventory",
        d.join("w.jsonl").to_str().unwrap(),
        "--out",
        d.join("o").to_str().unwrap(),
        "--parks",
        d.join("parks.csv").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("parks.csv:2: "), "{err}");
    assert!(
        err.contains("parks.csv:3: a park names its networks or its enterprises"),
        "{err}"
    );
    assert!(!d.join("o").exists());
}

/// The headless browser, if one is installed.
fn chromium() -> Option<&'static str> {
    ["chromium-headless-shell", "chromium", "chromium-browser"]
        .into_iter()
        .find(|b| {
            std::process::Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
}

/// The value of `attr` in the first element whose opening tag contains `anchor`.
fn attr(dom: &str, anchor: &str, attr: &str) -> String {
    let at = dom
        .find(anchor)
        .unwrap_or_else(|| panic!("no {anchor} in the page"));
    let tag_start = dom[..at].rfind('<').unwrap();
    let tag = &dom[tag_start..tag_start + dom[tag_start..].find('>').unwrap()];
    let key = format!("{attr}=\"");
    let v = &tag[tag
        .find(&key)
        .unwrap_or_else(|| panic!("no {attr} in {tag}"))
        + key.len()..];
    v[..v.find('"').unwrap()].to_string()
}

#[test]
fn the_html_report_opens_in_a_headless_browser_with_the_ledgers_numbers() {
    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: no headless Chromium (Debian: chromium-headless-shell); .ci/run installs it"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    write_lines(&d.join("w1.jsonl"), &week_one());
    let (sites, ledger) = inventory(d, &d.join("w1.jsonl"), "w1", None);
    let page = d.join("w1/report.html");
    let html = std::fs::read_to_string(&page).unwrap();
    for fetch in [
        "src=",
        "href=\"http",
        "url(",
        "@import",
        "http://",
        "https://",
    ] {
        assert!(!html.contains(fetch), "the page fetches nothing: {fetch}");
    }
    let url = format!("file://{}", page.display());
    let chrome = |extra: &[&str]| {
        std::process::Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--enable-logging=stderr",
                "--v=0",
            ])
            .args(["--virtual-time-budget=3000", "--window-size=1400,1700"])
            .args(extra)
            .arg(&url)
            .output()
            .unwrap()
    };
    let out = chrome(&["--dump-dom"]);
    let dom = String::from_utf8_lossy(&out.stdout).to_string();
    let log = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "{log}");
    // The script ran to its end, and nothing went to the console as an error.
    assert!(dom.contains("data-ready=\"yes\""), "{dom}");
    assert!(!dom.contains("data-errors="), "{dom}");
    let console: Vec<&str> = log.lines().filter(|l| l.contains("CONSOLE")).collect();
    assert!(console.is_empty(), "console: {console:#?}");
    // The ledger's numbers in the page are ledger.json's.
    let rows = ledger["regions"].as_array().unwrap();
    let zj = rows.iter().find(|r| r["name"] == "浙江省").unwrap();
    let anchor = "data-name=\"浙江省\"";
    assert_eq!(attr(&dom, anchor, "data-sites"), zj["sites"].to_string());
    let shown: f64 = attr(&dom, anchor, "data-surcharge").parse().unwrap();
    assert!(close(&zj["surcharge_yuan"], shown), "{shown} {zj}");
    assert!(dom.contains("<td class=\"n\">1486.80</td>"), "{dom}");
    // One site's row: the data centre hosting mining.
    let dc = site(&sites, "E-DC2");
    let anchor = "data-site=\"E-DC2\"";
    assert_eq!(attr(&dom, anchor, "data-class"), "data_centre_mining");
    let s: f64 = attr(&dom, anchor, "data-surcharge").parse().unwrap();
    assert!(close(&dc["surcharge_yuan"], s), "{s} {dc}");
    assert!(dom.contains("pledge of 2026-06-15 breached"));
    // The filter shows every site at first; the farm's row links its evidence bundle.
    assert!(dom.contains("<span id=\"shown\">5</span>"), "{dom}");
    assert!(dom.contains("<a href=\"evidence/20261123T001000Z-farm-rig0/\">"));
    // A screenshot, kept with the test's output (and, asked for, as the README's picture).
    let shot = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("report.png");
    let arg = format!("--screenshot={}", shot.display());
    let out = chrome(&[&arg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    eprintln!("screenshot: {}", shot.display());
    if std::env::var_os("MINETAP_UPDATE_SCREENSHOT").is_some() {
        let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/report.png");
        std::fs::copy(&shot, docs).unwrap();
    }
}

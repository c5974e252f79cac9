//! Reference data for the inventory, from other agencies: parks (big-data parks, high-tech
//! zones and their networks or enterprises), grid metering (kWh by enterprise and period),
//! signed no-mining commitments, and regions (code to province, city, county). Each is a CSV
//! file in UTF-8 or GBK with English or Chinese column names; files in, typed rows out, or an
//! error naming the file and every bad line.

use crate::attrib::formats::columns::normalise;
use crate::attrib::formats::text::{decode, Encoding};
use crate::decode::filter::Cidr;
use serde::Serialize;
use std::path::Path;

/// A column of a reference file and the names it goes by.
struct Column {
    name: &'static str,
    required: bool,
    synonyms: &'static [&'static str],
}

const fn col(name: &'static str, required: bool, synonyms: &'static [&'static str]) -> Column {
    Column {
        name,
        required,
        synonyms,
    }
}

const ENTERPRISE: &[&str] = &[
    "enterprise",
    "enterprise_id",
    "subscriber",
    "subscriber_id",
    "customer_id",
    "id",
    "企业编号",
    "用户编号",
    "客户编号",
    "企业id",
    "企业",
];

const PARK: &[Column] = &[
    col(
        "name",
        true,
        &["name", "park", "park_name", "园区名称", "园区", "名称"],
    ),
    col(
        "kind",
        false,
        &["kind", "type", "park_type", "园区类型", "类型"],
    ),
    col(
        "region",
        false,
        &["region", "region_code", "行政区划代码", "区划代码", "地区"],
    ),
    col(
        "cidrs",
        false,
        &[
            "cidrs",
            "cidr",
            "networks",
            "ip_ranges",
            "网段",
            "ip段",
            "地址段",
        ],
    ),
    col(
        "enterprises",
        false,
        &[
            "enterprises",
            "enterprise_ids",
            "入驻企业",
            "企业编号",
            "企业",
        ],
    ),
];

const METERING: &[Column] = &[
    col("enterprise", true, ENTERPRISE),
    col(
        "period",
        true,
        &[
            "period",
            "month",
            "date",
            "day",
            "期间",
            "月份",
            "日期",
            "计量周期",
        ],
    ),
    col(
        "kwh",
        true,
        &[
            "kwh",
            "energy_kwh",
            "energy",
            "用电量",
            "电量",
            "用电量_kwh",
        ],
    ),
    col(
        "capacity_kva",
        false,
        &[
            "capacity_kva",
            "capacity",
            "contracted_kva",
            "合同容量",
            "报装容量",
        ],
    ),
    col(
        "business",
        false,
        &[
            "business",
            "declared_business",
            "industry",
            "申报业务",
            "经营业务",
            "行业",
            "用电类别",
        ],
    ),
];

const COMMITMENT: &[Column] = &[
    col("enterprise", true, ENTERPRISE),
    col(
        "signed",
        true,
        &[
            "signed",
            "signed_date",
            "signed_on",
            "date",
            "签署日期",
            "签订日期",
            "承诺日期",
        ],
    ),
    col(
        "kind",
        false,
        &["kind", "type", "commitment", "承诺类型", "承诺内容", "类型"],
    ),
];

const REGION: &[Column] = &[
    col(
        "code",
        true,
        &[
            "code",
            "region",
            "region_code",
            "行政区划代码",
            "区划代码",
            "代码",
        ],
    ),
    col("province", true, &["province", "省", "省份", "省级"]),
    col("city", false, &["city", "市", "城市", "地市", "市级"]),
    col(
        "county",
        false,
        &["county", "district", "县", "区县", "县区", "县级"],
    ),
];

/// A big-data park or high-tech zone: its networks and the enterprises in it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Park {
    pub name: String,
    pub kind: String,
    pub region: String,
    #[serde(skip)]
    pub cidrs: Vec<Cidr>,
    pub enterprises: Vec<String>,
    /// file:line
    pub row: String,
}

/// One metering reading: an enterprise's kWh over a day or a month.
#[derive(Debug, Clone, PartialEq)]
pub struct Meter {
    pub enterprise: String,
    /// The period, seconds since the epoch (UTC days), `start` included, `end` not.
    pub start: i64,
    pub end: i64,
    pub kwh: f64,
    pub capacity_kva: Option<f64>,
    pub business: String,
    pub row: String,
}

/// A signed commitment (a data-centre enterprise's pledge not to mine).
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Commitment {
    pub enterprise: String,
    /// YYYY-MM-DD
    pub signed: String,
    pub kind: String,
    pub row: String,
}

/// A region code and the province, city and county it names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct Region {
    pub code: String,
    pub province: String,
    pub city: String,
    pub county: String,
}

impl Region {
    /// "浙江省 / 杭州市 / 余杭区": the names it has, from the province down.
    pub fn name(&self) -> String {
        [
            self.province.as_str(),
            self.city.as_str(),
            self.county.as_str(),
        ]
        .iter()
        .filter(|x| !x.is_empty())
        .copied()
        .collect::<Vec<_>>()
        .join(" / ")
    }
}

/// Everything the inventory is cross-checked against.
#[derive(Debug, Default)]
pub struct Reference {
    pub parks: Vec<Park>,
    pub metering: Vec<Meter>,
    pub commitments: Vec<Commitment>,
    pub regions: Vec<Region>,
}

/// The rows of a reference file: each a line number and its values by column name.
type Rows = Vec<(usize, Vec<(&'static str, String)>)>;

/// Bad lines: the line number and the message naming file and line.
type Bad = Vec<(usize, String)>;

/// Reads a CSV file of `columns`: the header names each column (in English or Chinese); every
/// line with a byte the encoding does not allow, a missing required value or a wrong number of
/// fields is named.
fn read(path: &Path, columns: &[Column], what: &str) -> Result<(Rows, Bad), String> {
    let shown = path.display();
    let bytes = std::fs::read(path).map_err(|e| format!("{shown}: {e}"))?;
    let text = decode(&bytes, Encoding::Auto);
    let mut bad: Bad = text
        .errors
        .iter()
        .map(|e| (e.line, format!("{shown}:{}: {}", e.line, e.message)))
        .collect();
    let mut r = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(text.text.as_bytes());
    let header = r.headers().map_err(|e| format!("{shown}:1: {e}"))?.clone();
    let mut at: Vec<(usize, &'static str)> = Vec::new();
    for (i, h) in header.iter().enumerate() {
        let n = normalise(h);
        if let Some(c) = columns
            .iter()
            .find(|c| c.synonyms.contains(&n.as_str()) && !at.iter().any(|(_, x)| *x == c.name))
        {
            at.push((i, c.name));
        }
    }
    let missing: Vec<&str> = columns
        .iter()
        .filter(|c| c.required && !at.iter().any(|(_, n)| *n == c.name))
        .map(|c| c.name)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{shown}:1: not a {what} file: no column for {} (columns: {})",
            missing.join(", "),
            header.iter().collect::<Vec<_>>().join(", ")
        ));
    }
    let mut rows = Vec::new();
    for rec in r.records() {
        let rec = match rec {
            Ok(rec) => rec,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                bad.push((line, format!("{shown}:{line}: {e}")));
                continue;
            }
        };
        let line = rec.position().map_or(0, |p| p.line() as usize);
        if rec.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        let values: Vec<(&'static str, String)> = at
            .iter()
            .map(|(i, n)| (*n, rec.get(*i).unwrap_or_default().trim().to_string()))
            .collect();
        let empty: Vec<&str> = columns
            .iter()
            .filter(|c| c.required)
            .filter(|c| values.iter().any(|(n, v)| *n == c.name && v.is_empty()))
            .map(|c| c.name)
            .collect();
        if empty.is_empty() {
            rows.push((line, values));
        } else {
            bad.push((
                line,
                format!("{shown}:{line}: no value for {}", empty.join(", ")),
            ));
        }
    }
    Ok((rows, bad))
}

fn value<'a>(values: &'a [(&'static str, String)], name: &str) -> &'a str {
    values
        .iter()
        .find(|(n, _)| *n == name)
        .map_or("", |(_, v)| v.as_str())
}

fn list(v: &str) -> Vec<String> {
    v.split([';', '；', '|', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// A day (`2026-11-23`, `2026/11/23`, `20261123`) or a month (`2026-11`, `2026年11月`) as the
/// UTC span it covers.
pub fn period(v: &str) -> Option<(i64, i64)> {
    let digits: Vec<i64> = v
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().ok())
        .collect::<Option<_>>()?;
    let (y, m, d) = match digits.as_slice() {
        [ymd] if *ymd > 19_000_000 => (ymd / 10_000, ymd / 100 % 100, Some(ymd % 100)),
        [y, m] => (*y, *m, None),
        [y, m, d] => (*y, *m, Some(*d)),
        _ => return None,
    };
    let day = |y: i64, m: i64, d: i64| -> Option<i64> {
        let date = jiff::civil::Date::new(
            i16::try_from(y).ok()?,
            i8::try_from(m).ok()?,
            i8::try_from(d).ok()?,
        )
        .ok()?;
        Some(
            date.to_zoned(jiff::tz::TimeZone::UTC)
                .ok()?
                .timestamp()
                .as_second(),
        )
    };
    match d {
        Some(d) => Some((day(y, m, d)?, day(y, m, d)? + 86_400)),
        None if m == 12 => Some((day(y, 12, 1)?, day(y + 1, 1, 1)?)),
        None => Some((day(y, m, 1)?, day(y, m + 1, 1)?)),
    }
}

impl Reference {
    /// Parks: name, kind, region, networks (`;`-separated CIDRs) and enterprise ids.
    pub fn add_parks(&mut self, path: &Path) -> Result<usize, String> {
        let (rows, mut bad) = read(path, PARK, "parks")?;
        for (line, v) in &rows {
            let row = format!("{}:{line}", path.display());
            let cidrs: Result<Vec<Cidr>, String> = list(value(v, "cidrs"))
                .iter()
                .map(|c| Cidr::parse(c))
                .collect();
            let enterprises = list(value(v, "enterprises"));
            match cidrs {
                Err(e) => bad.push((*line, format!("{row}: {e}"))),
                Ok(c) if c.is_empty() && enterprises.is_empty() => bad.push((
                    *line,
                    format!("{row}: a park names its networks or its enterprises"),
                )),
                Ok(cidrs) => self.parks.push(Park {
                    name: value(v, "name").into(),
                    kind: value(v, "kind").into(),
                    region: value(v, "region").into(),
                    cidrs,
                    enterprises,
                    row,
                }),
            }
        }
        finish(bad, rows.len())
    }

    /// Metering: enterprise, period (a day or a month), kWh, and optionally the contracted
    /// capacity and the declared business.
    pub fn add_metering(&mut self, path: &Path) -> Result<usize, String> {
        let (rows, mut bad) = read(path, METERING, "metering")?;
        for (line, v) in &rows {
            let row = format!("{}:{line}", path.display());
            let kwh = value(v, "kwh").replace(',', "").parse::<f64>();
            let capacity = value(v, "capacity_kva");
            match (period(value(v, "period")), kwh) {
                (None, _) => bad.push((
                    *line,
                    format!(
                        "{row}: period '{}' is not a day (2026-11-23) or a month (2026-11)",
                        value(v, "period")
                    ),
                )),
                (_, Err(_)) => bad.push((
                    *line,
                    format!("{row}: kWh '{}' is not a number", value(v, "kwh")),
                )),
                (_, Ok(k)) if !k.is_finite() || k < 0.0 => {
                    bad.push((*line, format!("{row}: kWh {k} is not a reading")))
                }
                (Some((start, end)), Ok(kwh)) => self.metering.push(Meter {
                    enterprise: value(v, "enterprise").into(),
                    start,
                    end,
                    kwh,
                    capacity_kva: capacity.parse().ok(),
                    business: value(v, "business").into(),
                    row,
                }),
            }
        }
        finish(bad, rows.len())
    }

    /// Commitments: enterprise, the day it was signed, its kind.
    pub fn add_commitments(&mut self, path: &Path) -> Result<usize, String> {
        let (rows, mut bad) = read(path, COMMITMENT, "commitments")?;
        for (line, v) in &rows {
            let row = format!("{}:{line}", path.display());
            match period(value(v, "signed")) {
                Some((start, end)) if end - start == 86_400 => self.commitments.push(Commitment {
                    enterprise: value(v, "enterprise").into(),
                    signed: jiff::Timestamp::from_second(start)
                        .map(|t| t.strftime("%Y-%m-%d").to_string())
                        .unwrap_or_default(),
                    kind: value(v, "kind").into(),
                    row,
                }),
                _ => bad.push((
                    *line,
                    format!(
                        "{row}: signed '{}' is not a day (2026-01-15)",
                        value(v, "signed")
                    ),
                )),
            }
        }
        finish(bad, rows.len())
    }

    /// Regions: code, province, city, county.
    pub fn add_regions(&mut self, path: &Path) -> Result<usize, String> {
        let (rows, bad) = read(path, REGION, "regions")?;
        for (_, v) in &rows {
            self.regions.push(Region {
                code: value(v, "code").into(),
                province: value(v, "province").into(),
                city: value(v, "city").into(),
                county: value(v, "county").into(),
            });
        }
        finish(bad, rows.len())
    }

    /// The region a code names, or the code alone when the table does not know it.
    pub fn region(&self, code: &str) -> Region {
        self.regions
            .iter()
            .find(|r| r.code == code)
            .cloned()
            .unwrap_or_else(|| Region {
                code: code.into(),
                ..Region::default()
            })
    }
}

fn finish(mut bad: Bad, n: usize) -> Result<usize, String> {
    if bad.is_empty() {
        return Ok(n);
    }
    bad.sort();
    Err(bad
        .into_iter()
        .map(|(_, m)| m)
        .collect::<Vec<_>>()
        .join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_days_or_months_in_utc() {
        let day = period("2026-11-23").unwrap();
        assert_eq!(day.1 - day.0, 86_400);
        assert_eq!(period("20261123"), Some(day));
        assert_eq!(period("2026/11/23"), Some(day));
        let nov = period("2026年11月").unwrap();
        assert_eq!(nov.1 - nov.0, 30 * 86_400);
        assert_eq!(period("2026-12").map(|p| p.1 - p.0), Some(31 * 86_400));
        assert_eq!(period("2026-13"), None);
        assert_eq!(period("soon"), None);
    }

    #[test]
    fn a_file_without_the_columns_or_with_bad_lines_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        std::fs::write(&p, "who,what\nE1,3\n").unwrap();
        let e = Reference::default().add_metering(&p).unwrap_err();
        assert!(e.contains("m.csv:1: not a metering file: no column for enterprise, period, kwh (columns: who, what)"), "{e}");
        std::fs::write(
            &p,
            "企业编号,月份,用电量(kWh)\nE1,2026-11,1200\nE2,next month,5\nE3,2026-11,lots\n,2026-11,3\n",
        )
        .unwrap();
        let e = Reference::default().add_metering(&p).unwrap_err();
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 3, "{e}");
        assert!(
            lines[0].ends_with(
                "m.csv:3: period 'next month' is not a day (2026-11-23) or a month (2026-11)"
            ),
            "{e}"
        );
        assert!(
            lines[1].ends_with("m.csv:4: kWh 'lots' is not a number"),
            "{e}"
        );
        assert!(
            lines[2].ends_with("m.csv:5: no value for enterprise"),
            "{e}"
        );
    }
}

//! The time forms operators' records use, to seconds since the Unix epoch (UTC).

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn hms(s: &str) -> Option<i64> {
    let mut it = s.split(':');
    let h: i64 = it.next()?.parse().ok()?;
    let m: i64 = it.next()?.parse().ok()?;
    let sec: f64 = it.next().unwrap_or("0").parse().ok()?;
    ((0..24).contains(&h) && (0..60).contains(&m) && (0.0..61.0).contains(&sec))
        .then_some(h * 3600 + m * 60 + sec as i64)
}

fn month(s: &str) -> Option<u32> {
    let l = s.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| l.starts_with(m))
        .map(|i| i as u32 + 1)
}

fn date(y: i64, m: u32, d: u32) -> Option<i64> {
    ((1..=12).contains(&m) && (1..=31).contains(&d) && (1970..=9999).contains(&y))
        .then(|| days_from_civil(y, m, d) * 86_400)
}

/// Parses a time in any of these forms (all UTC unless an offset is given):
/// seconds since the epoch; `2026-03-02T08:00:00Z` / `+08:00` / `2026-03-02 08:00:00`;
/// `2026/03/02 08:00:00` (dhcpd, optionally after a weekday digit); `Mar  2 2026 08:00:00 UTC`
/// (RADIUS Event-Timestamp); `Mon Mar  2 08:00:00 2026` (RADIUS detail record header).
pub fn parse(s: &str) -> Option<i64> {
    let s = s.trim().trim_matches('"');
    if let Ok(n) = s.parse::<i64>() {
        return (n >= 0).then_some(n);
    }
    let words: Vec<&str> = s.split_whitespace().collect();
    // ISO 8601 / RFC 3339, with T or a space.
    let iso = s.replacen(' ', "T", 1);
    if let Some((d, rest)) = iso.split_once('T') {
        let dp: Vec<&str> = d.split(['-', '/']).collect();
        if dp.len() == 3 && dp[0].len() == 4 {
            let base = date(
                dp[0].parse().ok()?,
                dp[1].parse().ok()?,
                dp[2].parse().ok()?,
            )?;
            let (clock, offset) = if let Some(c) = rest.strip_suffix('Z') {
                (c, 0)
            } else if let Some(i) = rest.rfind(['+', '-']).filter(|i| *i >= 5) {
                let (c, o) = rest.split_at(i);
                let sign = if o.starts_with('-') { -1 } else { 1 };
                let (oh, om) = o[1..]
                    .split_once(':')
                    .unwrap_or((&o[1..3.min(o.len())], "0"));
                (
                    c,
                    sign * (oh.parse::<i64>().ok()? * 3600 + om.parse::<i64>().ok()? * 60),
                )
            } else {
                (rest.trim_end_matches(" UTC"), 0)
            };
            return Some(base + hms(clock)? - offset);
        }
    }
    // dhcpd: "2 2026/03/02 08:00:00"
    if words.len() == 3 && words[0].len() == 1 && words[1].contains('/') {
        return parse(&format!("{} {}", words[1], words[2]));
    }
    // "Mar  2 2026 08:00:00 UTC"
    if words.len() >= 4 && month(words[0]).is_some() && words[2].len() == 4 {
        return Some(
            date(
                words[2].parse().ok()?,
                month(words[0])?,
                words[1].parse().ok()?,
            )? + hms(words[3])?,
        );
    }
    // "Mon Mar  2 08:00:00 2026"
    if words.len() == 5 && month(words[1]).is_some() {
        return Some(
            date(
                words[4].parse().ok()?,
                month(words[1])?,
                words[2].parse().ok()?,
            )? + hms(words[3])?,
        );
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = 1_772_438_400; // 2026-03-02T08:00:00Z
        for s in [
            "1772438400",
            "2026-03-02T08:00:00Z",
            "2026-03-02 08:00:00",
            "2026-03-02T16:00:00+08:00",
            "2 2026/03/02 08:00:00",
            "Mar  2 2026 08:00:00 UTC",
            "Mon Mar  2 08:00:00 2026",
        ] {
            assert_eq!(parse(s), Some(t), "{s}");
        }
        for bad in [
            "",
            "yesterday",
            "2026-13-02T00:00:00Z",
            "2026-03-02T25:00:00Z",
            "-5",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}

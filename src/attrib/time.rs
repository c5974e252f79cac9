//! The time forms operators' records use, to seconds since the Unix epoch (UTC).

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

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

/// Seconds since the epoch at the start of a day (UTC), 1970 to 9999; `None` for a date the
/// calendar does not have (February 30th).
fn date(y: i64, m: u32, d: u32) -> Option<i64> {
    let (y, m, d) = (
        i16::try_from(y).ok()?,
        i8::try_from(m).ok()?,
        i8::try_from(d).ok()?,
    );
    let day = jiff::civil::Date::new(y, m, d)
        .ok()
        .filter(|d| d.year() >= 1970)?;
    let t = jiff::tz::Offset::UTC.to_timestamp(day.to_datetime(jiff::civil::Time::midnight()));
    t.ok().map(|t| t.as_second())
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
    // ISO 8601 / RFC 3339, with T or a space, `-` or `/` in the date; UTC without an offset.
    if let Some((d, rest)) = s.split_once(['T', ' ']) {
        if d.len() == 10
            && d.as_bytes()[4] == d.as_bytes()[7]
            && matches!(d.as_bytes()[4], b'-' | b'/')
        {
            let rest = rest.trim_end_matches(" UTC");
            let iso = format!("{}T{rest}", d.replace('/', "-"));
            if let Ok(t) = iso.parse::<jiff::Timestamp>() {
                return (t.as_second() >= 0).then_some(t.as_second());
            }
            let dt: jiff::civil::DateTime = iso.parse().ok()?;
            let t = jiff::tz::Offset::UTC.to_timestamp(dt).ok()?;
            return (t.as_second() >= 0).then_some(t.as_second());
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
            "2026-02-30 08:00:00",
            "1969-12-31T23:59:59Z",
            "-5",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }
}

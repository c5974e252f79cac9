//! The time forms operators' records use, to seconds since the Unix epoch (UTC).
//!
//! A time that says its offset (RFC 3339, `UTC`, epoch seconds) is read as it says. A time that
//! does not (`2026-03-02 08:00:00`, a RADIUS detail header, a syslog stamp) is local time in the
//! [`Clock`]'s zone, UTC unless the user names one: operators export local time (China is
//! UTC+8). A BSD-syslog stamp has no year: the clock's year is used, and without one the time is
//! refused rather than guessed.

use jiff::civil::DateTime;
use jiff::tz::TimeZone;

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// How to read times that do not carry their zone or year.
#[derive(Debug, Clone)]
pub struct Clock {
    /// The zone of local times.
    pub zone: TimeZone,
    /// The year of times without one (BSD syslog).
    pub year: Option<i16>,
}

impl Default for Clock {
    fn default() -> Clock {
        Clock {
            zone: TimeZone::UTC,
            year: None,
        }
    }
}

/// A zone as the user names it: `UTC`, `+08:00`, `UTC+8`, `-0330`, or an IANA name such as
/// `Asia/Shanghai`.
pub fn zone(s: &str) -> Result<TimeZone, String> {
    let t = s.trim();
    let off = t
        .strip_prefix("UTC")
        .or_else(|| t.strip_prefix("GMT"))
        .unwrap_or(t);
    if off.is_empty() {
        return Ok(TimeZone::UTC);
    }
    if let Some(sign) = off.chars().next().filter(|c| *c == '+' || *c == '-') {
        let digits: String = off[1..].chars().filter(char::is_ascii_digit).collect();
        let (h, m) = match (digits.len(), off[1..].contains(':')) {
            (1 | 2, false) => (digits.parse::<i32>().ok(), Some(0)),
            (3 | 4, _) => {
                let (h, m) = digits.split_at(digits.len() - 2);
                (h.parse().ok(), m.parse().ok())
            }
            _ => (None, None),
        };
        if let (Some(h), Some(m)) = (h, m) {
            if h <= 14 && m < 60 {
                let secs = (h * 3600 + m * 60) * if sign == '-' { -1 } else { 1 };
                if let Ok(o) = jiff::tz::Offset::from_seconds(secs) {
                    return Ok(TimeZone::fixed(o));
                }
            }
        }
        return Err(format!("'{s}' is not an offset (+08:00, UTC+8, -0330)"));
    }
    TimeZone::get(t).map_err(|_| {
        format!("'{s}' is not a time zone (UTC, +08:00, UTC+8, or a name such as Asia/Shanghai)")
    })
}

fn hms(s: &str) -> Option<(i8, i8, i8)> {
    let mut it = s.split(':');
    let h: i8 = it.next()?.parse().ok()?;
    let m: i8 = it.next()?.parse().ok()?;
    let sec: f64 = it.next().unwrap_or("0").parse().ok()?;
    ((0..24).contains(&h) && (0..60).contains(&m) && (0.0..61.0).contains(&sec)).then_some((
        h,
        m,
        (sec as i8).min(59),
    ))
}

fn month(s: &str) -> Option<i8> {
    let l = s.to_ascii_lowercase();
    MONTHS
        .iter()
        .position(|m| l.starts_with(m))
        .map(|i| i as i8 + 1)
}

fn non_negative(t: i64) -> Option<i64> {
    (t >= 0).then_some(t)
}

impl Clock {
    /// A civil date and time in this clock's zone (`utc`: in UTC whatever the zone).
    fn civil(&self, y: i64, mo: i8, d: i8, time: &str, utc: bool) -> Option<i64> {
        let (h, m, s) = hms(time)?;
        let date = jiff::civil::Date::new(i16::try_from(y).ok()?, mo, d).ok()?;
        let dt = date.to_datetime(jiff::civil::Time::new(h, m, s, 0).ok()?);
        self.at(dt, utc)
    }

    fn at(&self, dt: DateTime, utc: bool) -> Option<i64> {
        let zone = if utc { &TimeZone::UTC } else { &self.zone };
        let t = zone.to_ambiguous_timestamp(dt).compatible().ok()?;
        non_negative(t.as_second())
    }

    /// Parses a time in any of these forms:
    /// seconds (or milliseconds, or `seconds.fraction`) since the epoch, bracketed or not;
    /// `2026-03-02T08:00:00Z` / `+08:00` / `2026-03-02 08:00:00` / `2026/03/02 08:00:00`
    /// (dhcpd, optionally after a weekday digit); `Mar  2 2026 08:00:00 UTC` (RADIUS
    /// Event-Timestamp); `Mon Mar  2 08:00:00 2026` (RADIUS detail header); `Mar  2 08:00:00`
    /// (BSD syslog, with the clock's year).
    pub fn parse(&self, s: &str) -> Option<i64> {
        let s = s.trim().trim_matches(['"', '[', ']']);
        if let Ok(n) = s.parse::<i64>() {
            // Past 5138 AD in seconds: milliseconds.
            return non_negative(if n > 99_999_999_999 { n / 1000 } else { n });
        }
        if let Some((whole, frac)) = s.split_once('.') {
            if !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
            {
                return whole.parse().ok().and_then(non_negative);
            }
        }
        let words: Vec<&str> = s.split_whitespace().collect();
        // ISO 8601 / RFC 3339, with T or a space, `-` or `/` in the date.
        if let Some((d, rest)) = s.split_once(['T', ' ']) {
            if d.len() == 10
                && d.as_bytes()[4] == d.as_bytes()[7]
                && matches!(d.as_bytes()[4], b'-' | b'/')
            {
                let (rest, utc) = match rest.strip_suffix(" UTC") {
                    Some(r) => (r, true),
                    None => (rest, false),
                };
                let iso = format!("{}T{}", d.replace('/', "-"), rest.trim());
                if let Ok(t) = iso.parse::<jiff::Timestamp>() {
                    return non_negative(t.as_second());
                }
                return self.at(iso.parse().ok()?, utc);
            }
        }
        // dhcpd: "2 2026/03/02 08:00:00" (always UTC in the lease file)
        if words.len() == 3 && words[0].len() == 1 && words[1].contains('/') {
            return Clock::default().parse(&format!("{} {}", words[1], words[2]));
        }
        // "Mar  2 2026 08:00:00 UTC"
        if words.len() >= 4 && month(words[0]).is_some() && words[2].len() == 4 {
            let utc = words.get(4) == Some(&"UTC");
            let y = words[2].parse().ok()?;
            return self.civil(y, month(words[0])?, words[1].parse().ok()?, words[3], utc);
        }
        // "Mon Mar  2 08:00:00 2026"
        if words.len() == 5 && month(words[1]).is_some() {
            let y = words[4].parse().ok()?;
            return self.civil(y, month(words[1])?, words[2].parse().ok()?, words[3], false);
        }
        // BSD syslog "Mar  2 08:00:00": the year from the clock.
        if words.len() == 3 && month(words[0]).is_some() && words[2].contains(':') {
            let y = i64::from(self.year?);
            return self.civil(y, month(words[0])?, words[1].parse().ok()?, words[2], false);
        }
        None
    }
}

/// Seconds since the epoch as RFC 3339 in UTC (`2026-03-02T08:00:00Z`).
pub fn rfc3339(t: i64) -> String {
    jiff::Timestamp::from_second(t).map_or_else(|_| t.to_string(), |t| t.to_string())
}

/// [`Clock::parse`] in UTC, without a year for syslog stamps.
pub fn parse(s: &str) -> Option<i64> {
    Clock::default().parse(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        let t = 1_772_438_400; // 2026-03-02T08:00:00Z
        for s in [
            "1772438400",
            "1772438400123",
            "1772438400.785096",
            "[1772438400.785096]",
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
            "Mar  2 08:00:00",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn local_times_and_years() {
        let t = 1_772_438_400; // 2026-03-02T08:00:00Z
        let cn = Clock {
            zone: zone("Asia/Shanghai").unwrap(),
            year: Some(2026),
        };
        assert_eq!(cn.parse("2026-03-02 16:00:00"), Some(t));
        assert_eq!(cn.parse("2026/03/02 16:00:00"), Some(t));
        assert_eq!(cn.parse("Mar  2 16:00:00"), Some(t));
        assert_eq!(cn.parse("Mon Mar  2 16:00:00 2026"), Some(t));
        // Times that say their zone are not moved.
        assert_eq!(cn.parse("2026-03-02T08:00:00Z"), Some(t));
        assert_eq!(cn.parse("Mar  2 2026 08:00:00 UTC"), Some(t));
        assert_eq!(cn.parse("2 2026/03/02 08:00:00"), Some(t));
        assert_eq!(cn.parse("1772438400"), Some(t));
        for z in ["+08:00", "UTC+8", "+0800", "GMT+08"] {
            let c = Clock {
                zone: zone(z).unwrap(),
                year: None,
            };
            assert_eq!(c.parse("2026-03-02 16:00:00"), Some(t), "{z}");
        }
        assert!(zone("Mars/Olympus").is_err());
        assert!(zone("+25:00").is_err());
    }
}

//! RFC 3339 timestamps in UTC with microseconds, as Suricata writes them.

/// Formats nanoseconds since the Unix epoch as `YYYY-MM-DDThh:mm:ss.uuuuuuZ`.
pub fn rfc3339_micros(ns: u64) -> String {
    // Whole microseconds: the event's precision, truncated like the capture's own clock.
    let micros = (ns / 1000) as i64;
    match jiff::Timestamp::from_microsecond(micros) {
        Ok(t) => t.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string(),
        // Past the calendar's range (year 9999): the largest time it can write.
        Err(_) => "9999-12-31T23:59:59.999999Z".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339_micros(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_micros(1_772_439_204_476_338_999),
            "2026-03-02T08:13:24.476338Z"
        );
        assert_eq!(
            rfc3339_micros(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000Z"
        );
        assert_eq!(rfc3339_micros(u64::MAX), "2554-07-21T23:34:33.709551Z");
    }
}

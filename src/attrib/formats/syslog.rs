//! CGNAT port-block syslog lines: `allocated`/`released PRIVATE -> PUBLIC:FIRST-LAST`.

use super::{err, Parsed, PortBlock, ReadOptions, Record};
use std::net::IpAddr;

/// CGNAT syslog lines: a time at the start (RFC 5424 `<pri>1 TIME ...`, or ISO 8601), and
/// `allocated`/`released` with `PRIVATE -> PUBLIC:PORT-PORT`.
pub(super) fn cgnat(text: &str, file: &str, o: &ReadOptions) -> Parsed {
    let mut out = Parsed::default();
    for (i, l) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
    {
        let r = (|| -> Result<Record, String> {
            let words: Vec<&str> = l.split_whitespace().collect();
            // RFC 5424 (`<pri>1 TIME`), ISO 8601, or BSD syslog (`Mar  2 08:00:00`, no year).
            let ts = (1..=3)
                .rev()
                .filter_map(|n| words.get(..n))
                .chain(words.get(1..2))
                .find_map(|w| o.clock.parse(&w.join(" ")))
                .ok_or(
                    if o.clock.year.is_none()
                        && words
                            .first()
                            .is_some_and(|w| w.len() == 3 && w.chars().all(char::is_alphabetic))
                    {
                        "a syslog time without a year (give --year)"
                    } else {
                        "no time at the start of the line"
                    },
                )?;
            let lower = l.to_ascii_lowercase();
            let allocated = lower.contains("allocated") || lower.contains("created");
            let released = lower.contains("released") || lower.contains("deleted");
            if !(allocated || released) {
                return Err("neither 'allocated' nor 'released'".into());
            }
            let arrow = words
                .iter()
                .position(|w| *w == "->")
                .ok_or("no 'PRIVATE -> PUBLIC:PORTS'")?;
            let private: IpAddr = words
                .get(arrow.wrapping_sub(1))
                .and_then(|w| w.parse().ok())
                .ok_or("no private address before '->'")?;
            let target = words.get(arrow + 1).ok_or("nothing after '->'")?;
            let (pubs, ports) = target
                .rsplit_once(':')
                .ok_or("no ':PORTS' after the public address")?;
            let public: IpAddr = pubs
                .trim_matches(['[', ']'])
                .parse()
                .map_err(|_| format!("'{pubs}' is not an address"))?;
            let (lo, hi) = ports.split_once('-').ok_or("ports are not 'FIRST-LAST'")?;
            let (port_lo, port_hi) = (
                lo.parse::<u16>().map_err(|_| "bad first port")?,
                hi.trim_end_matches([',', ';'])
                    .parse::<u16>()
                    .map_err(|_| "bad last port")?,
            );
            let b = PortBlock {
                public,
                port_lo,
                port_hi,
                private,
                start: ts,
                end: None,
                source: format!("{file}:{}", i + 1),
            };
            Ok(if allocated {
                Record::Block(b)
            } else {
                Record::Release(PortBlock { end: Some(ts), ..b })
            })
        })();
        match r {
            Ok(r) => out.records.push(r),
            Err(m) => out.errors.push(err(i + 1, m)),
        }
    }
    out
}

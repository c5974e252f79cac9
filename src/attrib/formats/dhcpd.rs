//! ISC `dhcpd.leases`: lease blocks with their start, end and hardware address.

use super::{err, Assignment, OpenLease, Parsed, Record};
use crate::attrib::time;

/// ISC dhcpd.leases: `lease ADDR { starts ...; ends ...; hardware ethernet MAC; }` blocks.
pub(super) fn leases(text: &str, file: &str) -> Parsed {
    let mut recs = Vec::new();
    let mut errors = Vec::new();
    let mut cur: Option<OpenLease> = None;
    for (i, raw) in text.lines().enumerate() {
        let l = raw.trim().trim_end_matches(';');
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        if let Some(rest) = l.strip_prefix("lease ") {
            let a = rest.trim_end_matches('{').trim();
            match a.parse() {
                Ok(addr) => cur = Some((i + 1, addr, None, None, None)),
                Err(_) => errors.push(err(i + 1, format!("'{a}' is not an address"))),
            }
        } else if l == "}" {
            if let Some((line, addr, start, end, mac)) = cur.take() {
                match (start, mac) {
                    (Some(start), Some(mac)) => recs.push(Record::Assignment(Assignment {
                        kind: "dhcp",
                        identity: mac.to_ascii_lowercase(),
                        addr,
                        prefix: if addr.is_ipv4() { 32 } else { 128 },
                        start,
                        end,
                        source: format!("{file}:{line}"),
                    })),
                    _ => errors.push(err(line, "lease without starts or hardware ethernet")),
                }
            }
        } else if let Some(c) = cur.as_mut() {
            if let Some(t) = l.strip_prefix("starts ") {
                c.2 = time::parse(t);
            } else if let Some(t) = l.strip_prefix("ends ") {
                c.3 = if t.trim() == "never" {
                    None
                } else {
                    time::parse(t)
                };
            } else if let Some(m) = l.strip_prefix("hardware ethernet ") {
                c.4 = Some(m.trim().to_string());
            }
        }
    }
    if let Some((line, ..)) = cur {
        errors.push(err(line, "lease block not closed"));
    }
    (recs, errors)
}

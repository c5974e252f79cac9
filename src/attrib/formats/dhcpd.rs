//! ISC dhcpd lease files, v4 (`dhcpd.leases`) and v6 (`dhcpd6.leases`): a journal of lease
//! blocks, joined into holdings by [`lease::holdings`].
//!
//! v4: `lease ADDR { starts W Y/M/D H:M:S; ends ...; binding state active; hardware ethernet
//! MAC; }`. v6: `ia-na "IAID+DUID" { cltt ...; iaaddr ADDR { binding state active; ends ...; } }`
//! and `ia-pd` with `iaprefix P/LEN`; the quoted string is the 4-byte IAID and the client's
//! DUID, with non-printing bytes as `\ooo` octal escapes. Other blocks (failover, hosts) are
//! passed over.

use super::{addr_prefix, err, lease, LineError, Parsed};
use crate::attrib::time;
use std::net::IpAddr;

/// The bytes of a dhcpd quoted string (without its quotes): `\ooo` octal, `\x` the byte x.
fn unescape(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let oct = &b[i + 1..(i + 4).min(b.len())];
            if oct.len() == 3 && oct.iter().all(|c| (b'0'..=b'7').contains(c)) {
                let v = oct.iter().fold(0u32, |a, c| a * 8 + u32::from(c - b'0'));
                out.push(v as u8);
                i += 4;
            } else {
                out.push(b[i + 1]);
                i += 2;
            }
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// The quoted string at the start of `s` (escapes kept) and the rest after it.
fn quoted(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('"')?;
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'"' => return Some((&s[..i], &s[i + 1..])),
            _ => i += 1,
        }
    }
    None
}

/// The DUID of an IA's id (IAID, 4 bytes, then the DUID) as colon-separated hex.
fn duid_of(id: &str) -> Option<String> {
    let bytes = unescape(id);
    let duid = bytes.get(4..).filter(|d| !d.is_empty())?;
    Some(
        duid.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// What is being read.
enum At {
    Top,
    /// A v4 `lease` block.
    Lease(Entry),
    /// A v6 IA: its DUID and `cltt`.
    Ia {
        line: usize,
        duid: Option<String>,
        cltt: Option<i64>,
    },
    /// An address or prefix inside an IA.
    IaAddr {
        duid: Option<String>,
        cltt: Option<i64>,
        entry: Entry,
    },
    /// A block of another kind, and how deep in it.
    Other(usize),
}

struct Entry {
    line: usize,
    addr: IpAddr,
    prefix: u8,
    starts: Option<i64>,
    ends: Option<i64>,
    state: Option<String>,
    mac: Option<String>,
}

impl Entry {
    fn new(line: usize, (addr, prefix): (IpAddr, u8)) -> Entry {
        Entry {
            line,
            addr,
            prefix,
            starts: None,
            ends: None,
            state: None,
            mac: None,
        }
    }

    /// The entry as a journal entry, given its client and its bind time.
    fn seen(
        self,
        identity: Option<String>,
        renewed: Option<i64>,
    ) -> Result<lease::Seen, LineError> {
        let renewed = renewed.ok_or(err(self.line, "lease without starts or cltt"))?;
        let over = !matches!(self.state.as_deref(), None | Some("active" | "bootp"));
        Ok(lease::Seen {
            line: self.line,
            addr: self.addr,
            prefix: self.prefix,
            identity,
            renewed,
            // `ends never`: held until the file says otherwise.
            ends: self.ends.unwrap_or(lease::NO_END),
            over,
        })
    }

    /// A statement inside the block.
    fn statement(&mut self, l: &str) {
        if let Some(t) = l.strip_prefix("starts ") {
            self.starts = time::parse(t);
        } else if let Some(t) = l.strip_prefix("ends ") {
            self.ends = time::parse(t);
        } else if let Some(s) = l.strip_prefix("binding state ") {
            self.state = Some(s.trim().to_string());
        } else if let Some(m) = l.strip_prefix("hardware ethernet ") {
            self.mac = Some(m.trim().to_lowercase());
        }
    }
}

impl At {
    /// The block a top-level line opens.
    fn open(head: &str, line: usize, errors: &mut Vec<LineError>) -> At {
        if let Some(a) = head.strip_prefix("lease ") {
            match a.parse::<IpAddr>() {
                Ok(addr) => At::Lease(Entry::new(
                    line,
                    (addr, if addr.is_ipv4() { 32 } else { 128 }),
                )),
                Err(_) => {
                    errors.push(err(line, format!("'{a}' is not an address")));
                    At::Other(1)
                }
            }
        } else if let Some(rest) = ["ia-na ", "ia-ta ", "ia-pd "]
            .iter()
            .find_map(|p| head.strip_prefix(p))
        {
            let duid = quoted(rest.trim()).and_then(|(id, _)| duid_of(id));
            if duid.is_none() {
                errors.push(err(line, "IA without a readable IAID and DUID"));
            }
            At::Ia {
                line,
                duid,
                cltt: None,
            }
        } else {
            At::Other(1)
        }
    }

    /// The state after line `l` (number `line`, trimmed, without its `;`).
    fn step(
        self,
        l: &str,
        line: usize,
        errors: &mut Vec<LineError>,
        seen: &mut Vec<lease::Seen>,
    ) -> At {
        let opens = l.ends_with('{');
        let head = l.trim_end_matches('{').trim();
        match self {
            At::Top if opens => At::open(head, line, errors),
            At::Top => At::Top,
            At::Lease(e) if l == "}" => {
                let renewed = e.starts;
                let mac = e.mac.clone();
                match e.seen(mac, renewed) {
                    Ok(s) => seen.push(s),
                    Err(x) => errors.push(x),
                }
                At::Top
            }
            At::Lease(mut e) => {
                e.statement(l);
                At::Lease(e)
            }
            At::Ia { .. } if l == "}" => At::Top,
            At::Ia {
                line: l0,
                duid,
                cltt,
            } if opens => {
                let a = head
                    .strip_prefix("iaaddr ")
                    .or_else(|| head.strip_prefix("iaprefix "));
                match a.and_then(addr_prefix) {
                    Some(ap) => At::IaAddr {
                        duid,
                        cltt,
                        entry: Entry::new(line, ap),
                    },
                    None => {
                        errors.push(err(line, format!("'{head}' is not an iaaddr or iaprefix")));
                        At::Ia {
                            line: l0,
                            duid,
                            cltt,
                        }
                    }
                }
            }
            At::Ia {
                line: l0,
                duid,
                cltt,
            } => At::Ia {
                line: l0,
                duid,
                cltt: l.strip_prefix("cltt ").and_then(time::parse).or(cltt),
            },
            At::IaAddr {
                duid,
                cltt,
                mut entry,
            } if l == "}" => {
                // A v6 release keeps the lease's expiry in `ends`; `cltt` is when it happened.
                if entry.state.as_deref() == Some("released") {
                    entry.ends = cltt.or(entry.ends);
                }
                match entry.seen(duid.clone(), cltt) {
                    Ok(s) => seen.push(s),
                    Err(x) => errors.push(x),
                }
                At::Ia { line, duid, cltt }
            }
            At::IaAddr {
                duid,
                cltt,
                mut entry,
            } => {
                entry.statement(l);
                At::IaAddr { duid, cltt, entry }
            }
            At::Other(d) if opens => At::Other(d + 1),
            At::Other(1) if l == "}" => At::Top,
            At::Other(d) if l == "}" => At::Other(d - 1),
            other @ At::Other(_) => other,
        }
    }
}

/// ISC dhcpd.leases or dhcpd6.leases.
pub(super) fn leases(text: &str, file: &str) -> Parsed {
    let mut out = Parsed::default();
    let mut seen = Vec::new();
    let mut at = At::Top;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim().trim_end_matches(';').trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        at = at.step(l, line, &mut out.errors, &mut seen);
    }
    if !matches!(at, At::Top) {
        out.errors
            .push(err(text.lines().count(), "the last block is not closed"));
    }
    let (records, errors) = lease::holdings(seen, "dhcp", file);
    out.records = records;
    out.errors.extend(errors);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_duid_of_an_ia() {
        // IAID 01 34 12 f6, then DUID-LLT 00:01:00:01:32:9e:d7:1f:50:eb:f6:12:34:01.
        let id = r"\0014\022\366\000\001\000\0012\236\327\037P\353\366\0224\001";
        assert_eq!(
            duid_of(id).unwrap(),
            "00:01:00:01:32:9e:d7:1f:50:eb:f6:12:34:01"
        );
        assert_eq!(quoted(r#""a\"b" {"#), Some((r#"a\"b"#, " {")));
    }
}

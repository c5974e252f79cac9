//! DHCP lease files (ISC dhcpd v4 and v6, Kea memfile) are journals: each renewal, release
//! and expiry writes the lease again. Here the entries for one address (or prefix) are joined,
//! in the order written, into holdings: who held it from when to when. A renewal by the same
//! client before its lease ran out extends the holding; a release or expiry ends it at the time
//! the entry gives; another client taking the address ends the previous holding there.

use super::{err, Assignment, LineError, Record};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// An end the entry does not give (dhcpd `ends never`; a Kea release, written with the last
/// renewal's time rather than the release's, so that only the lease's own expiry bounds it).
pub(super) const NO_END: i64 = i64::MAX / 2;

/// One entry of a lease journal.
#[derive(Debug, Clone)]
pub(super) struct Seen {
    /// Where it was written.
    pub line: usize,
    /// The address, or the prefix's first address.
    pub addr: IpAddr,
    /// Prefix length (32 or 128 for one address).
    pub prefix: u8,
    /// The client: MAC (v4) or DUID (v6), when the entry names one.
    pub identity: Option<String>,
    /// When the client last bound or renewed (dhcpd `starts`/`cltt`, Kea expire − lifetime).
    pub renewed: i64,
    /// When the lease runs out, or, for an entry that ends it, when it ended.
    pub ends: i64,
    /// True when the entry ends the lease (released, expired, freed, declined).
    pub over: bool,
}

struct Holding {
    line: usize,
    identity: String,
    start: i64,
    end: i64,
    /// Given back at a time the journal does not say: held until its expiry, or until the
    /// next client takes the address, whichever comes first.
    released: bool,
}

fn record(h: Holding, addr: IpAddr, prefix: u8, kind: &'static str, file: &str) -> Record {
    Record::Assignment(Assignment {
        kind,
        identity: h.identity,
        addr,
        prefix,
        start: h.start,
        end: Some(h.end.max(h.start)),
        source: format!("{file}:{}", h.line),
    })
}

/// The holdings of a journal's entries, in the order they were written.
pub(super) fn holdings(
    seen: Vec<Seen>,
    kind: &'static str,
    file: &str,
) -> (Vec<Record>, Vec<LineError>) {
    let mut current: BTreeMap<(IpAddr, u8), Holding> = BTreeMap::new();
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for s in seen {
        let key = (s.addr, s.prefix);
        let same = |h: &Holding| s.identity.as_deref().is_none_or(|i| i == h.identity);
        if s.over {
            match current.remove(&key) {
                Some(mut h) if same(&h) && s.ends >= NO_END => {
                    h.released = true;
                    current.insert(key, h);
                }
                Some(mut h) if same(&h) => {
                    h.end = h.end.min(s.ends);
                    out.push(record(h, s.addr, s.prefix, kind, file));
                }
                other => {
                    if let Some(h) = other {
                        current.insert(key, h);
                    }
                    // The end of a lease whose start is not in this file.
                    if let (Some(id), true) = (s.identity, s.ends > s.renewed && s.ends < NO_END) {
                        let h = Holding {
                            line: s.line,
                            identity: id,
                            start: s.renewed,
                            end: s.ends,
                            released: false,
                        };
                        out.push(record(h, s.addr, s.prefix, kind, file));
                    }
                }
            }
            continue;
        }
        let Some(identity) = s.identity.clone() else {
            errors.push(err(s.line, "an active lease that names no client"));
            continue;
        };
        match current.get_mut(&key) {
            Some(h) if h.identity == identity && !h.released && s.renewed <= h.end => {
                h.end = h.end.max(s.ends);
            }
            _ => {
                if let Some(mut h) = current.remove(&key) {
                    h.end = h.end.min(s.renewed);
                    out.push(record(h, s.addr, s.prefix, kind, file));
                }
                current.insert(
                    key,
                    Holding {
                        line: s.line,
                        identity,
                        start: s.renewed,
                        end: s.ends,
                        released: false,
                    },
                );
            }
        }
    }
    for ((addr, prefix), h) in current {
        out.push(record(h, addr, prefix, kind, file));
    }
    (out, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(line: usize, who: &str, renewed: i64, ends: i64, over: bool) -> Seen {
        Seen {
            line,
            addr: "192.0.2.1".parse().unwrap(),
            prefix: 32,
            identity: Some(who.into()),
            renewed,
            ends,
            over,
        }
    }

    fn spans(r: &[Record]) -> Vec<(String, i64, Option<i64>)> {
        r.iter()
            .map(|r| match r {
                Record::Assignment(a) => (a.identity.clone(), a.start, a.end),
                _ => unreachable!(),
            })
            .collect()
    }

    #[test]
    fn renewals_extend_a_release_ends_and_a_new_client_takes_over() {
        let (r, e) = holdings(
            vec![
                seen(1, "a", 100, 220, false),
                seen(2, "a", 140, 260, false),
                seen(3, "a", 180, NO_END, true),
                seen(4, "b", 200, 320, false),
                seen(5, "c", 250, 370, false),
            ],
            "kea",
            "f",
        );
        assert!(e.is_empty());
        assert_eq!(
            spans(&r),
            [
                ("a".into(), 100, Some(200)),
                ("b".into(), 200, Some(250)),
                ("c".into(), 250, Some(370))
            ]
        );
    }
}

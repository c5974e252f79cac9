//! Stage 6, **attrib**: the miner's address and port at the flow's time in; the subscriber out
//! (id, enterprise, registration number, address, the record that matched), or `unknown`, or
//! `ambiguous` with the candidates — never a silent choice.
//!
//! Operators' records (see [`formats`]) are imported into a SQLite store ([`store`]); at start
//! an in-memory index is built from it: per address the assignments sorted by time, per public
//! address the CGNAT port blocks, prefixes in a sorted list. An address behind CGNAT resolves
//! through its port block to the private address, which then resolves like any other.

pub mod formats;
pub mod store;
pub mod time;

use formats::Subscriber;
use serde::Serialize;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

#[derive(Debug, Clone)]
struct Span {
    start: i64,
    end: Option<i64>,
    identity: String,
    kind: String,
    source: String,
}

#[derive(Debug, Clone)]
struct Block {
    port_lo: u16,
    port_hi: u16,
    private: IpAddr,
    start: i64,
    end: Option<i64>,
    source: String,
}

/// The record an attribution rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Matched {
    /// The identity the record names (RADIUS user, MAC, DUID, subscriber id).
    pub identity: String,
    /// static, radius, dhcp, kea
    pub kind: String,
    /// The record that matched (file:line, session).
    pub source: String,
    /// Start of the assignment's validity, seconds since the epoch.
    pub valid_from: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// End of its validity, when it has one.
    pub valid_to: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
/// A subscriber an address may belong to.
pub struct Candidate {
    /// The registry's id (or the identity, when the registry does not know it).
    pub id: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    /// Enterprise or person name.
    pub name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    /// Registration number (unified social credit code).
    pub registration_number: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    /// Service address.
    pub address: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    /// Account type.
    pub account_type: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    /// Line or circuit id.
    pub circuit: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    /// The registry's region (code) of the subscriber.
    pub region: String,
    /// False when the record names an identity the registry does not know.
    pub registered: bool,
    /// The assignment that led here.
    pub matched: Matched,
}

/// How a public address and port were followed through CGNAT.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ViaCgnat {
    /// The public address the tap saw.
    pub public_ip: IpAddr,
    /// The public port the tap saw.
    pub public_port: u16,
    /// The private address behind it.
    pub private_ip: IpAddr,
    /// The port block that mapped them (file:line).
    pub block: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
/// Who was behind an address at a time: matched, ambiguous or unknown, with every candidate.
pub struct Attribution {
    /// matched, ambiguous or unknown
    pub status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    /// The subscribers it may be (none when unknown).
    pub candidates: Vec<Candidate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    /// The CGNAT hop, when the address was a public one.
    pub via_cgnat: Option<ViaCgnat>,
}

/// The registry's subscriber for an identity: the identity itself, or, for a DHCPv6 DUID built
/// from a link-layer address (DUID-LLT, DUID-LL), the MAC inside it.
pub(crate) fn registered<'a>(
    identities: &'a HashMap<String, String>,
    identity: &str,
) -> Option<&'a String> {
    identities
        .get(identity)
        .or_else(|| duid_mac(identity).and_then(|m| identities.get(&m)))
}

/// The Ethernet MAC inside a DUID-LLT (type 1) or DUID-LL (type 3) written as hex pairs.
fn duid_mac(duid: &str) -> Option<String> {
    let bytes: Vec<u8> = duid
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).ok())
        .collect::<Option<_>>()?;
    let mac = match bytes.as_slice() {
        [0, 1, 0, 1, _, _, _, _, mac @ ..] | [0, 3, 0, 1, mac @ ..] if mac.len() == 6 => mac,
        _ => return None,
    };
    Some(
        mac.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

/// The in-memory index over the store.
#[derive(Default)]
pub struct Resolver {
    singles: HashMap<IpAddr, Vec<Span>>,
    /// (network start, prefix length, span), for assignments wider than one address.
    prefixes: Vec<(u128, u8, bool, Span)>,
    blocks: HashMap<IpAddr, Vec<Block>>,
    subscribers: HashMap<String, Subscriber>,
    identities: HashMap<String, String>,
    /// Seconds of slack at the edges of a validity period.
    pub tolerance: i64,
}

fn bits(a: IpAddr) -> (u128, bool) {
    match a {
        IpAddr::V4(v) => (u128::from(u32::from(v)), true),
        IpAddr::V6(v) => (u128::from(v), false),
    }
}

fn in_prefix(a: IpAddr, net: u128, len: u8, v4: bool) -> bool {
    let (x, is4) = bits(a);
    let width: u32 = if v4 { 32 } else { 128 };
    if is4 != v4 || u32::from(len) > width {
        return false;
    }
    let shift = width - u32::from(len);
    len == 0 || (shift < 128 && x >> shift == net >> shift)
}

impl Resolver {
    /// Builds the index from a store file.
    pub fn load(path: &Path, tolerance: i64) -> Result<Resolver, String> {
        let st = store::Store::open_existing(path)?;
        let mut r = Resolver {
            tolerance,
            ..Resolver::default()
        };
        r.load_subscribers(&st.conn, path)?;
        r.identities = st
            .identities()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        r.load_assignments(&st.conn, path)?;
        r.load_blocks(&st.conn, path)?;
        Ok(r)
    }

    /// The registry's subscribers.
    fn load_subscribers(&mut self, c: &rusqlite::Connection, path: &Path) -> Result<(), String> {
        let e = |x: rusqlite::Error| format!("{}: {x}", path.display());
        let mut q = c.prepare("SELECT id, name, reg_no, address, contact, account_type, circuit, extra FROM subscribers").map_err(e)?;
        let rows = q
            .query_map([], |row| {
                let extra: String = row.get(7)?;
                Ok(Subscriber {
                    id: row.get(0)?,
                    name: row.get(1)?,
                    reg_no: row.get(2)?,
                    address: row.get(3)?,
                    contact: row.get(4)?,
                    account_type: row.get(5)?,
                    circuit: row.get(6)?,
                    identities: Vec::new(),
                    extra: serde_json::from_str(&extra).unwrap_or_default(),
                })
            })
            .map_err(e)?;
        for s in rows {
            let s = s.map_err(e)?;
            self.subscribers.insert(s.id.clone(), s);
        }
        Ok(())
    }

    /// Addresses and prefixes held by identities over time; RADIUS sessions without an end run to the next start on the same address.
    fn load_assignments(&mut self, c: &rusqlite::Connection, path: &Path) -> Result<(), String> {
        let e = |x: rusqlite::Error| format!("{}: {x}", path.display());
        let mut q = c
            .prepare("SELECT kind, identity, addr, prefix, start, end, source FROM assignments")
            .map_err(e)?;
        let rows = q
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, u8>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, Option<i64>>(5)?,
                    row.get::<_, String>(6)?,
                ))
            })
            .map_err(e)?;
        for row in rows {
            let (kind, identity, addr, prefix, start, end, source) = row.map_err(e)?;
            let Ok(a) = addr.parse::<IpAddr>() else {
                continue;
            };
            let span = Span {
                start,
                end,
                identity,
                kind,
                source,
            };
            let (n, v4) = bits(a);
            if prefix == if v4 { 32 } else { 128 } {
                self.singles.entry(a).or_default().push(span);
            } else {
                self.prefixes.push((n, prefix, v4, span));
            }
        }
        // Sessions without an end stay open until the next start for the same address.
        for spans in self.singles.values_mut() {
            spans.sort_by_key(|s| s.start);
            for i in 0..spans.len().saturating_sub(1) {
                if spans[i].end.is_none() && spans[i].kind == "radius" {
                    spans[i].end = Some(spans[i + 1].start);
                }
            }
        }
        Ok(())
    }

    /// CGNAT port blocks by public address.
    fn load_blocks(&mut self, c: &rusqlite::Connection, path: &Path) -> Result<(), String> {
        let e = |x: rusqlite::Error| format!("{}: {x}", path.display());
        let mut q = c
            .prepare("SELECT public, port_lo, port_hi, private, start, end, source FROM blocks")
            .map_err(e)?;
        let rows = q
            .query_map([], |row| {
                Ok((
                    row.get::<_, String>(0)?,
                    row.get::<_, u16>(1)?,
                    row.get::<_, u16>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, i64>(4)?,
                    row.get::<_, Option<i64>>(5)?,
                    row.get::<_, String>(6)?,
                ))
            })
            .map_err(e)?;
        for row in rows {
            let (public, port_lo, port_hi, private, start, end, source) = row.map_err(e)?;
            let (Ok(p), Ok(v)) = (public.parse::<IpAddr>(), private.parse::<IpAddr>()) else {
                continue;
            };
            self.blocks.entry(p).or_default().push(Block {
                port_lo,
                port_hi,
                private: v,
                start,
                end,
                source,
            });
        }
        Ok(())
    }

    /// True when the store holds no assignment and no port block: every look-up will answer
    /// `unknown`.
    pub fn is_empty(&self) -> bool {
        self.assignments() == 0 && self.blocks.is_empty()
    }

    /// Addresses and prefixes in the index.
    pub fn assignments(&self) -> usize {
        self.singles.values().map(Vec::len).sum::<usize>() + self.prefixes.len()
    }

    fn valid(&self, start: i64, end: Option<i64>, t: i64) -> bool {
        start - self.tolerance <= t && end.is_none_or(|e| t <= e + self.tolerance)
    }

    fn candidate(&self, s: &Span) -> Candidate {
        let id = registered(&self.identities, &s.identity)
            .cloned()
            .unwrap_or_else(|| s.identity.clone());
        let sub = self.subscribers.get(&id);
        Candidate {
            registered: sub.is_some(),
            name: sub.map(|s| s.name.clone()).unwrap_or_default(),
            registration_number: sub.map(|s| s.reg_no.clone()).unwrap_or_default(),
            address: sub.map(|s| s.address.clone()).unwrap_or_default(),
            account_type: sub.map(|s| s.account_type.clone()).unwrap_or_default(),
            circuit: sub.map(|s| s.circuit.clone()).unwrap_or_default(),
            region: sub
                .and_then(|s| s.extra.get("region").cloned())
                .unwrap_or_default(),
            id,
            matched: Matched {
                identity: s.identity.clone(),
                kind: s.kind.clone(),
                source: s.source.clone(),
                valid_from: s.start,
                valid_to: s.end,
            },
        }
    }

    /// Who held `addr` at time `t` (seconds): through CGNAT when a port block covers `port`.
    pub fn lookup(&self, addr: IpAddr, port: Option<u16>, t: i64) -> Attribution {
        let mut via = None;
        let mut target = addr;
        if let (Some(blocks), Some(port)) = (self.blocks.get(&addr), port) {
            let hits: Vec<&Block> = blocks
                .iter()
                .filter(|b| b.port_lo <= port && port <= b.port_hi && self.valid(b.start, b.end, t))
                .collect();
            let mut privs: Vec<IpAddr> = hits.iter().map(|b| b.private).collect();
            privs.sort();
            privs.dedup();
            if privs.len() > 1 {
                return Attribution {
                    status: "ambiguous",
                    candidates: Vec::new(),
                    via_cgnat: None,
                };
            }
            if let Some(b) = hits.first() {
                target = b.private;
                via = Some(ViaCgnat {
                    public_ip: addr,
                    public_port: port,
                    private_ip: b.private,
                    block: b.source.clone(),
                });
            }
        }
        let mut cands: Vec<Candidate> = Vec::new();
        let spans = self.singles.get(&target).into_iter().flatten();
        let wide = self
            .prefixes
            .iter()
            .filter(|(n, l, v4, _)| in_prefix(target, *n, *l, *v4))
            .map(|p| &p.3);
        for s in spans.chain(wide).filter(|s| self.valid(s.start, s.end, t)) {
            let c = self.candidate(s);
            if !cands.iter().any(|x| x.id == c.id) {
                cands.push(c);
            }
        }
        let status = match cands.len() {
            0 => "unknown",
            1 => "matched",
            _ => "ambiguous",
        };
        Attribution {
            status,
            candidates: cands,
            via_cgnat: via,
        }
    }
}

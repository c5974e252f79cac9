//! DNS messages (RFC 1035): questions and A/AAAA/CNAME answers, with name compression followed
//! under a jump limit. Used twice: the reader learns pool addresses from answers as they pass
//! (so every worker knows them in capture order), and the [`DnsDetector`] reports look-ups of
//! pool domains as `dns` events with the asking client.

use crate::detect::framing::records::{Held, Progress};
use crate::detect::{Detail, Detector, Finding, Interest, Kind, Lookups};
use crate::flow::Dir;
use crate::rules::intel::Intel;
use crate::wire;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

/// DNS, on port 53, over UDP or TCP.
pub const ENTRY: crate::detect::Entry = crate::detect::Entry {
    name: "dns",
    applies: |s| s.dns_port(),
    make: |ctx, s| Box::new(DnsDetector::new(ctx.intel.clone(), s.tcp)),
};

const MAX_RECORDS: usize = 32;
const MAX_JUMPS: usize = 16;

#[derive(Debug, Clone, PartialEq, Eq)]
/// What an answer record holds.
pub enum Rdata {
    /// An address (A or AAAA).
    Addr(IpAddr),
    /// A canonical name.
    Cname(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
/// One answer record.
pub struct Answer {
    /// The name answered.
    pub name: String,
    /// Time to live, seconds.
    pub ttl: u32,
    /// What it says.
    pub data: Rdata,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
/// A DNS message: header fields, questions, answers.
pub struct Message {
    /// Message id.
    pub id: u16,
    /// A response (not a query).
    pub response: bool,
    /// Response code (0: no error).
    pub rcode: u8,
    /// (name, type)
    pub questions: Vec<(String, u16)>,
    /// Answer records.
    pub answers: Vec<Answer>,
}

/// Reads a (possibly compressed) name at `off`; returns it and the offset after it.
fn name(msg: &[u8], mut off: usize) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut end = None;
    let mut jumps = 0;
    loop {
        let len = *msg.get(off)? as usize;
        match len {
            0 => {
                return Some((out, end.unwrap_or(off + 1)));
            }
            l if l & 0xc0 == 0xc0 => {
                let ptr = (wire::be16(msg, off)? & 0x3fff) as usize;
                end.get_or_insert(off + 2);
                jumps += 1;
                if jumps > MAX_JUMPS {
                    return None;
                }
                off = ptr;
            }
            l if l <= 63 => {
                let label = msg.get(off + 1..off + 1 + l)?;
                if !out.is_empty() {
                    out.push('.');
                }
                if out.len() + l > 255 {
                    return None;
                }
                out.extend(label.iter().map(|&b| (b as char).to_ascii_lowercase()));
                off += 1 + l;
            }
            _ => return None,
        }
    }
}

/// Parses one DNS message (without the TCP length prefix).
/// Whether a DNS message can teach pool addresses: a successful standard response that
/// carries answers. Its fixed header is all that is read, so a reader can tell at once.
pub fn has_answers(msg: &[u8]) -> bool {
    let (Some(flags), Some(an)) = (wire::be16(msg, 2), wire::be16(msg, 6)) else {
        return false;
    };
    flags & 0x8000 != 0 && flags & 0x780f == 0 && an > 0
}

/// Whether a message asks about a pool domain: only its header and questions are read, so
/// that answers about other names cost no more than that.
pub fn asks_for_pool(msg: &[u8], intel: &Intel) -> bool {
    let (Some(flags), Some(qd)) = (wire::be16(msg, 2), wire::be16(msg, 4)) else {
        return false;
    };
    if flags & 0x7800 != 0 || qd == 0 || usize::from(qd) > MAX_RECORDS {
        return false;
    }
    let mut off = 12;
    for _ in 0..qd {
        let Some((n, o)) = name(msg, off) else {
            return false;
        };
        if intel.domain(&n).is_some() {
            return true;
        }
        off = o + 4;
    }
    false
}

/// Parses a standard query or response; `None` when it is not one.
pub fn parse(msg: &[u8]) -> Option<Message> {
    if msg.len() < 12 {
        return None;
    }
    let flags = wire::be16(msg, 2)?;
    if flags & 0x7800 != 0 {
        return None; // only standard queries
    }
    let qd = wire::be16(msg, 4)? as usize;
    let an = wire::be16(msg, 6)? as usize;
    if qd == 0 || qd > MAX_RECORDS {
        return None;
    }
    let mut m = Message {
        id: wire::be16(msg, 0)?,
        response: flags & 0x8000 != 0,
        rcode: (flags & 0x000f) as u8,
        ..Message::default()
    };
    let mut off = 12;
    for _ in 0..qd {
        let (n, o) = name(msg, off)?;
        let qtype = wire::be16(msg, o)?;
        wire::be16(msg, o + 2)?;
        m.questions.push((n, qtype));
        off = o + 4;
    }
    for _ in 0..an.min(MAX_RECORDS) {
        let (n, o) = name(msg, off)?;
        let rtype = wire::be16(msg, o)?;
        let ttl = u32::from(wire::be16(msg, o + 4)?) << 16 | u32::from(wire::be16(msg, o + 6)?);
        let rdlen = wire::be16(msg, o + 8)? as usize;
        let rd = msg.get(o + 10..o + 10 + rdlen)?;
        let data = match (rtype, rdlen) {
            (1, 4) => Some(Rdata::Addr(IpAddr::V4(Ipv4Addr::new(
                rd[0], rd[1], rd[2], rd[3],
            )))),
            (28, 16) => {
                let mut a = [0u8; 16];
                a.copy_from_slice(rd);
                Some(Rdata::Addr(IpAddr::V6(Ipv6Addr::from(a))))
            }
            (5, _) => name(msg, o + 10).map(|(c, _)| Rdata::Cname(c)),
            _ => None,
        };
        if let Some(data) = data {
            m.answers.push(Answer { name: n, ttl, data });
        }
        off = o + 10 + rdlen;
    }
    Some(m)
}

/// A pool address learned from an answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Learned {
    /// The pool's address.
    pub addr: IpAddr,
    /// The name that was looked up.
    pub domain: String,
    /// How long the answer holds, seconds.
    pub ttl: u32,
}

/// The addresses a response gives for names that belong to pools (CNAME chains included:
/// every address answering a pool name's question is the pool's).
pub fn pool_addresses(m: &Message, intel: &Intel) -> Vec<Learned> {
    if !m.response || m.rcode != 0 {
        return Vec::new();
    }
    let Some(domain) = m
        .questions
        .iter()
        .find(|(q, _)| intel.domain(q).is_some())
        .map(|(q, _)| q)
    else {
        return Vec::new();
    };
    m.answers
        .iter()
        .filter_map(|a| match a.data {
            Rdata::Addr(addr) => Some(Learned {
                addr,
                domain: domain.clone(),
                ttl: a.ttl,
            }),
            Rdata::Cname(_) => None,
        })
        .collect()
}

/// Bytes held per direction of a DNS-over-TCP flow: one message and its length.
const MAX_HELD: usize = 65_537;

/// Reports look-ups of pool domains on a DNS flow (UDP, or TCP with length prefixes).
pub struct DnsDetector {
    intel: Arc<Intel>,
    tcp: bool,
    held: [Held; 2],
    messages: u32,
    found: Finding,
    lookups: Lookups,
    pool_queries: bool,
    not_dns: bool,
}

impl DnsDetector {
    /// A DNS detector consulting `intel` for pool names; over TCP messages carry a length.
    pub fn new(intel: Arc<Intel>, tcp: bool) -> Self {
        let mut found = Finding::new("dns", "dns");
        found.kind = Kind::Dns;
        DnsDetector {
            intel,
            tcp,
            held: Default::default(),
            messages: 0,
            found,
            lookups: Lookups::default(),
            pool_queries: false,
            not_dns: false,
        }
    }

    fn message(&mut self, dir: Dir, b: &[u8]) {
        let Some(m) = parse(b) else {
            if self.messages == 0 {
                self.not_dns = true;
            }
            return;
        };
        self.messages += 1;
        let f = &mut self.found;
        if !m.response {
            // The asker sends queries: it is the miner's side of a pool look-up.
            f.miner_sends = Some(dir);
        }
        for (q, t) in &m.questions {
            if self.intel.domain(q).is_some() {
                self.pool_queries = true;
                let s = format!("dns:query {q} {}", rrtype(*t));
                if !f.signals.contains(&s) && f.signals.len() < 32 {
                    f.signals.push(s);
                    self.lookups.queries.push((q.clone(), rrtype(*t)));
                }
            }
        }
        if self.intel.is_empty() {
            return;
        }
        for l in pool_addresses(&m, &self.intel) {
            if self.lookups.answers.len() < 32 {
                self.lookups.answers.push((l.domain, l.addr, l.ttl));
            }
        }
    }
}

/// The name of a record type, as events give it.
pub fn rrtype(t: u16) -> &'static str {
    match t {
        1 => "A",
        28 => "AAAA",
        5 => "CNAME",
        15 => "MX",
        16 => "TXT",
        33 => "SRV",
        65 => "HTTPS",
        _ => "other",
    }
}

impl Detector for DnsDetector {
    fn name(&self) -> &'static str {
        "dns"
    }

    fn on_data(&mut self, dir: Dir, data: &[u8], _ts_ns: u64) {
        if !self.tcp {
            self.message(dir, data);
            return;
        }
        // Over TCP each message has a two-byte length in front.
        let mut held = std::mem::take(&mut self.held[dir.index()]);
        let _ = held.feed(data, MAX_HELD, |buf| {
            let mut off = 0;
            while let Some(len) = wire::be16(buf, off).map(usize::from) {
                let Some(m) = buf.get(off + 2..off + 2 + len) else {
                    return Progress::Incomplete {
                        consumed: off,
                        needed: 2 + len,
                    };
                };
                self.message(dir, m);
                off += 2 + len;
            }
            Progress::Incomplete {
                consumed: off,
                needed: 2,
            }
        });
        self.held[dir.index()] = held;
    }

    fn on_gap(&mut self, dir: Dir) {
        self.held[dir.index()].clear();
    }

    fn interest(&self) -> Interest {
        if self.pool_queries {
            Interest::Matched
        } else if self.not_dns || self.messages > 64 {
            Interest::NotThis
        } else {
            Interest::Probing
        }
    }

    fn finding(&self) -> Option<Finding> {
        self.pool_queries.then(|| {
            let mut f = self.found.clone();
            f.detail = Detail::Dns(self.lookups.clone());
            f
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A response for `name` with a CNAME and an A record, using compression.
    pub fn response(name: &str, addr: [u8; 4]) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0];
        for l in name.split('.') {
            m.push(l.len() as u8);
            m.extend_from_slice(l.as_bytes());
        }
        m.extend_from_slice(&[0, 0, 1, 0, 1]);
        // CNAME: name -> "lb" + pointer to the question name
        m.extend_from_slice(&[
            0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 5, 2, b'l', b'b', 0xc0, 12,
        ]);
        // A for lb.<name>
        let lb = m.len() - 5;
        m.extend_from_slice(&[0xc0, lb as u8, 0, 1, 0, 1, 0, 0, 1, 44, 0, 4]);
        m.extend_from_slice(&addr);
        m
    }

    #[test]
    fn answers_with_compression_and_cname() {
        let m = parse(&response("xmr.pool.example", [192, 0, 2, 9])).unwrap();
        assert!(m.response);
        assert_eq!(m.questions, [("xmr.pool.example".to_string(), 1)]);
        assert_eq!(
            m.answers[0].data,
            Rdata::Cname("lb.xmr.pool.example".into())
        );
        assert_eq!(m.answers[1].name, "lb.xmr.pool.example");
        assert_eq!(m.answers[1].ttl, 300);
        let intel = Intel::from_text("domain pool.example pool=Ex\n").unwrap();
        let l = pool_addresses(&m, &intel);
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].addr, "192.0.2.9".parse::<IpAddr>().unwrap());
        assert_eq!(l[0].domain, "xmr.pool.example");
    }

    #[test]
    fn pointer_loops_and_garbage_do_not_hang_or_panic() {
        let mut m = vec![0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 12];
        assert!(parse(&m).is_none());
        m.truncate(13);
        assert!(parse(&m).is_none());
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ n).collect();
            let _ = parse(&junk);
        }
    }
}

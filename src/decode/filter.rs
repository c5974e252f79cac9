//! A packet filter in the words of tcpdump's expressions (a subset, applied by minetap itself,
//! no libpcap): decoded packets in; keep or drop out.
//!
//! Words: `tcp`, `udp`, `ip`, `ip6`; `host ADDR`, `net ADDR/LEN`, `port N`, `portrange A-B`,
//! each optionally after `src` or `dst` and after a protocol (`tcp port 3333`); `and`/`&&`,
//! `or`/`||`, `not`/`!`, parentheses. `and` binds tighter than `or`.

use super::{Decoded, PROTO_TCP, PROTO_UDP};
use std::net::IpAddr;

/// Which end of the packet a test looks at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The source (`src`).
    Src,
    /// The destination (`dst`).
    Dst,
    /// Either end (no qualifier).
    Either,
}

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// IP protocol number.
    Proto(u8),
    /// IPv4 (`true`) or IPv6.
    Family(bool),
    /// An address range at one end.
    Net(End, Cidr),
    /// A port range at one end.
    Port(End, u16, u16),
    /// Both.
    And(Box<Filter>, Box<Filter>),
    /// Either.
    Or(Box<Filter>, Box<Filter>),
    /// Not.
    Not(Box<Filter>),
}

/// An address range, `ADDR[/LEN]` (the filter's `net`, the probe's allow-list).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    /// The network address.
    pub addr: IpAddr,
    /// The prefix length.
    pub len: u8,
}

impl Cidr {
    /// Reads `ADDR[/LEN]`.
    pub fn parse(s: &str) -> Result<Cidr, String> {
        let (a, l) = s.split_once('/').unwrap_or((s, ""));
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("'{s}' is not an address range (ADDR[/LEN])"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let len = if l.is_empty() {
            max
        } else {
            l.parse::<u8>()
                .ok()
                .filter(|n| *n <= max)
                .ok_or_else(|| format!("'{s}': the prefix length must be 0..={max}"))?
        };
        Ok(Cidr { addr, len })
    }

    /// Whether `ip` is in the range.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u8) {
            match a {
                IpAddr::V4(v) => (u128::from(u32::from(v)) << 96, 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        let ((net, max), (x, xmax)) = (bits(self.addr), bits(ip));
        if max != xmax {
            return false;
        }
        // IPv4 sits in the top 32 bits, so one mask serves both families.
        let keep = if self.len == 0 {
            0
        } else {
            u128::MAX << (128 - u32::from(self.len))
        };
        net & keep == x & keep
    }
}

impl Filter {
    /// Whether the packet passes.
    pub fn matches(&self, d: &Decoded<'_>) -> bool {
        let at = |end: End, test: &dyn Fn(IpAddr, u16) -> bool| match end {
            End::Src => test(d.src, d.sport),
            End::Dst => test(d.dst, d.dport),
            End::Either => test(d.src, d.sport) || test(d.dst, d.dport),
        };
        match self {
            Filter::Proto(p) => d.proto == *p,
            Filter::Family(v4) => d.src.is_ipv4() == *v4,
            Filter::Net(end, net) => at(*end, &|a, _| net.contains(a)),
            Filter::Port(end, lo, hi) => at(*end, &|_, p| (*lo..=*hi).contains(&p)),
            Filter::And(a, b) => a.matches(d) && b.matches(d),
            Filter::Or(a, b) => a.matches(d) || b.matches(d),
            Filter::Not(a) => !a.matches(d),
        }
    }

    /// Reads an expression; the error names the word that was wrong and its place.
    pub fn parse(text: &str) -> Result<Filter, String> {
        let spaced = text
            .replace('(', " ( ")
            .replace(')', " ) ")
            .replace("&&", " and ")
            .replace("||", " or ")
            .replace('!', " not ");
        let words: Vec<&str> = spaced.split_whitespace().collect();
        let mut p = Parser { words, at: 0 };
        let f = p.or()?;
        match p.words.get(p.at) {
            None => Ok(f),
            Some(w) if !KNOWN.contains(w) => Err(p.err(&unknown(w))),
            Some(w) => Err(p.err(&format!("unexpected '{w}' (join tests with and/or)"))),
        }
    }
}

/// The words the filter knows.
const KNOWN: [&str; 15] = [
    "tcp",
    "udp",
    "ip",
    "ip6",
    "src",
    "dst",
    "host",
    "net",
    "port",
    "portrange",
    "and",
    "or",
    "not",
    "(",
    ")",
];

fn unknown(w: &str) -> String {
    format!("'{w}' is not a word minetap's filter knows (tcp, udp, ip, ip6, src, dst, host, net, port, portrange, and, or, not)")
}

struct Parser<'a> {
    words: Vec<&'a str>,
    at: usize,
}

impl<'a> Parser<'a> {
    fn err(&self, what: &str) -> String {
        format!("{what} at word {}", self.at + 1)
    }
    fn peek(&self) -> Option<&'a str> {
        self.words.get(self.at).copied()
    }
    fn next(&mut self) -> Option<&'a str> {
        let w = self.peek();
        self.at += 1;
        w
    }
    fn or(&mut self) -> Result<Filter, String> {
        let mut f = self.and()?;
        while self.peek() == Some("or") {
            self.at += 1;
            f = Filter::Or(Box::new(f), Box::new(self.and()?));
        }
        Ok(f)
    }
    fn and(&mut self) -> Result<Filter, String> {
        let mut f = self.not()?;
        while self.peek() == Some("and") {
            self.at += 1;
            f = Filter::And(Box::new(f), Box::new(self.not()?));
        }
        Ok(f)
    }
    fn not(&mut self) -> Result<Filter, String> {
        match self.peek() {
            Some("not") => {
                self.at += 1;
                Ok(Filter::Not(Box::new(self.not()?)))
            }
            Some("(") => {
                self.at += 1;
                let f = self.or()?;
                if self.next() != Some(")") {
                    self.at -= 1;
                    return Err(self.err("expected ')'"));
                }
                Ok(f)
            }
            _ => self.primitive(),
        }
    }
    fn primitive(&mut self) -> Result<Filter, String> {
        let proto = match self.peek() {
            Some("tcp") => Some(Filter::Proto(PROTO_TCP)),
            Some("udp") => Some(Filter::Proto(PROTO_UDP)),
            Some("ip") => Some(Filter::Family(true)),
            Some("ip6") => Some(Filter::Family(false)),
            _ => None,
        };
        if let Some(p) = proto {
            self.at += 1;
            return Ok(match self.peek() {
                Some("src" | "dst" | "host" | "net" | "port" | "portrange") => {
                    Filter::And(Box::new(p), Box::new(self.qualified()?))
                }
                _ => p,
            });
        }
        self.qualified()
    }
    fn qualified(&mut self) -> Result<Filter, String> {
        let end = match self.peek() {
            Some("src") => End::Src,
            Some("dst") => End::Dst,
            _ => End::Either,
        };
        if end != End::Either {
            self.at += 1;
        }
        let kind = self
            .next()
            .ok_or_else(|| "the expression ends too early".to_string())?;
        // The value's place, for errors about it (1-based).
        let vpos = self.at + 1;
        let value = self.next();
        let bad = |what: String| format!("{what} at word {vpos}");
        let missing = |_: &Self, what: &str| format!("expected {what} after '{kind}', at the end");
        match kind {
            "host" | "net" => {
                let v = value.ok_or_else(|| missing(self, "an address"))?;
                Ok(Filter::Net(end, Cidr::parse(v).map_err(bad)?))
            }
            "port" => {
                let v = value.ok_or_else(|| missing(self, "a port number"))?;
                let p: u16 = v
                    .parse()
                    .map_err(|_| bad(format!("'{v}' is not a port number")))?;
                Ok(Filter::Port(end, p, p))
            }
            "portrange" => {
                let v = value.ok_or_else(|| missing(self, "A-B"))?;
                let r = v
                    .split_once('-')
                    .and_then(|(a, b)| Some((a.parse::<u16>().ok()?, b.parse::<u16>().ok()?)))
                    .filter(|(a, b)| a <= b)
                    .ok_or_else(|| bad(format!("'{v}' is not a port range A-B")))?;
                Ok(Filter::Port(end, r.0, r.1))
            }
            w => {
                self.at = vpos - 2;
                Err(self.err(&unknown(w)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::{Payload, Tcp};

    fn pkt(src: &str, sport: u16, dst: &str, dport: u16, proto: u8) -> Decoded<'static> {
        Decoded {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            sport,
            dport,
            proto,
            tcp: Tcp::default(),
            payload: Payload::Slice(&[]),
            encap: None,
        }
    }

    #[test]
    fn tcpdump_words_select_packets() {
        let f = Filter::parse("tcp port 3333 or host 198.51.100.20").unwrap();
        assert!(f.matches(&pkt("10.0.0.1", 40000, "1.2.3.4", 3333, PROTO_TCP)));
        assert!(!f.matches(&pkt("10.0.0.1", 40000, "1.2.3.4", 3333, PROTO_UDP)));
        assert!(f.matches(&pkt("198.51.100.20", 53, "10.0.0.1", 5353, PROTO_UDP)));
        let g = Filter::parse("src net 10.0.0.0/8 && !(dst portrange 1-1023)").unwrap();
        assert!(g.matches(&pkt("10.1.2.3", 1, "8.8.8.8", 3333, PROTO_TCP)));
        assert!(!g.matches(&pkt("10.1.2.3", 1, "8.8.8.8", 443, PROTO_TCP)));
        assert!(!g.matches(&pkt("11.1.2.3", 1, "8.8.8.8", 3333, PROTO_TCP)));
        let h = Filter::parse("ip6 and tcp").unwrap();
        assert!(h.matches(&pkt("2001:db8::1", 1, "2001:db8::2", 2, PROTO_TCP)));
        assert!(!h.matches(&pkt("10.0.0.1", 1, "10.0.0.2", 2, PROTO_TCP)));
    }

    #[test]
    fn mistakes_are_named_with_their_place() {
        assert_eq!(
            Filter::parse("tcp port http").unwrap_err(),
            "'http' is not a port number at word 3"
        );
        assert_eq!(
            Filter::parse("tcp prot 80").unwrap_err(),
            "'prot' is not a word minetap's filter knows (tcp, udp, ip, ip6, src, dst, host, net, port, portrange, and, or, not) at word 2"
        );
        assert_eq!(Filter::parse("(tcp").unwrap_err(), "expected ')' at word 3");
        assert_eq!(
            Filter::parse("tcp port").unwrap_err(),
            "expected a port number after 'port', at the end"
        );
        assert!(Filter::parse("net 10.0.0.0/40").is_err());
    }
}

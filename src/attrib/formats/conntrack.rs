//! Linux conntrack NAT events: which private address and port were behind a public address and
//! port, from when to when. Two forms, told apart line by line:
//! - `conntrack -E -o timestamp,extended` text: `[SECONDS.MICROS]  [NEW] ipv4 2 tcp 6 ...
//!   src=PRIV dst=D sport=P dport=Q ... src=D dst=PUB sport=Q dport=PUBPORT ...`; a `[DESTROY]`
//!   of the same tuples ends the mapping (in a later file, it closes the one already stored);
//! - ulogd2's JSON output of the NFCT plugin, one object a line, with `flow.start.sec` and
//!   `flow.end.sec` when the event is a DESTROY.
//!
//! Each mapping is a port block of one port. A flow that was not translated (the reply goes back
//! to the original source) and ICMP (no ports) are counted in a note, not stored.

use super::time_of;
use super::{err, Parsed, PortBlock, ReadOptions, Record};
use std::collections::HashMap;
use std::net::IpAddr;

/// One translated flow as an event shows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Tuple {
    proto: String,
    private: IpAddr,
    private_port: u16,
    remote: IpAddr,
    public: IpAddr,
    public_port: u16,
}

enum Event {
    New,
    Destroy,
    Other,
}

/// What a line held.
enum Line {
    Mapping {
        event: Event,
        ts: i64,
        tuple: Tuple,
        /// ulogd's flow start, when the event carries it.
        began: Option<i64>,
    },
    /// A flow without a port translation, or without ports.
    Untranslated,
}

fn parse_text(l: &str, o: &ReadOptions) -> Result<Line, String> {
    let mut words = l.split_whitespace().peekable();
    let ts = match words.peek() {
        Some(w) if w.starts_with('[') && w.chars().nth(1).is_some_and(|c| c.is_ascii_digit()) => {
            let w = words.next().unwrap_or_default();
            time_of(o, w)?
        }
        _ => {
            return Err(
                "no timestamp (record events with `conntrack -E -o timestamp,extended`)".into(),
            )
        }
    };
    let event = match words.next() {
        Some("[NEW]") => Event::New,
        Some("[DESTROY]") => Event::Destroy,
        Some("[UPDATE]") => Event::Other,
        Some(w) => return Err(format!("'{w}' is not a conntrack event type")),
        None => return Err("nothing after the timestamp".into()),
    };
    let mut proto = String::new();
    let mut kv: Vec<(&str, &str)> = Vec::new();
    for w in words {
        match w.split_once('=') {
            Some(p) => kv.push(p),
            None if proto.is_empty()
                && w.chars().all(|c| c.is_ascii_lowercase())
                && !matches!(w, "ipv4" | "ipv6") =>
            {
                proto = w.to_string();
            }
            None => {}
        }
    }
    // The original direction's src/dst/sport/dport come first, the reply's second.
    let nth = |k: &str, n: usize| kv.iter().filter(|(a, _)| *a == k).nth(n).map(|x| x.1);
    let addr = |k: &str, n: usize| -> Result<IpAddr, String> {
        let v = nth(k, n).ok_or(format!("no {k}="))?;
        v.parse().map_err(|_| format!("'{v}' is not an address"))
    };
    let (Some(sport), Some(pub_port)) = (nth("sport", 0), nth("dport", 1)) else {
        return Ok(Line::Untranslated);
    };
    let port = |v: &str| v.parse::<u16>().map_err(|_| format!("'{v}' is not a port"));
    let tuple = Tuple {
        proto,
        private: addr("src", 0)?,
        private_port: port(sport)?,
        remote: addr("dst", 0)?,
        public: addr("dst", 1)?,
        public_port: port(pub_port)?,
    };
    if tuple.public == tuple.private && tuple.public_port == tuple.private_port {
        return Ok(Line::Untranslated);
    }
    Ok(Line::Mapping {
        event,
        ts,
        tuple,
        began: None,
    })
}

fn parse_json(l: &str, o: &ReadOptions) -> Result<Line, String> {
    let v: serde_json::Value =
        serde_json::from_str(l).map_err(|e| format!("not a JSON object: {e}"))?;
    let s = |k: &str| v.get(k).and_then(|x| x.as_str());
    let n = |k: &str| v.get(k).and_then(serde_json::Value::as_i64);
    let (Some(sport), Some(pub_port)) = (n("orig.l4.sport"), n("reply.l4.dport")) else {
        return Ok(Line::Untranslated);
    };
    let addr = |keys: &[&str]| -> Result<IpAddr, String> {
        let a = keys
            .iter()
            .find_map(|k| s(k))
            .ok_or(format!("no {}", keys[0]))?;
        a.parse().map_err(|_| format!("'{a}' is not an address"))
    };
    let port = |p: i64| u16::try_from(p).map_err(|_| format!("{p} is not a port"));
    let tuple = Tuple {
        proto: n("orig.ip.protocol").unwrap_or(0).to_string(),
        private: addr(&["orig.ip.saddr.str", "src_ip"])?,
        private_port: port(sport)?,
        remote: addr(&["orig.ip.daddr.str", "dest_ip"])?,
        public: addr(&["reply.ip.daddr.str"])?,
        public_port: port(pub_port)?,
    };
    if tuple.public == tuple.private && tuple.public_port == tuple.private_port {
        return Ok(Line::Untranslated);
    }
    let event = match n("ct.event") {
        Some(1) => Event::New,
        Some(4) => Event::Destroy,
        _ => Event::Other,
    };
    let began = n("flow.start.sec");
    let ts = match (&event, n("flow.end.sec"), began) {
        (Event::Destroy, Some(end), _) => end,
        (_, _, Some(start)) => start,
        _ => time_of(o, s("timestamp").ok_or("no flow.start.sec or timestamp")?)?,
    };
    Ok(Line::Mapping {
        event,
        ts,
        tuple,
        began,
    })
}

fn block(t: &Tuple, start: i64, end: Option<i64>, source: String) -> PortBlock {
    PortBlock {
        public: t.public,
        port_lo: t.public_port,
        port_hi: t.public_port,
        private: t.private,
        start,
        end,
        source,
    }
}

/// A conntrack event log (text or ulogd JSON).
pub(super) fn events(text: &str, file: &str, o: &ReadOptions) -> Parsed {
    let mut out = Parsed::default();
    let mut open: HashMap<Tuple, (usize, i64)> = HashMap::new();
    let mut untranslated = 0usize;
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let parsed = if l.starts_with('{') {
            parse_json(l, o)
        } else {
            parse_text(l, o)
        };
        let line = i + 1;
        match parsed {
            Err(m) => out.errors.push(err(line, m)),
            Ok(Line::Untranslated) => untranslated += 1,
            Ok(Line::Mapping {
                event: Event::New,
                ts,
                tuple,
                ..
            }) => {
                open.insert(tuple, (line, ts));
            }
            Ok(Line::Mapping {
                event: Event::Destroy,
                ts,
                tuple,
                began,
            }) => match (open.remove(&tuple), began) {
                (Some((l0, start)), _) => out.records.push(Record::Block(block(
                    &tuple,
                    start,
                    Some(ts.max(start)),
                    format!("{file}:{l0}"),
                ))),
                (None, Some(start)) => out.records.push(Record::Block(block(
                    &tuple,
                    start,
                    Some(ts.max(start)),
                    format!("{file}:{line}"),
                ))),
                (None, None) => out.records.push(Record::Release(block(
                    &tuple,
                    0,
                    Some(ts),
                    format!("{file}:{line}"),
                ))),
            },
            Ok(Line::Mapping { .. }) => {}
        }
    }
    let mut still: Vec<(Tuple, (usize, i64))> = open.into_iter().collect();
    still.sort_by_key(|(_, (l, _))| *l);
    for (t, (l0, start)) in still {
        out.records.push(Record::Block(block(
            &t,
            start,
            None,
            format!("{file}:{l0}"),
        )));
    }
    if untranslated > 0 {
        out.notes.push(format!(
            "{untranslated} event(s) without a port translation (ICMP, or not NATed) passed over"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_and_its_destroy_make_one_port() {
        let text = "[1795955662.785096]\t    [NEW] ipv4     2 tcp      6 120 SYN_SENT src=100.64.30.11 dst=203.0.113.10 sport=50956 dport=80 [UNREPLIED] src=203.0.113.10 dst=198.18.100.2 sport=80 dport=1343\n\
[1795955693.325490]\t[DESTROY] ipv4     2 tcp      6 TIME_WAIT src=100.64.30.11 dst=203.0.113.10 sport=50956 dport=80 packets=6 bytes=379 src=203.0.113.10 dst=198.18.100.2 sport=80 dport=1343 packets=6 bytes=549 [ASSURED] delta-time=10\n\
[1795955664.784637]\t    [NEW] ipv4     2 icmp     1 10 src=100.64.30.13 dst=203.0.113.10 type=8 code=0 id=2821 [UNREPLIED] src=203.0.113.10 dst=198.18.100.3 type=0 code=0 id=2821\n";
        let p = events(text, "ct.log", &ReadOptions::default());
        assert!(p.errors.is_empty(), "{:?}", p.errors);
        let Record::Block(b) = &p.records[0] else {
            panic!()
        };
        assert_eq!(
            (b.public.to_string(), b.port_lo, b.private.to_string()),
            ("198.18.100.2".into(), 1343, "100.64.30.11".into())
        );
        assert_eq!((b.start, b.end), (1_795_955_662, Some(1_795_955_693)));
        assert_eq!(p.notes.len(), 1);
    }
}

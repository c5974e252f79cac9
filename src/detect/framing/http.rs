//! JSON-RPC over HTTP/1.x: requests and responses are framed (head, then a body by
//! `Content-Length` or chunked encoding), headers are shown to the [`Dialect`], and JSON bodies
//! are handed to it as messages.
//!
//! Probing: a direction whose first bytes are not an HTTP start line is dropped; a flow whose
//! requests are not JSON-RPC (a `GET`, a form) is given up after a few messages. Bodies larger
//! than the cap are skipped, not buffered.

use crate::detect::framing::jsonrpc;
use crate::detect::framing::rpc::{Dialect, Seen};
use crate::detect::{Detector, Finding, Interest, Limits, Transcript};
use crate::flow::Dir;

/// Longest message head buffered.
const MAX_HEAD: usize = 16 * 1024;
/// Largest body parsed; larger ones are skipped.
const MAX_BODY: usize = 256 * 1024;
/// Messages without JSON-RPC tolerated before giving up.
const MAX_OTHER: u32 = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Waiting for a start line at the beginning of a chunk (stream joined mid-way).
    Resync,
    Head,
    /// A body of this many bytes follows.
    Body(usize),
    /// Skipping this many bytes of a body too large to parse.
    SkipBody(usize),
    /// Chunked body: reading the size line of the next chunk.
    ChunkSize,
    /// Chunked body: this many bytes of chunk data (plus CRLF) follow.
    ChunkData(usize),
    /// Not HTTP, or a body that runs until the connection closes: no longer read.
    Off,
}

struct Side {
    phase: Phase,
    buf: Vec<u8>,
    body: Vec<u8>,
    /// A head has been parsed in this direction.
    seen_head: bool,
    /// The current message is a request that may carry JSON-RPC.
    wants_json: bool,
}

impl Side {
    fn new(mid_stream: bool) -> Self {
        Side {
            phase: if mid_stream {
                Phase::Resync
            } else {
                Phase::Head
            },
            buf: Vec::new(),
            body: Vec::new(),
            seen_head: false,
            wants_json: false,
        }
    }

    /// Keeps `rest` (bytes not parsed yet) after what is held, unless this side is off.
    fn keep(&mut self, rest: &[u8]) {
        if self.phase == Phase::Off {
            self.buf = Vec::new();
        } else {
            self.buf.extend_from_slice(rest);
        }
    }
}

pub struct HttpJson<D> {
    name: &'static str,
    max_depth: usize,
    transcript: Transcript,
    sides: [Side; 2],
    other: u32,
    foreign: bool,
    /// Requests seen; a first request that is not a POST ends probing.
    requests: u32,
    not_rpc: bool,
    dialect: D,
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// The lines of a message head, split at each CRLF.
struct CrLfLines<'a>(&'a [u8]);

impl<'a> Iterator for CrLfLines<'a> {
    type Item = &'a [u8];
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.0.is_empty() {
            return None;
        }
        let (line, rest) = match find(self.0, b"\r\n") {
            Some(i) => (&self.0[..i], &self.0[i + 2..]),
            None => (self.0, &[][..]),
        };
        self.0 = rest;
        Some(line)
    }
}

fn is_start_line(b: &[u8]) -> bool {
    const STARTS: [&[u8]; 9] = [
        b"POST ",
        b"GET ",
        b"PUT ",
        b"HEAD ",
        b"DELETE ",
        b"OPTIONS ",
        b"PATCH ",
        b"CONNECT ",
        b"HTTP/1.",
    ];
    STARTS
        .iter()
        .any(|s| b.starts_with(s) || s.starts_with(&b[..b.len().min(s.len())]))
}

impl<D: Dialect> HttpJson<D> {
    pub fn new(name: &'static str, limits: &Limits, mid_stream: bool) -> Self {
        HttpJson {
            name,
            max_depth: limits.max_depth,
            transcript: Transcript::new(limits.transcript),
            sides: [Side::new(mid_stream), Side::new(mid_stream)],
            other: 0,
            foreign: false,
            requests: 0,
            not_rpc: false,
            dialect: D::default(),
        }
    }

    /// Parses a message head; returns the phase for its body.
    fn head(&mut self, dir: Dir, head: &[u8]) -> Phase {
        let mut lines = CrLfLines(head);
        let start = lines.next().unwrap_or_default();
        let is_response = start.starts_with(b"HTTP/1.");
        let is_request = !is_response
            && start
                .split(|&b| b == b' ')
                .nth(2)
                .is_some_and(|v| v.starts_with(b"HTTP/1."));
        if !is_response && !is_request {
            return Phase::Off;
        }
        let side = &mut self.sides[dir.index()];
        side.seen_head = true;
        side.wants_json = is_response || start.starts_with(b"POST ");
        if is_request {
            if !side.wants_json {
                self.other += 1;
                self.not_rpc |= self.requests == 0;
            }
            self.requests += 1;
        }
        let mut length = None;
        let mut chunked = false;
        for line in lines.take(100) {
            let Some(colon) = memchr::memchr(b':', line) else {
                continue;
            };
            let (name, value) = (line[..colon].trim_ascii(), line[colon + 1..].trim_ascii());
            if name.eq_ignore_ascii_case(b"content-length") {
                length = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                chunked = value.windows(7).any(|w| w.eq_ignore_ascii_case(b"chunked"));
            }
            let text = |b| String::from_utf8_lossy(b);
            self.dialect.on_header(dir, &text(name), &text(value));
        }
        match (chunked, length) {
            (true, _) => Phase::ChunkSize,
            (false, Some(0)) => Phase::Head,
            (false, Some(n)) if n > MAX_BODY => Phase::SkipBody(n),
            (false, Some(n)) => Phase::Body(n),
            // A request without a length has no body; a response runs until the close.
            (false, None) if is_request => Phase::Head,
            (false, None) => Phase::Off,
        }
    }

    fn body(&mut self, dir: Dir, body: &[u8], ts: u64) {
        let side = &self.sides[dir.index()];
        if !side.wants_json {
            return;
        }
        match jsonrpc::parse(body, self.max_depth) {
            Ok(msg) => match self.dialect.on_message(dir, &msg, ts) {
                Seen::Mine => self.transcript.keep(ts, dir, body),
                Seen::Foreign => self.foreign = true,
                Seen::Unknown => self.other += 1,
            },
            Err(_) => self.other += 1,
        }
    }

    /// Parses what `bytes` (direction `dir`'s unread bytes) hold, as far as it can; returns
    /// how many bytes it used.
    fn run(&mut self, dir: Dir, bytes: &[u8], ts: u64) -> usize {
        let d = dir.index();
        let mut at = 0;
        loop {
            let rest = &bytes[at..];
            let side = &mut self.sides[d];
            match side.phase {
                Phase::Off | Phase::Resync => return at,
                Phase::Head => {
                    let Some(end) = find(rest, b"\r\n\r\n") else {
                        if rest.len() > MAX_HEAD || (!side.seen_head && !is_start_line(rest)) {
                            side.phase = Phase::Off;
                        }
                        return at;
                    };
                    at += end + 4;
                    let next = self.head(dir, &rest[..end]);
                    self.sides[d].phase = next;
                }
                Phase::Body(n) => {
                    let Some(body) = rest.get(..n) else {
                        return at;
                    };
                    at += n;
                    side.phase = Phase::Head;
                    self.body(dir, body, ts);
                }
                Phase::SkipBody(n) => {
                    let k = n.min(rest.len());
                    at += k;
                    if k < n {
                        side.phase = Phase::SkipBody(n - k);
                        return at;
                    }
                    side.phase = Phase::Head;
                }
                Phase::ChunkSize => {
                    let Some(eol) = find(rest, b"\r\n") else {
                        if rest.len() > 64 {
                            side.phase = Phase::Off;
                        }
                        return at;
                    };
                    at += eol + 2;
                    match chunk_size(&rest[..eol]) {
                        Some(0) => {
                            // Last chunk; an empty trailer line follows.
                            if bytes[at..].starts_with(b"\r\n") {
                                at += 2;
                            }
                            side.phase = Phase::Head;
                            let body = std::mem::take(&mut side.body);
                            self.body(dir, &body, ts);
                            // Its allocation is kept for the next chunked body.
                            self.sides[d].body = body;
                            self.sides[d].body.clear();
                        }
                        Some(n) if n <= MAX_BODY => side.phase = Phase::ChunkData(n),
                        _ => side.phase = Phase::Off,
                    }
                }
                Phase::ChunkData(n) => {
                    let Some(chunk) = rest.get(..n + 2) else {
                        return at;
                    };
                    if side.body.len() + n <= MAX_BODY {
                        side.body.extend_from_slice(&chunk[..n]);
                    }
                    at += n + 2;
                    side.phase = Phase::ChunkSize;
                }
            }
        }
    }
}

/// The size on a chunk's size line (hex digits, then maybe `;` and extensions).
fn chunk_size(line: &[u8]) -> Option<usize> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = std::str::from_utf8(digits.trim_ascii()).ok()?;
    usize::from_str_radix(digits, 16).ok()
}

impl<D: Dialect> Detector for HttpJson<D> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn on_data(&mut self, dir: Dir, data: &[u8], ts_ns: u64) {
        let side = &mut self.sides[dir.index()];
        match side.phase {
            Phase::Off => return,
            Phase::Resync => {
                if data.starts_with(b"POST ") || data.starts_with(b"HTTP/1.") {
                    side.phase = Phase::Head;
                    side.seen_head = true;
                } else {
                    return;
                }
            }
            Phase::SkipBody(n) if side.buf.is_empty() && data.len() <= n => {
                side.phase = if data.len() == n {
                    Phase::Head
                } else {
                    Phase::SkipBody(n - data.len())
                };
                return;
            }
            _ => {}
        }
        // JSON-RPC travels in POSTs: a first request of another method ends probing at once.
        if self.requests == 0 && side.buf.is_empty() && side.phase == Phase::Head {
            let method_end = data.iter().take(8).position(|&b| b == b' ');
            if method_end.is_some_and(|n| &data[..n] != b"POST" && !data.starts_with(b"HTTP/")) {
                self.not_rpc = true;
                side.phase = Phase::Off;
                return;
            }
        }
        if side.buf.len() + data.len() > MAX_HEAD + MAX_BODY + 2 {
            side.phase = Phase::Off;
            side.buf = Vec::new();
            return;
        }
        // Read in place when nothing is held; only what is left over is kept.
        let d = dir.index();
        if side.buf.is_empty() {
            let used = self.run(dir, data, ts_ns);
            self.sides[d].keep(&data[used..]);
        } else {
            let mut buf = std::mem::take(&mut side.buf);
            buf.extend_from_slice(data);
            let used = self.run(dir, &buf, ts_ns);
            buf.drain(..used);
            self.sides[d].buf = buf;
            self.sides[d].keep(&[]);
        }
    }

    fn on_gap(&mut self, dir: Dir) {
        let side = &mut self.sides[dir.index()];
        side.buf.clear();
        side.body.clear();
        if side.phase != Phase::Off {
            side.phase = Phase::Resync;
        }
    }

    fn interest(&self) -> Interest {
        if self.dialect.tally().matched() {
            Interest::Matched
        } else if self.foreign
            || self.not_rpc
            || self.other > MAX_OTHER
            || self
                .sides
                .iter()
                .any(|s| s.phase == Phase::Off && !s.seen_head)
        {
            Interest::NotThis
        } else {
            Interest::Probing
        }
    }

    fn finding(&self) -> Option<Finding> {
        let mut f = self.dialect.finding()?;
        f.transcript = self.transcript.messages().to_vec();
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::noderpc;

    #[test]
    fn getblocktemplate_request_split_across_segments() {
        let mut d = noderpc::detector(&Limits::default(), false);
        let body = r#"{"id": 0, "method": "getblocktemplate", "params": [{"capabilities": ["coinbasetxn", "workid", "coinbase/append"]}]}"#;
        let head = format!("POST / HTTP/1.1\r\nAuthorization: Basic eDp4\r\nHost: 192.0.2.1:8332\r\nContent-type: application/json\r\nX-Mining-Extensions: longpoll midstate rollntime submitold\r\nContent-Length: {}\r\nUser-Agent: cgminer 3.7.2\r\n\r\n", body.len());
        d.on_data(Dir::Fwd, head.as_bytes(), 0);
        assert_eq!(d.interest(), Interest::Probing);
        d.on_data(Dir::Fwd, &body.as_bytes()[..20], 0);
        d.on_data(Dir::Fwd, &body.as_bytes()[20..], 0);
        assert_eq!(d.interest(), Interest::Matched);
        let f = d.finding().unwrap();
        assert_eq!(f.protocol, "getblocktemplate");
        assert_eq!(f.session().unwrap().agent.as_deref(), Some("cgminer 3.7.2"));
        assert!(f
            .signals
            .iter()
            .any(|s| s == "http:x-mining-extensions longpoll midstate rollntime submitold"));
        assert_eq!(f.coverage, crate::detect::Coverage::MinerOnly);
    }

    #[test]
    fn chunked_response_is_read() {
        let mut d = crate::detect::ethproxy::http_detector(&Limits::default(), false);
        let req = r#"{"id":1,"jsonrpc":"2.0","method":"eth_getWork"}"#;
        d.on_data(
            Dir::Fwd,
            format!(
                "POST /?miner=1@0xab HTTP/1.1\r\nHost: pool\r\nContent-Length: {}\r\n\r\n{req}",
                req.len()
            )
            .as_bytes(),
            0,
        );
        let resp = r#"{"id":1,"jsonrpc":"2.0","result":["0xd494","0x71a5","0x0000005ba0"]}"#;
        d.on_data(
            Dir::Rev,
            format!(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{}\r\n0\r\n\r\n",
                resp.len(),
                resp
            )
            .as_bytes(),
            0,
        );
        let f = d.finding().unwrap();
        assert_eq!(f.protocol, "ethproxy");
        assert_eq!(f.session().unwrap().jobs, 1);
        assert_eq!(f.coverage, crate::detect::Coverage::BothSides);
    }

    #[test]
    fn web_browsing_and_ordinary_node_rpc_are_not_mining() {
        let mut d = noderpc::detector(&Limits::default(), false);
        d.on_data(Dir::Fwd, b"GET /index.html HTTP/1.1\r\nHost: x\r\n\r\n", 0);
        d.on_data(
            Dir::Rev,
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
            0,
        );
        assert!(d.finding().is_none());
        let mut d = noderpc::detector(&Limits::default(), false);
        for i in 0..6 {
            let b =
                format!(r#"{{"jsonrpc":"1.0","id":{i},"method":"getblockchaininfo","params":[]}}"#);
            d.on_data(
                Dir::Fwd,
                format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{b}", b.len()).as_bytes(),
                0,
            );
        }
        assert_eq!(d.interest(), Interest::NotThis);
        let mut d = noderpc::detector(&Limits::default(), false);
        d.on_data(Dir::Fwd, b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 0);
        assert_eq!(d.interest(), Interest::NotThis);
    }
}

//! Stratum V1: newline-delimited JSON-RPC between a miner and a pool.
//!
//! Probing: a direction's first complete line must be a JSON object, or the direction is
//! dropped; a flow with both directions dropped, or with JSON-RPC of another namespace
//! (Electrum's `server.*`/`blockchain.*`), is not Stratum. Parsing: every known method is checked
//! for its parameter shape before it counts, requests are matched to responses by id, and the
//! session's agent, workers, extranonce, difficulty/target, jobs and share outcomes are kept.
//! Works from the first packet or from the middle of a session, in either direction.

use super::jsonrpc::{self, Message};
use super::lines::LineFramer;
use super::{Coverage, Detector, Finding, Interest, Limits};
use crate::flow::Dir;
use serde_json::Value;

/// Who sends a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Miner,
    Pool,
}

/// The Stratum V1 methods minetap knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Subscribe,
    Authorize,
    Submit,
    Configure,
    ExtranonceSubscribe,
    SuggestDifficulty,
    SuggestTarget,
    GetTransactions,
    Notify,
    SetDifficulty,
    SetTarget,
    SetExtranonce,
    SetVersionMask,
    Reconnect,
    ShowMessage,
    GetVersion,
}

const METHODS: [(Method, &str, Role); 16] = [
    (Method::Subscribe, "mining.subscribe", Role::Miner),
    (Method::Authorize, "mining.authorize", Role::Miner),
    (Method::Submit, "mining.submit", Role::Miner),
    (Method::Configure, "mining.configure", Role::Miner),
    (
        Method::ExtranonceSubscribe,
        "mining.extranonce.subscribe",
        Role::Miner,
    ),
    (
        Method::SuggestDifficulty,
        "mining.suggest_difficulty",
        Role::Miner,
    ),
    (Method::SuggestTarget, "mining.suggest_target", Role::Miner),
    (
        Method::GetTransactions,
        "mining.get_transactions",
        Role::Miner,
    ),
    (Method::Notify, "mining.notify", Role::Pool),
    (Method::SetDifficulty, "mining.set_difficulty", Role::Pool),
    (Method::SetTarget, "mining.set_target", Role::Pool),
    (Method::SetExtranonce, "mining.set_extranonce", Role::Pool),
    (
        Method::SetVersionMask,
        "mining.set_version_mask",
        Role::Pool,
    ),
    (Method::Reconnect, "client.reconnect", Role::Pool),
    (Method::ShowMessage, "client.show_message", Role::Pool),
    (Method::GetVersion, "client.get_version", Role::Pool),
];

impl Method {
    fn lookup(name: &str) -> Option<(Method, Role)> {
        METHODS
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(m, _, r)| (*m, *r))
    }
    /// Methods that on their own show a mining session (the others only support one).
    fn is_strong(self) -> bool {
        matches!(
            self,
            Method::Subscribe
                | Method::Authorize
                | Method::Submit
                | Method::Configure
                | Method::Notify
        )
    }
}

/// JSON-RPC namespaces of other protocols that share the framing: seeing them ends probing.
const FOREIGN_PREFIXES: [&str; 4] = ["server.", "blockchain.", "mempool.", "eth_"];
/// JSON-RPC messages of unknown methods tolerated before giving up.
const MAX_UNKNOWN: u32 = 8;
/// Requests remembered while waiting for their responses.
const MAX_PENDING: usize = 256;
/// Distinct worker names kept.
const MAX_WORKERS: usize = 64;
/// Longest string kept from the wire (agent, worker names, ...).
const MAX_FIELD: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirState {
    /// Nothing complete seen yet.
    Fresh,
    /// Carries JSON-RPC.
    Json,
    /// Not JSON: no longer read.
    Off,
}

pub struct Stratum {
    framers: [LineFramer; 2],
    session: Session,
}

/// What the conversation has said so far (everything but the framing).
struct Session {
    max_depth: usize,
    dirs: [DirState; 2],
    /// Valid messages per method, per sending direction.
    counts: [[u32; METHODS.len()]; 2],
    unknown: u32,
    foreign: bool,
    pending: Vec<(String, Method)>,
    found: Finding,
    /// Votes for the direction the miner sends in, from the roles of valid messages.
    miner_votes: [u32; 2],
    /// Valid messages sent in each role: requests for the miner; pushes and answers to the
    /// miner's requests for the pool.
    by_role: [u32; 2],
}

fn keep(s: &str) -> String {
    let mut end = s.len().min(MAX_FIELD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

fn parse_params(m: &Message<'_>) -> Option<Vec<Value>> {
    serde_json::from_str(m.params?.get()).ok()
}

fn is_str_or_null(v: &Value) -> bool {
    v.is_string() || v.is_null()
}

fn is_number_like(v: &Value) -> bool {
    v.is_number() || v.as_str().is_some_and(|s| s.parse::<f64>().is_ok())
}

fn as_f64(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        .filter(|d: &f64| d.is_finite() && *d >= 0.0)
}

impl Stratum {
    pub fn new(limits: &Limits) -> Self {
        Stratum {
            framers: [
                LineFramer::new(limits.max_line),
                LineFramer::new(limits.max_line),
            ],
            session: Session::new(limits.max_depth),
        }
    }

    /// A detector for a flow picked up in the middle: both directions resynchronise first.
    pub fn mid_stream(limits: &Limits) -> Self {
        Stratum {
            framers: [
                LineFramer::mid_stream(limits.max_line),
                LineFramer::mid_stream(limits.max_line),
            ],
            session: Session::new(limits.max_depth),
        }
    }
}

impl Session {
    fn new(max_depth: usize) -> Self {
        Session {
            max_depth,
            dirs: [DirState::Fresh; 2],
            counts: [[0; METHODS.len()]; 2],
            unknown: 0,
            foreign: false,
            pending: Vec::new(),
            found: Finding::new("stratum-v1", "stratum"),
            miner_votes: [0; 2],
            by_role: [0; 2],
        }
    }

    fn matched(&self) -> bool {
        self.counts.iter().any(|c| {
            METHODS
                .iter()
                .enumerate()
                .any(|(i, (m, _, _))| m.is_strong() && c[i] > 0)
        })
    }

    fn on_line(&mut self, dir: Dir, line: &[u8]) -> bool {
        let d = dir.index();
        let msg = match jsonrpc::parse(line, self.max_depth) {
            Ok(m) => m,
            Err(_) => {
                if self.dirs[d] == DirState::Fresh {
                    self.dirs[d] = DirState::Off;
                    return false;
                }
                return true;
            }
        };
        self.dirs[d] = DirState::Json;
        if let Some(method) = msg.method.as_deref() {
            match Method::lookup(method) {
                Some((m, role)) => self.on_request(dir, m, role, &msg),
                None => {
                    if FOREIGN_PREFIXES.iter().any(|p| method.starts_with(p)) {
                        self.foreign = true;
                    }
                    self.unknown += 1;
                }
            }
        } else {
            self.on_response(dir, &msg);
        }
        true
    }

    fn count(&mut self, dir: Dir, m: Method, role: Role) {
        self.counts[dir.index()][m as usize] += 1;
        self.by_role[role as usize] += 1;
        let miner_dir = if role == Role::Miner { dir } else { dir.flip() };
        self.miner_votes[miner_dir.index()] += 1;
    }

    fn add_worker(&mut self, w: &str) {
        if !w.is_empty()
            && self.found.workers.len() < MAX_WORKERS
            && !self.found.workers.iter().any(|x| x == w)
        {
            self.found.workers.push(keep(w));
        }
    }

    /// Checks a request's or notification's parameters; counts it only if they have the shape
    /// that method has on the wire.
    fn on_request(&mut self, dir: Dir, m: Method, role: Role, msg: &Message<'_>) {
        let p = parse_params(msg);
        let params: &[Value] = p.as_deref().unwrap_or(&[]);
        let strings = |n: usize| params.len() >= n && params[..n].iter().all(Value::is_string);
        let f = &mut self.found;
        let valid = match m {
            Method::Subscribe => {
                let ok = p.is_some() && params.iter().all(is_str_or_null);
                if ok {
                    if let Some(a) = params.first().and_then(Value::as_str) {
                        f.agent.get_or_insert_with(|| keep(a));
                    }
                    // Equihash form: [agent, session, host, port]; EthereumStratum/NiceHash form:
                    // [agent, protocol].
                    if let Some(h) = params.get(2).and_then(Value::as_str) {
                        f.pool_host.get_or_insert_with(|| keep(h));
                    }
                    if let Some(proto) = params.get(1).and_then(Value::as_str) {
                        if proto.contains("Stratum/") || proto.starts_with("NiceHash/") {
                            let s = format!("stratum:protocol {}", keep(proto));
                            if !f.signals.contains(&s) {
                                f.signals.push(s);
                            }
                        }
                    }
                }
                ok
            }
            Method::Authorize => {
                let ok = !params.is_empty() && params[0].is_string();
                if ok {
                    let w = params[0].as_str().unwrap_or_default().to_string();
                    self.add_worker(&w);
                }
                ok
            }
            Method::Submit => {
                let ok = strings(5) || (strings(4) && params.len() == 4);
                if ok {
                    let w = params[0].as_str().unwrap_or_default().to_string();
                    self.add_worker(&w);
                    self.found.shares.submitted += 1;
                }
                ok
            }
            Method::Configure => {
                let ok = params.len() == 2 && params[0].is_array() && params[1].is_object();
                if ok {
                    f.extensions = params[0]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(Value::as_str)
                        .take(16)
                        .map(keep)
                        .collect();
                    if let Some(o) = params[1].as_object() {
                        for (k, v) in o.iter().take(32) {
                            if let (Some(name), Some(val)) = (k.strip_prefix("info."), v.as_str()) {
                                f.device.push((keep(name), keep(val)));
                            }
                        }
                    }
                }
                ok
            }
            Method::ExtranonceSubscribe | Method::GetTransactions => true,
            Method::SuggestDifficulty => params.first().is_some_and(is_number_like),
            Method::SuggestTarget | Method::SetTarget => {
                let t = params.first().and_then(Value::as_str);
                let ok = t.is_some_and(|t| {
                    !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_hexdigit())
                });
                if ok && m == Method::SetTarget {
                    f.target = t.map(keep);
                }
                ok
            }
            Method::Notify => {
                // SHA-256d form: job, prevhash, coinb1, coinb2, merkle[], version, nbits, ntime,
                // clean; Equihash form: job, version, prevhash, merkleroot, reserved, time, bits,
                // clean.
                let sha = params.len() >= 9
                    && params[..4].iter().all(Value::is_string)
                    && params[4].is_array()
                    && params[5..8].iter().all(Value::is_string)
                    && params[8].is_boolean();
                let equihash = params.len() >= 8
                    && params[..7].iter().all(Value::is_string)
                    && params[7].is_boolean();
                let ok = sha || equihash;
                if ok {
                    f.jobs += 1;
                }
                ok
            }
            Method::SetDifficulty => {
                let d = params.first().and_then(as_f64);
                if d.is_some() {
                    f.difficulty = d;
                }
                d.is_some()
            }
            Method::SetExtranonce => {
                let ok = params.first().is_some_and(Value::is_string);
                if ok {
                    f.extranonce1 = params[0].as_str().map(keep);
                }
                ok
            }
            Method::SetVersionMask => {
                let ok = params.first().is_some_and(Value::is_string);
                if ok {
                    f.version_mask = params[0].as_str().map(keep);
                }
                ok
            }
            Method::Reconnect | Method::ShowMessage | Method::GetVersion => p.is_some(),
        };
        if !valid {
            return;
        }
        self.count(dir, m, role);
        if role == Role::Miner {
            if let Some(id) = msg.id_text() {
                if self.pending.len() >= MAX_PENDING {
                    self.pending.remove(0);
                }
                self.pending.push((keep(id), m));
            }
        }
    }

    fn on_response(&mut self, dir: Dir, msg: &Message<'_>) {
        let Some(id) = msg.id_text() else { return };
        let Some(i) = self.pending.iter().position(|(p, _)| p == id) else {
            return;
        };
        let (_, m) = self.pending.remove(i);
        // An answer to a miner's request comes from the pool.
        self.by_role[Role::Pool as usize] += 1;
        self.miner_votes[dir.flip().index()] += 1;
        let result: Option<Value> = msg.result.and_then(|r| serde_json::from_str(r.get()).ok());
        let f = &mut self.found;
        match m {
            Method::Submit => {
                if !msg.has_error() && result.as_ref().and_then(Value::as_bool) == Some(true) {
                    f.shares.accepted += 1;
                } else {
                    f.shares.rejected += 1;
                }
            }
            Method::Subscribe => {
                if let Some(en) = result
                    .as_ref()
                    .and_then(|r| r.get(1))
                    .and_then(Value::as_str)
                {
                    f.extranonce1 = Some(keep(en));
                }
            }
            Method::Configure => {
                if let Some(mask) = result
                    .as_ref()
                    .and_then(|r| r.get("version-rolling.mask"))
                    .and_then(Value::as_str)
                {
                    f.version_mask = Some(keep(mask));
                }
            }
            _ => {}
        }
    }

    fn interest(&self) -> Interest {
        if self.matched() {
            Interest::Matched
        } else if self.foreign
            || self.unknown > MAX_UNKNOWN
            || self.dirs.iter().all(|d| *d == DirState::Off)
        {
            Interest::NotThis
        } else {
            Interest::Probing
        }
    }

    fn finding(&self) -> Option<Finding> {
        if !self.matched() {
            return None;
        }
        let mut f = self.found.clone();
        f.miner_sends = match self.miner_votes {
            [a, b] if a > b => Some(Dir::Fwd),
            [a, b] if b > a => Some(Dir::Rev),
            _ => None,
        };
        f.coverage = match self.by_role {
            [_, 0] => Coverage::MinerOnly,
            [0, _] => Coverage::PoolOnly,
            _ => Coverage::BothSides,
        };
        let mut signals: Vec<String> = Vec::new();
        for counts in &self.counts {
            for ((_, name, _), &n) in METHODS.iter().zip(counts) {
                match n {
                    0 => {}
                    1 => signals.push(format!("stratum:{name}")),
                    n => signals.push(format!("stratum:{name} x{n}")),
                }
            }
        }
        signals.append(&mut f.signals);
        f.signals = signals;
        Some(f)
    }
}

impl Detector for Stratum {
    fn name(&self) -> &'static str {
        "stratum-v1"
    }

    fn on_data(&mut self, dir: Dir, data: &[u8], _ts_ns: u64) {
        if self.session.dirs[dir.index()] == DirState::Off {
            return;
        }
        let session = &mut self.session;
        self.framers[dir.index()].feed(data, &mut |line| session.on_line(dir, line));
    }

    fn on_gap(&mut self, dir: Dir) {
        self.framers[dir.index()].gap();
    }

    fn interest(&self) -> Interest {
        self.session.interest()
    }

    fn finding(&self) -> Option<Finding> {
        self.session.finding()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(s: &mut Stratum, dir: Dir, text: &str) {
        s.on_data(dir, text.as_bytes(), 0);
    }

    #[test]
    fn full_session_extracts_the_fields() {
        let mut s = Stratum::new(&Limits::default());
        feed(
            &mut s,
            Dir::Fwd,
            "{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[\"cgminer/4.10.0\"]}\n",
        );
        assert_eq!(s.interest(), Interest::Matched);
        feed(
            &mut s,
            Dir::Rev,
            "{\"id\":1,\"result\":[[[\"mining.notify\",\"ab\"]],\"f000000a\",4],\"error\":null}\n",
        );
        feed(
            &mut s,
            Dir::Fwd,
            "{\"id\":2,\"method\":\"mining.authorize\",\"params\":[\"w.1\",\"x\"]}\n",
        );
        feed(
            &mut s,
            Dir::Rev,
            "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[512]}\n",
        );
        feed(&mut s, Dir::Fwd, "{\"id\":3,\"method\":\"mining.submit\",\"params\":[\"w.1\",\"j\",\"00\",\"5e\",\"01\"]}\n{\"id\":4,\"method\":\"mining.submit\",\"params\":[\"w.2\",\"j\",\"01\",\"5e\",\"02\"]}\n");
        feed(&mut s, Dir::Rev, "{\"id\":4,\"result\":null,\"error\":[21,\"Job not found\",null]}\n{\"id\":3,\"result\":true,\"error\":null}\n");
        let f = s.finding().unwrap();
        assert_eq!(f.agent.as_deref(), Some("cgminer/4.10.0"));
        assert_eq!(f.extranonce1.as_deref(), Some("f000000a"));
        assert_eq!(f.workers, ["w.1", "w.2"]);
        assert_eq!(f.difficulty, Some(512.0));
        assert_eq!(
            f.shares,
            super::super::Shares {
                submitted: 2,
                accepted: 1,
                rejected: 1
            }
        );
        assert_eq!(f.miner_sends, Some(Dir::Fwd));
        assert_eq!(f.coverage, Coverage::BothSides);
        assert!(f.signals.contains(&"stratum:mining.submit x2".to_string()));
    }

    #[test]
    fn wrong_shapes_do_not_count() {
        let mut s = Stratum::new(&Limits::default());
        feed(
            &mut s,
            Dir::Rev,
            "{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"only\",\"three\",1]}\n",
        );
        feed(
            &mut s,
            Dir::Fwd,
            "{\"id\":1,\"method\":\"mining.submit\",\"params\":{\"a\":1}}\n",
        );
        assert_eq!(s.interest(), Interest::Probing);
        assert!(s.finding().is_none());
    }

    #[test]
    fn electrum_and_http_are_not_stratum() {
        let mut s = Stratum::new(&Limits::default());
        feed(&mut s, Dir::Fwd, "{\"jsonrpc\":\"2.0\",\"method\":\"server.version\",\"params\":[\"e\",\"1.4\"],\"id\":0}\n");
        assert_eq!(s.interest(), Interest::NotThis);
        let mut s = Stratum::new(&Limits::default());
        feed(&mut s, Dir::Fwd, "GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        feed(
            &mut s,
            Dir::Rev,
            "HTTP/1.1 200 OK\r\n\r\n{\"id\":1,\"method\":\"mining.subscribe\",\"params\":[]}\n",
        );
        assert_eq!(s.interest(), Interest::NotThis);
    }

    #[test]
    fn garbage_does_not_panic() {
        let mut s = Stratum::mid_stream(&Limits {
            max_line: 64,
            max_depth: 4,
        });
        let junk: Vec<u8> = (0..4000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        s.on_data(Dir::Fwd, &junk, 0);
        s.on_data(
            Dir::Rev,
            b"{\"method\":\"mining.notify\",\"params\":[[[[[[[[[[[]]]]]]]]]]]}\n",
            0,
        );
        assert!(s.finding().is_none());
    }
}

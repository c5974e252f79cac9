//! What the JSON-RPC mining dialects share: the [`Dialect`] trait that interprets one message
//! at a time, and the [`Tally`] that keeps a session's bookkeeping — which methods were seen in
//! which direction, who is the miner, which requests await an answer, the workers and shares.
//! Framing (lines, HTTP) lives in `linejson.rs` and `http.rs`; each protocol file is a dialect.

use super::jsonrpc::Message;
use super::{Coverage, Finding};
use crate::flow::Dir;
use serde_json::Value;

/// What a dialect made of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// One of this protocol's messages, with the right shape.
    Mine,
    /// A message of another JSON-RPC protocol that is not mining (e.g. a wallet's).
    Foreign,
    /// Not recognised (unknown method, wrong shape, unmatched answer).
    Unknown,
}

/// A JSON-RPC mining protocol, interpreting messages handed over by a framing detector.
pub trait Dialect: Send + Default {
    /// One message sent in `dir` at `ts_ns`.
    fn on_message(&mut self, dir: Dir, msg: &Message<'_>, ts_ns: u64) -> Seen;
    /// An HTTP header of the message about to be handed over (JSON-RPC over HTTP only).
    fn on_header(&mut self, _dir: Dir, _name: &str, _value: &str) {}
    fn tally(&self) -> &Tally;
    /// The finding, once the tally has matched; dialects add what they know.
    fn finding(&self) -> Option<Finding> {
        self.tally().finding()
    }
}

/// Who sends a method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Miner = 0,
    Pool = 1,
}

/// Requests remembered while waiting for their responses.
const MAX_PENDING: usize = 256;
/// Distinct worker names kept.
const MAX_WORKERS: usize = 64;
/// Longest string kept from the wire (agent, worker names, ...).
pub const MAX_FIELD: usize = 256;

/// A string from the wire, cut to [`MAX_FIELD`] bytes on a character boundary.
pub fn keep(s: &str) -> String {
    let mut end = s.len().min(MAX_FIELD);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// A session's bookkeeping, common to the JSON-RPC dialects.
#[derive(Debug)]
pub struct Tally {
    pub found: Finding,
    /// Valid messages per method name, per sending direction, in first-seen order.
    counts: Vec<(&'static str, [u32; 2])>,
    strong: bool,
    miner_votes: [u32; 2],
    by_role: [u32; 2],
    pending: Vec<(String, &'static str)>,
    /// Signal prefix, e.g. `stratum`.
    prefix: &'static str,
}

impl Tally {
    pub fn new(prefix: &'static str, protocol: &'static str, app_proto: &'static str) -> Self {
        Tally {
            found: Finding::new(protocol, app_proto),
            counts: Vec::new(),
            strong: false,
            miner_votes: [0; 2],
            by_role: [0; 2],
            pending: Vec::new(),
            prefix,
        }
    }

    /// Whether a message that shows mining on its own was seen.
    pub fn matched(&self) -> bool {
        self.strong
    }

    /// Counts a valid message of `method` sent in `dir` by `role`. `strong` messages show a
    /// mining session on their own; the others only support one.
    pub fn seen(&mut self, dir: Dir, method: &'static str, role: Role, strong: bool) {
        match self.counts.iter_mut().find(|(m, _)| *m == method) {
            Some((_, c)) => c[dir.index()] += 1,
            None => {
                let mut c = [0; 2];
                c[dir.index()] = 1;
                self.counts.push((method, c));
            }
        }
        self.strong |= strong;
        self.by_role[role as usize] += 1;
        let miner_dir = if role == Role::Miner { dir } else { dir.flip() };
        self.miner_votes[miner_dir.index()] += 1;
    }

    /// Remembers a miner's request that expects an answer.
    pub fn expect_reply(&mut self, msg: &Message<'_>, method: &'static str) {
        if let Some(id) = msg.id_text() {
            if self.pending.len() >= MAX_PENDING {
                self.pending.remove(0);
            }
            self.pending.push((keep(id), method));
        }
    }

    /// If `msg` answers a pending request, returns that request's method; the answer counts
    /// for the pool's side.
    pub fn reply(&mut self, dir: Dir, msg: &Message<'_>) -> Option<&'static str> {
        if !msg.is_response() {
            return None;
        }
        let id = msg.id_text()?;
        let i = self.pending.iter().position(|(p, _)| p == id)?;
        let (_, m) = self.pending.remove(i);
        self.by_role[Role::Pool as usize] += 1;
        self.miner_votes[dir.flip().index()] += 1;
        Some(m)
    }

    pub fn add_worker(&mut self, w: &str) {
        let f = &mut self.found;
        if !w.is_empty() && f.workers.len() < MAX_WORKERS && !f.workers.iter().any(|x| x == w) {
            f.workers.push(keep(w));
        }
    }

    /// Adds a signal once.
    pub fn signal(&mut self, s: String) {
        if !self.found.signals.contains(&s) && self.found.signals.len() < 32 {
            self.found.signals.push(s);
        }
    }

    /// Records the outcome of a submitted share from its answer.
    pub fn share_outcome(&mut self, msg: &Message<'_>) {
        let ok = !msg.has_error()
            && msg
                .result
                .is_some_and(|r| matches!(r.get(), "true") || r.get().contains("\"OK\""));
        if ok {
            self.found.shares.accepted += 1;
        } else {
            self.found.shares.rejected += 1;
        }
    }

    pub fn finding(&self) -> Option<Finding> {
        if !self.strong {
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
        let mut signals = Vec::new();
        for d in [Dir::Fwd, Dir::Rev] {
            for (name, c) in &self.counts {
                match c[d.index()] {
                    0 => {}
                    1 => signals.push(format!("{}:{name}", self.prefix)),
                    n => signals.push(format!("{}:{name} x{n}", self.prefix)),
                }
            }
        }
        signals.append(&mut f.signals);
        f.signals = signals;
        Some(f)
    }
}

/// Parses `params` as an array (a missing `params` is an empty array).
pub fn params_array(m: &Message<'_>) -> Option<Vec<Value>> {
    match m.params {
        None => Some(Vec::new()),
        Some(p) => serde_json::from_str(p.get()).ok(),
    }
}

/// Parses `params` as an object.
pub fn params_object(m: &Message<'_>) -> Option<serde_json::Map<String, Value>> {
    serde_json::from_str(m.params?.get()).ok()
}

/// Parses `result` as JSON.
pub fn result_value(m: &Message<'_>) -> Option<Value> {
    serde_json::from_str(m.result?.get()).ok()
}

/// A string of hex digits, with or without `0x`, of at most `max` digits.
pub fn is_hex(s: &str, max: usize) -> bool {
    let h = s.strip_prefix("0x").unwrap_or(s);
    !h.is_empty() && h.len() <= max && h.bytes().all(|b| b.is_ascii_hexdigit())
}

//! What the JSON-RPC mining dialects share: the [`Dialect`] trait that interprets one message
//! at a time, and the [`Tally`] that keeps a session's bookkeeping — which methods were seen in
//! which direction, who is the miner, which requests await an answer, the workers and shares.
//! Framing (lines, HTTP) lives in `linejson.rs` and `http.rs`; each protocol file is a dialect.

use crate::detect::framing::jsonrpc::Message;
use crate::detect::{Coverage, Detail, Finding, Session, ShareValue};
use std::collections::VecDeque;

/// Methods whose answers say whether a share was accepted.
const SHARE_METHODS: [&str; 4] = [
    "mining.submit",
    "submit",
    "eth_submitWork",
    "getwork solution",
];
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
    /// What the session says; it becomes the finding's detail.
    pub session: Unfolded,
    /// Valid messages per method name, per sending direction, in first-seen order.
    counts: Vec<(&'static str, [u32; 2])>,
    strong: bool,
    miner_votes: [u32; 2],
    by_role: [u32; 2],
    pending: Vec<(String, &'static str, Option<ShareValue>)>,
    /// Signal prefix, e.g. `stratum`.
    prefix: &'static str,
    /// What a share is worth, as the pool set it: announced, in force, and per job.
    announced: Option<ShareValue>,
    current: Option<ShareValue>,
    jobs: VecDeque<(String, ShareValue)>,
}

/// A session's details, made when something is first written to them. Every flow whose first
/// bytes could be JSON-RPC gets a tally for each dialect, and most never say anything: until
/// then the tally holds a null pointer instead of the 400-odd bytes of an empty [`Session`]
/// that would be made and dropped for nothing. Reading an unmade one reads an empty session.
#[derive(Debug, Default)]
pub struct Unfolded(Option<Box<Session>>);

impl std::ops::Deref for Unfolded {
    type Target = Session;
    fn deref(&self) -> &Session {
        static EMPTY: std::sync::LazyLock<Session> = std::sync::LazyLock::new(Session::default);
        self.0.as_deref().unwrap_or(&EMPTY)
    }
}

impl std::ops::DerefMut for Unfolded {
    fn deref_mut(&mut self) -> &mut Session {
        self.0.get_or_insert_with(Box::default)
    }
}

/// Jobs whose share value is remembered.
const MAX_JOBS: usize = 64;
/// Difficulty changes kept per flow.
const MAX_CHANGES: usize = 64;

impl Tally {
    pub fn new(prefix: &'static str, protocol: &'static str, app_proto: &'static str) -> Self {
        Tally {
            found: Finding::new(protocol, app_proto),
            session: Unfolded::default(),
            counts: Vec::new(),
            strong: false,
            miner_votes: [0; 2],
            by_role: [0; 2],
            pending: Vec::new(),
            prefix,
            announced: None,
            current: None,
            jobs: VecDeque::new(),
        }
    }

    /// The pool set a new difficulty or target; it applies from the next job.
    pub fn announce(&mut self, v: ShareValue, ts: u64) {
        self.announced = Some(v);
        let changes = &mut self.session.difficulty_changes;
        if changes.len() < MAX_CHANGES {
            changes.push((ts, v));
        }
    }

    /// A new job; `own` when the job carries its own target (CryptoNote, EthProxy).
    pub fn new_job(&mut self, job_id: &str, own: Option<ShareValue>) {
        self.session.jobs += 1;
        if let Some(v) = own {
            self.current = Some(v);
        } else if let Some(v) = self.announced.take() {
            self.current = Some(v);
        }
        if let Some(v) = self.current {
            if self.jobs.len() >= MAX_JOBS {
                self.jobs.pop_front();
            }
            self.jobs.push_back((keep(job_id), v));
        }
    }

    /// What a share for `job_id` is worth: the value in force when that job came, else the
    /// value in force now (a job from before the capture began).
    fn value_for(&self, job_id: Option<&str>) -> Option<ShareValue> {
        job_id
            .and_then(|j| {
                self.jobs
                    .iter()
                    .rev()
                    .find(|(id, _)| id == j)
                    .map(|(_, v)| *v)
            })
            .or(self.current)
            .or(self.announced)
    }

    /// A share submitted by the miner for `job_id`; its outcome comes with the answer.
    pub fn submitted(&mut self, msg: &Message<'_>, method: &'static str, job_id: Option<&str>) {
        let v = self.value_for(job_id);
        self.session.shares.submitted += 1;
        self.session.work.submitted.add(v);
        self.remember(msg, method, v);
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
        self.remember(msg, method, None);
    }

    fn remember(&mut self, msg: &Message<'_>, method: &'static str, v: Option<ShareValue>) {
        if let Some(id) = msg.id_text() {
            if self.pending.len() >= MAX_PENDING {
                self.pending.remove(0);
            }
            self.pending.push((keep(id), method, v));
        }
    }

    /// If `msg` answers a pending request, returns that request's method; the answer counts
    /// for the pool's side. An answer to a share records its outcome.
    pub fn reply(
        &mut self,
        dir: Dir,
        msg: &Message<'_>,
    ) -> Option<(&'static str, Option<ShareValue>)> {
        if !msg.is_response() {
            return None;
        }
        let id = msg.id_text()?;
        let i = self.pending.iter().position(|(p, _, _)| p == id)?;
        let (_, m, v) = self.pending.remove(i);
        self.by_role[Role::Pool as usize] += 1;
        self.miner_votes[dir.flip().index()] += 1;
        if SHARE_METHODS.contains(&m) {
            let ok = !msg.has_error()
                && msg
                    .result
                    .is_some_and(|r| matches!(r.get(), "true") || r.get().contains("\"OK\""));
            self.share_result(ok, v);
        }
        Some((m, v))
    }

    pub fn add_worker(&mut self, w: &str) {
        let f = &mut self.session;
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

    /// Records the outcome of a submitted share worth `v`.
    pub fn share_result(&mut self, ok: bool, v: Option<ShareValue>) {
        if ok {
            self.session.shares.accepted += 1;
            self.session.work.accepted.add(v);
        } else {
            self.session.shares.rejected += 1;
        }
    }

    pub fn finding(&self) -> Option<Finding> {
        if !self.strong {
            return None;
        }
        let mut f = self.found.clone();
        f.detail = Detail::Mining(Box::new(Session::clone(&self.session)));
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

/// A 256-bit target in hex (most significant digit first, `0x` allowed) as a number.
pub fn target_value(hex: &str) -> Option<f64> {
    let h = hex.strip_prefix("0x").unwrap_or(hex);
    if h.is_empty() || h.len() > 64 {
        return None;
    }
    let mut v = 0f64;
    for c in h.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    // A short hex string is the top of a 256-bit number.
    let v = v * 16f64.powi(64 - h.len() as i32);
    (v > 0.0).then_some(v)
}

/// Expected hashes per share for a 256-bit target: 2^256 / target.
pub fn hashes_for_target(hex: &str) -> Option<ShareValue> {
    let t = target_value(hex)?;
    Some(ShareValue::Hashes(2f64.powi(256) / t))
}

/// A CryptoNote job target: 4 or 8 bytes little-endian; the difficulty (= expected hashes per
/// share) is the largest value of that width divided by the target.
pub fn cryptonote_target(hex: &str) -> Option<ShareValue> {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .map(|i| u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok())
        .collect::<Option<_>>()?;
    let v = match bytes.len() {
        4 => u32::MAX as f64 / u32::from_le_bytes(bytes.try_into().ok()?) as f64,
        8 => u64::MAX as f64 / u64::from_le_bytes(bytes.try_into().ok()?) as f64,
        _ => return None,
    };
    (v.is_finite() && v > 0.0).then_some(ShareValue::Hashes(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_to_expected_hashes() {
        // CryptoNote "b88d0600" = 0x00068db8 little-endian: difficulty 10,000.
        let ShareValue::Hashes(d) = cryptonote_target("b88d0600").unwrap() else {
            panic!()
        };
        assert!((d - 10_000.0).abs() < 1.0, "{d}");
        // A Zcash-style target 0x0010...: 2^256 / 2^244 = 4096 solutions per share.
        let ShareValue::Hashes(h) = hashes_for_target(&format!("0010{}", "0".repeat(60))).unwrap()
        else {
            panic!()
        };
        assert!((h - 4096.0).abs() < 1e-6, "{h}");
        // An Ethereum boundary 0x00000000ffff...: about 2^32 hashes.
        let ShareValue::Hashes(e) =
            hashes_for_target(&format!("0x00000000{}", "f".repeat(56))).unwrap()
        else {
            panic!()
        };
        assert!((e / 2f64.powi(32) - 1.0).abs() < 1e-6);
        assert!(hashes_for_target("zz").is_none() && cryptonote_target("b88d06").is_none());
    }

    #[test]
    fn a_session_is_made_when_first_written_and_reads_as_empty_before() {
        let mut t = Tally::new("stratum", "stratum-v1", "stratum");
        assert_eq!(*t.session, Session::default());
        assert!(t.session.0.is_none(), "reading made nothing");
        t.add_worker("rig1");
        assert_eq!(t.session.workers, ["rig1"]);
        assert!(t.session.0.is_some());
    }
}

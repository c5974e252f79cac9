//! Stratum V1 (and its EthereumStratum/NiceHash variant): newline-delimited JSON-RPC between a
//! miner and a pool, interpreted as a `Dialect` of `LineJson`.
//!
//! Every known method is checked for its parameter shape before it counts, requests are matched
//! to responses by id, and the session's agent, workers, extranonce, difficulty/target, jobs and
//! share outcomes are kept. Works from the first packet or from the middle of a session.

use crate::detect::framing::jsonrpc::Message;
use crate::detect::framing::linejson::LineJson;
use crate::detect::framing::rpc::{
    hashes_for_target, keep, params_array, result_value, Dialect, Role, Seen, Tally,
};
use crate::detect::Limits;
use crate::detect::ShareValue;
use crate::flow::Dir;
use serde_json::Value;

/// Stratum V1 (and EthereumStratum) over newline-delimited JSON.
pub const ENTRY: crate::detect::Entry = crate::detect::Entry {
    name: "stratum",
    applies: |s| s.line_json(),
    make: |ctx, s| Box::new(detector(&ctx.limits, s.mid_stream)),
};

/// The Stratum V1 detector.
pub type Stratum = LineJson<StratumV1>;

/// A Stratum V1 detector for a flow seen from its start, or picked up mid-stream.
pub fn detector(limits: &Limits, mid_stream: bool) -> Stratum {
    if mid_stream {
        LineJson::mid_stream("stratum-v1", limits)
    } else {
        LineJson::new("stratum-v1", limits)
    }
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
    fn lookup(name: &str) -> Option<(Method, &'static str, Role)> {
        METHODS.iter().find(|(_, n, _)| *n == name).copied()
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

/// JSON-RPC namespaces of other protocols that share the framing.
const FOREIGN_PREFIXES: [&str; 4] = ["server.", "blockchain.", "mempool.", "eth_"];

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

/// The Stratum V1 dialect.
#[derive(Debug)]
pub struct StratumV1 {
    tally: Tally,
    /// Submit requests by id, to tell share answers from other answers.
    ethereum: bool,
}

impl Default for StratumV1 {
    fn default() -> Self {
        StratumV1 {
            tally: Tally::new("stratum", "stratum-v1", "stratum"),
            ethereum: false,
        }
    }
}

impl Dialect for StratumV1 {
    fn on_message(&mut self, dir: Dir, msg: &Message<'_>, ts: u64) -> Seen {
        match msg.method.as_deref() {
            Some(method) => match Method::lookup(method) {
                Some((m, name, role)) => {
                    if self.on_request(m, msg, ts) {
                        self.tally.seen(dir, name, role, m.is_strong());
                        if role == Role::Miner && m != Method::Submit {
                            self.tally.expect_reply(msg, name);
                        }
                        Seen::Mine
                    } else {
                        Seen::Unknown
                    }
                }
                None if FOREIGN_PREFIXES.iter().any(|p| method.starts_with(p)) => Seen::Foreign,
                None => Seen::Unknown,
            },
            None => match self.tally.reply(dir, msg) {
                Some((m, _)) => {
                    self.on_response(m, msg);
                    Seen::Mine
                }
                None => Seen::Unknown,
            },
        }
    }

    fn tally(&self) -> &Tally {
        &self.tally
    }

    fn finding(&self) -> Option<crate::detect::Finding> {
        let mut f = self.tally.finding()?;
        if self.ethereum {
            f.protocol = "ethereumstratum";
        }
        Some(f)
    }
}

impl StratumV1 {
    /// Checks a request's or notification's parameters and takes what it says; returns whether
    /// they have the shape that method has on the wire.
    fn on_request(&mut self, m: Method, msg: &Message<'_>, ts: u64) -> bool {
        let p = if msg.params.is_some() {
            params_array(msg)
        } else {
            None
        };
        let params: &[Value] = p.as_deref().unwrap_or(&[]);
        let strings = |n: usize| params.len() >= n && params[..n].iter().all(Value::is_string);
        let t = &mut self.tally;
        match m {
            Method::Subscribe => p.is_some() && self.subscribe(params),
            Method::Authorize => {
                let ok = params.first().is_some_and(Value::is_string);
                if ok {
                    t.add_worker(params[0].as_str().unwrap_or_default());
                }
                ok
            }
            Method::Submit => {
                // [worker, job, extranonce2, ntime, nonce(, version bits)]; Equihash: [worker,
                // job, ntime, nonce2, solution]; EthereumStratum: [worker, job, nonce].
                let ok = strings(3) && params.len() <= 8;
                if ok {
                    t.add_worker(params[0].as_str().unwrap_or_default());
                    t.submitted(msg, "mining.submit", params[1].as_str());
                }
                ok
            }
            Method::Configure => configure(t, params),
            Method::ExtranonceSubscribe | Method::GetTransactions => true,
            Method::SuggestDifficulty => {
                let d = params.first().and_then(as_f64);
                if let Some(d) = d {
                    t.signal(format!("stratum:suggested difficulty {d}"));
                }
                params.first().is_some_and(is_number_like)
            }
            Method::SuggestTarget | Method::SetTarget => {
                let target = params.first().and_then(Value::as_str);
                let ok = target.is_some_and(|s| crate::detect::framing::rpc::is_hex(s, 64));
                if ok && m == Method::SetTarget {
                    t.session.target = target.map(keep);
                    if let Some(v) = target.and_then(hashes_for_target) {
                        t.announce(v, ts);
                    }
                }
                ok
            }
            Method::Notify => self.notify(params, ts),
            Method::SetDifficulty => {
                let d = params.first().and_then(as_f64);
                if let Some(d) = d {
                    t.session.difficulty = Some(d);
                    t.announce(ShareValue::Difficulty(d), ts);
                }
                d.is_some()
            }
            Method::SetExtranonce => {
                let ok = params.first().is_some_and(Value::is_string);
                if ok {
                    t.session.extranonce1 = params[0].as_str().map(keep);
                }
                ok
            }
            Method::SetVersionMask => {
                let ok = params.first().is_some_and(Value::is_string);
                if ok {
                    t.session.version_mask = params[0].as_str().map(keep);
                }
                ok
            }
            Method::Reconnect | Method::ShowMessage | Method::GetVersion => p.is_some(),
        }
    }

    /// `mining.subscribe`: [agent(, session, host, port)] or EthereumStratum's [agent,
    /// protocol].
    fn subscribe(&mut self, params: &[Value]) -> bool {
        let t = &mut self.tally;
        let ok = params.iter().all(is_str_or_null);
        if ok {
            if let Some(a) = params.first().and_then(Value::as_str) {
                t.session.agent.get_or_insert_with(|| keep(a));
            }
            // Equihash form: [agent, session, host, port]; EthereumStratum/NiceHash
            // form: [agent, protocol].
            if let Some(h) = params.get(2).and_then(Value::as_str) {
                t.session.pool_host.get_or_insert_with(|| keep(h));
            }
            if let Some(proto) = params.get(1).and_then(Value::as_str) {
                if proto.starts_with("EthereumStratum/") || proto.starts_with("NiceHash/") {
                    self.ethereum = true;
                    t.signal(format!("stratum:protocol {}", keep(proto)));
                }
            }
        }
        ok
    }

    /// `mining.notify`, in the form of its algorithm family; a new job.
    fn notify(&mut self, params: &[Value], ts_ns: u64) -> bool {
        // SHA-256d: job, prevhash, coinb1, coinb2, merkle[], version, nbits, ntime,
        // clean. Equihash: job, version, prevhash, merkleroot, reserved, time, bits,
        // clean. EthereumStratum: job, seedhash, headerhash, clean.
        let t = &mut self.tally;
        let sha = params.len() >= 9
            && params[..4].iter().all(Value::is_string)
            && params[4].is_array()
            && params[5..8].iter().all(Value::is_string)
            && params[8].is_boolean();
        let equihash =
            params.len() == 8 && params[..7].iter().all(Value::is_string) && params[7].is_boolean();
        let ethash =
            params.len() == 4 && params[..3].iter().all(Value::is_string) && params[3].is_boolean();
        if ethash {
            self.ethereum = true;
            t.session.algorithm.get_or_insert_with(|| "ethash".into());
            // The seed gives the epoch; the job carries no time, so the packet's stands in.
            if let Some(rounds) = params[1].as_str().and_then(crate::detect::seed_rounds) {
                t.session.job = crate::detect::Job {
                    ntime: u32::try_from(ts_ns / 1_000_000_000).ok(),
                    seed_rounds: Some(rounds),
                    form: crate::detect::JobForm::Ethash,
                    ..Default::default()
                };
            }
        }
        if equihash && !sha {
            t.session.algorithm.get_or_insert_with(|| "equihash".into());
        }
        if sha && !equihash {
            let hex32 = |v: &Value| v.as_str().and_then(|h| u32::from_str_radix(h, 16).ok());
            t.session.job = crate::detect::Job {
                height: params[2].as_str().and_then(crate::detect::coinbase_height),
                nbits: hex32(&params[6]),
                ntime: hex32(&params[7]),
                major_version: None,
                seed_rounds: None,
                form: crate::detect::JobForm::Bitcoin,
            };
        }
        let ok = sha || equihash || ethash;
        if ok {
            t.new_job(params[0].as_str().unwrap_or_default(), None);
        }
        ok
    }

    fn on_response(&mut self, method: &'static str, msg: &Message<'_>) {
        let t = &mut self.tally;
        match method {
            "mining.subscribe" => {
                // [[subscriptions], extranonce1, size]; Equihash and NiceHash: [id, extranonce1].
                if let Some(en) = result_value(msg)
                    .as_ref()
                    .and_then(|r| r.get(1))
                    .and_then(Value::as_str)
                {
                    t.session.extranonce1 = Some(keep(en));
                }
            }
            "mining.configure" => {
                if let Some(mask) = result_value(msg)
                    .as_ref()
                    .and_then(|r| r.get("version-rolling.mask"))
                    .and_then(Value::as_str)
                {
                    t.session.version_mask = Some(keep(mask));
                }
            }
            _ => {}
        }
    }
}

/// `mining.configure` (BIP 310): the extensions asked for and the device's `info.*` fields.
fn configure(t: &mut Tally, params: &[Value]) -> bool {
    let ok = params.len() == 2 && params[0].is_array() && params[1].is_object();
    if ok {
        t.session.extensions = params[0]
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
                    t.session.device.push((keep(name), keep(val)));
                }
            }
            if let Some(d) = o.get("minimum-difficulty.value").and_then(as_f64) {
                t.signal(format!("stratum:minimum-difficulty {d}"));
            }
        }
    }
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::detect::{Coverage, Detector, Interest};

    fn feed(s: &mut Stratum, dir: Dir, text: &str) {
        s.on_data(dir, text.as_bytes(), 0);
    }

    #[test]
    fn full_session_extracts_the_fields() {
        let mut s = detector(&Limits::default(), false);
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
        assert_eq!(
            f.session().unwrap().agent.as_deref(),
            Some("cgminer/4.10.0")
        );
        assert_eq!(
            f.session().unwrap().extranonce1.as_deref(),
            Some("f000000a")
        );
        assert_eq!(f.session().unwrap().workers, ["w.1", "w.2"]);
        assert_eq!(f.session().unwrap().difficulty, Some(512.0));
        assert_eq!(
            f.session().unwrap().shares,
            crate::detect::Shares {
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
    fn a_new_difficulty_applies_from_the_next_job() {
        let mut s = detector(&Limits::default(), false);
        let notify = |job: &str| {
            format!("{{\"id\":null,\"method\":\"mining.notify\",\"params\":[\"{job}\",\"p\",\"c1\",\"c2\",[],\"20000000\",\"1703a30c\",\"65f12a00\",true]}}\n")
        };
        let submit = |id: u32, job: &str| {
            format!("{{\"id\":{id},\"method\":\"mining.submit\",\"params\":[\"w\",\"{job}\",\"00\",\"65f12a00\",\"01\"]}}\n")
        };
        let ok = |id: u32| format!("{{\"id\":{id},\"result\":true,\"error\":null}}\n");
        feed(
            &mut s,
            Dir::Rev,
            "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[1000]}\n",
        );
        feed(&mut s, Dir::Rev, &notify("a"));
        // The pool raises the difficulty; job "a" keeps 1000 until the next job comes.
        feed(
            &mut s,
            Dir::Rev,
            "{\"id\":null,\"method\":\"mining.set_difficulty\",\"params\":[4000]}\n",
        );
        feed(&mut s, Dir::Fwd, &submit(1, "a"));
        feed(&mut s, Dir::Rev, &ok(1));
        feed(&mut s, Dir::Rev, &notify("b"));
        feed(&mut s, Dir::Fwd, &submit(2, "b"));
        feed(&mut s, Dir::Fwd, &submit(3, "a")); // a late share for the old job
        feed(&mut s, Dir::Rev, &ok(2));
        feed(
            &mut s,
            Dir::Rev,
            "{\"id\":3,\"result\":false,\"error\":[21,\"Job not found\",null]}\n",
        );
        let f = s.finding().unwrap();
        assert_eq!(f.session().unwrap().work.accepted.valued, 2);
        assert_eq!(
            f.session().unwrap().work.accepted.difficulty,
            1000.0 + 4000.0
        );
        assert_eq!(
            f.session().unwrap().work.submitted.difficulty,
            1000.0 + 4000.0 + 1000.0
        );
        assert_eq!(f.session().unwrap().shares.rejected, 1);
        assert_eq!(f.session().unwrap().difficulty, Some(4000.0));
        let changes: Vec<_> = f
            .session()
            .unwrap()
            .difficulty_changes
            .iter()
            .map(|c| c.1)
            .collect();
        assert_eq!(
            changes,
            [
                ShareValue::Difficulty(1000.0),
                ShareValue::Difficulty(4000.0)
            ]
        );
    }

    #[test]
    fn wrong_shapes_do_not_count() {
        let mut s = detector(&Limits::default(), false);
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
        let mut s = detector(&Limits::default(), false);
        feed(&mut s, Dir::Fwd, "{\"jsonrpc\":\"2.0\",\"method\":\"server.version\",\"params\":[\"e\",\"1.4\"],\"id\":0}\n");
        assert_eq!(s.interest(), Interest::NotThis);
        let mut s = detector(&Limits::default(), false);
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
        let mut s = detector(
            &Limits {
                max_line: 64,
                max_depth: 4,
                transcript: 8,
            },
            true,
        );
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

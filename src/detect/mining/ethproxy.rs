//! EthProxy ("getwork over TCP") and Ethereum getwork over HTTP: `eth_submitLogin`,
//! `eth_getWork`, `eth_submitWork`, `eth_submitHashrate` from the miner, work packages (header,
//! seed, boundary) from the pool. One `Dialect`, framed by lines (`LineJson`) or by HTTP
//! (`HttpJson`).

use crate::detect::framing::http::HttpJson;
use crate::detect::framing::jsonrpc::Message;
use crate::detect::framing::linejson::LineJson;
use crate::detect::framing::rpc::{
    hashes_for_target, is_hex, keep, params_array, result_value, Dialect, Role, Seen, Tally,
};
use crate::detect::Limits;
use crate::detect::{Detail, Finding};
use crate::flow::Dir;
use serde_json::Value;

/// EthProxy over newline-delimited JSON.
pub const ENTRY: crate::detect::Entry = crate::detect::Entry {
    name: "ethproxy",
    applies: |s| s.line_json(),
    make: |ctx, s| Box::new(detector(&ctx.limits, s.mid_stream)),
};

/// Ethereum getwork over HTTP.
pub const HTTP_ENTRY: crate::detect::Entry = crate::detect::Entry {
    name: "ethproxy-http",
    applies: |s| s.http(),
    make: |ctx, s| Box::new(http_detector(&ctx.limits, s.mid_stream)),
};

/// An EthProxy detector over newline-delimited JSON.
pub fn detector(limits: &Limits, mid_stream: bool) -> LineJson<EthProxy> {
    if mid_stream {
        LineJson::mid_stream("ethproxy", limits)
    } else {
        LineJson::new("ethproxy", limits)
    }
}

/// An Ethereum getwork detector over HTTP.
pub fn http_detector(limits: &Limits, mid_stream: bool) -> HttpJson<EthProxy> {
    HttpJson::new("ethproxy-http", limits, mid_stream)
}

#[derive(Debug)]
/// EthProxy and Ethereum getwork messages.
pub struct EthProxy {
    tally: Tally,
}

impl Default for EthProxy {
    fn default() -> Self {
        EthProxy {
            tally: Tally::new("ethproxy", "ethproxy", "ethproxy"),
        }
    }
}

/// A work package: header hash, seed hash, boundary (and perhaps height), as 0x-hex strings.
fn is_work(v: &Value) -> bool {
    v.as_array().is_some_and(|a| {
        (3..=4).contains(&a.len())
            && a[..3].iter().all(|x| {
                x.as_str()
                    .is_some_and(|s| s.starts_with("0x") && is_hex(s, 64))
            })
    })
}

fn hex_f64(s: &str) -> Option<f64> {
    let h = s.strip_prefix("0x")?;
    u128::from_str_radix(h.get(h.len().saturating_sub(32)..)?, 16)
        .ok()
        .map(|v| v as f64)
}

impl EthProxy {
    /// A work package: header hash (the job), seed hash, boundary (the share target), and
    /// from some pools the block's height. The seed gives the epoch, which with the height
    /// and the time it was seen (`ts_ns`) places the chain.
    fn take_work(&mut self, v: &Value, ts_ns: u64) {
        let boundary = v.get(2).and_then(Value::as_str);
        let seed = v.get(1).and_then(Value::as_str);
        if let Some(rounds) = seed.and_then(crate::detect::seed_rounds) {
            self.tally.session.job = crate::detect::Job {
                height: v
                    .get(3)
                    .and_then(Value::as_str)
                    .and_then(|h| u64::from_str_radix(h.strip_prefix("0x")?, 16).ok()),
                ntime: u32::try_from(ts_ns / 1_000_000_000).ok(),
                seed_rounds: Some(rounds),
                form: crate::detect::JobForm::Ethash,
                ..Default::default()
            };
        }
        let header = v.get(0).and_then(Value::as_str).unwrap_or_default();
        self.tally
            .new_job(header, boundary.and_then(hashes_for_target));
        if let Some(b) = boundary {
            self.tally.session.target = Some(keep(b));
        }
    }
}

impl Dialect for EthProxy {
    fn on_message(&mut self, dir: Dir, msg: &Message<'_>, ts_ns: u64) -> Seen {
        let Some(method) = msg.method.as_deref() else {
            if let Some((m, _)) = self.tally.reply(dir, msg) {
                if m == "eth_getWork" {
                    if let Some(v) = result_value(msg).filter(is_work) {
                        self.take_work(&v, ts_ns);
                    }
                }
                return Seen::Mine;
            }
            // Pools push new work as an unsolicited result.
            if let Some(v) = result_value(msg).filter(is_work) {
                self.take_work(&v, ts_ns);
                self.tally.seen(dir, "work push", Role::Pool, true);
                return Seen::Mine;
            }
            return Seen::Unknown;
        };
        let Some(p) = params_array(msg) else {
            return Seen::Unknown;
        };
        let hex_params = |n: usize| {
            p.len() >= n
                && p[..n]
                    .iter()
                    .all(|x| x.as_str().is_some_and(|s| is_hex(s, 66)))
        };
        let name = match method {
            "eth_submitLogin" if p.first().is_some_and(Value::is_string) => {
                self.tally.add_worker(p[0].as_str().unwrap_or_default());
                if let Some(w) = msg.worker.as_deref() {
                    self.tally.add_worker(w);
                }
                "eth_submitLogin"
            }
            "eth_getWork" if p.is_empty() || p.iter().all(Value::is_string) => "eth_getWork",
            "eth_submitWork" if hex_params(3) => {
                self.tally.submitted(msg, "eth_submitWork", p[1].as_str());
                self.tally.seen(dir, "eth_submitWork", Role::Miner, true);
                return Seen::Mine;
            }
            "eth_submitHashrate" if hex_params(2) => {
                self.tally.session.claimed_hashrate_hs = p[0].as_str().and_then(hex_f64);
                "eth_submitHashrate"
            }
            m if m.starts_with("eth_") || m.starts_with("net_") || m.starts_with("web3_") => {
                return Seen::Foreign
            }
            _ => return Seen::Unknown,
        };
        if let Some(w) = msg.worker.as_deref() {
            self.tally.add_worker(w);
        }
        self.tally.seen(dir, name, Role::Miner, true);
        self.tally.expect_reply(msg, name);
        Seen::Mine
    }

    fn on_header(&mut self, _dir: Dir, name: &str, value: &str) {
        if name.eq_ignore_ascii_case("user-agent") {
            self.tally.session.agent.get_or_insert_with(|| keep(value));
        }
    }

    fn tally(&self) -> &Tally {
        &self.tally
    }

    /// EthProxy and getwork carry Ethash work, whatever the messages say.
    fn finding(&self) -> Option<Finding> {
        let mut f = self.tally.finding()?;
        if let Detail::Mining(s) = &mut f.detail {
            s.algorithm.get_or_insert_with(|| "ethash".into());
        }
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Detector, Interest};

    #[test]
    fn ethproxy_over_tcp() {
        let mut d = detector(&Limits::default(), false);
        d.on_data(Dir::Fwd, br#"{"worker": "eth1.0", "jsonrpc": "2.0", "params": ["0x9c99d212f7e5daa18ab50810e0fd255d1f04303b/rig1", "x"], "id": 2, "method": "eth_submitLogin"}
{"id":3,"jsonrpc":"2.0","method":"eth_getWork","params":[]}
"#, 0);
        d.on_data(
            Dir::Rev,
            br#"{"id":2,"jsonrpc":"2.0","result":true}
{"id":3,"jsonrpc":"2.0","result":["0xd494","0x71a5","0x00000000ba03f80"]}
"#,
            0,
        );
        d.on_data(Dir::Fwd, br#"{"id":4,"jsonrpc":"2.0","method":"eth_submitHashrate","params":["0x1dcd6500","0x59"]}
"#, 0);
        assert_eq!(d.interest(), Interest::Matched);
        let f = d.finding().unwrap();
        assert_eq!(f.protocol, "ethproxy");
        assert_eq!(
            f.session().unwrap().workers,
            ["0x9c99d212f7e5daa18ab50810e0fd255d1f04303b/rig1", "eth1.0"]
        );
        assert_eq!(f.session().unwrap().jobs, 1);
        assert_eq!(
            f.session().unwrap().claimed_hashrate_hs,
            Some(500_000_000.0)
        );
    }

    #[test]
    fn ordinary_node_rpc_is_foreign() {
        let mut d = detector(&Limits::default(), false);
        d.on_data(
            Dir::Fwd,
            br#"{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":1}
"#,
            0,
        );
        assert_eq!(d.interest(), Interest::NotThis);
    }
}

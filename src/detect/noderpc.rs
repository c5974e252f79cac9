//! Solo mining against a node's JSON-RPC over HTTP: `getblocktemplate` (BIP 22/23),
//! `submitblock`, and the legacy `getwork`. Ordinary node RPC (`getblockchaininfo`,
//! `getbalance`, ...) does not count. The `X-Mining-Extensions` and `X-Stratum` headers that
//! mining software sends are kept as signals.

use super::http::HttpJson;
use super::jsonrpc::Message;
use super::rpc::{is_hex, keep, params_array, result_value, Dialect, Role, Seen, Tally};
use super::{Finding, Limits};
use crate::flow::Dir;
use serde_json::Value;

pub fn detector(limits: &Limits, mid_stream: bool) -> HttpJson<NodeRpc> {
    HttpJson::new("node-rpc", limits, mid_stream)
}

#[derive(Debug)]
pub struct NodeRpc {
    tally: Tally,
    gbt: bool,
}

impl Default for NodeRpc {
    fn default() -> Self {
        NodeRpc {
            tally: Tally::new("rpc", "getwork", "http"),
            gbt: false,
        }
    }
}

impl Dialect for NodeRpc {
    fn on_message(&mut self, dir: Dir, msg: &Message<'_>, _ts: u64) -> Seen {
        let Some(method) = msg.method.as_deref() else {
            return match self.tally.reply(dir, msg) {
                Some(m) => {
                    let r = result_value(msg);
                    match m {
                        "getblocktemplate"
                            if r.as_ref()
                                .is_some_and(|r| r.get("previousblockhash").is_some()) =>
                        {
                            self.tally.found.jobs += 1;
                            if let Some(t) = r
                                .as_ref()
                                .and_then(|r| r.get("target"))
                                .and_then(Value::as_str)
                            {
                                self.tally.found.target = Some(keep(t));
                            }
                        }
                        "getwork" if r.as_ref().is_some_and(|r| r.get("data").is_some()) => {
                            self.tally.found.jobs += 1;
                        }
                        "getwork" if r.as_ref().is_some_and(Value::is_boolean) => {
                            self.tally.share_outcome(msg)
                        }
                        "submitblock" => {
                            // null is success; a string names the rejection.
                            if r.is_none_or(|r| r.is_null()) && !msg.has_error() {
                                self.tally.found.shares.accepted += 1;
                            } else {
                                self.tally.found.shares.rejected += 1;
                            }
                        }
                        _ => {}
                    }
                    Seen::Mine
                }
                None => Seen::Unknown,
            };
        };
        let Some(p) = params_array(msg) else {
            return Seen::Unknown;
        };
        let name = match method {
            "getblocktemplate" if p.len() <= 1 && p.iter().all(Value::is_object) => {
                self.gbt = true;
                "getblocktemplate"
            }
            "submitblock"
                if p.first()
                    .and_then(Value::as_str)
                    .is_some_and(|b| is_hex(b, 8_000_000)) =>
            {
                self.gbt = true;
                self.tally.found.shares.submitted += 1;
                "submitblock"
            }
            "getwork" if p.is_empty() => "getwork",
            "getwork" if p.len() == 1 && p[0].as_str().is_some_and(|d| is_hex(d, 512)) => {
                self.tally.found.shares.submitted += 1;
                "getwork"
            }
            _ => return Seen::Unknown,
        };
        self.tally.seen(dir, name, Role::Miner, true);
        self.tally.expect_reply(msg, name);
        Seen::Mine
    }

    fn on_header(&mut self, _dir: Dir, name: &str, value: &str) {
        if name.eq_ignore_ascii_case("x-mining-extensions") {
            self.tally
                .signal(format!("http:x-mining-extensions {}", keep(value)));
        } else if name.eq_ignore_ascii_case("x-stratum") {
            self.tally.signal(format!("http:x-stratum {}", keep(value)));
        } else if name.eq_ignore_ascii_case("user-agent") {
            self.tally.found.agent.get_or_insert_with(|| keep(value));
        }
    }

    fn tally(&self) -> &Tally {
        &self.tally
    }

    fn finding(&self) -> Option<Finding> {
        let mut f = self.tally.finding()?;
        if self.gbt {
            f.protocol = "getblocktemplate";
        }
        Some(f)
    }
}

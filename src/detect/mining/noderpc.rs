//! Solo mining against a node's JSON-RPC over HTTP: `getblocktemplate` (BIP 22/23),
//! `submitblock`, and the legacy `getwork`. Ordinary node RPC (`getblockchaininfo`,
//! `getbalance`, ...) does not count. The `X-Mining-Extensions` and `X-Stratum` headers that
//! mining software sends are kept as signals.

use crate::detect::framing::http::HttpJson;
use crate::detect::framing::jsonrpc::Message;
use crate::detect::framing::rpc::{
    hashes_for_target, is_hex, keep, params_array, result_value, Dialect, Role, Seen, Tally,
};
use crate::detect::{Finding, Limits};
use crate::flow::Dir;
use serde_json::Value;

/// Solo mining over a node's HTTP JSON-RPC.
pub const ENTRY: crate::detect::Entry = crate::detect::Entry {
    name: "noderpc",
    applies: |s| s.http(),
    make: |ctx, s| Box::new(detector(&ctx.limits, s.mid_stream)),
};

/// A detector of solo mining over a node's HTTP JSON-RPC.
pub fn detector(limits: &Limits, mid_stream: bool) -> HttpJson<NodeRpc> {
    HttpJson::new("node-rpc", limits, mid_stream)
}

#[derive(Debug)]
/// `getblocktemplate`, `submitblock` and `getwork` messages.
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

/// The chain facts a block template carries (BIP 22): `height`, `bits` and `curtime`.
fn template_job(r: Option<&Value>) -> crate::detect::Job {
    let get = |k: &str| r.and_then(|r| r.get(k));
    crate::detect::Job {
        height: get("height").and_then(Value::as_u64),
        nbits: get("bits")
            .and_then(Value::as_str)
            .and_then(|b| u32::from_str_radix(b, 16).ok()),
        ntime: get("curtime")
            .and_then(Value::as_u64)
            .and_then(|t| u32::try_from(t).ok()),
        major_version: None,
        seed_rounds: None,
        form: crate::detect::JobForm::Bitcoin,
    }
}

/// The chain facts a getwork `data` carries: the block header (80 bytes, then padding) with
/// each 32-bit word byte-swapped, so that reading a word's 8 hex digits as a big-endian number
/// gives the header's little-endian field: `ntime` is word 17, `nbits` word 18. There is no
/// height: the chain is placed by its difficulty at its time.
fn getwork_job(data: Option<&str>) -> crate::detect::Job {
    let word = |i: usize| {
        data.filter(|d| d.len() >= 160)
            .and_then(|d| d.get(8 * i..8 * i + 8))
            .and_then(|w| u32::from_str_radix(w, 16).ok())
    };
    crate::detect::Job {
        nbits: word(18),
        ntime: word(17),
        ..Default::default()
    }
}

impl Dialect for NodeRpc {
    fn on_message(&mut self, dir: Dir, msg: &Message<'_>, _ts: u64) -> Seen {
        let Some(method) = msg.method.as_deref() else {
            return match self.tally.reply(dir, msg) {
                Some((m, value)) => {
                    let r = result_value(msg);
                    let target = r
                        .as_ref()
                        .and_then(|r| r.get("target"))
                        .and_then(Value::as_str);
                    let has = |k: &str| r.as_ref().is_some_and(|r| r.get(k).is_some());
                    match m {
                        "getblocktemplate" if has("previousblockhash") => {
                            self.tally
                                .new_job("template", target.and_then(hashes_for_target));
                            self.tally.session.target = target.map(keep);
                            self.tally.session.job = template_job(r.as_ref());
                        }
                        "getwork" if has("data") => {
                            // getwork's target is little-endian.
                            let be: Option<String> = target.map(|t| {
                                (0..t.len() / 2)
                                    .rev()
                                    .filter_map(|i| t.get(2 * i..2 * i + 2))
                                    .collect()
                            });
                            self.tally
                                .new_job("getwork", be.as_deref().and_then(hashes_for_target));
                            let data = r.as_ref().and_then(|r| r.get("data"));
                            self.tally.session.job = getwork_job(data.and_then(Value::as_str));
                        }
                        // null is success; a string names the rejection.
                        "submitblock" => self
                            .tally
                            .share_result(r.is_none_or(|r| r.is_null()) && !msg.has_error(), value),
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
                self.tally.submitted(msg, "submitblock", Some("template"));
                "submitblock"
            }
            "getwork" if p.is_empty() => "getwork",
            "getwork" if p.len() == 1 && p[0].as_str().is_some_and(|d| is_hex(d, 512)) => {
                self.tally
                    .submitted(msg, "getwork solution", Some("getwork"));
                "getwork solution"
            }
            _ => return Seen::Unknown,
        };
        self.tally.seen(dir, name, Role::Miner, true);
        if matches!(name, "getblocktemplate" | "getwork") {
            self.tally.expect_reply(msg, name);
        }
        Seen::Mine
    }

    fn on_header(&mut self, _dir: Dir, name: &str, value: &str) {
        if name.eq_ignore_ascii_case("x-mining-extensions") {
            self.tally
                .signal(format!("http:x-mining-extensions {}", keep(value)));
        } else if name.eq_ignore_ascii_case("x-stratum") {
            self.tally.signal(format!("http:x-stratum {}", keep(value)));
        } else if name.eq_ignore_ascii_case("user-agent") {
            self.tally.session.agent.get_or_insert_with(|| keep(value));
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

#[cfg(test)]
mod tests {
    #[test]
    fn getwork_data_gives_the_headers_time_and_bits() {
        // The getwork answer the Bitcoin wiki quotes (2011): words byte-swapped.
        let data = "00000001d915b8fd2face61c6fe22ab76cad5f46c11cebab697dbd9e00000804000000008fe5f19cbdd55b40db93be7ef8ae249e0b21ec6e29c833b186404de0de205cc54e0022ac1a132185007d1adf000000800000000000000000000000000000000000000000000000000000000000000000000000000000000080020000";
        let job = super::getwork_job(Some(data));
        assert_eq!(job.ntime, Some(0x4e00_22ac)); // 2011-06-21
        assert_eq!(job.nbits, Some(0x1a13_2185));
        assert_eq!(job.height, None);
        assert_eq!(super::getwork_job(Some("00000001")).nbits, None);
    }
}

//! CryptoNote pool protocol (Monero and kin; XMRig, xmr-stak and others): newline-delimited
//! JSON-RPC with `login`, `submit`, `keepalived`, `getjob` from the miner and `job` pushes from
//! the pool, interpreted as a `Dialect` of `LineJson`.

use crate::detect::framing::jsonrpc::Message;
use crate::detect::framing::linejson::LineJson;
use crate::detect::framing::rpc::{
    cryptonote_target, is_hex, keep, params_object, result_value, Dialect, Role, Seen, Tally,
};
use crate::detect::Limits;
use crate::flow::Dir;
use serde_json::{Map, Value};

/// CryptoNote pools over newline-delimited JSON.
pub const ENTRY: crate::detect::Entry = crate::detect::Entry {
    name: "cryptonote",
    applies: |s| s.line_json(),
    make: |ctx, s| Box::new(detector(&ctx.limits, s.mid_stream)),
};

/// The CryptoNote detector: the dialect over newline-delimited JSON.
pub type CryptoNote = LineJson<CryptoNoteDialect>;

/// A CryptoNote detector.
pub fn detector(limits: &Limits, mid_stream: bool) -> CryptoNote {
    if mid_stream {
        LineJson::mid_stream("cryptonote", limits)
    } else {
        LineJson::new("cryptonote", limits)
    }
}

#[derive(Debug)]
/// CryptoNote pool messages: `login`, `job`, `submit`, `keepalived`.
pub struct CryptoNoteDialect {
    tally: Tally,
}

impl Default for CryptoNoteDialect {
    fn default() -> Self {
        CryptoNoteDialect {
            tally: Tally::new("cryptonote", "cryptonote", "cryptonote"),
        }
    }
}

fn str_field<'a>(o: &'a Map<String, Value>, k: &str) -> Option<&'a str> {
    o.get(k).and_then(Value::as_str)
}

/// A job object: blob and target in hex, a job id.
fn is_job(o: &Map<String, Value>) -> bool {
    str_field(o, "blob").is_some_and(|b| is_hex(b, 1024))
        && str_field(o, "job_id").is_some()
        && str_field(o, "target").is_some_and(|t| is_hex(t, 64))
}

/// The block header at the start of a job's blob: its major version (the chain's hard-fork
/// version) and its timestamp, three LEB128 varints (major, minor, timestamp) as CryptoNote
/// serialises them. `None` when the blob does not start so.
pub fn blob_header(blob: &str) -> Option<(u64, u64)> {
    let mut fields = [0u64; 3];
    let mut digits = blob.as_bytes().chunks_exact(2);
    for field in &mut fields {
        let mut shift = 0;
        loop {
            let pair = std::str::from_utf8(digits.next()?).ok()?;
            let b = u8::from_str_radix(pair, 16).ok()?;
            if shift > 56 {
                return None;
            }
            *field |= u64::from(b & 0x7f) << shift;
            shift += 7;
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    Some((fields[0], fields[2]))
}

impl CryptoNoteDialect {
    fn take_job(&mut self, o: &Map<String, Value>) {
        let header = str_field(o, "blob").and_then(blob_header);
        let height = o.get("height").and_then(Value::as_u64);
        if let (Some((major, time)), Some(height)) = (header, height) {
            // The chain table places the job by its height at the blob's own time.
            self.tally.session.job = crate::detect::Job {
                height: Some(height),
                nbits: None,
                ntime: u32::try_from(time).ok(),
                major_version: u8::try_from(major).ok(),
                seed_rounds: None,
                form: crate::detect::JobForm::CryptoNote,
            };
        }
        let target = str_field(o, "target");
        self.tally.new_job(
            str_field(o, "job_id").unwrap_or_default(),
            target.and_then(cryptonote_target),
        );
        let f = &mut self.tally.session;
        f.target = target.map(keep);
        if let Some(a) = str_field(o, "algo") {
            f.algorithm = Some(keep(a));
        }
    }
}

impl Dialect for CryptoNoteDialect {
    fn on_message(&mut self, dir: Dir, msg: &Message<'_>, _ts: u64) -> Seen {
        let Some(method) = msg.method.as_deref() else {
            return match self.tally.reply(dir, msg) {
                Some((m, _)) => {
                    let r = result_value(msg);
                    let r = r.as_ref().and_then(Value::as_object);
                    // The login answer carries the first job.
                    let job = r.and_then(|r| r.get("job")).and_then(Value::as_object);
                    if let Some(job) = job.filter(|j| m == "login" && is_job(j)) {
                        self.take_job(job);
                    }
                    Seen::Mine
                }
                None => Seen::Unknown,
            };
        };
        let Some(p) = params_object(msg) else {
            return Seen::Unknown;
        };
        let (name, role, strong) = match method {
            "login" if str_field(&p, "login").is_some() => {
                let t = &mut self.tally;
                t.add_worker(str_field(&p, "login").unwrap_or_default());
                if let Some(rig) = str_field(&p, "rigid").filter(|r| !r.is_empty()) {
                    t.add_worker(rig);
                }
                if let Some(a) = str_field(&p, "agent") {
                    t.session.agent = Some(keep(a));
                }
                if let Some(algos) = p.get("algo").and_then(Value::as_array) {
                    let list: Vec<&str> = algos.iter().filter_map(Value::as_str).take(8).collect();
                    if !list.is_empty() {
                        t.signal(format!("cryptonote:algo {}", keep(&list.join(","))));
                    }
                }
                ("login", Role::Miner, true)
            }
            "submit"
                if str_field(&p, "job_id").is_some()
                    && str_field(&p, "nonce").is_some_and(|n| is_hex(n, 16))
                    && str_field(&p, "result").is_some_and(|r| is_hex(r, 128)) =>
            {
                self.tally.submitted(msg, "submit", str_field(&p, "job_id"));
                ("submit", Role::Miner, true)
            }
            "keepalived" | "getjob" if p.contains_key("id") => {
                if method == "keepalived" {
                    ("keepalived", Role::Miner, false)
                } else {
                    ("getjob", Role::Miner, false)
                }
            }
            "job" if is_job(&p) => {
                self.take_job(&p);
                ("job", Role::Pool, true)
            }
            _ => return Seen::Unknown,
        };
        self.tally.seen(dir, name, role, strong);
        if role == Role::Miner && name != "submit" {
            self.tally.expect_reply(msg, name);
        }
        Seen::Mine
    }

    fn tally(&self) -> &Tally {
        &self.tally
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::{Coverage, Detector, Interest};

    #[test]
    fn xmrig_session() {
        let mut d = detector(&Limits::default(), false);
        d.on_data(Dir::Fwd, br#"{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"4AdUnd.rig","pass":"x","agent":"XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0","rigid":"","algo":["rx/0","cn/r"]}}
"#, 0);
        assert_eq!(d.interest(), Interest::Matched);
        d.on_data(Dir::Rev, br#"{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"s1","job":{"blob":"0e0e8a","job_id":"j1","target":"b88d0600","algo":"rx/0","height":3000000,"seed_hash":"ab"},"status":"OK"}}
{"jsonrpc":"2.0","method":"job","params":{"blob":"0e0e8b","job_id":"j2","target":"b88d0600","algo":"rx/0","id":"s1"}}
"#, 0);
        d.on_data(Dir::Fwd, br#"{"id":2,"jsonrpc":"2.0","method":"submit","params":{"id":"s1","job_id":"j2","nonce":"0a000000","result":"00ff"}}
"#, 0);
        d.on_data(
            Dir::Rev,
            br#"{"id":2,"jsonrpc":"2.0","error":null,"result":{"status":"OK"}}
"#,
            0,
        );
        let f = d.finding().unwrap();
        assert_eq!(f.protocol, "cryptonote");
        assert_eq!(
            f.session().unwrap().agent.as_deref(),
            Some("XMRig/6.21.0 (Linux x86_64) libuv/1.44.2 gcc/12.2.0")
        );
        assert_eq!(f.session().unwrap().workers, ["4AdUnd.rig"]);
        assert_eq!(f.session().unwrap().jobs, 2);
        assert_eq!(f.session().unwrap().target.as_deref(), Some("b88d0600"));
        assert_eq!(f.session().unwrap().algorithm.as_deref(), Some("rx/0"));
        assert_eq!(
            (
                f.session().unwrap().shares.submitted,
                f.session().unwrap().shares.accepted
            ),
            (1, 1)
        );
        assert_eq!(f.coverage, Coverage::BothSides);
        assert_eq!(f.miner_sends, Some(Dir::Fwd));
    }

    #[test]
    fn a_generic_login_is_not_cryptonote() {
        let mut d = detector(&Limits::default(), false);
        d.on_data(
            Dir::Fwd,
            br#"{"id":1,"method":"login","params":["user","secret"]}
{"id":2,"method":"submit","params":{"form":"contact"}}
"#,
            0,
        );
        assert!(d.finding().is_none());
    }

    #[test]
    fn a_blobs_header_gives_the_major_version_and_time() {
        // Major 12, minor 12, time 1575072000 (2019-11-30) as LEB128, then the previous hash.
        assert_eq!(
            blob_header("0c0c80e286ef05abababab"),
            Some((12, 1_575_072_000))
        );
        // Cut inside the time, not hex, or a varint longer than 64 bits: nothing.
        assert_eq!(blob_header("0c0c80e286"), None);
        assert_eq!(blob_header("0c0czz"), None);
        assert_eq!(blob_header(&format!("0c0c{}01", "ff".repeat(10))), None);
    }
}

//! What a probe says to an endpoint and how it reads the answer: the opening message of each
//! mining dialect, and whether what came back is a pool's answer to it.

use serde_json::Value;

/// A mining dialect a probe can open with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Dialect {
    /// Stratum V1 (`mining.subscribe`).
    #[serde(rename = "stratum-v1")]
    StratumV1,
    /// CryptoNote (`login`).
    #[serde(rename = "cryptonote")]
    CryptoNote,
    /// EthProxy (`eth_submitLogin`).
    #[serde(rename = "ethproxy")]
    EthProxy,
    /// Stratum V2 (`SetupConnection`, in the clear).
    #[serde(rename = "stratum-v2")]
    StratumV2,
}

/// Every dialect, in the order they are tried.
pub const ALL: [Dialect; 4] = [
    Dialect::StratumV1,
    Dialect::CryptoNote,
    Dialect::EthProxy,
    Dialect::StratumV2,
];

impl Dialect {
    /// The dialect's name in events.
    pub fn name(self) -> &'static str {
        match self {
            Dialect::StratumV1 => "stratum-v1",
            Dialect::CryptoNote => "cryptonote",
            Dialect::EthProxy => "ethproxy",
            Dialect::StratumV2 => "stratum-v2",
        }
    }

    /// The first message a miner of this dialect sends. Credentials are placeholders: a probe
    /// never logs in as anyone.
    pub fn opening(self) -> Vec<u8> {
        match self {
            Dialect::StratumV1 => {
                line(br#"{"id":1,"method":"mining.subscribe","params":["minetap-probe/1"]}"#)
            }
            Dialect::CryptoNote => line(
                br#"{"id":1,"jsonrpc":"2.0","method":"login","params":{"login":"probe","pass":"x","agent":"minetap-probe/1"}}"#,
            ),
            Dialect::EthProxy => line(
                br#"{"id":1,"jsonrpc":"2.0","method":"eth_submitLogin","params":["0x0000000000000000000000000000000000000000"],"worker":"probe"}"#,
            ),
            Dialect::StratumV2 => setup_connection(),
        }
    }

    /// Whether `got` holds enough to judge.
    pub fn enough(self, got: &[u8]) -> bool {
        match self {
            Dialect::StratumV2 => frame_len(got).is_some_and(|n| got.len() >= n),
            _ => got.contains(&b'\n'),
        }
    }

    /// Whether the answer is a pool's, and what showed it.
    pub fn judge(self, got: &[u8]) -> Result<String, String> {
        if got.is_empty() {
            return Err("no answer".into());
        }
        if got.starts_with(b"HTTP/") {
            return Err(format!("an HTTP server ({})", first_line(got)));
        }
        if got.first() == Some(&0x15) || got.starts_with(&[0x16, 3]) {
            return Err("answered with TLS (try over TLS)".into());
        }
        match self {
            Dialect::StratumV2 => judge_sv2(got),
            _ => {
                let mut last = Err("not JSON".to_string());
                for line in got.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                    let Ok(v) = serde_json::from_slice::<Value>(line) else {
                        return Err(format!("not JSON: {}", first_line(line)));
                    };
                    last = self.judge_json(&v);
                    if last.is_ok() {
                        return last;
                    }
                }
                last
            }
        }
    }

    fn judge_json(self, v: &Value) -> Result<String, String> {
        let result = v.get("result").filter(|r| !r.is_null());
        let method = v.get("method").and_then(Value::as_str);
        let error = v.get("error").filter(|e| !e.is_null()).map(|e| {
            e.get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| e.to_string())
        });
        match self {
            Dialect::StratumV1 => {
                if let Some(m) = method.filter(|m| m.starts_with("mining.")) {
                    return Ok(format!("pushed {m}"));
                }
                let r = result.and_then(Value::as_array);
                // [subscriptions, extranonce1 (hex), extranonce2_size]
                match r.map(|r| r.as_slice()) {
                    Some([_, e1, size, ..]) if e1.is_string() && size.is_u64() => Ok(format!(
                        "mining.subscribe answered: extranonce1 {}, extranonce2 size {}",
                        e1.as_str().unwrap_or_default(),
                        size
                    )),
                    _ => Err(error.map_or("JSON, but no subscription".into(), |e| {
                        format!("JSON-RPC error: {e}")
                    })),
                }
            }
            Dialect::CryptoNote => {
                let job = result.and_then(|r| r.get("job"));
                if let Some(j) =
                    job.filter(|j| j.get("blob").is_some() && j.get("target").is_some())
                {
                    let algo = j.get("algo").and_then(Value::as_str).unwrap_or("not given");
                    return Ok(format!("login answered with a job (algo {algo})"));
                }
                if method == Some("job") {
                    return Ok("pushed a job".into());
                }
                match error {
                    Some(e) if pool_refusal(&e) => {
                        Ok(format!("login refused as a pool refuses it: {e}"))
                    }
                    Some(e) => Err(format!("JSON-RPC error: {e}")),
                    None => Err("JSON, but no job".into()),
                }
            }
            Dialect::EthProxy => match result {
                Some(Value::Bool(true)) => Ok("eth_submitLogin accepted".into()),
                Some(Value::Array(w)) if w.len() >= 3 => Ok("answered with work".into()),
                _ => match error {
                    Some(e) if pool_refusal(&e) => {
                        Ok(format!("login refused as a pool refuses it: {e}"))
                    }
                    Some(e) => Err(format!("JSON-RPC error: {e}")),
                    None => Err("JSON, but no login".into()),
                },
            },
            Dialect::StratumV2 => Err("not Stratum V2".into()),
        }
    }
}

fn line(json: &[u8]) -> Vec<u8> {
    [json, b"\n"].concat()
}

/// An error a pool gives a login it does not accept (bad wallet, unknown worker).
fn pool_refusal(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    ["wallet", "address", "worker", "miner", "payment", "login"]
        .iter()
        .any(|w| m.contains(w))
}

fn first_line(b: &[u8]) -> String {
    let line = b.split(|c| *c == b'\n').next().unwrap_or_default();
    let s = String::from_utf8_lossy(&line[..line.len().min(60)]);
    s.trim_end().to_string()
}

/// Stratum V2 SetupConnection (mining protocol, version 2..2, no flags) for a placeholder
/// endpoint and device.
fn setup_connection() -> Vec<u8> {
    let mut p = vec![0u8];
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&2u16.to_le_bytes());
    p.extend_from_slice(&0u32.to_le_bytes());
    for s in ["probe", "", "", "minetap-probe", "1", ""] {
        p.push(s.len() as u8);
        p.extend_from_slice(s.as_bytes());
    }
    // The endpoint port sits after the host name.
    let host_end = 1 + 2 + 2 + 4 + 1 + "probe".len();
    p.splice(host_end..host_end, 0u16.to_le_bytes());
    let mut f = vec![0, 0, 0x00];
    f.extend_from_slice(&(p.len() as u32).to_le_bytes()[..3]);
    f.extend(p);
    f
}

/// The whole length of the Stratum V2 frame at the start of `b`, once its header is there.
fn frame_len(b: &[u8]) -> Option<usize> {
    let h = b.get(..6)?;
    Some(6 + (usize::from(h[3]) | usize::from(h[4]) << 8 | usize::from(h[5]) << 16))
}

fn judge_sv2(got: &[u8]) -> Result<String, String> {
    let n = frame_len(got).ok_or("a few bytes, not a Stratum V2 frame")?;
    if n > 1 << 16 || got[0] & 0x7f != 0 || got[1] != 0 {
        return Err("not a Stratum V2 frame".into());
    }
    match got[2] {
        0x01 => Ok("SetupConnection.Success".into()),
        0x02 => Ok("SetupConnection.Error (a Stratum V2 endpoint refusing the setup)".into()),
        t => Err(format!("a frame of type {t:#04x}, not a setup answer")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_answers_are_told_from_other_servers() {
        let sub = br#"{"id":1,"result":[[["mining.notify","ae6812eb4cd7735a302a8a9dd95cf71f"]],"08000002",4],"error":null}"#;
        assert!(Dialect::StratumV1
            .judge(&[&sub[..], b"\n"].concat())
            .is_ok());
        let login = br#"{"id":1,"jsonrpc":"2.0","error":null,"result":{"id":"1","job":{"blob":"0707","job_id":"1","target":"9bc42000","algo":"rx/0"},"status":"OK"}}"#;
        assert!(Dialect::CryptoNote
            .judge(&[&login[..], b"\n"].concat())
            .unwrap()
            .contains("rx/0"));
        let refused = br#"{"id":1,"jsonrpc":"2.0","error":{"code":-1,"message":"Invalid payment address provided"}}"#;
        assert!(Dialect::CryptoNote
            .judge(&[&refused[..], b"\n"].concat())
            .is_ok());
        let generic =
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#;
        assert!(Dialect::CryptoNote
            .judge(&[&generic[..], b"\n"].concat())
            .is_err());
        let http = b"HTTP/1.1 400 Bad Request\r\nServer: nginx\r\n\r\n";
        assert_eq!(
            Dialect::StratumV1.judge(http).unwrap_err(),
            "an HTTP server (HTTP/1.1 400 Bad Request)"
        );
        assert_eq!(Dialect::StratumV1.judge(b"").unwrap_err(), "no answer");
        let ok = [0u8, 0, 0x01, 6, 0, 0, 2, 0, 0, 0, 0, 0];
        assert!(Dialect::StratumV2.judge(&ok).is_ok());
        assert!(Dialect::StratumV2.enough(&ok) && !Dialect::StratumV2.enough(&ok[..7]));
    }

    #[test]
    fn the_stratum_v2_opening_is_a_whole_setup_connection_frame() {
        let f = setup_connection();
        assert_eq!(frame_len(&f), Some(f.len()));
        assert_eq!((f[0], f[1], f[2], f[6]), (0, 0, 0x00, 0));
    }
}

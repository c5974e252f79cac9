//! JSON-RPC envelopes, as mining protocols use them (1.0 and 2.0 alike): a request or
//! notification has `method` and `params`; a response has `id` with `result` or `error`.
//!
//! A cheap probe runs first: the line must look like one JSON object and nest no deeper than
//! the cap. Only then is it parsed, borrowing from the line; `params` and `result` stay raw
//! until a detector knows the method and wants them.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;

/// Why a line is not a JSON-RPC message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotRpc {
    /// Not a JSON object at all.
    NotJson,
    /// Nested deeper than the cap.
    TooDeep,
    /// JSON, but neither a request nor a response.
    NoEnvelope,
}

#[derive(Debug, Deserialize)]
pub struct Message<'a> {
    #[serde(borrow, default)]
    pub id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub method: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub params: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub result: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub error: Option<&'a RawValue>,
    /// EthProxy puts the worker name beside the envelope.
    #[serde(borrow, default)]
    pub worker: Option<Cow<'a, str>>,
}

impl Message<'_> {
    /// The id as text, for matching responses to requests (`null` ids are notifications).
    pub fn id_text(&self) -> Option<&str> {
        self.id.map(|r| r.get()).filter(|t| *t != "null")
    }

    /// A response: no method, and an id, a result or an error (`"result": null` reads as
    /// absent, so the id is what marks most answers).
    pub fn is_response(&self) -> bool {
        self.method.is_none()
            && (self.id_text().is_some() || self.result.is_some() || self.error.is_some())
    }

    /// Whether `error` is present and not `null`.
    pub fn has_error(&self) -> bool {
        self.error.is_some_and(|e| e.get() != "null")
    }
}

/// Cheap test: could this line be a JSON object no deeper than `max_depth`? Scans once,
/// skipping string contents.
pub fn probe(line: &[u8], max_depth: usize) -> Result<&[u8], NotRpc> {
    let t = line.trim_ascii();
    if t.first() != Some(&b'{') || t.last() != Some(&b'}') {
        return Err(NotRpc::NotJson);
    }
    let mut depth = 0usize;
    let mut i = 0;
    while let Some(&b) = t.get(i) {
        i += 1;
        match b {
            // A string: skipped to its closing quote, escapes and all, a search at a time.
            b'"' => loop {
                let Some(k) = t.get(i..).and_then(|r| memchr::memchr2(b'"', b'\\', r)) else {
                    return Ok(t);
                };
                i += k + 1;
                if t[i - 1] == b'"' {
                    break;
                }
                i += 1; // the escaped byte
            },
            b'{' | b'[' => {
                depth += 1;
                if depth > max_depth {
                    return Err(NotRpc::TooDeep);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(t)
}

/// Parses one line as a JSON-RPC message.
pub fn parse(line: &[u8], max_depth: usize) -> Result<Message<'_>, NotRpc> {
    let t = probe(line, max_depth)?;
    let m: Message<'_> = serde_json::from_slice(t).map_err(|_| NotRpc::NotJson)?;
    if m.method.is_none() && !m.is_response() {
        return Err(NotRpc::NoEnvelope);
    }
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_and_response() {
        let m = parse(br#"{"id":1,"method":"mining.subscribe","params":["a"]}"#, 8).unwrap();
        assert_eq!(m.method.as_deref(), Some("mining.subscribe"));
        assert_eq!(m.id_text(), Some("1"));
        let r = parse(br#"{"id":"7","result":true,"error":null}"#, 8).unwrap();
        assert!(r.is_response() && !r.has_error());
        assert_eq!(r.id_text(), Some("\"7\""));
    }

    #[test]
    fn hostile_lines_are_rejected_not_panicked_on() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(parse(deep.as_bytes(), 32).unwrap_err(), NotRpc::TooDeep);
        assert_eq!(parse(b"GET / HTTP/1.1", 32).unwrap_err(), NotRpc::NotJson);
        assert_eq!(
            parse(b"{\"method\":\"\xff\xfe\"}", 32).unwrap_err(),
            NotRpc::NotJson
        );
        assert_eq!(parse(b"{\"x\":1}", 32).unwrap_err(), NotRpc::NoEnvelope);
        assert_eq!(parse(b"{", 32).unwrap_err(), NotRpc::NotJson);
        // A brace inside a string does not count as nesting.
        assert!(parse(br#"{"method":"m","params":["{{{{{{{{{{"]}"#, 2).is_ok());
        // Nor after an escaped quote, and an escaped backslash ends its string's escape.
        assert!(probe(br#"{"a":"\"[[[[","b":"\\"}"#, 1).is_ok());
        assert_eq!(
            probe(br#"{"a":"\\",[[[[1]]]]}"#, 2).unwrap_err(),
            NotRpc::TooDeep
        );
        // A string left open at the end, or an escape as the last byte: not nesting.
        assert!(probe(br#"{"a":"[[[[}"#, 1).is_ok());
        assert!(probe(br#"{"[[[\}"#, 1).is_ok());
    }
}

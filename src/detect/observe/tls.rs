//! TLS: the ClientHello (SNI, ALPN, offered versions, a JA4-style fingerprint) and, when the
//! server sends it in the clear (TLS 1.2 and older), the names in its certificate. Nothing here
//! is mining by itself; the verdict stage checks the names against the pool rules.

use crate::detect::framing::records::{Held, Overflow, Progress};
use crate::detect::{Detail, Detector, Finding, Interest, Kind};
use crate::flow::Dir;
use crate::wire;
use sha2::{Digest, Sha256};

/// TLS, from its opening handshake record.
pub const ENTRY: crate::detect::Entry = crate::detect::Entry {
    name: "tls",
    applies: |s| s.tls(),
    make: |_, _| Box::new(TlsDetector::default()),
};

/// Handshake bytes buffered per direction.
const MAX_HANDSHAKE: usize = 64 * 1024;

/// What the handshake showed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsInfo {
    /// Server name indication.
    pub sni: Option<String>,
    /// ALPN protocols offered.
    pub alpn: Vec<String>,
    /// Highest version offered, e.g. `1.3`.
    pub version: Option<&'static str>,
    /// JA4-style fingerprint of the ClientHello.
    pub ja4: Option<String>,
    /// Subject common name and DNS alternative names of the server's certificate.
    pub cert_names: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Probing,
    /// The ClientHello was read; waiting for the server's certificate.
    HaveHello,
    Done,
    NotTls,
}

/// Reads a TLS handshake: the ClientHello and, in the clear, the certificate.
pub struct TlsDetector {
    state: State,
    client: Option<Dir>,
    held: [Held; 2],
    info: TlsInfo,
}

impl Default for TlsDetector {
    fn default() -> Self {
        TlsDetector {
            state: State::Probing,
            client: None,
            held: Default::default(),
            info: TlsInfo::default(),
        }
    }
}

fn be16(b: &[u8], o: usize) -> Option<usize> {
    wire::be16(b, o).map(usize::from)
}

fn be24(b: &[u8], o: usize) -> Option<usize> {
    wire::be24(b, o).map(|v| v as usize)
}

/// GREASE values (RFC 8701), left out of fingerprints.
pub fn grease(v: usize) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// The handshake messages carried by the TLS records at the start of `buf`; `None` while
/// incomplete, `Some(Err)` when this is not TLS.
fn handshake_bytes(buf: &[u8]) -> Option<Result<Vec<u8>, ()>> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 5 <= buf.len() {
        let (ctype, major) = (buf[off], buf[off + 1]);
        let len = be16(buf, off + 3)?;
        if major != 3 || len > 18_432 {
            return Some(Err(()));
        }
        if ctype != 22 {
            // Change cipher spec or application data: the clear handshake is over.
            return Some(Ok(out));
        }
        if off + 5 + len > buf.len() {
            break;
        }
        out.extend_from_slice(&buf[off + 5..off + 5 + len]);
        off += 5 + len;
    }
    if buf.len() >= 5 && (buf[0] != 22 || buf[1] != 3) {
        return Some(Err(()));
    }
    if out.is_empty() {
        None
    } else {
        Some(Ok(out))
    }
}

fn version_name(v: usize) -> Option<&'static str> {
    Some(match v {
        0x0304 => "1.3",
        0x0303 => "1.2",
        0x0302 => "1.1",
        0x0301 => "1.0",
        0x0300 => "ssl3",
        _ => return None,
    })
}

fn hash12(first: &[usize], then: &[usize]) -> String {
    if first.is_empty() && then.is_empty() {
        return "000000000000".into();
    }
    // The lists as JA4 hashes them: four hex digits a number, commas between, `_` between
    // the lists (the second only when it has something).
    let mut text = Vec::with_capacity(5 * (first.len() + then.len()) + 1);
    fn put(text: &mut Vec<u8>, list: &[usize]) {
        for (i, v) in list.iter().enumerate() {
            if i > 0 {
                text.push(b',');
            }
            text.extend((0..4).rev().map(|k| HEX[(v >> (4 * k)) & 0xf]));
        }
    }
    put(&mut text, first);
    if !then.is_empty() {
        text.push(b'_');
        put(&mut text, then);
    }
    let digest = Sha256::digest(&text);
    let mut out = String::with_capacity(12);
    for b in &digest[..6] {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

/// Lower-case hex digits.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Parses a ClientHello body into the info and a JA4-style fingerprint.
fn client_hello(b: &[u8], info: &mut TlsInfo) -> Option<()> {
    let legacy = be16(b, 0)?;
    let mut o = 34;
    o += 1 + *b.get(o)? as usize; // session id
    let cs_len = be16(b, o)?;
    let ciphers: Vec<usize> = (0..cs_len / 2)
        .filter_map(|i| be16(b, o + 2 + 2 * i))
        .filter(|c| !grease(*c))
        .collect();
    o += 2 + cs_len;
    o += 1 + *b.get(o)? as usize; // compression methods
    let mut exts = Vec::new();
    let mut sigs = Vec::new();
    let mut versions = Vec::new();
    if let Some(total) = be16(b, o) {
        let end = (o + 2 + total).min(b.len());
        let mut e = o + 2;
        while e + 4 <= end {
            let (t, l) = (be16(b, e)?, be16(b, e + 2)?);
            let d = b.get(e + 4..e + 4 + l)?;
            if !grease(t) {
                exts.push(t);
            }
            match t {
                // server_name list: type 0 (host_name), length, name
                0 if d.len() >= 5 && d[2] == 0 => {
                    let n = be16(d, 3)?;
                    let name = d.get(5..5 + n)?;
                    info.sni = Some(String::from_utf8_lossy(name).to_ascii_lowercase());
                }
                16 => {
                    let mut a = 2;
                    while a < d.len() && info.alpn.len() < 8 {
                        let n = d[a] as usize;
                        let p = d.get(a + 1..a + 1 + n)?;
                        info.alpn.push(String::from_utf8_lossy(p).into_owned());
                        a += 1 + n;
                    }
                }
                43 => {
                    versions = (0..(*d.first()? as usize) / 2)
                        .filter_map(|i| be16(d, 1 + 2 * i))
                        .filter(|v| !grease(*v))
                        .collect();
                }
                13 => {
                    sigs = (0..be16(d, 0)? / 2)
                        .filter_map(|i| be16(d, 2 + 2 * i))
                        .collect();
                }
                _ => {}
            }
            e += 4 + l;
        }
    }
    let best = versions.iter().copied().max().unwrap_or(legacy);
    info.version = version_name(best);
    info.ja4 = Some(ja4(info, best, &ciphers, &exts, &sigs));
    Some(())
}

/// The JA4-style fingerprint of a ClientHello: version, SNI or not, counts, first ALPN, then
/// hashes of the sorted ciphers and of the sorted extensions with the signature algorithms.
pub fn ja4(
    info: &TlsInfo,
    best: usize,
    ciphers: &[usize],
    exts: &[usize],
    sigs: &[usize],
) -> String {
    let ver = match best {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        _ => "00",
    };
    let alpn = match info.alpn.first().map(|a| a.as_bytes()) {
        Some([f, .., l]) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() => {
            format!("{}{}", *f as char, *l as char)
        }
        Some([f]) if f.is_ascii_alphanumeric() => format!("{}{}", *f as char, *f as char),
        Some(_) => "99".into(),
        None => "00".into(),
    };
    let a = format!(
        "t{ver}{}{:02}{:02}{alpn}",
        if info.sni.is_some() { 'd' } else { 'i' },
        ciphers.len().min(99),
        exts.len().min(99)
    );
    // Sorted as numbers, which is their order as fixed-width hex (they are 16-bit values).
    let mut cs = ciphers.to_vec();
    cs.sort_unstable();
    let mut ex: Vec<usize> = exts
        .iter()
        .copied()
        .filter(|e| *e != 0 && *e != 16)
        .collect();
    ex.sort_unstable();
    format!("{a}_{}_{}", hash12(&cs, &[]), hash12(&ex, sigs))
}

/// A DER element at `off`: (tag, content start, content end).
fn der(b: &[u8], off: usize) -> Option<(u8, usize, usize)> {
    let tag = *b.get(off)?;
    let l0 = *b.get(off + 1)? as usize;
    let (len, start) = if l0 < 0x80 {
        (l0, off + 2)
    } else {
        let n = l0 & 0x7f;
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | *b.get(off + 2 + i)? as usize;
        }
        (len, off + 2 + n)
    };
    let end = start.checked_add(len)?;
    (end <= b.len()).then_some((tag, start, end))
}

/// The children of a constructed DER element's content.
fn children(b: &[u8], start: usize, end: usize) -> Vec<(u8, usize, usize)> {
    let mut out = Vec::new();
    let mut o = start;
    while o < end && out.len() < 64 {
        let Some(c) = der(&b[..end], o) else { break };
        out.push(c);
        o = c.2;
    }
    out
}

const OID_CN: &[u8] = &[0x55, 0x04, 0x03];
const OID_SAN: &[u8] = &[0x55, 0x1d, 0x11];

/// Subject CN and SAN dNSNames of an X.509 certificate.
fn cert_names(cert: &[u8]) -> Vec<String> {
    let mut names = Vec::new();
    let Some((0x30, s, e)) = der(cert, 0) else {
        return names;
    };
    let Some(&(0x30, ts, te)) = children(cert, s, e).first() else {
        return names;
    };
    let tbs = children(cert, ts, te);
    // Skip the optional [0] version: serial, signature, issuer, validity, subject, spki, ...
    let base = usize::from(tbs.first().is_some_and(|t| t.0 == 0xa0));
    if let Some(&(0x30, ss, se)) = tbs.get(base + 4) {
        for (_, rs, re) in children(cert, ss, se) {
            for (_, as_, ae) in children(cert, rs, re) {
                let attr = children(cert, as_, ae);
                if let [(0x06, os, oe), (_, vs, ve), ..] = attr[..] {
                    if &cert[os..oe] == OID_CN {
                        names.push(String::from_utf8_lossy(&cert[vs..ve]).to_ascii_lowercase());
                    }
                }
            }
        }
    }
    for &(tag, xs, xe) in &tbs {
        if tag != 0xa3 {
            continue;
        }
        let Some(&(0x30, ls, le)) = children(cert, xs, xe).first() else {
            continue;
        };
        for (_, es, ee) in children(cert, ls, le) {
            let ext = children(cert, es, ee);
            let (Some(&(0x06, os, oe)), Some(&(0x04, vs, ve))) = (ext.first(), ext.last()) else {
                continue;
            };
            if &cert[os..oe] != OID_SAN {
                continue;
            }
            if let Some((0x30, gs, ge)) = der(&cert[..ve], vs) {
                for (t, ns, ne) in children(cert, gs, ge) {
                    if t == 0x82 && names.len() < 32 {
                        names.push(String::from_utf8_lossy(&cert[ns..ne]).to_ascii_lowercase());
                    }
                }
            }
        }
    }
    names.dedup();
    names
}

/// Keep looking: the handshake so far is read again from its start with more bytes.
const MORE: Progress = Progress::Incomplete {
    consumed: 0,
    needed: 0,
};

impl TlsDetector {
    /// The client's handshake so far: a ClientHello, or not TLS.
    fn client_side(&mut self, dir: Dir, b: &[u8]) -> Progress {
        let hs = match handshake_bytes(b) {
            None => return MORE,
            Some(Err(())) => {
                self.state = State::NotTls;
                return Progress::Stop;
            }
            Some(Ok(hs)) => hs,
        };
        if hs.first() != Some(&1) {
            self.state = State::NotTls;
            return Progress::Stop;
        }
        let Some(len) = be24(&hs, 1) else {
            return MORE;
        };
        let Some(body) = hs.get(4..4 + len) else {
            return MORE;
        };
        if client_hello(body, &mut self.info).is_some() {
            self.client = Some(dir);
            self.state = State::HaveHello;
        } else {
            self.state = State::NotTls;
        }
        Progress::Stop
    }

    /// The server's handshake so far: its certificate (TLS 1.2 and older), or the sign that
    /// it is encrypted (TLS 1.3).
    fn server_side(&mut self, b: &[u8]) -> Progress {
        let hs = match handshake_bytes(b) {
            None => return MORE,
            Some(Err(())) => {
                self.state = State::Done;
                return Progress::Stop;
            }
            Some(Ok(hs)) => hs,
        };
        let mut o = 0;
        while let (Some(&t), Some(len)) = (hs.get(o), be24(&hs, o + 1)) {
            let Some(body) = hs.get(o + 4..o + 4 + len) else {
                return MORE;
            };
            match t {
                // ServerHello choosing TLS 1.3: the certificate is encrypted.
                2 if body
                    .windows(6)
                    .any(|w| w == [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]) =>
                {
                    self.state = State::Done;
                    return Progress::Stop;
                }
                11 => {
                    if let (Some(_), Some(first)) = (be24(body, 0), be24(body, 3)) {
                        if let Some(cert) = body.get(6..6 + first) {
                            self.info.cert_names = cert_names(cert);
                        }
                    }
                    self.state = State::Done;
                    return Progress::Stop;
                }
                _ => {}
            }
            o += 4 + len;
        }
        MORE
    }
}

impl Detector for TlsDetector {
    fn name(&self) -> &'static str {
        "tls"
    }

    fn on_data(&mut self, dir: Dir, data: &[u8], _ts_ns: u64) {
        match self.state {
            State::Done | State::NotTls => {}
            State::Probing => {
                let mut held = std::mem::take(&mut self.held[dir.index()]);
                if held.feed(data, MAX_HANDSHAKE, |b| self.client_side(dir, b)) == Err(Overflow) {
                    self.state = State::NotTls;
                }
                self.held[dir.index()] = held;
            }
            State::HaveHello if Some(dir) != self.client => {
                let mut held = std::mem::take(&mut self.held[dir.index()]);
                if held.feed(data, MAX_HANDSHAKE, |b| self.server_side(b)) == Err(Overflow) {
                    self.state = State::Done;
                }
                self.held[dir.index()] = held;
            }
            State::HaveHello => {}
        }
    }

    fn on_gap(&mut self, _dir: Dir) {
        self.state = match self.state {
            State::HaveHello => State::Done,
            State::Probing => State::NotTls,
            s => s,
        };
    }

    fn interest(&self) -> Interest {
        match self.state {
            State::Probing | State::HaveHello => Interest::Probing,
            State::Done => Interest::Done,
            State::NotTls => Interest::NotThis,
        }
    }

    fn finding(&self) -> Option<Finding> {
        self.client?;
        let mut f = Finding::new("tls", "tls");
        f.kind = Kind::Observation;
        f.miner_sends = self.client;
        f.detail = Detail::Tls(self.info.clone());
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use synth::tls;

    #[test]
    fn client_hello_sni_alpn_and_fingerprint() {
        let mut d = TlsDetector::default();
        let hello = tls::client_hello(Some("xmr-eu1.nanopool.org"), &["h2", "http/1.1"]);
        // Delivered in two pieces.
        d.on_data(Dir::Fwd, &hello[..30], 0);
        assert_eq!(d.interest(), Interest::Probing);
        d.on_data(Dir::Fwd, &hello[30..], 0);
        let f = d.finding().unwrap();
        let t = f.tls().unwrap().clone();
        assert_eq!(t.sni.as_deref(), Some("xmr-eu1.nanopool.org"));
        assert_eq!(t.alpn, ["h2", "http/1.1"]);
        assert_eq!(t.version, Some("1.3"));
        let ja4 = t.ja4.unwrap();
        // (Its hashes as the fingerprint's first writing, with one string per number, gave.)
        assert_eq!(ja4, "t13d0305h2_40b44b994229_fbabbea27ee8");
        assert_eq!(f.miner_sends, Some(Dir::Fwd));
    }

    #[test]
    fn tls12_certificate_names() {
        let mut d = TlsDetector::default();
        d.on_data(Dir::Fwd, &tls::client_hello(None, &[]), 0);
        d.on_data(
            Dir::Rev,
            &tls::server_hello_certificate(
                "pool.example.net",
                &["pool.example.net", "*.pool.example.net"],
            ),
            0,
        );
        assert_eq!(d.interest(), Interest::Done);
        let t = d.finding().unwrap().tls().unwrap().clone();
        assert_eq!(t.sni, None);
        assert_eq!(t.cert_names, ["pool.example.net", "*.pool.example.net"]);
        assert!(t.ja4.unwrap().starts_with("t13i"));
    }

    #[test]
    fn not_tls_and_garbage() {
        let mut d = TlsDetector::default();
        d.on_data(Dir::Fwd, b"{\"id\":1}\n", 0);
        assert_eq!(d.interest(), Interest::NotThis);
        for n in 0..200usize {
            let mut d = TlsDetector::default();
            let mut junk = tls::client_hello(Some("a.example"), &["h2"]);
            junk.truncate(n.min(junk.len()));
            for (i, b) in junk.iter_mut().enumerate().skip(5) {
                *b ^= (i * n) as u8;
            }
            d.on_data(Dir::Fwd, &junk, 0);
            let _ = d.finding();
            assert!(cert_names(&junk).len() < 64);
        }
    }
}

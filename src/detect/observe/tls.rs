//! TLS: the ClientHello (SNI, ALPN, offered versions, a JA4-style fingerprint) and, when the
//! server sends it in the clear (TLS 1.2 and older), the names in its certificate. Nothing here
//! is mining by itself; the verdict stage checks the names against the pool rules.

use super::x509::cert_names;
use crate::detect::framing::records::{Held, Overflow, Progress};
use crate::detect::{Detail, Detector, Finding, Interest, Kind};
use crate::flow::Dir;
use crate::wire;
use sha2::{Digest, Sha256};
use std::borrow::Cow;

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
pub fn grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// How many codes of one kind a hello may offer before their list moves to the heap.
const INLINE: usize = 64;

/// A list of 16-bit codes from a ClientHello (cipher suites, extensions, signature
/// algorithms, versions): kept on the stack unless a hello offers more than [`INLINE`] of one
/// kind, so that reading a hello allocates nothing but the names it keeps.
struct Codes {
    len: usize,
    inline: [u16; INLINE],
    spilled: Vec<u16>,
}

impl Codes {
    fn new() -> Self {
        Codes {
            len: 0,
            inline: [0; INLINE],
            spilled: Vec::new(),
        }
    }

    fn push(&mut self, v: u16) {
        match self.inline.get_mut(self.len) {
            Some(slot) => *slot = v,
            None => {
                if self.spilled.is_empty() {
                    self.spilled.extend_from_slice(&self.inline);
                }
                self.spilled.push(v);
            }
        }
        self.len += 1;
    }

    fn as_mut_slice(&mut self) -> &mut [u16] {
        match self.inline.get_mut(..self.len) {
            Some(s) => s,
            None => &mut self.spilled,
        }
    }

    fn as_slice(&self) -> &[u16] {
        self.inline.get(..self.len).unwrap_or(&self.spilled)
    }

    /// The codes sorted as numbers (their order as fixed-width hex, as JA4 sorts them).
    fn sorted(mut self) -> Self {
        self.as_mut_slice().sort_unstable();
        self
    }
}

impl<'a> FromIterator<&'a u16> for Codes {
    fn from_iter<T: IntoIterator<Item = &'a u16>>(iter: T) -> Self {
        let mut c = Codes::new();
        iter.into_iter().for_each(|v| c.push(*v));
        c
    }
}

/// The 16-bit codes at `from` in `b`, `n` of them (fewer when `b` ends first), GREASE left out
/// when `drop_grease`.
fn codes(b: &[u8], from: usize, n: usize, drop_grease: bool) -> Codes {
    let mut c = Codes::new();
    let have = b.get(from..).map_or(0, |r| r.len() / 2);
    for i in 0..n.min(have) {
        match wire::be16(b, from + 2 * i) {
            Some(v) if !(drop_grease && grease(v)) => c.push(v),
            _ => {}
        }
    }
    c
}

/// What the TLS records at the start of one direction's bytes hold.
enum Records<'a> {
    /// Not TLS: a bad record header, or a first record that is not a handshake.
    NotTls,
    /// No complete handshake record yet: worth another look once this many bytes are there.
    Incomplete(usize),
    /// The handshake bytes of the complete records so far (borrowed when they are one record),
    /// and the byte count at which the next record would be complete; `None` once a record of
    /// another type shows that the handshake in the clear is over.
    Handshake(Cow<'a, [u8]>, Option<usize>),
}

/// The handshake messages carried by the TLS records at the start of `buf`.
fn handshake(buf: &[u8]) -> Records<'_> {
    let mut out: Cow<'_, [u8]> = Cow::Borrowed(&[]);
    let mut off = 0;
    let next = loop {
        let Some(&[ctype, major, _, l0, l1]) = buf.get(off..off + 5) else {
            break Some(off + 5);
        };
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if major != 3 || len > 18_432 || (off == 0 && ctype != 22) {
            return Records::NotTls;
        }
        if ctype != 22 {
            // Change cipher spec or application data: the clear handshake is over.
            break None;
        }
        let Some(body) = buf.get(off + 5..off + 5 + len) else {
            break Some(off + 5 + len);
        };
        if off == 0 {
            out = Cow::Borrowed(body);
        } else {
            out.to_mut().extend_from_slice(body);
        }
        off += 5 + len;
    };
    match next {
        Some(n) if out.is_empty() => Records::Incomplete(n),
        None if out.is_empty() => Records::NotTls,
        _ => Records::Handshake(out, next),
    }
}

fn version_name(v: u16) -> Option<&'static str> {
    Some(match v {
        0x0304 => "1.3",
        0x0303 => "1.2",
        0x0302 => "1.1",
        0x0301 => "1.0",
        0x0300 => "ssl3",
        _ => return None,
    })
}

/// Lower-case hex digits.
const HEX: &[u8; 16] = b"0123456789abcdef";

/// Appends JA4's 12-digit hash of one or two lists: each code as four hex digits, commas
/// between, `_` between the lists (the second only when it has something); twelve zeros when
/// both are empty.
fn hash12(out: &mut String, first: &[u16], then: &[u16]) {
    if first.is_empty() && then.is_empty() {
        out.push_str("000000000000");
        return;
    }
    fn put(h: &mut Sha256, list: &[u16]) {
        for (i, v) in list.iter().enumerate() {
            let mut item = [b','; 5];
            for (k, d) in item[1..].iter_mut().enumerate() {
                *d = HEX[usize::from(v >> (12 - 4 * k)) & 0xf];
            }
            h.update(if i == 0 { &item[1..] } else { &item[..] });
        }
    }
    let mut h = Sha256::new();
    put(&mut h, first);
    if !then.is_empty() {
        h.update(b"_");
        put(&mut h, then);
    }
    for b in &h.finalize()[..6] {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

/// Parses a ClientHello body into the info and a JA4-style fingerprint.
fn client_hello(b: &[u8], info: &mut TlsInfo) -> Option<()> {
    let legacy = wire::be16(b, 0)?;
    let mut o = 34;
    o += 1 + *b.get(o)? as usize; // session id
    let cs_len = be16(b, o)?;
    let ciphers = codes(b, o + 2, cs_len / 2, true);
    o += 2 + cs_len;
    o += 1 + *b.get(o)? as usize; // compression methods
    let (mut exts, mut sigs, mut versions) = (Codes::new(), Codes::new(), Codes::new());
    if let Some(total) = be16(b, o) {
        let end = (o + 2 + total).min(b.len());
        let mut e = o + 2;
        while e + 4 <= end {
            let (t, l) = (wire::be16(b, e)?, be16(b, e + 2)?);
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
                43 => versions = codes(d, 1, usize::from(*d.first()?) / 2, true),
                13 => sigs = codes(d, 2, be16(d, 0)? / 2, false),
                _ => {}
            }
            e += 4 + l;
        }
    }
    let best = versions.as_slice().iter().copied().max().unwrap_or(legacy);
    info.version = version_name(best);
    info.ja4 = Some(ja4(
        info,
        best,
        ciphers.as_slice(),
        exts.as_slice(),
        sigs.as_slice(),
    ));
    Some(())
}

/// The JA4-style fingerprint of a ClientHello: version, SNI or not, counts, first ALPN, then
/// hashes of the sorted ciphers and of the sorted extensions with the signature algorithms.
pub fn ja4(info: &TlsInfo, best: u16, ciphers: &[u16], exts: &[u16], sigs: &[u16]) -> String {
    let ver = match best {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        _ => "00",
    };
    let mut out = String::with_capacity(36);
    out.push('t');
    out.push_str(ver);
    out.push(if info.sni.is_some() { 'd' } else { 'i' });
    for n in [ciphers.len(), exts.len()] {
        let n = n.min(99) as u8;
        out.push(char::from(b'0' + n / 10));
        out.push(char::from(b'0' + n % 10));
    }
    match info.alpn.first().map(|a| a.as_bytes()) {
        Some(&[f, .., l]) if f.is_ascii_alphanumeric() && l.is_ascii_alphanumeric() => {
            out.push(char::from(f));
            out.push(char::from(l));
        }
        Some(&[f]) if f.is_ascii_alphanumeric() => {
            out.push(char::from(f));
            out.push(char::from(f));
        }
        Some(_) => out.push_str("99"),
        None => out.push_str("00"),
    }
    out.push('_');
    hash12(
        &mut out,
        ciphers.iter().collect::<Codes>().sorted().as_slice(),
        &[],
    );
    out.push('_');
    let exts = exts
        .iter()
        .filter(|e| **e != 0 && **e != 16)
        .collect::<Codes>();
    hash12(&mut out, exts.sorted().as_slice(), sigs);
    out
}

/// Keep looking: the handshake so far is read again from its start once `needed` bytes are
/// there.
fn more(needed: usize) -> Progress {
    Progress::Incomplete {
        consumed: 0,
        needed,
    }
}

impl TlsDetector {
    /// The client's handshake so far: a ClientHello, or not TLS.
    fn client_side(&mut self, dir: Dir, b: &[u8]) -> Progress {
        let (hs, next) = match handshake(b) {
            Records::NotTls => return self.stop(State::NotTls),
            Records::Incomplete(n) => return more(n),
            Records::Handshake(hs, next) => (hs, next),
        };
        if hs.first() != Some(&1) {
            return self.stop(State::NotTls);
        }
        let Some(body) = be24(&hs, 1).and_then(|len| hs.get(4..4 + len)) else {
            return next.map_or_else(|| self.stop(State::NotTls), more);
        };
        if client_hello(body, &mut self.info).is_some() {
            self.client = Some(dir);
            self.stop(State::HaveHello)
        } else {
            self.stop(State::NotTls)
        }
    }

    /// The server's handshake so far: its certificate (TLS 1.2 and older), or the sign that
    /// it is encrypted (TLS 1.3).
    fn server_side(&mut self, b: &[u8]) -> Progress {
        let (hs, next) = match handshake(b) {
            Records::NotTls => return self.stop(State::Done),
            Records::Incomplete(n) => return more(n),
            Records::Handshake(hs, next) => (hs, next),
        };
        let mut o = 0;
        while let (Some(&t), Some(len)) = (hs.get(o), be24(&hs, o + 1)) {
            let Some(body) = hs.get(o + 4..o + 4 + len) else {
                break;
            };
            match t {
                // ServerHello choosing TLS 1.3: the certificate is encrypted.
                2 if body
                    .windows(6)
                    .any(|w| w == [0x00, 0x2b, 0x00, 0x02, 0x03, 0x04]) =>
                {
                    return self.stop(State::Done);
                }
                11 => {
                    if let (Some(_), Some(first)) = (be24(body, 0), be24(body, 3)) {
                        if let Some(cert) = body.get(6..6 + first) {
                            self.info.cert_names = cert_names(cert);
                        }
                    }
                    return self.stop(State::Done);
                }
                _ => {}
            }
            o += 4 + len;
        }
        next.map_or_else(|| self.stop(State::Done), more)
    }

    /// Moves to `state` and wants no more of this direction.
    fn stop(&mut self, state: State) -> Progress {
        self.state = state;
        Progress::Stop
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

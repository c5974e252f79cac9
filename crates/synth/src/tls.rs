//! TLS handshakes as a client and a server send them: a ClientHello with SNI and ALPN, and a
//! TLS 1.2 ServerHello with a (self-made, unsigned) certificate naming the server.

fn u16b(v: usize) -> [u8; 2] {
    (v as u16).to_be_bytes()
}

fn u24b(v: usize) -> [u8; 3] {
    let b = (v as u32).to_be_bytes();
    [b[1], b[2], b[3]]
}

fn record(handshake: &[u8]) -> Vec<u8> {
    let mut r = vec![22, 3, 1];
    r.extend_from_slice(&u16b(handshake.len()));
    r.extend_from_slice(handshake);
    r
}

fn ext(t: u16, data: &[u8]) -> Vec<u8> {
    let mut e = t.to_be_bytes().to_vec();
    e.extend_from_slice(&u16b(data.len()));
    e.extend_from_slice(data);
    e
}

/// A ClientHello record offering TLS 1.3 and 1.2.
pub fn client_hello(sni: Option<&str>, alpn: &[&str]) -> Vec<u8> {
    let mut body = vec![3, 3];
    body.extend_from_slice(&[0x5a; 32]); // random
    body.push(32);
    body.extend_from_slice(&[0x33; 32]); // session id
    let ciphers: [u16; 4] = [0x0a0a, 0x1301, 0x1302, 0xc02f]; // first is GREASE
    body.extend_from_slice(&u16b(ciphers.len() * 2));
    for c in ciphers {
        body.extend_from_slice(&c.to_be_bytes());
    }
    body.extend_from_slice(&[1, 0]); // compression: null
    let mut exts = Vec::new();
    if let Some(name) = sni {
        let mut d = u16b(name.len() + 3).to_vec();
        d.push(0);
        d.extend_from_slice(&u16b(name.len()));
        d.extend_from_slice(name.as_bytes());
        exts.extend(ext(0, &d));
    }
    if !alpn.is_empty() {
        let mut list = Vec::new();
        for a in alpn {
            list.push(a.len() as u8);
            list.extend_from_slice(a.as_bytes());
        }
        let mut d = u16b(list.len()).to_vec();
        d.extend(list);
        exts.extend(ext(16, &d));
    }
    exts.extend(ext(43, &[4, 3, 4, 3, 3])); // supported_versions: 1.3, 1.2
    exts.extend(ext(13, &[0, 4, 4, 3, 8, 4])); // signature_algorithms
    exts.extend(ext(10, &[0, 2, 0, 29])); // supported_groups: x25519
    body.extend_from_slice(&u16b(exts.len()));
    body.extend(exts);
    let mut hs = vec![1];
    hs.extend_from_slice(&u24b(body.len()));
    hs.extend(body);
    record(&hs)
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    let n = content.len();
    if n < 0x80 {
        v.push(n as u8);
    } else if n < 0x100 {
        v.extend_from_slice(&[0x81, n as u8]);
    } else {
        v.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
    }
    v.extend_from_slice(content);
    v
}

/// A minimal X.509 certificate: subject CN `cn`, subject alternative DNS names `sans`.
pub fn certificate(cn: &str, sans: &[&str]) -> Vec<u8> {
    let oid_cn = der(0x06, &[0x55, 0x04, 0x03]);
    let name = |s: &str| {
        let atv = der(0x30, &[oid_cn.clone(), der(0x0c, s.as_bytes())].concat());
        der(0x30, &der(0x31, &atv))
    };
    let alg = der(
        0x30,
        &[der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])].concat(),
    );
    let validity = der(
        0x30,
        &[der(0x17, b"260101000000Z"), der(0x17, b"270101000000Z")].concat(),
    );
    let spki = der(
        0x30,
        &[alg.clone(), der(0x03, &[0, 4, 1, 2, 3, 4])].concat(),
    );
    let general: Vec<u8> = sans.iter().flat_map(|s| der(0x82, s.as_bytes())).collect();
    let san = der(
        0x30,
        &[
            der(0x06, &[0x55, 0x1d, 0x11]),
            der(0x04, &der(0x30, &general)),
        ]
        .concat(),
    );
    let exts = der(0xa3, &der(0x30, &san));
    let tbs = der(
        0x30,
        &[
            der(0xa0, &der(0x02, &[2])),
            der(0x02, &[0x01, 0x23]),
            alg.clone(),
            name("Example Issuing CA"),
            validity,
            name(cn),
            spki,
            exts,
        ]
        .concat(),
    );
    der(0x30, &[tbs, alg, der(0x03, &[0, 0xde, 0xad])].concat())
}

/// A TLS 1.2 ServerHello and Certificate, as one record.
pub fn server_hello_certificate(cn: &str, sans: &[&str]) -> Vec<u8> {
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[0x7e; 32]);
    sh.push(0);
    sh.extend_from_slice(&[0xc0, 0x2f, 0]);
    sh.extend_from_slice(&u16b(0));
    let mut hs = vec![2];
    hs.extend_from_slice(&u24b(sh.len()));
    hs.extend(sh);
    let cert = certificate(cn, sans);
    let mut list = u24b(cert.len()).to_vec();
    list.extend(cert);
    let mut body = u24b(list.len()).to_vec();
    body.extend(list);
    hs.push(11);
    hs.extend_from_slice(&u24b(body.len()));
    hs.extend(body);
    record(&hs)
}

/// Application data records of `len` opaque bytes.
pub fn app_data(len: usize, seed: u8) -> Vec<u8> {
    let mut r = vec![23, 3, 3];
    r.extend_from_slice(&u16b(len));
    r.extend((0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed));
    r
}

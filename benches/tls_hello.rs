//! Why the ClientHello is read by minetap's own parser and not by `tls-parser`: both read the
//! same generated ClientHello (SNI, two ALPN values, the usual extensions) to the same fields
//! and the same JA4-style fingerprint (checked before timing): minetap's TLS detector, and
//! tls-parser's record and extension parsers feeding minetap's fingerprint function.
//! `cargo bench --bench tls_hello`.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use minetap::detect::observe::tls::{grease, ja4, TlsDetector, TlsInfo};
use minetap::detect::Detector;
use minetap::flow::Dir;
use tls_parser::{parse_tls_extensions, parse_tls_plaintext, TlsExtension, TlsExtensionType};
use tls_parser::{TlsMessage, TlsMessageHandshake};

/// The same job done with tls-parser: the record, the hello, its extensions, the same fields
/// into a `TlsInfo`, and the same fingerprint (minetap's `ja4`).
fn with_tls_parser(hello: &[u8]) -> Option<TlsInfo> {
    let (_, rec) = parse_tls_plaintext(hello).ok()?;
    let Some(TlsMessage::Handshake(TlsMessageHandshake::ClientHello(ch))) = rec.msg.first() else {
        return None;
    };
    let ciphers: Vec<u16> = ch
        .ciphers
        .iter()
        .map(|c| c.0)
        .filter(|c| !grease(*c))
        .collect();
    let (_, exts) = parse_tls_extensions(ch.ext?).ok()?;
    let mut info = TlsInfo::default();
    let (mut types, mut versions, mut sigs) = (Vec::new(), Vec::new(), Vec::new());
    for e in &exts {
        let t = u16::from(TlsExtensionType::from(e));
        if !grease(t) {
            types.push(t);
        }
        match e {
            TlsExtension::SNI(names) => {
                info.sni = names
                    .first()
                    .map(|(_, n)| String::from_utf8_lossy(n).to_ascii_lowercase())
            }
            TlsExtension::ALPN(a) => {
                info.alpn = a
                    .iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect()
            }
            TlsExtension::SupportedVersions(v) => {
                versions = v.iter().map(|v| v.0).filter(|v| !grease(*v)).collect()
            }
            TlsExtension::SignatureAlgorithms(s) => sigs = s.to_vec(),
            _ => {}
        }
    }
    let best = versions.iter().copied().max().unwrap_or(ch.version.0);
    info.ja4 = Some(ja4(&info, best, &ciphers, &types, &sigs));
    Some(info)
}

fn hello(c: &mut Criterion) {
    let hello = synth::tls::client_hello(Some("xmr-eu1.nanopool.org"), &["h2", "http/1.1"]);
    let mut d = TlsDetector::default();
    d.on_data(Dir::Fwd, &hello, 0);
    let ours = d.finding().and_then(|f| f.tls().cloned());
    let theirs = with_tls_parser(&hello);
    assert_eq!(
        ours.as_ref().map(|t| (&t.sni, &t.alpn, &t.ja4)),
        theirs.as_ref().map(|t| (&t.sni, &t.alpn, &t.ja4)),
        "both read the same hello to the same fingerprint"
    );
    let mut g = c.benchmark_group("tls_client_hello");
    g.throughput(Throughput::Elements(1));
    g.bench_function("minetap_detector_with_ja4", |b| {
        b.iter(|| {
            let mut d = TlsDetector::default();
            d.on_data(Dir::Fwd, black_box(&hello), 0);
            black_box(d.finding().is_some())
        })
    });
    g.bench_function("tls_parser_with_ja4", |b| {
        b.iter(|| black_box(with_tls_parser(black_box(&hello)).is_some()))
    });
    g.finish();
}

criterion_group!(benches, hello);
criterion_main!(benches);

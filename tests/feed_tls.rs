//! The feed over HTTPS to a platform with its own CA that asks for a bearer token and a client
//! certificate: delivered with all three; refused (and kept in the spool, with the reason said)
//! without the token, without the client certificate, or when the platform's certificate does
//! not verify against the CA given. The token appears in no message.

mod common;

use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

const TOKEN: &str = "s3cr3t-t0ken-4-platform";

struct Pki {
    dir: tempfile::TempDir,
    server: Arc<rustls::ServerConfig>,
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both signed by it.
fn pki() -> Pki {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "platform test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let srv_key = rcgen::KeyPair::generate().unwrap();
    let srv = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&srv_key, &ca, &ca_key)
        .unwrap();
    let cli_key = rcgen::KeyPair::generate().unwrap();
    let cli = rcgen::CertificateParams::new(vec!["sensor-7".to_string()])
        .unwrap()
        .signed_by(&cli_key, &ca, &ca_key)
        .unwrap();
    let w = |n: &str, t: String| std::fs::write(dir.path().join(n), t).unwrap();
    w("ca.pem", ca.pem());
    w("client.pem", cli.pem());
    w("client.key", cli_key.serialize_pem());
    w("token", format!("{TOKEN}\n"));
    // Another CA, which did not sign the server's certificate.
    let other_key = rcgen::KeyPair::generate().unwrap();
    let other = rcgen::CertificateParams::new(Vec::<String>::new())
        .unwrap()
        .self_signed(&other_key)
        .unwrap();
    w("other-ca.pem", other.pem());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .unwrap();
    let key = rustls::pki_types::PrivateKeyDer::try_from(srv_key.serialize_der()).unwrap();
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![srv.der().clone()], key)
        .unwrap();
    Pki {
        dir,
        server: Arc::new(server),
    }
}

/// The platform: HTTPS, a client certificate required by TLS, the token by HTTP (401 without).
fn platform(cfg: Arc<rustls::ServerConfig>, got: Arc<Mutex<Vec<String>>>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for c in l.incoming().flatten() {
            let Ok(conn) = rustls::ServerConnection::new(cfg.clone()) else {
                continue;
            };
            let mut s = rustls::StreamOwned::new(conn, c);
            let mut r = BufReader::new(&mut s);
            let (mut len, mut auth) = (0usize, String::new());
            let mut line = String::new();
            while r.read_line(&mut line).unwrap_or(0) > 0 && line != "\r\n" {
                let l = line.to_ascii_lowercase();
                if let Some(v) = l.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if line.to_ascii_lowercase().starts_with("authorization:") {
                    auth = line["authorization:".len()..].trim().to_string();
                }
                line.clear();
            }
            let mut body = vec![0u8; len];
            if r.read_exact(&mut body).is_err() {
                continue;
            }
            let answer: &[u8] = if auth == format!("Bearer {TOKEN}") {
                got.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into());
                b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            } else {
                b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            };
            let _ = s.write_all(answer);
            let _ = s.flush();
        }
    });
    port
}

#[test]
fn the_feed_needs_the_token_the_client_certificate_and_a_platform_that_verifies() {
    let p = pki();
    let got = Arc::new(Mutex::new(Vec::new()));
    let port = platform(p.server.clone(), got.clone());
    let url = format!("https://127.0.0.1:{port}/ingest");
    let f = |n: &str| p.dir.path().join(n).to_str().unwrap().to_string();
    let spool = p.dir.path().join("spool");
    // A run that cannot reach the platform leaves its batches in the spool.
    let out = scan_captures(
        &[
            "--sensor-id",
            "tap-7",
            "--feed-url",
            "http://127.0.0.1:9/",
            "--feed-spool",
            spool.to_str().unwrap(),
            "--feed-drain-secs",
            "0",
        ],
        &["stratum-v1.pcap"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let send = |extra: &[&str]| {
        let mut a = vec![
            "feed",
            "send",
            "--spool",
            spool.to_str().unwrap(),
            "--url",
            &url,
            "--drain-secs",
            "1",
        ];
        a.extend_from_slice(extra);
        run(&a)
    };
    let (ca, other, cert, key, token) = (
        f("ca.pem"),
        f("other-ca.pem"),
        f("client.pem"),
        f("client.key"),
        f("token"),
    );
    // Without the token: the platform answers 401; the batch stays.
    let out = send(&[
        "--feed-ca",
        &ca,
        "--feed-client-cert",
        &cert,
        "--feed-client-key",
        &key,
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(stderr(&out).contains("401"), "{}", stderr(&out));
    // A CA that did not sign the platform's certificate: refused, and the reason is named.
    let out = send(&[
        "--feed-ca",
        &other,
        "--feed-client-cert",
        &cert,
        "--feed-client-key",
        &key,
        "--feed-token-file",
        &token,
    ]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        stderr(&out).to_ascii_lowercase().contains("certificate"),
        "{}",
        stderr(&out)
    );
    // Without the client certificate: the platform's TLS refuses the connection.
    let out = send(&["--feed-ca", &ca, "--feed-token-file", &token]);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(got.lock().unwrap().is_empty());
    // All three: delivered.
    let out = send(&[
        "--feed-ca",
        &ca,
        "--feed-client-cert",
        &cert,
        "--feed-client-key",
        &key,
        "--feed-token-file",
        &token,
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bodies = got.lock().unwrap().clone();
    assert_eq!(bodies.len(), 1);
    assert!(bodies[0].contains("\"stratum-v1\""));
    // The token is never printed.
    assert!(!stderr(&out).contains(TOKEN) && !String::from_utf8_lossy(&out.stdout).contains(TOKEN));
    // A certificate without its key is a usage error naming the pairing.
    let out = send(&["--feed-client-cert", &cert]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--feed-client-cert and --feed-client-key go together"));
}

//! How the feed proves itself to the platform and checks the platform: a secret read from a
//! file (a bearer token; for NATS also an NKey seed or a credentials file as `nsc` writes
//! them), the platform's own CA (the bundled Mozilla roots only when none is given), and a
//! client certificate for mutual TLS. The secret never appears in a message, a log line or the
//! summary.

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;
use std::sync::Arc;

/// The feed's credentials and trust, as loaded.
#[derive(Clone, Default)]
pub struct FeedAuth {
    token: Option<Secret>,
    agent: Option<ureq::Agent>,
    /// The TLS settings behind `agent` (the NATS feed uses them too).
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for FeedAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeedAuth")
            .field("token", &self.token.as_ref().map(|_| "(set)"))
            .field("tls", &self.agent.as_ref().map(|_| "(own settings)"))
            .finish()
    }
}

/// What a secret file holds.
#[derive(Clone)]
enum Secret {
    /// A bearer token (HTTP) or a NATS token.
    Token(String),
    /// A NATS user's NKey seed (`SU…`): the server knows its public key.
    NKeySeed(String),
    /// A NATS credentials file: the user's JWT and its NKey seed.
    Creds(String),
}

impl Secret {
    fn read(p: &Path) -> Result<Secret, String> {
        let t = std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?;
        if t.contains("-----BEGIN NATS USER JWT-----") {
            return Ok(Secret::Creds(t));
        }
        let t = t.trim().to_string();
        if t.is_empty() || t.contains(char::is_whitespace) {
            return Err(format!(
                "{}: the file must hold one token, an NKey seed or a NATS credentials file",
                p.display()
            ));
        }
        if t.len() == 58 && t.starts_with("SU") {
            return Ok(Secret::NKeySeed(t));
        }
        Ok(Secret::Token(t))
    }
}

/// Where the credentials and trust come from (paths; any may be absent).
#[derive(Debug, Clone, Default)]
pub struct AuthFiles<'a> {
    /// Whether the feed is NATS (an NKey seed or a credentials file is for NATS only).
    pub nats: bool,
    pub token_file: Option<&'a Path>,
    pub ca: Option<&'a Path>,
    pub client_cert: Option<&'a Path>,
    pub client_key: Option<&'a Path>,
}

fn certs(p: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let v: Vec<_> = CertificateDer::pem_file_iter(p)
        .map_err(|e| format!("{}: {e}", p.display()))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{}: {e}", p.display()))?;
    if v.is_empty() {
        return Err(format!("{}: no PEM certificate in it", p.display()));
    }
    Ok(v)
}

impl FeedAuth {
    /// Loads what `files` name; an error says which file and what was wrong with it.
    pub fn load(files: &AuthFiles<'_>) -> Result<FeedAuth, String> {
        let token = match files.token_file {
            Some(p) => Some(Secret::read(p)?),
            None => None,
        };
        if !files.nats && matches!(token, Some(Secret::NKeySeed(_) | Secret::Creds(_))) {
            return Err(format!(
                "{}: an NKey seed or NATS credentials file, but the feed is not nats://",
                files
                    .token_file
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ));
        }
        let own_tls = files.ca.is_some() || files.client_cert.is_some();
        if files.client_cert.is_some() != files.client_key.is_some() {
            return Err("--feed-client-cert and --feed-client-key go together".into());
        }
        let tls = if own_tls {
            let mut roots = rustls::RootCertStore::empty();
            match files.ca {
                Some(ca) => {
                    for c in certs(ca)? {
                        roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
                    }
                }
                None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let builder = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map_err(|e| e.to_string())?
                .with_root_certificates(roots);
            let config = match (files.client_cert, files.client_key) {
                (Some(c), Some(k)) => {
                    let key = PrivateKeyDer::from_pem_file(k)
                        .map_err(|e| format!("{}: {e}", k.display()))?;
                    builder
                        .with_client_auth_cert(certs(c)?, key)
                        .map_err(|e| format!("{}: {e}", c.display()))?
                }
                _ => builder.with_no_client_auth(),
            };
            Some(Arc::new(config))
        } else {
            None
        };
        let agent = tls
            .clone()
            .map(|c| ureq::AgentBuilder::new().tls_config(c).build());
        Ok(FeedAuth { token, agent, tls })
    }

    /// The bearer token, when one was given.
    fn token(&self) -> Option<&str> {
        match &self.token {
            Some(Secret::Token(t)) => Some(t),
            _ => None,
        }
    }

    /// A NATS client's options with these credentials and TLS settings.
    pub fn nats_options(&self) -> Result<async_nats::ConnectOptions, String> {
        let mut opts = match &self.token {
            Some(Secret::Token(t)) => async_nats::ConnectOptions::with_token(t.clone()),
            Some(Secret::NKeySeed(seed)) => async_nats::ConnectOptions::with_nkey(seed.clone()),
            Some(Secret::Creds(c)) => async_nats::ConnectOptions::with_credentials(c)
                .map_err(|e| format!("the NATS credentials file: {e}"))?,
            None => async_nats::ConnectOptions::new(),
        };
        if let Some(tls) = self.tls() {
            opts = opts.require_tls(true).tls_client_config(tls.clone());
        }
        Ok(opts)
    }

    /// The feed's own TLS settings (CA, client certificate), when given.
    pub(crate) fn tls(&self) -> Option<&rustls::ClientConfig> {
        self.tls.as_deref()
    }

    /// A POST to `url` with the credentials set.
    pub fn post(&self, url: &str) -> ureq::Request {
        let r = match &self.agent {
            Some(a) => a.post(url),
            None => ureq::post(url),
        };
        match self.token() {
            Some(t) => r.set("Authorization", &format!("Bearer {t}")),
            None => r,
        }
    }
}

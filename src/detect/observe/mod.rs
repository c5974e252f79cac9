//! What a flow says about its endpoint without being mining itself: the TLS handshake (server
//! name, certificate names, fingerprint) and DNS look-ups of pool names. Bytes in; an
//! `Observation` or `Dns` finding out, which the verdict stage weighs with the rules.

pub mod dns;
pub mod tls;
mod x509;

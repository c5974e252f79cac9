//! Stage 7, **output**: flow records with their verdicts in; events out, one JSON object per
//! line (schema `minetap/1`, in `docs/event.schema.json`), to a file or stdout ([`writer`],
//! with rotation) and to the data platform's feed ([`feed`], through an on-disk spool); the
//! summaries of all ended flows in, per-site traffic profiles out ([`profile`]).

pub mod event;
pub mod feed;
pub mod feed_auth;
pub mod nats;
pub mod profile;
pub mod time;
pub mod writer;

pub use event::{Event, SCHEMA};

/// A URL as it may be shown: any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (auth_end, query) = match rest.find(['/', '?']) {
        Some(i) => (i, &rest[i..]),
        None => (rest.len(), ""),
    };
    let authority = &rest[..auth_end];
    let authority = match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{name}:***@{host}"),
            // NATS reads a lone user part as a token; PostgreSQL as a role name.
            None if !scheme.starts_with("postgres") => format!("***@{host}"),
            None => format!("{user}@{host}"),
        },
        None => authority.to_string(),
    };
    // Query parameters may carry one too (`?password=`).
    let query = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, _)) if k.trim_start_matches(['/', '?']).ends_with("password") => {
                format!("{k}=***")
            }
            _ => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&");
    format!("{scheme}://{authority}{query}")
}

#[cfg(test)]
mod redact_tests {
    use super::redact;

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("postgres://ingest:s3cret@db.example:5432/minetap"),
            "postgres://ingest:***@db.example:5432/minetap"
        );
        assert_eq!(
            redact("postgresql://ingest@db/minetap?sslmode=require&password=s3cret"),
            "postgresql://ingest@db/minetap?sslmode=require&password=***"
        );
        assert_eq!(redact("nats://tok:en@h:4222"), "nats://tok:***@h:4222");
        assert_eq!(redact("nats://t0ken@h:4222"), "nats://***@h:4222");
        assert_eq!(redact("nats://h:4222"), "nats://h:4222");
        assert_eq!(redact("store.sqlite"), "store.sqlite");
    }
}

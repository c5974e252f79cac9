//! The feed to NATS JetStream (`--feed-url nats://HOST:PORT`): each closed batch of the spool is
//! published event by event, events on `<prefix>.events.<sensor>` and site profiles on
//! `<prefix>.profiles.<sensor>`, statistics on `<prefix>.stats.<sensor>` (the prefix
//! `minetap` unless the feed names another), each
//! with a `Nats-Msg-Id` unique to the event (sensor, batch, line), so that a resend after a lost acknowledgement is dropped by the stream's duplicate
//! window. The batch leaves the spool only when the stream has acknowledged every event; a
//! broker that is down or slow leaves the batches on disk, never in memory. A small
//! current-thread runtime lives on the feed's sender thread only; the packet path never sees it.

use super::feed_auth::FeedAuth;
use std::cell::RefCell;
use std::time::Duration;

/// A connection kept between batches on the sender thread.
struct Conn {
    url: String,
    rt: tokio::runtime::Runtime,
    js: async_nats::jetstream::Context,
}

thread_local! {
    static CONN: RefCell<Option<Conn>> = const { RefCell::new(None) };
}

/// Whether `url` names a NATS server.
pub fn is_nats(url: &str) -> bool {
    url.starts_with("nats://") || url.starts_with("tls://")
}

/// A sensor id as one subject token (no dots, spaces or wildcards).
fn token(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A subject prefix as given (`--feed-subject-prefix`, `--subject-prefix`), checked: one or
/// more dot-separated tokens of letters, digits, `-` and `_` (no wildcard, no empty token).
pub fn subject_prefix(p: &str) -> Result<String, String> {
    let ok = |t: &str| {
        !t.is_empty()
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if p.split('.').all(ok) {
        Ok(p.to_string())
    } else {
        Err(format!(
            "subject prefix '{p}': expected dot-separated tokens of letters, digits, '-' and '_'"
        ))
    }
}

/// The subject an event line goes to: profiles apart from flow events.
fn subject(line: &[u8], prefix: &str, sensor: &str) -> String {
    #[derive(serde::Deserialize)]
    struct Kind<'a> {
        #[serde(borrow)]
        event_type: Option<&'a str>,
    }
    let kind = serde_json::from_slice::<Kind<'_>>(line)
        .ok()
        .and_then(|k| k.event_type);
    let family = match kind {
        Some("site_profile") => "profiles",
        Some("stats") => "stats",
        _ => "events",
    };
    format!("{prefix}.{family}.{sensor}")
}

fn connect(url: &str, auth: &FeedAuth) -> Result<Conn, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the NATS sender: {e}"))?;
    let addr = url.to_string();
    let opts = auth
        .nats_options()?
        .connection_timeout(Duration::from_secs(5))
        .request_timeout(Some(Duration::from_secs(10)))
        .max_reconnects(Some(1));
    let client = rt
        .block_on(opts.connect(addr.as_str()))
        .map_err(|e| format!("NATS {}: {e}", super::redact(&addr)))?;
    // The JetStream context starts its work on the runtime it is made in.
    let js = {
        let _inside = rt.enter();
        async_nats::jetstream::new(client)
    };
    Ok(Conn { url: addr, rt, js })
}

/// Where a batch goes.
pub struct Target<'a> {
    pub url: &'a str,
    /// The subjects' prefix.
    pub prefix: &'a str,
    /// The stream that must take the messages (`Nats-Expected-Stream`), when named: a subject
    /// some other stream holds is then refused instead of stored there.
    pub stream: Option<&'a str>,
    /// Names the subjects and the message ids.
    pub sensor: &'a str,
    /// The credentials and TLS settings.
    pub auth: &'a FeedAuth,
}

async fn send(
    js: &async_nats::jetstream::Context,
    to: &Target<'_>,
    seq: u64,
    body: &[u8],
) -> Result<(), String> {
    let sensor = token(to.sensor);
    let mut acks = Vec::new();
    let lines = body.split(|b| *b == b'\n').filter(|l| !l.is_empty());
    for (i, line) in lines.enumerate() {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", format!("{sensor}-{seq}-{i}").as_str());
        headers.insert("Minetap-Schema", super::SCHEMA);
        if let Some(stream) = to.stream {
            headers.insert("Nats-Expected-Stream", stream);
        }
        let ack = js
            .publish_with_headers(
                subject(line, to.prefix, &sensor),
                headers,
                line.to_vec().into(),
            )
            .await
            .map_err(|e| format!("publish: {e}"))?;
        acks.push(ack);
    }
    for a in acks {
        a.await
            .map_err(|e| format!("the stream did not acknowledge: {e}"))?;
    }
    Ok(())
}

/// Publishes one batch (event lines); `Err` says why the stream did not take it all, and the
/// connection is made again for the next try.
pub fn publish(to: &Target<'_>, seq: u64, body: &[u8]) -> Result<(), String> {
    CONN.with(|cell| {
        let mut slot = cell.borrow_mut();
        if slot.as_ref().is_none_or(|c| c.url != to.url) {
            *slot = Some(connect(to.url, to.auth)?);
        }
        let Some(conn) = slot.as_ref() else {
            return Err("no NATS connection".into());
        };
        let r = conn.rt.block_on(send(&conn.js, to, seq, body));
        if r.is_err() {
            *slot = None;
        }
        r
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_keep_profiles_apart_and_sensor_ids_are_one_token() {
        assert_eq!(token("tap east.1*>"), "tap_east_1__");
        assert_eq!(
            subject(br#"{"event_type":"site_profile","x":1}"#, "minetap", "s1"),
            "minetap.profiles.s1"
        );
        assert_eq!(
            subject(br#"{"event_type":"mining"}"#, "gd.minetap", "s1"),
            "gd.minetap.events.s1"
        );
        assert_eq!(subject(b"not json", "minetap", "s1"), "minetap.events.s1");
        assert_eq!(
            subject(br#"{"event_type":"stats"}"#, "minetap", "s1"),
            "minetap.stats.s1"
        );
        assert!(subject_prefix("gd.minetap").is_ok());
        for bad in ["", "a..b", "a.>", "a.*", "a b", "a."] {
            assert!(subject_prefix(bad).is_err(), "{bad}");
        }
    }
}

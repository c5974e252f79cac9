//! `minetap platform ingest`: every sensor's events from NATS JetStream into the platform's
//! store (`inventory::store`: a SQLite file or PostgreSQL). A durable pull consumer over the
//! stream; each fetched batch is stored in one transaction, and only then are its messages
//! acknowledged, so a crash between the two redelivers them and the store, keyed on (sensor,
//! message id), keeps one row. A message that is not an event goes to the `dead_letters` table
//! with its reason and is published on `<prefix>-dead.<sensor>` (outside the stream's
//! `<prefix>.>`; the prefix is `minetap` unless given), then acknowledged: never silently dropped. Several ingest processes may share
//! the consumer. A broker or a database that goes away is waited for, not a reason to stop:
//! what was fetched and not stored is stored again once the database is back, or redelivered.
//! `minetap platform migrate`: the store's schema, brought up to date.

use super::CliError;
use crate::inventory::store::{self, Message, Store, Stored};
use crate::output::feed_auth::FeedAuth;
use crate::output::redact;
use clap::Args;
use futures_util::StreamExt;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// The NATS server (nats://HOST:PORT).
    #[arg(long, value_name = "URL", required = true)]
    nats: String,
    /// The platform's store: a SQLite file (made when absent) or postgres://ROLE@HOST/DB
    /// (its schema made by `platform migrate`).
    #[arg(long, value_name = "FILE|URL", required = true)]
    store: String,
    /// The sensors' subject prefix (`--feed-subject-prefix`): the stream holds `<prefix>.>`,
    /// dead letters go to `<prefix>-dead.<sensor>`.
    #[arg(long, value_name = "PREFIX", default_value = super::defaults::FEED_SUBJECT_PREFIX)]
    subject_prefix: String,
    /// The JetStream stream the sensors publish into (made, over `<prefix>.>` with a
    /// two-minute duplicate window, when absent).
    #[arg(long, value_name = "NAME", default_value = "MINETAP")]
    stream: String,
    /// Replicas of the stream when this run makes it (3 on a three-node cluster).
    #[arg(long, value_name = "N", default_value_t = 1)]
    replicas: usize,
    /// The durable consumer's name (processes with the same name share the work).
    #[arg(long, value_name = "NAME", default_value = "minetap-ingest")]
    consumer: String,
    /// A file holding the server's token, a user's NKey seed (`SU…`) or a credentials file
    /// (a user JWT and its seed, as `nsc` writes them).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The server's CA certificate(s), PEM (for tls:// servers with their own CA).
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// A client certificate (PEM) for servers that ask for one; with --client-key.
    #[arg(long, value_name = "FILE")]
    client_cert: Option<PathBuf>,
    /// The client certificate's key (PEM).
    #[arg(long, value_name = "FILE")]
    client_key: Option<PathBuf>,
    /// Messages fetched, stored and acknowledged at a time.
    #[arg(long, value_name = "N", default_value_t = 200)]
    batch: usize,
    /// End after this many seconds with no message from a reachable broker and none awaiting
    /// its acknowledgement [default: run until SIGINT/SIGTERM].
    #[arg(long, value_name = "SECS")]
    idle_exit: Option<u64>,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The store: a SQLite file or postgres://OWNER@HOST/DB.
    #[arg(long, value_name = "FILE|URL", required = true)]
    store: String,
}

/// What a run did.
#[derive(Default)]
struct Counts {
    events: u64,
    repeats: u64,
    dead: u64,
}

pub fn migrate(a: MigrateArgs) -> i32 {
    match store::block_on(Store::migrate(&a.store)) {
        Ok((from, to)) if from == to => {
            out!("{}: schema version {to}, up to date", redact(&a.store));
            0
        }
        Ok((from, to)) => {
            out!("{}: schema version {from} -> {to}", redact(&a.store));
            0
        }
        Err(e) => {
            eprintln!("minetap: error: {e}");
            1
        }
    }
}

pub fn run(a: IngestArgs) -> Result<i32, CliError> {
    crate::output::nats::subject_prefix(&a.subject_prefix).map_err(CliError::Usage)?;
    let stop = super::signal_flag(&[signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
    let auth = super::feed_auth(
        &a.nats,
        [
            a.token_file.as_deref(),
            a.ca.as_deref(),
            a.client_cert.as_deref(),
            a.client_key.as_deref(),
        ],
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Output(format!("cannot start the NATS client: {e}")))?;
    let stopped = || stop.load(Ordering::Relaxed);
    let (counts, (rows, dead_rows)) = rt
        .block_on(async {
            let mut store = Store::open(&a.store).await?;
            let counts = ingest(&a, &auth, &mut store, &stopped).await?;
            Ok::<_, String>((counts, store.counts().await?))
        })
        .map_err(CliError::Output)?;
    out!(
        "{}: {} event(s) stored, {} repeat(s) ignored, {} dead letter(s); the store holds {rows} event(s), {dead_rows} dead letter(s)",
        redact(&a.store),
        counts.events,
        counts.repeats,
        counts.dead
    );
    Ok(0)
}

/// How long a fetched message may stay unacknowledged before the server delivers it again.
const ACK_WAIT: Duration = Duration::from_secs(10);

type Consumer =
    async_nats::jetstream::consumer::Consumer<async_nats::jetstream::consumer::pull::Config>;

/// Whether a failed connection is worth trying again: the server is not there (yet), or did
/// not answer in time. A TLS handshake the client refuses (a certificate that does not verify)
/// comes back as an I/O error too, of kind `InvalidData`: that is a setting to fix, not a wait.
fn server_away(e: &async_nats::ConnectError) -> bool {
    use async_nats::ConnectErrorKind::{Io, TimedOut};
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::InvalidData {
                return false;
            }
        }
        src = inner.source();
    }
    matches!(e.kind(), Io | TimedOut)
}

/// Connects and finds (or makes) the stream and the consumer. `Err((true, _))`: the server is
/// not there (yet) or did not answer in time, worth another try; `Err((false, _))`: a setting
/// is wrong.
async fn connect(
    a: &IngestArgs,
    auth: &FeedAuth,
) -> Result<(async_nats::Client, Consumer), (bool, String)> {
    use async_nats::jetstream::consumer::{pull, AckPolicy};
    let opts = auth
        .nats_options()
        .map_err(|e| (false, e))?
        .connection_timeout(Duration::from_secs(5));
    let shown = redact(&a.nats);
    let client = opts
        .connect(a.nats.as_str())
        .await
        .map_err(|e| (server_away(&e), format!("NATS {shown}: {e}")))?;
    let js = async_nats::jetstream::new(client.clone());
    // The platform owns the stream: made here when it is not there yet.
    let stream = js
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: a.stream.clone(),
            subjects: vec![format!("{}.>", a.subject_prefix)],
            duplicate_window: Duration::from_secs(120),
            num_replicas: a.replicas.max(1),
            ..Default::default()
        })
        .await
        .map_err(|e| {
            // A cluster electing its leaders answers late: worth another try.
            use async_nats::jetstream::context::CreateStreamErrorKind as K;
            let again = matches!(e.kind(), K::TimedOut | K::JetStreamUnavailable);
            (again, format!("stream {}: {e}", a.stream))
        })?;
    let consumer = stream
        .get_or_create_consumer(
            &a.consumer,
            pull::Config {
                durable_name: Some(a.consumer.clone()),
                ack_policy: AckPolicy::Explicit,
                // A batch fetched by a process that died comes again after this.
                ack_wait: ACK_WAIT,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| {
            use async_nats::jetstream::stream::ConsumerErrorKind as K;
            let again = matches!(e.kind(), K::TimedOut);
            (again, format!("consumer {}: {e}", a.consumer))
        })?;
    Ok((client, consumer))
}

/// One batch from the consumer; empty when none came within a second or the broker is away
/// (said once per outage: a fetch does not fail while the client is reconnecting, it finds
/// nothing, so the connection's state is asked too).
async fn fetch(
    client: &async_nats::Client,
    consumer: &Consumer,
    n: usize,
    away: &mut bool,
) -> Vec<async_nats::jetstream::Message> {
    use async_nats::connection::State;
    let got = async {
        if client.connection_state() != State::Connected {
            return Err("the server is not reachable".to_string());
        }
        let mut batch = consumer
            .fetch()
            .max_messages(n)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .map_err(|e| e.to_string())?;
        let mut msgs = Vec::new();
        while let Some(m) = batch.next().await {
            msgs.push(m.map_err(|e| e.to_string())?);
        }
        Ok::<_, String>(msgs)
    }
    .await;
    match got {
        Ok(msgs) => {
            if std::mem::take(away) {
                eprintln!("minetap: NATS: fetching again");
            }
            msgs
        }
        Err(e) => {
            if !std::mem::replace(away, true) {
                eprintln!("minetap: NATS: {e}; waiting for the server");
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            Vec::new()
        }
    }
}

/// Whether the consumer has nothing left: no message waiting and none delivered and not yet
/// acknowledged (a batch another process took and did not store comes again after the
/// acknowledgement wait).
async fn settled(consumer: &Consumer) -> bool {
    consumer
        .get_info()
        .await
        .is_ok_and(|i| i.num_pending == 0 && i.num_ack_pending == 0)
}

/// Stores a batch, waiting for the database while it is away; `None` when asked to stop first.
async fn store_batch(
    store: &mut Store,
    rows: &[Message<'_>],
    stop: &dyn Fn() -> bool,
) -> Result<Option<Vec<Stored>>, String> {
    let mut said = false;
    loop {
        match store.put(rows).await {
            Ok(s) => {
                if said {
                    eprintln!("minetap: store: writing again");
                }
                return Ok(Some(s));
            }
            Err(e) => {
                if !std::mem::replace(&mut said, true) {
                    eprintln!("minetap: store: {e}; the batch waits for the database");
                }
                if stop() {
                    return Ok(None);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                // The next try reports its own error if the database is still away.
                let _ = store.reconnect().await;
            }
        }
    }
}

/// The sensor (the subject's third token) and the message id of a message.
fn sensor_and_id(m: &async_nats::jetstream::Message) -> (String, String) {
    // `<prefix>.<events|profiles>.<sensor>`: the sensor is the last token.
    let sensor = m
        .subject
        .rsplit('.')
        .next()
        .unwrap_or("unknown")
        .to_string();
    let id = m
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Msg-Id"))
        .map(|v| v.to_string())
        .or_else(|| m.info().ok().map(|i| format!("seq-{}", i.stream_sequence)))
        .unwrap_or_default();
    (sensor, id)
}

async fn ingest(
    a: &IngestArgs,
    auth: &FeedAuth,
    store: &mut Store,
    stop: &dyn Fn() -> bool,
) -> Result<Counts, String> {
    let mut counts = Counts::default();
    let mut said = false;
    // A platform may start before its broker: wait for it (a wrong setting ends the run).
    let (client, consumer) = loop {
        match connect(a, auth).await {
            Ok(c) => break c,
            Err((false, e)) => return Err(e),
            Err((true, e)) => {
                if !std::mem::replace(&mut said, true) {
                    eprintln!("minetap: {e}; waiting for the server");
                }
                if stop() {
                    return Ok(counts);
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    };
    let mut last = Instant::now();
    let mut away = false;
    while !stop() {
        let msgs = fetch(&client, &consumer, a.batch.max(1), &mut away).await;
        if away {
            // Waiting for the broker is not being idle.
            last = Instant::now();
        }
        if msgs.is_empty() {
            if a.idle_exit
                .is_some_and(|s| last.elapsed() >= Duration::from_secs(s))
                && settled(&consumer).await
            {
                break;
            }
            continue;
        }
        last = Instant::now();
        let ids: Vec<(String, String)> = msgs.iter().map(sensor_and_id).collect();
        let rows: Vec<Message<'_>> = msgs
            .iter()
            .zip(&ids)
            .map(|(m, (sensor, id))| Message {
                sensor,
                msg_id: id,
                subject: m.subject.as_str(),
                payload: &m.payload,
            })
            .collect();
        let Some(stored) = store_batch(store, &rows, stop).await? else {
            break;
        };
        // Committed: now the acknowledgements (and the dead letters' own subject). An ack that
        // is lost brings the message again, and the store ignores the repeat.
        for ((m, (sensor, _)), s) in msgs.iter().zip(&ids).zip(&stored) {
            match s {
                Stored::Event => counts.events += 1,
                Stored::Repeat => counts.repeats += 1,
                Stored::Dead(why) => {
                    counts.dead += 1;
                    let mut h = async_nats::HeaderMap::new();
                    h.insert("Minetap-Reason", why.as_str());
                    let subject = format!("{}-dead.{sensor}", a.subject_prefix);
                    if let Err(e) = client
                        .publish_with_headers(subject, h, m.payload.clone())
                        .await
                    {
                        eprintln!("minetap: dead letter not published ({e}); it is in the store");
                    }
                }
            }
            if let Err(e) = m.ack().await {
                eprintln!("minetap: ack: {e}; the message will come again");
            }
        }
    }
    let _ = client.flush().await;
    Ok(counts)
}

//! `minetap platform ingest`: every sensor's events from NATS JetStream into the platform's
//! store (`inventory::store`, SQLite). A durable pull consumer over the stream; each fetched
//! batch is stored in one transaction, and only then are its messages acknowledged, so a crash
//! between the two redelivers them and the store, keyed on (sensor, message id), keeps one
//! row. A message that is not an event goes to the `dead_letters` table with its reason and is
//! published on `minetap-dead.<sensor>` (outside the stream's `minetap.>`), then acknowledged:
//! never silently dropped. Several ingest processes may share the consumer.

use super::CliError;
use crate::inventory::store::{Message, Store, Stored};
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
    /// The platform's store (SQLite; made when absent).
    #[arg(long, value_name = "FILE", required = true)]
    store: PathBuf,
    /// The JetStream stream the sensors publish into (made, over `minetap.>` with a two-minute
    /// duplicate window, when absent).
    #[arg(long, value_name = "NAME", default_value = "MINETAP")]
    stream: String,
    /// The durable consumer's name (processes with the same name share the work).
    #[arg(long, value_name = "NAME", default_value = "minetap-ingest")]
    consumer: String,
    /// A file holding the server's token.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// End after this many seconds with no message [default: run until SIGINT/SIGTERM].
    #[arg(long, value_name = "SECS")]
    idle_exit: Option<u64>,
}

/// What a run did.
#[derive(Default)]
struct Counts {
    events: u64,
    repeats: u64,
    dead: u64,
}

pub fn run(a: IngestArgs) -> Result<i32, CliError> {
    let mut store = Store::open(&a.store).map_err(CliError::Input)?;
    let stop = super::signal_flag(&[signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM])?;
    let token = match &a.token_file {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))?
                .trim()
                .to_string(),
        ),
        None => None,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Output(format!("cannot start the NATS client: {e}")))?;
    let counts = rt
        .block_on(ingest(&a, token, &mut store, &|| {
            stop.load(Ordering::Relaxed)
        }))
        .map_err(CliError::Output)?;
    let (rows, dead_rows) = store.counts().map_err(CliError::Output)?;
    out!(
        "{}: {} event(s) stored, {} repeat(s) ignored, {} dead letter(s); the store holds {rows} event(s), {dead_rows} dead letter(s)",
        a.store.display(),
        counts.events,
        counts.repeats,
        counts.dead
    );
    Ok(0)
}

async fn ingest(
    a: &IngestArgs,
    token: Option<String>,
    store: &mut Store,
    stop: &dyn Fn() -> bool,
) -> Result<Counts, String> {
    use async_nats::jetstream::consumer::{pull, AckPolicy};
    let mut opts = async_nats::ConnectOptions::new().connection_timeout(Duration::from_secs(5));
    if let Some(t) = token {
        opts = opts.token(t);
    }
    let client = opts
        .connect(a.nats.as_str())
        .await
        .map_err(|e| format!("NATS {}: {e}", a.nats))?;
    let js = async_nats::jetstream::new(client.clone());
    // The platform owns the stream: made here when it is not there yet.
    let stream = js
        .get_or_create_stream(async_nats::jetstream::stream::Config {
            name: a.stream.clone(),
            subjects: vec!["minetap.>".into()],
            duplicate_window: Duration::from_secs(120),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("stream {}: {e}", a.stream))?;
    let consumer = stream
        .get_or_create_consumer(
            &a.consumer,
            pull::Config {
                durable_name: Some(a.consumer.clone()),
                ack_policy: AckPolicy::Explicit,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| format!("consumer {}: {e}", a.consumer))?;
    let mut counts = Counts::default();
    let mut last = Instant::now();
    while !stop() {
        let mut batch = consumer
            .fetch()
            .max_messages(200)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .map_err(|e| format!("fetch: {e}"))?;
        let mut msgs = Vec::new();
        while let Some(m) = batch.next().await {
            msgs.push(m.map_err(|e| format!("fetch: {e}"))?);
        }
        if msgs.is_empty() {
            if a.idle_exit
                .is_some_and(|s| last.elapsed() >= Duration::from_secs(s))
            {
                break;
            }
            continue;
        }
        last = Instant::now();
        let ids: Vec<(String, String)> = msgs
            .iter()
            .map(|m| {
                let sensor = m.subject.split('.').nth(2).unwrap_or("unknown").to_string();
                let id = m
                    .headers
                    .as_ref()
                    .and_then(|h| h.get("Nats-Msg-Id"))
                    .map(|v| v.to_string())
                    .or_else(|| m.info().ok().map(|i| format!("seq-{}", i.stream_sequence)))
                    .unwrap_or_default();
                (sensor, id)
            })
            .collect();
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
        let stored = store.put(&rows)?;
        // Committed: now the acknowledgements (and the dead letters' own subject).
        for ((m, (sensor, _)), s) in msgs.iter().zip(&ids).zip(&stored) {
            match s {
                Stored::Event => counts.events += 1,
                Stored::Repeat => counts.repeats += 1,
                Stored::Dead(why) => {
                    counts.dead += 1;
                    let mut h = async_nats::HeaderMap::new();
                    h.insert("Minetap-Reason", why.as_str());
                    client
                        .publish_with_headers(
                            format!("minetap-dead.{sensor}"),
                            h,
                            m.payload.clone(),
                        )
                        .await
                        .map_err(|e| format!("dead letter: {e}"))?;
                }
            }
            m.ack().await.map_err(|e| format!("ack: {e}"))?;
        }
    }
    client.flush().await.map_err(|e| format!("flush: {e}"))?;
    Ok(counts)
}

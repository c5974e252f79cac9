//! The feed to the data platform: events pushed over HTTP POST in batches, through an on-disk
//! spool so that nothing is lost while the platform is down.
//!
//! Events are appended to the spool's open segment; a segment is closed (renamed to a numbered
//! batch file, synced) every `batch` events or `linger` time. A sender thread posts closed
//! batches oldest first, one at a time (so in order per sensor), deletes a batch only after a
//! 2xx answer, and otherwise retries with exponential backoff. Batches left in the spool when a
//! run ends — or when the sensor restarts — are sent first next time: delivery is at least once.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const OPEN: &str = "open.jsonl";
/// The next batch number, kept so that numbers never repeat across runs.
const SEQ: &str = "next-batch";
/// The sensor id the spool's batches were written by, for `feed send`.
const SENSOR: &str = "sensor";

/// Checks that `url` is one the feed can post to: `http://` or `https://` and a host.
pub fn check_url(url: &str) -> Result<(), String> {
    let rest = ["http://", "https://", "nats://", "tls://"]
        .iter()
        .find_map(|s| url.strip_prefix(s))
        .ok_or_else(|| {
            format!("{url}: the feed URL must start with http://, https:// or nats:// (tls://)")
        })?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.starts_with(':') {
        return Err(format!("{url}: the feed URL has no host"));
    }
    Ok(())
}

/// The sensor id a spool was written by.
pub fn spool_sensor(spool: &Path) -> Option<String> {
    let t = fs::read_to_string(spool.join(SENSOR)).ok()?;
    let t = t.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// Settings of the feed.
#[derive(Debug, Clone)]
pub struct FeedConfig {
    pub url: String,
    pub spool: PathBuf,
    pub sensor: String,
    /// NATS: the subjects' prefix (`<prefix>.events.<sensor>`).
    pub subjects: String,
    /// NATS: the stream that must take the events, when named.
    pub stream: Option<String>,
    /// Events per batch.
    pub batch: usize,
    /// Longest an event waits in the open segment.
    pub linger: Duration,
    /// How long the end of a run waits for the platform before leaving batches in the spool.
    pub drain: Duration,
    /// The token, the CA and the client certificate.
    pub auth: super::feed_auth::FeedAuth,
}

struct Open {
    file: Option<fs::File>,
    /// Bytes of whole lines in the open segment.
    bytes: u64,
    events: usize,
    since: Instant,
    next_seq: u64,
    /// Why the spool stopped taking events: after a failed write it takes no more, so that
    /// what it holds is whole and nothing it took is lost.
    refused: Option<String>,
}

/// The spool and its sender.
pub struct Feed {
    cfg: FeedConfig,
    open: Arc<Mutex<Open>>,
    stop: Arc<AtomicBool>,
    /// Posts the platform did not take (each retry counts).
    failures: Arc<std::sync::atomic::AtomicU64>,
    sender: Option<std::thread::JoinHandle<()>>,
}

fn batches(spool: &Path) -> Vec<(u64, PathBuf)> {
    let mut v: Vec<(u64, PathBuf)> = fs::read_dir(spool)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let p = e.path();
            let n = p
                .file_name()?
                .to_str()?
                .strip_suffix(".batch")?
                .parse()
                .ok()?;
            Some((n, p))
        })
        .collect();
    v.sort();
    v
}

/// Posts one batch (or publishes it to NATS JetStream, for a `nats://` URL); `Err` says why
/// the platform did not take it.
fn post(cfg: &FeedConfig, seq: u64, body: &[u8]) -> Result<(), String> {
    if super::nats::is_nats(&cfg.url) {
        let to = super::nats::Target {
            url: &cfg.url,
            prefix: &cfg.subjects,
            stream: cfg.stream.as_deref(),
            sensor: &cfg.sensor,
            auth: &cfg.auth,
        };
        return super::nats::publish(&to, seq, body);
    }
    let r = cfg
        .auth
        .post(&cfg.url)
        .timeout(Duration::from_secs(10))
        .set("Content-Type", "application/x-ndjson")
        .set("X-Minetap-Sensor", &cfg.sensor)
        .set("X-Minetap-Batch", &seq.to_string())
        .set("X-Minetap-Schema", super::SCHEMA)
        .send_bytes(body);
    match r {
        Ok(resp) if (200..300).contains(&resp.status()) => Ok(()),
        Ok(resp) => Err(format!("the platform answered {}", resp.status())),
        Err(ureq::Error::Status(code, _)) => Err(format!("the platform answered {code}")),
        Err(e) => Err(e.to_string()),
    }
}

/// Sends every closed batch in order; returns when the spool is empty (`Ok`) or `give_up`
/// says so (`Err`: why the last post failed).
fn send_all(
    cfg: &FeedConfig,
    give_up: &dyn Fn() -> bool,
    failures: &std::sync::atomic::AtomicU64,
) -> Result<(), String> {
    let mut backoff = Duration::from_millis(200);
    loop {
        let Some((seq, path)) = batches(&cfg.spool).into_iter().next() else {
            return Ok(());
        };
        let body = fs::read(&path).unwrap_or_default();
        let why = match post(cfg, seq, &body) {
            Ok(()) => {
                let _ = fs::remove_file(&path);
                backoff = Duration::from_millis(200);
                continue;
            }
            Err(why) => why,
        };
        failures.fetch_add(1, Ordering::Relaxed);
        if give_up() {
            return Err(why);
        }
        let until = Instant::now() + backoff;
        while Instant::now() < until && !give_up() {
            std::thread::sleep(Duration::from_millis(20));
        }
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

impl Feed {
    /// Opens the spool (created owner-only), closes a segment left open by an earlier run, and
    /// starts the sender.
    pub fn start(cfg: FeedConfig) -> Result<Feed, String> {
        use std::os::unix::fs::DirBuilderExt;
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&cfg.spool)
            .map_err(|e| format!("{}: {e}", cfg.spool.display()))?;
        fs::write(cfg.spool.join(SENSOR), &cfg.sensor)
            .map_err(|e| format!("{}: {e}", cfg.spool.display()))?;
        let next_seq = first_number(&cfg.spool, crate::source::now_ns());
        let feed_open = Open {
            file: None,
            bytes: 0,
            refused: None,
            events: 0,
            since: Instant::now(),
            next_seq,
        };
        let stop = Arc::new(AtomicBool::new(false));
        let mut feed = Feed {
            cfg,
            open: Arc::new(Mutex::new(feed_open)),
            stop: stop.clone(),
            failures: Arc::default(),
            sender: None,
        };
        // A segment an earlier run left open becomes a batch like any other.
        let left = feed.cfg.spool.join(OPEN);
        if left.exists() {
            let mut o = feed.open.lock().map_err(|_| "spool lock poisoned")?;
            let io = |e: std::io::Error| format!("{}: {e}", left.display());
            o.file = Some(
                fs::OpenOptions::new()
                    .append(true)
                    .open(&left)
                    .map_err(io)?,
            );
            close(&feed.cfg, &mut o).map_err(io)?;
        }
        let cfg = feed.cfg.clone();
        let open = feed.open.clone();
        let failures = feed.failures.clone();
        feed.sender = Some(std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                // A quiet sensor's events do not wait in the open segment past the linger time.
                if let Ok(mut o) = open.lock() {
                    if o.events > 0 && o.since.elapsed() >= cfg.linger {
                        let _ = close(&cfg, &mut o);
                    }
                }
                let _ = send_all(&cfg, &|| stop.load(Ordering::Relaxed), &failures);
                std::thread::sleep(Duration::from_millis(50));
            }
        }));
        Ok(feed)
    }

    /// What waits in the spool: closed batches, events in the open segment; and the posts
    /// that failed so far.
    pub fn waiting(&self) -> (usize, usize, u64) {
        let open = self.open.lock().map(|o| o.events).unwrap_or(0);
        (
            batches(&self.cfg.spool).len(),
            open,
            self.failures.load(Ordering::Relaxed),
        )
    }

    /// Appends one event line, whole or not at all. After a write fails (a full disk), the
    /// spool takes no more events: every later call is an error saying why.
    pub fn push(&self, line: &str) -> std::io::Result<()> {
        let Ok(mut o) = self.open.lock() else {
            return Err(std::io::Error::other("the spool's lock is poisoned"));
        };
        if let Some(why) = &o.refused {
            return Err(std::io::Error::other(format!(
                "the spool stopped taking events: {why}"
            )));
        }
        let r = Self::append(&self.cfg, &mut o, line);
        if let Err(e) = &r {
            o.refused = Some(e.to_string());
        }
        r
    }

    fn append(cfg: &FeedConfig, o: &mut Open, line: &str) -> std::io::Result<()> {
        use std::os::unix::fs::OpenOptionsExt;
        if o.file.is_none() {
            let f = fs::OpenOptions::new()
                .append(true)
                .create(true)
                .mode(0o600)
                .open(cfg.spool.join(OPEN))?;
            o.bytes = f.metadata()?.len();
            o.file = Some(f);
            o.since = Instant::now();
        }
        if let Some(f) = o.file.as_mut() {
            let mut whole = Vec::with_capacity(line.len() + 1);
            whole.extend_from_slice(line.as_bytes());
            whole.push(b'\n');
            if let Err(e) = f.write_all(&whole) {
                // Cut back to the last whole line, so no half line is ever sent.
                let _ = f.set_len(o.bytes);
                return Err(e);
            }
            o.bytes += whole.len() as u64;
        }
        o.events += 1;
        if o.events >= cfg.batch || o.since.elapsed() >= cfg.linger {
            // The event is in the spool, whole; a batch that cannot be closed stops the spool
            // taking more (its lines wait in the open segment for the next run).
            if let Err(e) = close(cfg, o) {
                o.refused = Some(format!("closing a batch: {e}"));
            }
        }
        Ok(())
    }

    /// Closes the open segment and waits up to the drain time for the platform; returns the
    /// batches still in the spool (sent next time) and why the last post failed.
    /// Also returns why the spool stopped taking events, when it did.
    pub fn finish(mut self) -> (usize, Option<String>, Option<String>) {
        let mut refused = None;
        if let Ok(mut o) = self.open.lock() {
            if let Err(e) = close(&self.cfg, &mut o) {
                o.refused.get_or_insert(format!("closing a batch: {e}"));
            }
            refused = o.refused.take();
        }
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.sender.take() {
            let _ = h.join();
        }
        let deadline = Instant::now() + self.cfg.drain;
        let why = send_all(&self.cfg, &|| Instant::now() >= deadline, &self.failures).err();
        (batches(&self.cfg.spool).len(), why, refused)
    }
}

/// The number of the next batch a spool closes: past every batch it holds and past the number
/// kept in its counter. When the counter is missing or damaged (and the batches it counted may
/// all have been delivered and deleted), numbering goes on from the time in milliseconds, far
/// above any count a spool reaches, so that no number the platform has seen comes again.
fn first_number(spool: &Path, now_ns: u64) -> u64 {
    let held = batches(spool).last().map_or(1, |(n, _)| n + 1);
    let kept = fs::read_to_string(spool.join(SEQ))
        .ok()
        .and_then(|t| t.trim().parse::<u64>().ok());
    match kept {
        Some(n) => n.max(held),
        None if spool.join(SEQ).exists() || held > 1 => (now_ns / 1_000_000).max(held),
        // A new spool.
        None => 1,
    }
}

/// Writes the counter whole: a temporary file, synced, renamed over the old one.
fn keep_number(spool: &Path, next: u64) -> std::io::Result<()> {
    let tmp = spool.join(format!("{SEQ}.tmp"));
    let mut f = fs::File::create(&tmp)?;
    f.write_all(next.to_string().as_bytes())?;
    f.sync_all()?;
    fs::rename(&tmp, spool.join(SEQ))
}

/// Closes the open segment into the next numbered batch.
fn close(cfg: &FeedConfig, o: &mut Open) -> std::io::Result<()> {
    if let Some(f) = o.file.take() {
        f.sync_all()?;
        let seq = o.next_seq;
        o.next_seq += 1;
        keep_number(&cfg.spool, o.next_seq)?;
        fs::rename(
            cfg.spool.join(OPEN),
            cfg.spool.join(format!("{seq:012}.batch")),
        )?;
        o.events = 0;
        o.bytes = 0;
    }
    Ok(())
}

/// Sends what a spool holds (for `minetap feed send`): returns the batches left and, when some
/// are, why the last post failed.
pub fn flush(cfg: &FeedConfig) -> (usize, Option<String>) {
    let deadline = Instant::now() + cfg.drain;
    let why = send_all(cfg, &|| Instant::now() >= deadline, &Default::default()).err();
    (batches(&cfg.spool).len(), why)
}

#[cfg(test)]
mod tests {
    use super::{batches, check_url, first_number, keep_number, SEQ};

    #[test]
    fn batch_numbers_never_come_again_even_when_the_counter_is_lost() {
        let dir = tempfile::tempdir().unwrap();
        let spool = dir.path();
        let now = 1_772_439_204_000_000_000; // 2026-03-02T08:13:24Z
        assert_eq!(first_number(spool, now), 1, "a new spool starts at 1");
        keep_number(spool, 42).unwrap();
        assert_eq!(first_number(spool, now), 42);
        std::fs::write(spool.join("000000000050.batch"), "{}\n").unwrap();
        assert_eq!(first_number(spool, now), 51, "past the batches held");
        // The counter emptied (a crash while it was rewritten, before it was atomic) and every
        // batch delivered: numbering goes on far above any number used before.
        std::fs::remove_file(spool.join("000000000050.batch")).unwrap();
        std::fs::write(spool.join(SEQ), "").unwrap();
        assert!(batches(spool).is_empty());
        assert_eq!(first_number(spool, now), 1_772_439_204_000);
        keep_number(spool, 7).unwrap();
        assert_eq!(std::fs::read_to_string(spool.join(SEQ)).unwrap(), "7");
        assert!(!spool.join(format!("{SEQ}.tmp")).exists());
    }

    #[test]
    fn feed_urls_are_checked_before_anything_is_spooled() {
        assert!(check_url("https://platform.example/ingest").is_ok());
        assert!(check_url("http://127.0.0.1:8080").is_ok());
        assert!(check_url("nats://127.0.0.1:4222").is_ok());
        assert_eq!(
            check_url("ftp://x/").unwrap_err(),
            "ftp://x/: the feed URL must start with http://, https:// or nats:// (tls://)"
        );
        assert_eq!(
            check_url("nats://").unwrap_err(),
            "nats://: the feed URL has no host"
        );
        assert_eq!(
            check_url("http:///ingest").unwrap_err(),
            "http:///ingest: the feed URL has no host"
        );
    }
}

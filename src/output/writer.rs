//! The event writer: flow records with their verdicts in; event lines out — to stdout or a
//! file (rotated by size or age), to the data platform's feed, and, through a
//! [`BundleWriter`] that the evidence stage provides, an evidence bundle per mining flow.

use super::event::EvidenceRef;
use super::feed::{Feed, FeedConfig};
use super::Event;
use crate::attrib::Resolver;
use crate::detect::FlowRecord;
use crate::flow::Dir;
use crate::verdict::{EventType, Level, Verdict};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// The name a full events file is renamed to: the time it was closed before the extension
/// (`ev.jsonl` → `ev.20260302T081809525400Z.jsonl`), so that `*.jsonl` still finds it; a
/// number after the time if that name is taken.
fn rotated_name(path: &Path, stamp: &str) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(Default::default, |s| s.to_os_string());
    let ext = path.extension().map(|e| e.to_os_string());
    let name = |n: u32| {
        let mut f = stem.clone();
        f.push(format!(".{stamp}"));
        if n > 0 {
            f.push(format!("-{n}"));
        }
        if let Some(e) = &ext {
            f.push(".");
            f.push(e);
        }
        path.with_file_name(f)
    };
    (0..)
        .map(name)
        .find(|p| !p.exists())
        .unwrap_or_else(|| name(0))
}

/// Where evidence bundles are written: the evidence stage implements it, so that output hands
/// bundles off without depending on that stage.
pub trait BundleWriter: Send + Sync {
    /// Writes the bundle of a final mining event; the folder it made.
    fn write_bundle(&self, event: &Event, r: &FlowRecord, client: Dir) -> Result<PathBuf, String>;
}

/// Writes events as JSON lines, remembering the first write error (a closed pipe ends output
/// quietly). With `flush_each`, every event is flushed as it is written (live capture).
pub struct EventWriter {
    out: Mutex<BufWriter<Box<dyn Write + Send>>>,
    error: Mutex<Option<io::Error>>,
    min: Level,
    flush_each: bool,
    attribution: Option<(Resolver, Level)>,
    evidence: Option<(Box<dyn BundleWriter>, Level)>,
    feed: Option<Feed>,
    rotation: Mutex<Rotation>,
    /// Events at the evidence level whose flows kept no frames, and bundles that failed.
    no_frames: AtomicU64,
    bundle_errors: AtomicU64,
    /// Events attributed: matched, ambiguous, unknown, and those naming an identity the
    /// registry does not know.
    attributed: [AtomicU64; 4],
    /// Events the feed's spool could not take whole.
    spool_errors: AtomicU64,
    /// Events written, by type (mining, dns, crypto_node, site_profile).
    written: [AtomicU64; 4],
}

/// What the output stage has done so far, for the metrics page.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutputCounts {
    /// Events written, by type: mining, dns, crypto_node, site_profile.
    pub written: [u64; 4],
    /// Events the spool could not take.
    pub spool_errors: u64,
    /// With a feed: closed batches waiting in the spool, events in its open segment, and the
    /// posts the platform did not take.
    pub feed: Option<(usize, usize, u64)>,
    /// Evidence bundles that could not be written.
    pub bundle_errors: u64,
}

/// Rotation of the events file by size or age.
#[derive(Default)]
struct Rotation {
    path: Option<PathBuf>,
    max_bytes: Option<u64>,
    max_age: Option<std::time::Duration>,
    bytes: u64,
    opened: Option<std::time::Instant>,
    private: bool,
}

/// What to do with an events file that already holds events.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Existing {
    /// Refuse it: events of an earlier run are never overwritten unasked.
    #[default]
    Refuse,
    /// Add to it.
    Append,
    /// Replace it.
    Replace,
}

/// Holds a write lock on the whole file (released when it is closed); when another process
/// holds one, says which.
fn lock(f: &std::fs::File, p: &Path) -> Result<(), String> {
    use std::os::fd::AsRawFd;
    // SAFETY: `l` is a live, zeroed `flock` of the right size; the descriptor is `f`'s.
    unsafe {
        let mut l: libc::flock = std::mem::zeroed();
        l.l_type = libc::F_WRLCK as _;
        l.l_whence = libc::SEEK_SET as _;
        if libc::fcntl(f.as_raw_fd(), libc::F_SETLK, &l) == 0 {
            return Ok(());
        }
        let holder = if libc::fcntl(f.as_raw_fd(), libc::F_GETLK, &mut l) == 0 {
            format!(" (pid {})", l.l_pid)
        } else {
            String::new()
        };
        Err(format!(
            "{}: another process is writing events into it{holder}",
            p.display()
        ))
    }
}

/// Opens (creating) an events file and locks it; with subscriber data in it, it is made readable
/// by its owner only, also when it existed.
fn open_events(p: &Path, private: bool, existing: Existing) -> Result<std::fs::File, String> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let err = |e: io::Error| format!("cannot create events file {}: {e}", p.display());
    let held = std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.len() > 0);
    if held && existing == Existing::Refuse {
        return Err(format!(
            "{}: already holds events; --append adds to it, --force replaces it",
            p.display()
        ));
    }
    let mut o = std::fs::OpenOptions::new();
    o.write(true)
        .create(true)
        .append(existing == Existing::Append);
    if private {
        o.mode(0o600);
    }
    let f = o.open(p).map_err(err)?;
    if !f.metadata().map_err(err)?.is_file() {
        // A pipe or a device (`/dev/stdout`): nothing to lock or empty.
        return Ok(f);
    }
    lock(&f, p)?;
    if existing != Existing::Append {
        // Emptied only once the lock is ours.
        f.set_len(0).map_err(err)?;
    }
    if private {
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(err)?;
    }
    Ok(f)
}

/// After a failed write, cuts the file back to its last whole line, so that no reader ever
/// meets half an event.
fn cut_to_last_line(p: &Path) -> io::Result<()> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::OpenOptions::new().read(true).write(true).open(p)?;
    let len = f.metadata()?.len();
    let mut end = len;
    let mut buf = [0u8; 4096];
    while end > 0 {
        let start = end.saturating_sub(buf.len() as u64);
        let chunk = &mut buf[..(end - start) as usize];
        f.seek(SeekFrom::Start(start))?;
        f.read_exact(chunk)?;
        if let Some(i) = chunk.iter().rposition(|&b| b == b'\n') {
            return f.set_len(start + i as u64 + 1);
        }
        end = start;
    }
    f.set_len(0)
}

impl EventWriter {
    /// Also pushes every written event to the data platform's feed.
    pub fn with_feed(mut self, cfg: Option<FeedConfig>) -> Result<Self, String> {
        self.feed = cfg.map(Feed::start).transpose()?;
        Ok(self)
    }

    /// Starts a new events file when the current one reaches `bytes` or `secs` seconds.
    pub fn with_rotation(self, (bytes, secs): (Option<u64>, Option<u64>)) -> Self {
        if let Ok(mut r) = self.rotation.lock() {
            r.max_bytes = bytes;
            r.max_age = secs.map(std::time::Duration::from_secs);
            r.opened = Some(std::time::Instant::now());
        }
        self
    }

    fn rotate_if_due(&self, w: &mut BufWriter<Box<dyn Write + Send>>) -> io::Result<()> {
        let Ok(mut r) = self.rotation.lock() else {
            return Ok(());
        };
        let Some(path) = r.path.clone() else {
            return Ok(());
        };
        let big = r.max_bytes.is_some_and(|m| r.bytes >= m);
        let old = r
            .max_age
            .zip(r.opened)
            .is_some_and(|(a, t)| t.elapsed() >= a);
        if !(big || old) {
            return Ok(());
        }
        w.flush()?;
        let stamp = super::time::rfc3339_micros(crate::source::now_ns()).replace([':', '.'], "");
        std::fs::rename(&path, rotated_name(&path, &stamp))?;
        let f = open_events(&path, r.private, Existing::Replace).map_err(io::Error::other)?;
        *w = BufWriter::with_capacity(1 << 16, Box::new(f));
        r.bytes = 0;
        r.opened = Some(std::time::Instant::now());
        Ok(())
    }

    /// Also writes an evidence bundle for each final mining event at or above its level.
    pub fn with_evidence(mut self, evidence: Option<(Box<dyn BundleWriter>, Level)>) -> Self {
        self.evidence = evidence;
        self
    }

    /// Opens the output; with subscriber data in it, a file is created readable by its owner
    /// only.
    pub fn open(
        (path, existing): (Option<&Path>, Existing),
        min: Level,
        flush_each: bool,
        attribution: Option<(Resolver, Level)>,
    ) -> Result<EventWriter, String> {
        let private = attribution.is_some();
        let out: Box<dyn Write + Send> = match path {
            Some(p) => Box::new(open_events(p, private, existing)?),
            None => Box::new(io::stdout()),
        };
        Ok(EventWriter {
            out: Mutex::new(BufWriter::with_capacity(1 << 16, out)),
            error: Mutex::new(None),
            min,
            flush_each,
            attribution,
            evidence: None,
            feed: None,
            rotation: Mutex::new(Rotation {
                path: path.map(Path::to_path_buf),
                private,
                ..Rotation::default()
            }),
            no_frames: AtomicU64::new(0),
            bundle_errors: AtomicU64::new(0),
            attributed: Default::default(),
            spool_errors: AtomicU64::new(0),
            written: Default::default(),
        })
    }

    /// Writes the event of a record whose verdict is at the writer's level or above.
    pub fn write(&self, r: &FlowRecord, v: &Verdict) {
        if v.level < self.min {
            return;
        }
        let mut event = Event::new(r, v);
        if let Some((resolver, lvl)) = &self.attribution {
            if v.level >= *lvl {
                let t = (r.first_ts / 1_000_000_000) as i64;
                let a = resolver.lookup(event.src_ip, Some(event.src_port), t);
                let i = match a.status {
                    "matched" => 0,
                    "ambiguous" => 1,
                    _ => 2,
                };
                self.attributed[i].fetch_add(1, Ordering::Relaxed);
                if a.candidates.iter().any(|c| !c.registered) {
                    self.attributed[3].fetch_add(1, Ordering::Relaxed);
                }
                event.subscriber = Some(a);
            }
        }
        if let Some((b, lvl)) = &self.evidence {
            if event.is_final && event.mining.is_some() && v.level >= *lvl {
                event.evidence = Some(self.bundle(b.as_ref(), &event, r, v));
            }
        }
        let kind = match v.event {
            EventType::Mining => 0,
            EventType::Dns => 1,
            EventType::CryptoNode => 2,
        };
        self.write_line(&event.to_json(), kind);
    }

    /// Writes a site's traffic profile over one interval as a `site_profile` event.
    pub fn write_profile(&self, p: &super::profile::SiteProfile) {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            timestamp: String,
            event_type: &'static str,
            schema: &'static str,
            site_profile: &'a super::profile::SiteProfile,
        }
        let line = Line {
            timestamp: super::time::rfc3339_micros(p.interval_end.saturating_mul(1_000_000_000)),
            event_type: "site_profile",
            schema: super::SCHEMA,
            site_profile: p,
        };
        if let Ok(text) = serde_json::to_string(&line) {
            self.write_line(&text, 3);
        }
    }

    /// Puts a line into the feed's spool, when there is a feed.
    fn to_feed(&self, line: &str) {
        if let Some(feed) = &self.feed {
            if let Err(e) = feed.push(line) {
                if self.spool_errors.fetch_add(1, Ordering::Relaxed) == 0 {
                    eprintln!("minetap: error: feed spool: {e}");
                }
            }
        }
    }

    /// Sends a statistics line to the platform through the feed (NATS: on
    /// `<prefix>.stats.<sensor>`); the events file does not hold it, the statistics file does.
    pub fn feed_stats(&self, line: &str) {
        self.to_feed(line);
    }

    /// Writes one event line to the feed's spool and the events file; `kind` indexes the
    /// written counters.
    fn write_line(&self, line: &str, kind: usize) {
        self.to_feed(line);
        let mut err = self.error.lock().unwrap_or_else(|e| e.into_inner());
        if err.is_none() {
            let mut w = self.out.lock().unwrap_or_else(|e| e.into_inner());
            if let Ok(mut r) = self.rotation.lock() {
                r.bytes += line.len() as u64 + 1;
            }
            let res = self
                .rotate_if_due(&mut w)
                .and_then(|_| writeln!(w, "{line}"))
                .and_then(|_| if self.flush_each { w.flush() } else { Ok(()) });
            match res {
                Err(e) => *err = Some(e),
                Ok(()) => {
                    self.written[kind].fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// What the stage has done so far.
    pub fn counts(&self) -> OutputCounts {
        let r = Ordering::Relaxed;
        OutputCounts {
            written: [0, 1, 2, 3].map(|i| self.written[i].load(r)),
            spool_errors: self.spool_errors.load(r),
            feed: self.feed.as_ref().map(Feed::waiting),
            bundle_errors: self.bundle_errors.load(r),
        }
    }

    /// Writes the bundle of an event at the evidence level; where it is, or why there is none.
    fn bundle(
        &self,
        b: &dyn BundleWriter,
        event: &Event,
        r: &FlowRecord,
        v: &Verdict,
    ) -> EvidenceRef {
        let missing = |why: String| EvidenceRef {
            bundle: None,
            missing: Some(why),
        };
        if r.evidence.is_none() {
            self.no_frames.fetch_add(1, Ordering::Relaxed);
            return missing(
                "no frames were kept for this flow (the evidence memory was spent, or its frames went before its verdict)".into(),
            );
        }
        match b.write_bundle(event, r, v.client) {
            Ok(dir) => EvidenceRef {
                bundle: dir.file_name().map(|n| n.to_string_lossy().into_owned()),
                missing: None,
            },
            Err(e) => {
                eprintln!("minetap: error: evidence bundle for flow {}: {e}", r.id);
                self.bundle_errors.fetch_add(1, Ordering::Relaxed);
                missing(format!("the bundle could not be written: {e}"))
            }
        }
    }

    /// Flushes; returns the exit status: 0, or 2 after a write error other than a closed pipe
    /// or when an evidence bundle could not be written.
    pub fn finish(mut self) -> i32 {
        let (no_frames, bundle_errors) = (
            self.no_frames.load(Ordering::Relaxed),
            self.bundle_errors.load(Ordering::Relaxed),
        );
        if no_frames > 0 {
            eprintln!("minetap: warning: {no_frames} event(s) at the evidence level have no bundle: no frames were kept for their flows (each event says so under evidence.missing)");
        }
        if bundle_errors > 0 {
            eprintln!("minetap: error: {bundle_errors} evidence bundle(s) could not be written (each event says why under evidence.missing)");
        }
        let [matched, ambiguous, unknown, unregistered] = self
            .attributed
            .each_ref()
            .map(|n| n.load(Ordering::Relaxed));
        if matched + ambiguous + unknown > 0 {
            eprintln!("minetap: subscribers: {matched} event(s) matched, {ambiguous} ambiguous, {unknown} unknown; {unregistered} name an identity the registry does not know");
        }
        let spool_errors = self.spool_errors.load(Ordering::Relaxed);
        if spool_errors > 0 {
            eprintln!("minetap: error: {spool_errors} event(s) could not be put whole into the feed spool; they are in the events output, and the run fails");
        }
        let mut spool_failed = spool_errors > 0;
        if let Some(feed) = self.feed.take() {
            let (left, why, refused) = feed.finish();
            if let Some(r) = refused {
                eprintln!("minetap: error: the feed spool stopped taking events ({r}); what it took is whole in it and is sent next time, and the run fails");
                spool_failed = true;
            }
            if left > 0 {
                eprintln!(
                    "minetap: warning: the data platform did not take {left} batch(es) of events ({}); they stay in the feed spool and are sent first next time",
                    why.as_deref().unwrap_or("not tried")
                );
            }
        }
        let flushed = self
            .out
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .flush();
        let err = self.error.into_inner().unwrap_or_else(|e| e.into_inner());
        let path = self
            .rotation
            .into_inner()
            .unwrap_or_else(|e| e.into_inner())
            .path;
        match err.or(flushed.err()) {
            Some(e) if e.kind() != io::ErrorKind::BrokenPipe => {
                eprintln!("minetap: error: writing events: {e}");
                if let Some(p) = path {
                    if let Err(e) = cut_to_last_line(&p) {
                        eprintln!(
                            "minetap: error: {}: cannot cut back to the last whole event: {e}",
                            p.display()
                        );
                    }
                }
                2
            }
            _ if bundle_errors > 0 || spool_failed => 2,
            _ => 0,
        }
    }
}

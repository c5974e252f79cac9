//! Newline-delimited JSON-RPC over TCP, the framing of Stratum V1, CryptoNote pools and
//! EthProxy: lines are framed per direction and each JSON-RPC message is handed to a
//! [`Dialect`].
//!
//! Probing: a direction's first complete line must be a JSON object, or the direction is
//! dropped; a flow with both directions dropped, with messages of another JSON-RPC protocol,
//! or with too many unknown messages, is not this dialect.

use crate::detect::framing::jsonrpc;
use crate::detect::framing::lines::LineFramer;
use crate::detect::framing::rpc::{Dialect, Seen};
use crate::detect::{Detector, Finding, Interest, Limits, Transcript};
use crate::flow::Dir;

/// Unknown JSON-RPC messages tolerated before giving up.
const MAX_UNKNOWN: u32 = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DirState {
    /// Nothing complete seen yet.
    Fresh,
    /// Carries JSON-RPC.
    Json,
    /// Not JSON: no longer read.
    Off,
}

/// Per-flow probing state, apart from the framers so that both can be borrowed at once.
struct Probe<D> {
    max_depth: usize,
    transcript: Transcript,
    dirs: [DirState; 2],
    unknown: u32,
    foreign: bool,
    dialect: D,
}

pub struct LineJson<D> {
    name: &'static str,
    framers: [LineFramer; 2],
    probe: Probe<D>,
}

impl<D: Dialect> LineJson<D> {
    fn with(name: &'static str, limits: &Limits, framer: fn(usize) -> LineFramer) -> Self {
        LineJson {
            name,
            framers: [framer(limits.max_line), framer(limits.max_line)],
            probe: Probe {
                max_depth: limits.max_depth,
                transcript: Transcript::new(limits.transcript),
                dirs: [DirState::Fresh; 2],
                unknown: 0,
                foreign: false,
                dialect: D::default(),
            },
        }
    }

    /// A detector for a flow seen from its start.
    pub fn new(name: &'static str, limits: &Limits) -> Self {
        Self::with(name, limits, LineFramer::new)
    }

    /// A detector for a flow picked up in the middle: both directions resynchronise first.
    pub fn mid_stream(name: &'static str, limits: &Limits) -> Self {
        Self::with(name, limits, LineFramer::mid_stream)
    }

    pub fn dialect(&self) -> &D {
        &self.probe.dialect
    }
}

impl<D: Dialect> Probe<D> {
    fn on_line(&mut self, dir: Dir, line: &[u8], ts: u64) -> bool {
        let d = dir.index();
        let Ok(msg) = jsonrpc::parse(line, self.max_depth) else {
            if self.dirs[d] == DirState::Fresh {
                self.dirs[d] = DirState::Off;
                return false;
            }
            return true;
        };
        self.dirs[d] = DirState::Json;
        match self.dialect.on_message(dir, &msg, ts) {
            Seen::Mine => self.transcript.keep(ts, dir, line),
            Seen::Foreign => self.foreign = true,
            Seen::Unknown => self.unknown += 1,
        }
        true
    }
}

impl<D: Dialect> Detector for LineJson<D> {
    fn name(&self) -> &'static str {
        self.name
    }

    fn on_data(&mut self, dir: Dir, data: &[u8], ts_ns: u64) {
        if self.probe.dirs[dir.index()] == DirState::Off {
            return;
        }
        let probe = &mut self.probe;
        self.framers[dir.index()].feed(data, &mut |line| probe.on_line(dir, line, ts_ns));
    }

    fn on_gap(&mut self, dir: Dir) {
        self.framers[dir.index()].gap();
    }

    fn interest(&self) -> Interest {
        let p = &self.probe;
        if p.dialect.tally().matched() {
            Interest::Matched
        } else if p.foreign || p.unknown > MAX_UNKNOWN || p.dirs.iter().all(|d| *d == DirState::Off)
        {
            Interest::NotThis
        } else {
            Interest::Probing
        }
    }

    fn finding(&self) -> Option<Finding> {
        let mut f = self.probe.dialect.finding()?;
        f.transcript = self.probe.transcript.messages().to_vec();
        Some(f)
    }
}

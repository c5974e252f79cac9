//! Monero's peer-to-peer protocol (levin): every message opens with the signature
//! `01 21 01 01 01 01 01 01`, then the body length, a flag, the command (1001 is the handshake)
//! and version 1. Node traffic, not mining.

use crate::detect::framing::records::{Held, Progress};
use crate::detect::{Detector, Finding, Interest, Kind};
use crate::flow::Dir;
use crate::wire;

/// Monero's levin protocol, from a binary opening or mid-stream.
pub const ENTRY: crate::detect::Entry = crate::detect::Entry {
    name: "monero-levin",
    applies: |s| s.binary() || (s.stream() && s.mid_stream),
    make: |_, _| Box::new(MoneroLevin::default()),
};

const SIGNATURE: [u8; 8] = [0x01, 0x21, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01];

/// The bytes of a levin header that tell: signature, length, flag, command, ..., version.
const HEADER: usize = 33;

#[derive(Default)]
/// Monero's levin protocol, by its header.
pub struct MoneroLevin {
    command: Option<u32>,
    not_this: bool,
    held: [Held; 2],
}

impl MoneroLevin {
    /// The first message's header: levin if it has the signature and a handshake-range
    /// command at version 1.
    fn header(&mut self, d: &[u8]) -> Progress {
        let n = d.len().min(SIGNATURE.len());
        if d[..n] != SIGNATURE[..n] {
            self.not_this = true;
            return Progress::Stop;
        }
        // Signature (8), body length (8), return-data flag (1), command (4), return code (4),
        // flags (4), protocol version (4).
        let (Some(&flag), Some(cmd), Some(version)) =
            (d.get(16), wire::le32(d, 17), wire::le32(d, 29))
        else {
            return Progress::Incomplete {
                consumed: 0,
                needed: HEADER,
            };
        };
        if flag <= 1 && version == 1 && (1001..=2010).contains(&cmd) {
            self.command = Some(cmd);
        } else {
            self.not_this = true;
        }
        Progress::Stop
    }
}

impl Detector for MoneroLevin {
    fn name(&self) -> &'static str {
        "monero-levin"
    }

    fn on_data(&mut self, dir: Dir, d: &[u8], _ts_ns: u64) {
        if self.command.is_some() || self.not_this {
            return;
        }
        let mut held = std::mem::take(&mut self.held[dir.index()]);
        let _ = held.feed(d, HEADER, |b| self.header(b));
        self.held[dir.index()] = held;
    }

    fn on_gap(&mut self, dir: Dir) {
        self.held[dir.index()].clear();
    }

    fn interest(&self) -> Interest {
        match (self.command, self.not_this) {
            (Some(_), _) => Interest::Done,
            (None, true) => Interest::NotThis,
            (None, false) => Interest::Probing,
        }
    }

    fn finding(&self) -> Option<Finding> {
        let cmd = self.command?;
        let mut f = Finding::new("monero-levin", "monero");
        f.kind = Kind::CryptoNode;
        f.signals = vec![
            "monero:levin signature".into(),
            format!("monero:command {cmd}"),
        ];
        Some(f)
    }
}

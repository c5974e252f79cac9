//! Bitcoin's peer-to-peer protocol (and its test networks): messages open with the network
//! magic and a NUL-padded ASCII command (the first being `version` when the connection's opening
//! is seen). Node traffic, not mining.

use crate::detect::{Detector, Finding, Interest, Kind};
use crate::flow::Dir;
use crate::wire;

/// Bitcoin P2P, from a binary opening or mid-stream (its magic resynchronises).
pub const ENTRY: crate::detect::Entry = crate::detect::Entry {
    name: "bitcoin-p2p",
    applies: |s| s.binary() || (s.stream() && s.mid_stream),
    make: |_, _| Box::new(BitcoinP2p::default()),
};

const MAGICS: [([u8; 4], &str); 4] = [
    ([0xf9, 0xbe, 0xb4, 0xd9], "mainnet"),
    ([0x0b, 0x11, 0x09, 0x07], "testnet3"),
    ([0x0a, 0x03, 0xcf, 0x40], "signet"),
    ([0xfa, 0xbf, 0xb5, 0xda], "regtest"),
];

#[derive(Default)]
/// Bitcoin peer-to-peer traffic, by its message header.
pub struct BitcoinP2p {
    /// Network and first command seen.
    seen: Option<(&'static str, String)>,
    not_this: bool,
}

/// A message header: magic, command, payload length, checksum.
fn header(d: &[u8]) -> Option<(&'static str, String)> {
    let h = d.get(..24)?;
    let net = MAGICS.iter().find(|(m, _)| h[..4] == *m)?.1;
    let cmd = &h[4..16];
    let end = cmd.iter().position(|&b| b == 0).unwrap_or(12);
    if end == 0
        || !cmd[..end].iter().all(|b| b.is_ascii_lowercase())
        || cmd[end..].iter().any(|&b| b != 0)
    {
        return None;
    }
    let len = wire::le32(h, 16)?;
    (len <= 32 << 20).then(|| (net, String::from_utf8_lossy(&cmd[..end]).into_owned()))
}

impl Detector for BitcoinP2p {
    fn name(&self) -> &'static str {
        "bitcoin-p2p"
    }

    fn on_data(&mut self, _dir: Dir, data: &[u8], _ts_ns: u64) {
        if self.seen.is_some() || self.not_this {
            return;
        }
        match header(data) {
            // Usually `version`; any command when the flow was joined mid-way.
            Some(seen) => self.seen = Some(seen),
            None => self.not_this = true,
        }
    }

    fn on_gap(&mut self, _dir: Dir) {}

    fn interest(&self) -> Interest {
        match (&self.seen, self.not_this) {
            (Some(_), _) => Interest::Done,
            (None, true) => Interest::NotThis,
            (None, false) => Interest::Probing,
        }
    }

    fn finding(&self) -> Option<Finding> {
        let (net, cmd) = self.seen.as_ref()?;
        let mut f = Finding::new("bitcoin-p2p", "bitcoin");
        f.kind = Kind::CryptoNode;
        f.signals = vec![format!("bitcoin:magic {net}"), format!("bitcoin:{cmd}")];
        Some(f)
    }
}

//! Ethereum node discovery v4 over UDP: `hash || signature || type || RLP data`, where the hash
//! is Keccak-256 of everything after it — checked, so a match is certain. Node traffic, not
//! mining.

use crate::detect::{Detector, Finding, Interest, Kind};
use crate::flow::Dir;
use sha3::{Digest, Keccak256};

/// Ethereum discovery v4 datagrams (at least a hash, a signature and a type: 98 bytes).
pub const ENTRY: crate::detect::Entry = crate::detect::Entry {
    name: "eth-discv4",
    applies: |s| s.datagrams() && s.first.len() >= 98,
    make: |_, _| Box::new(EthDiscv4::default()),
};

#[derive(Default)]
/// Ethereum discovery v4 datagrams, by their hash.
pub struct EthDiscv4 {
    packet_type: Option<u8>,
    not_this: bool,
}

/// The packet type if `d` is a discv4 packet with a valid hash.
pub fn packet_type(d: &[u8]) -> Option<u8> {
    if d.len() < 98 || d.len() > 1280 {
        return None;
    }
    let t = d[97];
    if !(1..=6).contains(&t) {
        return None;
    }
    (Keccak256::digest(&d[32..]).as_slice() == &d[..32]).then_some(t)
}

impl Detector for EthDiscv4 {
    fn name(&self) -> &'static str {
        "ethereum-discv4"
    }

    fn on_data(&mut self, _dir: Dir, d: &[u8], _ts_ns: u64) {
        if self.packet_type.is_some() || self.not_this {
            return;
        }
        match packet_type(d) {
            Some(t) => self.packet_type = Some(t),
            None => self.not_this = true,
        }
    }

    fn on_gap(&mut self, _dir: Dir) {}

    fn interest(&self) -> Interest {
        match (self.packet_type, self.not_this) {
            (Some(_), _) => Interest::Done,
            (None, true) => Interest::NotThis,
            (None, false) => Interest::Probing,
        }
    }

    fn finding(&self) -> Option<Finding> {
        let t = self.packet_type?;
        let name = match t {
            1 => "ping",
            2 => "pong",
            3 => "findnode",
            4 => "neighbors",
            5 => "enrrequest",
            _ => "enrresponse",
        };
        let mut f = Finding::new("ethereum-discv4", "ethereum");
        f.kind = Kind::CryptoNode;
        f.signals = vec![format!("discv4:{name} (hash verified)")];
        Some(f)
    }
}

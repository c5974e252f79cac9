//! Stratum V2. In the clear: binary frames (extension type u16, message type u8, length u24,
//! little-endian) opened by the miner's `SetupConnection` naming the mining protocol, then the
//! mining messages (channels, jobs, shares). Encrypted: a Noise handshake of 64 bytes from the
//! client and 170 back, then records of at least a 22-byte encrypted header and a 16-byte tag —
//! recognised by that shape alone.

use crate::detect::framing::records::{Held, Progress};
use crate::detect::{Coverage, Detail, Detector, Finding, Interest, Kind, Session, ShareValue};
use crate::flow::Dir;
use crate::wire::{self, Cursor};

/// Stratum V2 frames, or its Noise handshake, from a binary opening.
pub const ENTRY: crate::detect::Entry = crate::detect::Entry {
    name: "stratum-v2",
    applies: |s| s.binary(),
    make: |_, _| Box::new(StratumV2::default()),
};

const MAX_FRAME: usize = 1 << 20;
/// Bytes of the stream kept to assemble frames.
const MAX_BUF: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Probing,
    Plain,
    Noise,
    NotThis,
}

/// Stratum V2: plain frames, or the Noise handshake's shape.
pub struct StratumV2 {
    state: State,
    held: [Held; 2],
    /// Bytes per burst (a run of data in one direction), for the Noise shape.
    bursts: Vec<(Dir, usize)>,
    client: Option<Dir>,
    found: Finding,
    session: Session,
    counts: Vec<(&'static str, u32)>,
    /// The first bytes are not a plain SetupConnection; only the Noise shape may still fit.
    not_plain: bool,
    /// What a share is worth now: the channel's target (from its opening's Success or a later
    /// SetTarget) as hashes per share.
    share_value: Option<ShareValue>,
    /// The capture time of the data being read.
    now: u64,
}

impl Default for StratumV2 {
    fn default() -> Self {
        StratumV2 {
            state: State::Probing,
            held: Default::default(),
            bursts: Vec::new(),
            client: None,
            found: Finding::new("stratum-v2", "stratum-v2"),
            session: Session::default(),
            counts: Vec::new(),
            not_plain: false,
            share_value: None,
            now: 0,
        }
    }
}

/// Hashes a share at target `t` (a U256, little-endian) stands for: 2^256 / t.
fn target_hashes(t: &[u8]) -> Option<f64> {
    let v = t
        .iter()
        .rev()
        .fold(0f64, |acc, b| acc * 256.0 + f64::from(*b));
    (v > 0.0).then(|| 2f64.powi(256) / v)
}

/// A U256 (little-endian) as the big-endian hex a person reads targets in.
fn target_hex(t: &[u8]) -> String {
    t.iter()
        .take(32)
        .rev()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A frame's header: extension type (the channel bit masked off), message type, length.
struct FrameHeader {
    ext: u16,
    mtype: u8,
    len: usize,
}

impl FrameHeader {
    const LEN: usize = 6;

    /// The header at the start of `b`, if all of it is there.
    fn read(b: &[u8]) -> Option<FrameHeader> {
        Some(FrameHeader {
            ext: wire::le16(b, 0)? & 0x7fff,
            mtype: *b.get(2)?,
            len: wire::le24(b, 3)? as usize,
        })
    }
}

/// STR0_255: a length byte and UTF-8 text.
fn str0_255(r: &mut Cursor<'_>) -> Option<String> {
    let n = r.u8()? as usize;
    std::str::from_utf8(r.take(n)?)
        .ok()
        .map(crate::detect::framing::rpc::keep)
}

fn message_name(t: u8) -> Option<&'static str> {
    Some(match t {
        0x00 => "SetupConnection",
        0x01 => "SetupConnection.Success",
        0x02 => "SetupConnection.Error",
        0x10 => "OpenStandardMiningChannel",
        0x11 => "OpenStandardMiningChannel.Success",
        0x12 => "OpenMiningChannel.Error",
        0x13 => "OpenExtendedMiningChannel",
        0x14 => "OpenExtendedMiningChannel.Success",
        0x15 => "NewMiningJob",
        0x16 => "UpdateChannel",
        0x18 => "CloseChannel",
        0x19 => "SetExtranoncePrefix",
        0x1a => "SubmitSharesStandard",
        0x1b => "SubmitSharesExtended",
        0x1c => "SubmitShares.Success",
        0x1d => "SubmitShares.Error",
        0x1f => "NewExtendedMiningJob",
        0x20 => "SetNewPrevHash",
        0x21 => "SetTarget",
        0x25 => "Reconnect",
        _ => return None,
    })
}

impl StratumV2 {
    fn count(&mut self, name: &'static str) {
        match self.counts.iter_mut().find(|(n, _)| *n == name) {
            Some((_, c)) => *c += 1,
            None => self.counts.push((name, 1)),
        }
    }

    /// The miner's SetupConnection for the mining protocol, with sane fields.
    fn setup(&mut self, p: &[u8]) -> Option<()> {
        let mut r = Cursor::new(p);
        let protocol = r.u8()?;
        let (min, max) = (r.le16()?, r.le16()?);
        if protocol != 0 || min == 0 || min > max || max > 16 {
            return None;
        }
        let _flags = r.le32()?;
        let host = str0_255(&mut r)?;
        let _port = r.le16()?;
        let f = &mut self.session;
        if !host.is_empty() {
            f.pool_host = Some(host);
        }
        for name in ["vendor", "hw-version", "firmware", "device-id"] {
            let v = str0_255(&mut r)?;
            if !v.is_empty() {
                f.device.push((name.to_string(), v));
            }
        }
        f.agent = f
            .device
            .iter()
            .find(|(k, _)| k == "firmware")
            .map(|(_, v)| v.clone());
        Some(())
    }

    fn frame(&mut self, dir: Dir, mtype: u8, p: &[u8]) {
        let Some(name) = message_name(mtype) else {
            return;
        };
        self.count(name);
        let f = &mut self.session;
        let mut r = Cursor::new(p);
        match mtype {
            0x10 | 0x13 => {
                let _req = r.le32();
                if let Some(user) = str0_255(&mut r) {
                    if !user.is_empty() && f.workers.len() < 64 && !f.workers.contains(&user) {
                        f.workers.push(user);
                    }
                }
                if let Some(rate) = r.le32() {
                    let h = f32::from_bits(rate);
                    if h.is_finite() && h > 0.0 {
                        f.claimed_hashrate_hs = Some(h as f64);
                    }
                }
            }
            // Open*MiningChannel.Success: request_id, channel_id, target (U256); SetTarget:
            // channel_id, maximum_target.
            0x11 | 0x14 | 0x21 => {
                if mtype != 0x21 {
                    let _ = r.le32();
                }
                let _ = r.le32();
                if let Some(tb) = r.take(32) {
                    if let Some(h) = target_hashes(tb) {
                        let v = ShareValue::Hashes(h);
                        self.share_value = Some(v);
                        if f.difficulty_changes.len() < 64 {
                            f.difficulty_changes.push((self.now, v));
                        }
                        f.target = Some(target_hex(tb));
                    }
                }
            }
            0x15 | 0x1f => f.jobs += 1,
            0x1a | 0x1b => {
                f.shares.submitted += 1;
                f.work.submitted.add(self.share_value);
            }
            0x1c => {
                // channel_id, last_sequence_number, new_submits_accepted_count, ...
                let _ = (r.le32(), r.le32());
                let n = r.le32().map_or(1, u64::from);
                f.shares.accepted += n;
                // Each accepted share at the channel's current target (a count the pool
                // gives; capped so that a hostile count cannot make this loop long).
                for _ in 0..n.min(1 << 16) {
                    f.work.accepted.add(self.share_value);
                }
            }
            0x1d => f.shares.rejected += 1,
            _ => {}
        }
        let _ = dir;
    }

    /// Reads the frames at the start of `buf`: the first must be a plain `SetupConnection`
    /// for the mining protocol, the later ones are followed.
    fn parse_frames(&mut self, dir: Dir, buf: &[u8]) -> Progress {
        let mut off = 0;
        while let Some(FrameHeader { ext, mtype, len }) = FrameHeader::read(&buf[off..]) {
            if len > MAX_FRAME {
                self.not_plain |= self.state == State::Probing;
                return Progress::Incomplete {
                    consumed: buf.len(),
                    needed: 0,
                };
            }
            let start = off + FrameHeader::LEN;
            let Some(payload) = buf.get(start..start + len) else {
                return Progress::Incomplete {
                    consumed: off,
                    needed: FrameHeader::LEN + len,
                };
            };
            off = start + len;
            match self.state {
                State::Probing => {
                    if ext == 0 && mtype == 0 && self.setup(payload).is_some() {
                        self.state = State::Plain;
                        self.client = Some(dir);
                        self.count("SetupConnection");
                    } else {
                        self.not_plain = true;
                        break;
                    }
                }
                State::Plain if ext == 0 => self.frame(dir, mtype, payload),
                _ => {}
            }
        }
        Progress::Incomplete {
            consumed: off,
            needed: FrameHeader::LEN,
        }
    }

    /// Client 64 bytes, server 170, client again: the Stratum V2 Noise NX handshake.
    fn noise_shape(&self) -> bool {
        matches!(self.bursts[..], [(a, 64), (b, 170), (c, n), ..] if a != b && c == a && n >= 22 + 16)
    }

    /// Whether the bursts so far could still become the Noise shape.
    fn noise_possible(&self) -> bool {
        match self.bursts[..] {
            [] => true,
            [(_, n)] => n <= 64,
            [(_, 64), (_, n)] => n <= 170,
            _ => self.noise_shape(),
        }
    }
}

impl Detector for StratumV2 {
    fn name(&self) -> &'static str {
        "stratum-v2"
    }

    fn on_data(&mut self, dir: Dir, data: &[u8], ts_ns: u64) {
        self.now = ts_ns;
        if self.bursts.len() < 4 {
            match self.bursts.last_mut() {
                Some((d, n)) if *d == dir => *n += data.len(),
                _ => self.bursts.push((dir, data.len())),
            }
            if self.state == State::Probing && self.noise_shape() {
                self.state = State::Noise;
                self.client = Some(self.bursts[0].0);
                return;
            }
        }
        match self.state {
            State::Probing | State::Plain => {
                if !self.not_plain {
                    let mut held = std::mem::take(&mut self.held[dir.index()]);
                    let _ = held.feed(data, MAX_BUF, |b| self.parse_frames(dir, b));
                    self.held[dir.index()] = held;
                }
                if self.state == State::Probing && self.not_plain && !self.noise_possible() {
                    self.state = State::NotThis;
                }
            }
            State::Noise | State::NotThis => {}
        }
    }

    fn on_gap(&mut self, dir: Dir) {
        self.held[dir.index()].clear();
        if self.state == State::Probing {
            self.state = State::NotThis;
        }
    }

    fn interest(&self) -> Interest {
        match self.state {
            State::Probing => Interest::Probing,
            State::Plain => Interest::Matched,
            State::Noise => Interest::Done,
            State::NotThis => Interest::NotThis,
        }
    }

    fn finding(&self) -> Option<Finding> {
        let mut f = self.found.clone();
        f.miner_sends = self.client;
        match self.state {
            State::Plain => {
                f.detail = Detail::Mining(Box::new(self.session.clone()));
                let client_only = self.counts.iter().all(|(n, _)| {
                    matches!(
                        *n,
                        "SetupConnection"
                            | "OpenStandardMiningChannel"
                            | "OpenExtendedMiningChannel"
                            | "SubmitSharesStandard"
                            | "SubmitSharesExtended"
                    )
                });
                f.coverage = if client_only {
                    Coverage::MinerOnly
                } else {
                    Coverage::BothSides
                };
                f.signals = self
                    .counts
                    .iter()
                    .map(|(n, c)| {
                        if *c == 1 {
                            format!("sv2:{n}")
                        } else {
                            format!("sv2:{n} x{c}")
                        }
                    })
                    .collect();
                Some(f)
            }
            State::Noise => {
                f.kind = Kind::Shape;
                f.protocol = "stratum-v2-noise";
                f.app_proto = "stratum-v2";
                f.signals = vec!["sv2-noise:handshake 64/170 bytes, then encrypted frames".into()];
                Some(f)
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_handshake_shape() {
        let mut d = StratumV2::default();
        d.on_data(Dir::Fwd, &[0xa7; 64], 0);
        assert_eq!(d.interest(), Interest::Probing);
        d.on_data(Dir::Rev, &[0x3c; 170], 0);
        d.on_data(Dir::Fwd, &[0x91; 128], 0);
        assert_eq!(d.interest(), Interest::Done);
        let f = d.finding().unwrap();
        assert_eq!((f.kind, f.protocol), (Kind::Shape, "stratum-v2-noise"));
        assert_eq!(f.miner_sends, Some(Dir::Fwd));
    }

    #[test]
    fn other_binary_protocols_are_neither_form() {
        let mut d = StratumV2::default();
        d.on_data(Dir::Fwd, &[0x16; 80], 0);
        assert_eq!(d.interest(), Interest::NotThis);
        let mut d = StratumV2::default();
        d.on_data(Dir::Fwd, &[0x16; 64], 0);
        d.on_data(Dir::Rev, &[0x16; 100], 0);
        d.on_data(Dir::Fwd, &[0x16; 100], 0);
        assert_eq!(d.interest(), Interest::NotThis);
    }
}

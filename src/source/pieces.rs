//! Cutting one input into pieces that several readers parse at once: an opened input in;
//! [`Piece`]s out, in input order, each a run of whole records with its parser's state at the
//! first of them.
//!
//! A mapped pcap file is cut where its parser finds, from the bytes alone, a run of plausible
//! records that chain (`CaptureParser::resync`): nothing is walked twice, and the reader of
//! each piece checks that its last record ends exactly where the next piece starts. Formats
//! whose state changes along the way (pcapng declares interfaces between packets) and streams
//! are cut where one thread walked their records: it only frames them, the readers decode.

use super::records::{drive, ReadOutcome, TRUNCATED};
use super::{Block, CaptureParser, RawPacket, Step};
use std::ops::Range;
use std::sync::atomic::AtomicBool;

/// Bytes of a mapped input per piece: small enough that pieces spread over the readers and
/// the packets in flight stay few, large enough that a reader's hand-over costs nothing.
pub const PIECE_BYTES: usize = 8 << 20;

/// A run of whole records of one input, with the parser as it stands at the first of them.
pub struct Piece {
    /// The bytes the records are in.
    pub block: Block,
    /// Where the records are in the block.
    pub range: Range<usize>,
    /// The block's offset in the input (for the offsets of damage).
    pub base: u64,
    parser: Box<dyn CaptureParser>,
    /// The piece ends where the next one was guessed to start: a record that runs past it
    /// means the guess was wrong.
    guessed_end: bool,
}

impl Piece {
    pub(super) fn new(
        block: Block,
        range: Range<usize>,
        base: u64,
        parser: Box<dyn CaptureParser>,
    ) -> Self {
        Piece {
            block,
            range,
            base,
            parser,
            guessed_end: false,
        }
    }

    /// Reads every packet of the piece, calling `f` with the block its bytes live in. Damage
    /// ends the piece (`bytes` then says how far it got).
    pub fn read(
        &mut self,
        stop: &AtomicBool,
        mut f: impl FnMut(&Block, RawPacket<'_>),
    ) -> ReadOutcome {
        let Range { start, end } = self.range;
        self.block.prefault(start..end);
        let mut d = drive(
            &mut *self.parser,
            &self.block,
            (start, self.base, end),
            true,
            stop,
            &mut f,
        );
        if let Some(damage) = d.damage.as_mut().filter(|_| self.guessed_end) {
            if damage.reason == TRUNCATED {
                damage.reason = "a record runs past where the next piece of the file was taken \
                                 to start (records that looked like a boundary were not one)"
                    .into();
            }
        }
        let read = (d.pos - start) as u64;
        d.outcome(read)
    }
}

/// Cuts a whole (mapped) input into pieces of about `size` bytes; the first piece starts at
/// the beginning, with the parser as it is (it reads the file header).
pub(super) fn cut_whole(
    block: &Block,
    parser: &mut dyn CaptureParser,
    size: usize,
    emit: &mut dyn FnMut(Piece),
) {
    let buf: &[u8] = block;
    // The parser as it stands at the first packet: past the file header (or section blocks).
    let mut past = parser.fork();
    let mut first = 0;
    while let Step::Skip { next } = past.step(buf, first) {
        first = next;
    }
    let piece = |range: Range<usize>, parser: Box<dyn CaptureParser>, guessed_end| Piece {
        block: block.clone(),
        range,
        base: 0,
        parser,
        guessed_end,
    };
    let mut start = (0, parser.fork());
    if past.resync(buf, first) == Some(first) {
        // Boundaries found from the bytes.
        let mut target = first.saturating_add(size);
        while target < buf.len() {
            let Some(cut) = past.resync(buf, target) else {
                break;
            };
            let (from, p) = std::mem::replace(&mut start, (cut, past.fork()));
            emit(piece(from..cut, p, true));
            target = cut.saturating_add(size);
        }
    } else {
        // Boundaries found by walking the records (framing only).
        let mut pos = first;
        while let Step::Packet { next, .. } | Step::Skip { next } = past.step(buf, pos) {
            pos = next;
            if pos - start.0 >= size && pos < buf.len() {
                let (from, p) = std::mem::replace(&mut start, (pos, past.fork()));
                emit(piece(from..pos, p, false));
            }
        }
    }
    let (from, p) = start;
    emit(piece(from..buf.len(), p, false));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::{open_bytes, open_stream, InputName};
    use synth::capture::{Format, Frame, L2};

    fn frames(n: usize) -> Vec<Frame> {
        (0..n)
            .map(|i| Frame {
                ts_ns: 1_700_000_000_000_000_000 + i as u64 * 1_000_000,
                l2: L2::Ethernet,
                data: vec![(i % 251) as u8; 60 + (i * 37) % 1400],
            })
            .collect()
    }

    /// (timestamp, length) of every packet, read piece by piece with pieces of `size` bytes;
    /// and how many pieces there were.
    fn by_pieces(bytes: &[u8], size: usize, stream: bool) -> (Vec<(u64, usize)>, usize) {
        let mut input = if stream {
            let r = Box::new(std::io::Cursor::new(bytes.to_vec()));
            open_stream(InputName::Stdin, r)
        } else {
            open_bytes(InputName::Stdin, bytes.to_vec())
        }
        .expect("a capture");
        let never = AtomicBool::new(false);
        let mut pieces = Vec::new();
        let out = input.cut(size, &never, &mut |p| pieces.push(p));
        assert!(out.damage.is_none(), "{:?}", out.damage);
        let n = pieces.len();
        let mut got = Vec::new();
        for mut p in pieces {
            let o = p.read(&never, |_, raw| got.push((raw.ts_ns, raw.data.len())));
            assert!(o.damage.is_none(), "{:?}", o.damage);
        }
        (got, n)
    }

    #[test]
    fn pieces_hold_every_packet_once_in_order_for_pcap_and_pcapng() {
        let fr = frames(3000);
        let want: Vec<(u64, usize)> = fr.iter().map(|f| (f.ts_ns, f.data.len())).collect();
        for format in [Format::Pcap, Format::Pcapng] {
            let bytes = format.write(&fr);
            for size in [1 << 10, 100_000, 1 << 30] {
                let (got, n) = by_pieces(&bytes, size, false);
                assert_eq!(got, want, "{format:?}, pieces of {size}");
                assert_eq!(
                    n > 1,
                    size < bytes.len(),
                    "{format:?}: {n} pieces of {size}"
                );
            }
            // A stream is cut where its blocks end.
            let (got, _) = by_pieces(&bytes, PIECE_BYTES, true);
            assert_eq!(got, want, "{format:?} from a stream");
        }
    }

    #[test]
    fn a_damaged_record_ends_its_piece_with_the_offset() {
        let fr = frames(2000);
        let mut bytes = Format::Pcap.write(&fr);
        // The 1000th record's captured length, made impossible.
        let mut at = 24;
        for f in &fr[..999] {
            at += 16 + f.data.len();
        }
        bytes[at + 8..at + 12].copy_from_slice(&0xffff_fff0u32.to_le_bytes());
        let mut input = open_bytes(InputName::Stdin, bytes).expect("a capture");
        let never = AtomicBool::new(false);
        let mut pieces = Vec::new();
        input.cut(100_000, &never, &mut |p| pieces.push(p));
        let damages: Vec<_> = pieces
            .iter_mut()
            .filter_map(|p| p.read(&never, |_, _| {}).damage)
            .collect();
        assert_eq!(damages.len(), 1, "{damages:?}");
        assert_eq!(damages[0].offset, at as u64);
        assert_eq!(damages[0].reason, "pcap record longer than the snap length");
    }
}

//! The one place where detectors of record-framed protocols (TLS records, Stratum V2 frames,
//! DNS over TCP, levin messages) have their bytes buffered. A protocol's parser looks at what
//! is there and answers, like Suricata's app-layer parsers, how much it used and how much it
//! needs before it is worth calling again; [`Held`] keeps the rest, up to a cap. When nothing
//! is held, the parser reads the reassembled bytes in place, without a copy.

/// What a parser made of the bytes it was shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// `consumed` bytes are used up; show the rest again once at least `needed` bytes (counted
    /// from the first byte not consumed) are there — 0 when any new byte is worth a look.
    Incomplete { consumed: usize, needed: usize },
    /// Nothing more is wanted from this direction: what is held is dropped.
    Stop,
}

/// The held bytes passed the cap and were dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overflow;

/// One direction's bytes that a parser has not consumed yet.
#[derive(Debug, Default)]
pub struct Held {
    buf: Vec<u8>,
    needed: usize,
}

impl Held {
    /// Shows `parse` the held bytes followed by `data` (in place when nothing is held), and
    /// keeps what it leaves; `Err(Overflow)` when more than `max` bytes would stay held (they
    /// are dropped).
    pub fn feed(
        &mut self,
        data: &[u8],
        max: usize,
        mut parse: impl FnMut(&[u8]) -> Progress,
    ) -> Result<(), Overflow> {
        let progress = if self.buf.is_empty() {
            let p = parse(data);
            if let Progress::Incomplete { consumed, needed } = p {
                self.buf
                    .extend_from_slice(data.get(consumed..).unwrap_or_default());
                self.needed = needed;
            }
            p
        } else {
            self.buf.extend_from_slice(data);
            if self.buf.len() < self.needed {
                return self.check(max);
            }
            let p = parse(&self.buf);
            if let Progress::Incomplete { consumed, needed } = p {
                self.buf.drain(..consumed.min(self.buf.len()));
                self.needed = needed;
            }
            p
        };
        if progress == Progress::Stop {
            self.clear();
            return Ok(());
        }
        self.check(max)
    }

    fn check(&mut self, max: usize) -> Result<(), Overflow> {
        if self.buf.len() > max {
            self.clear();
            return Err(Overflow);
        }
        Ok(())
    }

    /// Drops what is held (bytes were lost, or the parser is done).
    pub fn clear(&mut self) {
        self.buf.clear();
        self.needed = 0;
    }

    /// Whether nothing is held.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Length-prefixed records (one byte of length), as a parser would read them.
    fn records(b: &[u8], seen: &mut Vec<Vec<u8>>) -> Progress {
        let mut off = 0;
        while let Some(&n) = b.get(off) {
            let Some(r) = b.get(off + 1..off + 1 + n as usize) else {
                return Progress::Incomplete {
                    consumed: off,
                    needed: 1 + n as usize,
                };
            };
            seen.push(r.to_vec());
            off += 1 + n as usize;
        }
        Progress::Incomplete {
            consumed: off,
            needed: 0,
        }
    }

    #[test]
    fn records_cut_anywhere_come_out_whole() {
        let stream = [3, b'a', b'b', b'c', 0, 2, b'x', b'y'];
        for cut in 0..=stream.len() {
            let (mut h, mut seen) = (Held::default(), Vec::new());
            for part in [&stream[..cut], &stream[cut..]] {
                h.feed(part, 64, |b| records(b, &mut seen)).unwrap();
            }
            assert_eq!(
                seen,
                [b"abc".to_vec(), vec![], b"xy".to_vec()],
                "cut at {cut}"
            );
            assert!(h.is_empty());
        }
    }

    #[test]
    fn the_parser_is_not_called_before_what_it_needs_is_there() {
        let (mut h, calls) = (Held::default(), std::cell::Cell::new(0));
        let parse = |b: &[u8]| {
            calls.set(calls.get() + 1);
            Progress::Incomplete {
                consumed: 0,
                needed: if b.len() < 10 { 10 } else { 0 },
            }
        };
        for _ in 0..9 {
            h.feed(&[0], 64, parse).unwrap();
        }
        assert_eq!(calls.get(), 1, "only the first byte was worth a look");
        h.feed(&[0], 64, parse).unwrap();
        assert_eq!(calls.get(), 2);
    }

    #[test]
    fn past_the_cap_the_bytes_are_dropped_and_said() {
        let mut h = Held::default();
        let keep = |_: &[u8]| Progress::Incomplete {
            consumed: 0,
            needed: 0,
        };
        assert_eq!(h.feed(&[0; 40], 64, keep), Ok(()));
        assert_eq!(h.feed(&[0; 40], 64, keep), Err(Overflow));
        assert!(h.is_empty());
        assert_eq!(h.feed(&[0; 40], 64, |_| Progress::Stop), Ok(()));
        assert!(h.is_empty());
    }
}

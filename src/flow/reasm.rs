//! One direction of a TCP stream put back in sequence order.
//!
//! In-order bytes are handed on at once; retransmitted and overlapping bytes are dropped;
//! segments that arrive early are held (copied) up to a byte cap. When the cap is reached, or
//! the stream ends with bytes still missing, the hole is reported as a gap and delivery goes on
//! from the next bytes held: the consumer resynchronises.

/// What the reassembler hands on.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Bytes in order.
    Data(&'a [u8]),
    /// Bytes were lost here.
    Gap,
}

#[derive(Debug, Default, Clone, Copy)]
/// What reassembly dropped or skipped.
pub struct ReasmStats {
    /// Retransmitted or overlapping bytes dropped.
    pub duplicate_bytes: u64,
    /// Holes skipped.
    pub gaps: u64,
}

#[derive(Debug)]
/// One direction of a TCP stream put back in order, holding early segments up to a cap.
pub struct Reassembler {
    next: Option<u32>,
    held: Vec<(u32, Vec<u8>)>,
    held_bytes: usize,
    max_held: usize,
    /// What it dropped or skipped.
    pub stats: ReasmStats,
}

/// `a - b` as a signed distance in sequence space.
fn dist(a: u32, b: u32) -> i64 {
    a.wrapping_sub(b) as i32 as i64
}

impl Reassembler {
    /// A reassembler that holds at most `max_held` out-of-order bytes.
    pub fn new(max_held: usize) -> Self {
        Reassembler {
            next: None,
            held: Vec::new(),
            held_bytes: 0,
            max_held,
            stats: ReasmStats::default(),
        }
    }

    /// Bytes currently held out of order.
    pub fn held_bytes(&self) -> usize {
        self.held_bytes
    }

    /// A SYN fixes the initial sequence number.
    pub fn syn(&mut self, seq: u32) {
        if self.next.is_none() {
            self.next = Some(seq.wrapping_add(1));
        }
    }

    /// Takes one segment; calls `out` for every chunk that becomes deliverable.
    pub fn segment(&mut self, seq: u32, data: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        if data.is_empty() {
            return;
        }
        // First data of a stream picked up mid-way: start here.
        let next = *self.next.get_or_insert(seq);
        let d = dist(seq, next);
        if d > 0 {
            self.hold(seq, data, out);
            return;
        }
        self.deliver(seq, data, (-d) as usize, out);
        self.drain(out);
    }

    /// Hands on `data` (which starts at `seq`) minus its first `skip` bytes, already delivered.
    fn deliver(&mut self, seq: u32, data: &[u8], skip: usize, out: &mut dyn FnMut(Chunk<'_>)) {
        if skip >= data.len() {
            self.stats.duplicate_bytes += data.len() as u64;
            return;
        }
        self.stats.duplicate_bytes += skip as u64;
        out(Chunk::Data(&data[skip..]));
        self.next = Some(seq.wrapping_add(data.len() as u32));
    }

    fn hold(&mut self, seq: u32, data: &[u8], out: &mut dyn FnMut(Chunk<'_>)) {
        let at = self
            .held
            .iter()
            .position(|(s, _)| dist(*s, seq) > 0)
            .unwrap_or(self.held.len());
        self.held.insert(at, (seq, data.to_vec()));
        self.held_bytes += data.len();
        while self.held_bytes > self.max_held && !self.held.is_empty() {
            self.skip_gap(out);
        }
    }

    /// Gives up on the missing bytes before the first held segment.
    fn skip_gap(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        if let Some((s, _)) = self.held.first() {
            self.stats.gaps += 1;
            out(Chunk::Gap);
            self.next = Some(*s);
            self.drain(out);
        }
    }

    fn drain(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while let Some((s, _)) = self.held.first() {
            let Some(next) = self.next else { return };
            let d = dist(*s, next);
            if d > 0 {
                return;
            }
            let (s, bytes) = self.held.remove(0);
            self.held_bytes -= bytes.len();
            self.deliver(s, &bytes, (-d) as usize, out);
        }
    }

    /// The stream ended: hand on whatever is held, with gaps where bytes are missing.
    pub fn finish(&mut self, out: &mut dyn FnMut(Chunk<'_>)) {
        while !self.held.is_empty() {
            self.skip_gap(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn run(r: &mut Reassembler, segs: &[(u32, Vec<u8>)]) -> (Vec<u8>, usize) {
        let mut got = Vec::new();
        let mut gaps = 0;
        let mut out = |c: Chunk<'_>| match c {
            Chunk::Data(d) => got.extend_from_slice(d),
            Chunk::Gap => gaps += 1,
        };
        for (s, d) in segs {
            r.segment(*s, d, &mut out);
        }
        r.finish(&mut out);
        (got, gaps)
    }

    #[test]
    fn retransmission_and_overlap_are_dropped() {
        let mut r = Reassembler::new(1 << 16);
        r.syn(99);
        let segs = vec![
            (100, b"hello ".to_vec()),
            (100, b"hello ".to_vec()),
            (103, b"lo wor".to_vec()),
            (109, b"ld".to_vec()),
        ];
        let (got, gaps) = run(&mut r, &segs);
        assert_eq!(got, b"hello world");
        assert_eq!(gaps, 0);
        assert_eq!(r.stats.duplicate_bytes, 6 + 3);
    }

    #[test]
    fn a_hole_becomes_a_gap_and_delivery_resumes() {
        let mut r = Reassembler::new(8);
        r.syn(0);
        let segs = vec![
            (1, b"ab".to_vec()),
            (10, b"later".to_vec()),
            (15, b"more!".to_vec()),
        ];
        let (got, gaps) = run(&mut r, &segs);
        assert_eq!(got, b"ablatermore!");
        assert_eq!(gaps, 1);
        assert_eq!(r.held_bytes(), 0);
    }

    #[test]
    fn sequence_numbers_wrap() {
        let mut r = Reassembler::new(1 << 16);
        r.syn(u32::MAX - 2);
        let segs = vec![(1, b"def".to_vec()), (u32::MAX - 1, b"abc".to_vec())];
        assert_eq!(run(&mut r, &segs).0, b"abcdef");
    }

    proptest! {
        /// Whatever the segmentation, order and duplication (within the holding window), the
        /// bytes come out as they were sent.
        #[test]
        fn same_bytes_whatever_the_segmentation(
            data in proptest::collection::vec(any::<u8>(), 1..2000),
            cuts in proptest::collection::vec(1usize..64, 1..200),
            swaps in proptest::collection::vec((0usize..400, 0usize..4), 0..100),
            dups in proptest::collection::vec(0usize..400, 0..20),
            isn in any::<u32>(),
        ) {
            let mut segs = Vec::new();
            let mut at = 0;
            let mut i = 0;
            while at < data.len() {
                let n = cuts[i % cuts.len()];
                let end = (at + n).min(data.len());
                segs.push((isn.wrapping_add(1).wrapping_add(at as u32), data[at..end].to_vec()));
                at = end;
                i += 1;
            }
            for (a, d) in swaps {
                let a = a % segs.len();
                let b = (a + d).min(segs.len() - 1);
                segs.swap(a, b);
            }
            for d in dups {
                let s = segs[d % segs.len()].clone();
                segs.push(s);
            }
            let mut r = Reassembler::new(1 << 20);
            r.syn(isn);
            let (got, gaps) = run(&mut r, &segs);
            prop_assert_eq!(gaps, 0);
            prop_assert_eq!(got, data);
        }
    }
}

//! Newline framing for line-based protocols, bounded: a line longer than the cap is skipped up
//! to its newline, and after a gap (or when a stream is picked up mid-way) the partial line is
//! dropped and framing resumes at the next newline.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// At a line boundary or inside a line being buffered.
    InLine,
    /// Discarding up to the next newline (after a gap, mid-stream start, or an over-long line).
    Skip,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct LineStats {
    pub lines: u64,
    pub overlong: u64,
}

#[derive(Debug)]
pub struct LineFramer {
    buf: Vec<u8>,
    max_line: usize,
    mode: Mode,
    pub stats: LineStats,
}

impl LineFramer {
    /// A framer at the start of a stream.
    pub fn new(max_line: usize) -> Self {
        LineFramer {
            buf: Vec::new(),
            max_line,
            mode: Mode::InLine,
            stats: LineStats::default(),
        }
    }

    /// A framer for a stream joined mid-way: the first partial line is dropped unless the data
    /// plainly starts a JSON object.
    pub fn mid_stream(max_line: usize) -> Self {
        let mut f = Self::new(max_line);
        f.mode = Mode::Skip;
        f
    }

    /// Bytes were lost: drop the partial line and resynchronise at the next newline.
    pub fn gap(&mut self) {
        self.buf.clear();
        self.mode = Mode::Skip;
    }

    /// Feeds bytes; calls `line` with each complete line (without `\r\n`). Returns early, with
    /// the rest unread, if `line` returns false.
    pub fn feed(&mut self, mut data: &[u8], line: &mut dyn FnMut(&[u8]) -> bool) {
        if self.mode == Mode::Skip && self.buf.is_empty() && data.first() == Some(&b'{') {
            self.mode = Mode::InLine;
        }
        while !data.is_empty() {
            let nl = memchr::memchr(b'\n', data);
            match (self.mode, nl) {
                (Mode::Skip, Some(i)) => {
                    self.mode = Mode::InLine;
                    data = &data[i + 1..];
                }
                (Mode::Skip, None) => return,
                (Mode::InLine, Some(i)) => {
                    let keep_going = if self.buf.is_empty() {
                        self.emit_slice(&data[..i], line)
                    } else if self.buf.len() + i > self.max_line {
                        self.buf.clear();
                        self.stats.overlong += 1;
                        true
                    } else {
                        let mut whole = std::mem::take(&mut self.buf);
                        whole.extend_from_slice(&data[..i]);
                        let r = self.emit_slice(&whole, line);
                        whole.clear();
                        self.buf = whole; // keep the allocation
                        r
                    };
                    data = &data[i + 1..];
                    if !keep_going {
                        return;
                    }
                }
                (Mode::InLine, None) => {
                    if self.buf.len() + data.len() > self.max_line {
                        self.buf.clear();
                        self.stats.overlong += 1;
                        self.mode = Mode::Skip;
                    } else {
                        self.buf.extend_from_slice(data);
                    }
                    return;
                }
            }
        }
    }

    fn emit_slice(&mut self, l: &[u8], line: &mut dyn FnMut(&[u8]) -> bool) -> bool {
        if l.len() > self.max_line {
            self.stats.overlong += 1;
            return true;
        }
        let l = l.strip_suffix(b"\r").unwrap_or(l);
        self.stats.lines += 1;
        line(l)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(f: &mut LineFramer, chunks: &[&[u8]]) -> Vec<String> {
        let mut out = Vec::new();
        for c in chunks {
            f.feed(c, &mut |l| {
                out.push(String::from_utf8_lossy(l).into_owned());
                true
            });
        }
        out
    }

    #[test]
    fn lines_across_chunks() {
        let mut f = LineFramer::new(100);
        let got = lines(&mut f, &[b"ab", b"c\r\nde", b"f\n\ng"]);
        assert_eq!(got, ["abc", "def", ""]);
    }

    #[test]
    fn overlong_line_is_skipped_and_framing_resumes() {
        let mut f = LineFramer::new(4);
        let got = lines(&mut f, &[b"123", b"456789", b"0\nok\n"]);
        assert_eq!(got, ["ok"]);
        assert_eq!(f.stats.overlong, 1);
    }

    #[test]
    fn gap_drops_partial_line() {
        let mut f = LineFramer::new(100);
        let mut got = lines(&mut f, &[b"{\"a\":"]);
        f.gap();
        got.extend(lines(&mut f, &[b"1}\n{\"b\":2}\n"]));
        assert_eq!(got, ["{\"b\":2}"]);
    }

    #[test]
    fn mid_stream_starting_with_brace_keeps_first_line() {
        let mut f = LineFramer::mid_stream(100);
        assert_eq!(lines(&mut f, &[b"{\"x\":1}\n"]), ["{\"x\":1}"]);
        let mut f = LineFramer::mid_stream(100);
        assert_eq!(lines(&mut f, &[b"x\":1}\n{\"y\":2}\n"]), ["{\"y\":2}"]);
    }
}

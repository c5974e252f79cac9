//! A flow's conversation rhythm: its messages (TLS application-data records when the flow speaks
//! TLS, else payload packets), who starts each exchange and who answers, how big each side's
//! messages are and how regularly each side starts exchanges. Read from each packet's payload
//! alone (TLS record headers walked within the packet, a record's tail carried to the next), so
//! it costs a few comparisons per packet and needs no reassembly.
//!
//! Pairing: a message that follows, within [`REPLY_WINDOW_NS`], the other side's message that
//! started an exchange *answers* it; one that follows its own side's message that closely
//! *continues* it; any other message *starts* an exchange (a miner's share submission, a pool's
//! job push, a heartbeat) — also one that follows an answer closely, as a miner's next share may.

/// How soon a message must follow the other side's to count as its answer (1 s: a pool answers
/// a share within a round trip; a job push comes seconds apart).
pub const REPLY_WINDOW_NS: u64 = 1_000_000_000;

/// A message at least this big (bytes) is bulk.
pub const BULK_MESSAGE: u32 = 4096;

/// Count, mean and sum of squared deviations (Welford), for gaps between events (seconds).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Gaps {
    n: u32,
    mean: f64,
    m2: f64,
}

impl Gaps {
    fn add(&mut self, x: f64) {
        self.n += 1;
        let delta = x - self.mean;
        self.mean += delta / f64::from(self.n);
        self.m2 += delta * (x - self.mean);
    }
    /// Mean gap and coefficient of variation, from two gaps on.
    pub fn period(&self) -> Option<(f64, f64)> {
        (self.n >= 2 && self.mean > 0.0).then(|| {
            (
                self.mean,
                (self.m2 / f64::from(self.n - 1)).sqrt() / self.mean,
            )
        })
    }
    /// Gaps seen.
    pub fn count(&self) -> u32 {
        self.n
    }
}

/// What one side of a flow did, in messages.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Side {
    /// Messages sent.
    pub messages: u32,
    /// Their bytes (record lengths, or payload lengths).
    pub bytes: u64,
    /// The biggest.
    pub max: u32,
    /// Messages of [`BULK_MESSAGE`] bytes or more.
    pub bulk: u32,
    /// Exchanges this side started.
    pub starts: u32,
    /// Bytes of the messages that started them.
    pub start_bytes: u64,
    /// Of those, answered by the other side within the reply window.
    pub answered: u32,
    /// Messages that answered the other side.
    pub answers: u32,
    /// Bytes of those answers (the first message of each).
    pub answer_bytes: u64,
    /// Size of the first answer (to a login, say: often the biggest).
    pub first_answer: u32,
    /// Gaps between the exchanges this side started.
    pub start_gaps: Gaps,
    last_start: u64,
    awaiting: bool,
}

impl Side {
    /// Mean size of the messages that started exchanges.
    pub fn mean_start(&self) -> f64 {
        self.start_bytes as f64 / f64::from(self.starts.max(1))
    }
    /// Mean size of this side's answers.
    pub fn mean_answer(&self) -> f64 {
        self.answer_bytes as f64 / f64::from(self.answers.max(1))
    }
    /// Mean size of this side's answers after the first, if there were two or more.
    pub fn mean_later_answer(&self) -> Option<f64> {
        (self.answers >= 2).then(|| {
            (self.answer_bytes - u64::from(self.first_answer)) as f64 / f64::from(self.answers - 1)
        })
    }
}

/// Where a direction stands in walking TLS records.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Walk {
    /// No TLS record seen yet in this direction.
    #[default]
    Unknown,
    /// At a record boundary after `carry` more bytes of the current record.
    Records { carry: u32 },
    /// Not TLS records (or lost track): each payload packet is a message.
    Packets,
}

/// A flow's conversation rhythm; see the module documentation.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Rhythm {
    /// Per direction (indexed by `Dir::index`).
    pub sides: [Side; 2],
    /// The flow opened with a TLS handshake.
    pub tls: bool,
    /// Capture time of the first message.
    pub first_ts: u64,
    /// Capture time of the last message.
    pub last_ts: u64,
    /// Longest silence between messages (ns).
    pub max_idle_ns: u64,
    walk: [Walk; 2],
    /// TLS records begun per direction (any type).
    records: [u32; 2],
    /// The side that sent the first payload (the ClientHello).
    opener: u8,
    /// TLS 1.3: the server sent application-data records before the client's second record
    /// (its encrypted handshake); the client's first then is its Finished.
    tls13: bool,
    /// The client's Finished was passed over.
    finished: bool,
    last_dir: Option<u8>,
    /// The last message started an exchange (or continued one that did).
    last_started: bool,
    any_payload: bool,
}

/// The record type and length of a TLS record header at `b[o..]`, if one is there.
fn record_header(b: &[u8], o: usize) -> Option<(u8, u32)> {
    let h = b.get(o..o + 5)?;
    let plausible = (0x14..=0x17).contains(&h[0]) && h[1] == 3 && h[2] <= 4;
    plausible.then(|| (h[0], u32::from(u16::from_be_bytes([h[3], h[4]]))))
}

impl Rhythm {
    /// Takes one payload-carrying packet sent in direction `d` at `ts`.
    pub fn add(&mut self, d: usize, ts: u64, payload: &[u8]) {
        if !self.any_payload {
            self.any_payload = true;
            self.opener = d as u8;
            self.tls = record_header(payload, 0).is_some_and(|(t, _)| t == 0x16);
        }
        if !self.tls {
            self.message(d, ts, payload.len());
            return;
        }
        let mut at = match self.walk[d] {
            Walk::Packets => {
                self.message(d, ts, payload.len());
                return;
            }
            Walk::Unknown => 0,
            Walk::Records { carry } => carry as usize,
        };
        while at < payload.len() {
            let Some((kind, len)) = record_header(payload, at) else {
                // Lost track (a gap, a retransmission): count packets from here on.
                self.walk[d] = Walk::Packets;
                self.message(d, ts, payload.len() - at);
                return;
            };
            self.records[d] += 1;
            if kind == 0x17 {
                self.app_record(d, ts, len);
            }
            at += 5 + len as usize;
        }
        self.walk[d] = Walk::Records {
            carry: (at - payload.len()) as u32,
        };
    }

    /// An application-data record: a message, unless it still belongs to the handshake.
    fn app_record(&mut self, d: usize, ts: u64, len: u32) {
        let client = usize::from(self.opener);
        if d != client && self.records[client] <= 1 {
            // The server's encrypted handshake, before the client said more than its hello.
            self.tls13 = true;
            return;
        }
        if d == client && self.tls13 && !self.finished {
            self.finished = true;
            return;
        }
        if d != client && self.tls13 && self.sides[client].messages == 0 {
            // TLS 1.3 session tickets, sent after the client's Finished and before it says
            // anything (a server that speaks first loses its greeting here).
            return;
        }
        self.message(d, ts, len as usize);
    }

    fn message(&mut self, d: usize, ts: u64, len: usize) {
        let len = len.min(u32::MAX as usize) as u32;
        if self.first_ts == 0 {
            self.first_ts = ts;
        } else {
            self.max_idle_ns = self.max_idle_ns.max(ts.saturating_sub(self.last_ts));
        }
        let close = self.last_ts != 0 && ts.saturating_sub(self.last_ts) <= REPLY_WINDOW_NS;
        let last = self.last_dir;
        let (this, other) = if d == 0 {
            let (a, b) = self.sides.split_at_mut(1);
            (&mut a[0], &mut b[0])
        } else {
            let (a, b) = self.sides.split_at_mut(1);
            (&mut b[0], &mut a[0])
        };
        this.messages += 1;
        this.bytes += u64::from(len);
        this.max = this.max.max(len);
        this.bulk += u32::from(len >= BULK_MESSAGE);
        let started = match (close, last) {
            (true, Some(l)) if usize::from(l) != d && self.last_started => {
                this.answers += 1;
                this.answer_bytes += u64::from(len);
                if this.answers == 1 {
                    this.first_answer = len;
                }
                if other.awaiting {
                    other.answered += 1;
                    other.awaiting = false;
                }
                false
            }
            (true, Some(l)) if usize::from(l) == d => self.last_started,
            _ => {
                if this.starts > 0 {
                    this.start_gaps
                        .add(ts.saturating_sub(this.last_start) as f64 / 1e9);
                }
                this.starts += 1;
                this.start_bytes += u64::from(len);
                this.last_start = ts;
                this.awaiting = true;
                true
            }
        };
        self.last_started = started;
        self.last_dir = Some(d as u8);
        self.last_ts = ts;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn app(len: u16) -> Vec<u8> {
        let mut v = vec![0x17, 3, 3];
        v.extend_from_slice(&len.to_be_bytes());
        v.resize(5 + usize::from(len), 0xaa);
        v
    }

    fn opened() -> Rhythm {
        let mut r = Rhythm::default();
        r.add(0, S, &[0x16, 3, 1, 0, 4, 1, 0, 0, 0]);
        r.add(1, S, &[0x16, 3, 3, 0, 4, 2, 0, 0, 0]);
        r
    }

    #[test]
    fn a_miner_starts_submissions_the_pool_answers_them_and_pushes_jobs() {
        let mut r = opened();
        // TLS 1.3: the server's encrypted handshake, then the client's Finished: not messages.
        r.add(1, S, &[app(2000), app(300)].concat());
        r.add(0, 2 * S, &app(53));
        assert_eq!(r.sides[0].messages + r.sides[1].messages, 0);
        r.add(0, 3 * S, &app(150)); // login
        r.add(1, 3 * S + S / 10, &app(600)); // job
        for i in 0..5 {
            r.add(1, (10 + 30 * i) * S, &app(400)); // push
            r.add(0, (20 + 30 * i) * S, &app(160)); // submit
            r.add(1, (20 + 30 * i) * S + S / 10, &app(60)); // accepted
        }
        let (c, s) = (r.sides[0], r.sides[1]);
        assert_eq!(c.starts, 6);
        assert_eq!(c.answered, 6);
        assert_eq!(s.starts, 5);
        assert_eq!(s.answers, 6);
        assert_eq!(c.answers, 0);
        assert!((s.mean_answer() - (600.0 + 5.0 * 60.0) / 6.0).abs() < 1e-9);
        let (period, cv) = s.start_gaps.period().unwrap();
        assert!((period - 30.0).abs() < 1e-9 && cv < 1e-9, "{period} {cv}");
    }

    #[test]
    fn records_split_across_packets_and_packed_together_are_walked() {
        let mut r = opened();
        // TLS 1.2: the client's key exchange and Finished are handshake records; then data.
        r.add(0, 2 * S, &[0x16, 3, 3, 0, 1, 0x10, 0x16, 3, 3, 0, 1, 0x14]);
        r.add(0, 2 * S, &app(100));
        let big = app(5000);
        r.add(1, 2 * S + 1, &big[..1400]);
        r.add(1, 2 * S + 2, &big[1400..2800]);
        r.add(1, 2 * S + 3, &[&big[2800..], &app(40)[..]].concat());
        assert_eq!(r.sides[1].messages, 2);
        assert_eq!(r.sides[1].bulk, 1);
        assert_eq!(r.sides[1].max, 5000);
    }

    #[test]
    fn a_flow_that_is_not_tls_counts_packets_and_lost_records_fall_back_to_packets() {
        let mut r = Rhythm::default();
        r.add(0, S, b"hello");
        r.add(1, S + 1, b"world!");
        assert!(!r.tls);
        assert_eq!((r.sides[0].messages, r.sides[1].answers), (1, 1));
        let mut t = opened();
        t.add(0, 2 * S, &app(10));
        t.add(0, 9 * S, b"garbage, not a record");
        assert_eq!(t.sides[0].messages, 2);
        t.add(0, 20 * S, &app(10));
        assert_eq!(t.sides[0].messages, 3, "packets from then on");
    }
}

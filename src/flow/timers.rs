//! When each flow may next be due to time out, kept in buckets of capture time, so that a
//! timeout sweep looks only at the flows whose time may have come rather than at every flow.
//! A flow is filed when it is made and when it closes; a packet does not refile it. When its
//! bucket comes round the table looks at the flow itself: ended if it really is idle past its
//! timeout, filed again at its new time if a packet came since.

use std::collections::BTreeMap;

/// A flow filed for a time: its slot and what tells it from a later flow in the same slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Due {
    pub slot: u32,
    /// The low 32 bits of its key's hash.
    pub hash: u32,
    pub first_ts: u64,
}

/// Flows by the bucket of capture time in which they may be due.
pub(super) struct Timers {
    /// Nanoseconds of capture time per bucket.
    width: u64,
    due: BTreeMap<u64, Vec<Due>>,
    /// Emptied buckets, kept to be filled again without allocating.
    spare: Vec<Vec<Due>>,
}

impl Timers {
    /// Buckets `width` ns wide (at least 1).
    pub(super) fn new(width: u64) -> Self {
        Timers {
            width: width.max(1),
            due: BTreeMap::new(),
            spare: Vec::new(),
        }
    }

    /// Files `d` to be looked at on the first sweep at or after `at`.
    pub(super) fn file(&mut self, at: u64, d: Due) {
        let spare = &mut self.spare;
        self.due
            .entry(at / self.width)
            .or_insert_with(|| spare.pop().unwrap_or_default())
            .push(d);
    }

    /// Moves into `into` every flow filed for a time at or before `now`, in the order of their
    /// buckets and, within one, of filing.
    pub(super) fn take_due(&mut self, now: u64, into: &mut Vec<Due>) {
        let last = now / self.width;
        while let Some(entry) = self.due.first_entry() {
            if *entry.key() > last {
                break;
            }
            let mut bucket = entry.remove();
            into.append(&mut bucket);
            self.spare.push(bucket);
        }
    }

    /// Forgets every flow filed.
    pub(super) fn clear(&mut self) {
        let spare = &mut self.spare;
        spare.extend(std::mem::take(&mut self.due).into_values().map(|mut b| {
            b.clear();
            b
        }));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(slot: u32) -> Due {
        Due {
            slot,
            hash: 0,
            first_ts: 0,
        }
    }

    #[test]
    fn flows_come_due_by_bucket_and_no_earlier_than_their_bucket() {
        let mut t = Timers::new(10);
        t.file(35, due(1));
        t.file(5, due(2));
        t.file(31, due(3));
        t.file(u64::MAX, due(4));
        let mut got = Vec::new();
        t.take_due(9, &mut got);
        assert_eq!(got, vec![due(2)]);
        got.clear();
        // 35 and 31 share the bucket [30, 40): both are looked at once the sweep reaches it;
        // the table checks each flow's own time.
        t.take_due(29, &mut got);
        assert!(got.is_empty());
        t.take_due(30, &mut got);
        assert_eq!(got, vec![due(1), due(3)]);
        got.clear();
        // A jump of the clock takes everything before it, but not the flow filed for never.
        t.file(1000, due(5));
        t.take_due(5000, &mut got);
        assert_eq!(got, vec![due(5)]);
        t.clear();
        got.clear();
        t.take_due(u64::MAX, &mut got);
        assert!(got.is_empty());
    }
}

//! Behaviour, for flows that stay opaque: a miner keeps one connection open for a long time; the
//! pool pushes small jobs at a steady rhythm; the miner sends small submissions; there is little
//! bulk. A flow with all of these is `suspect`, with the measured features as signals.
//!
//! The thresholds are deliberately strict: nothing in the benign corpus the project is checked
//! against passes them.

use crate::detect::FlowRecord;
use crate::flow::Dir;

/// Shortest flow considered (seconds).
const MIN_DURATION_S: f64 = 300.0;
/// Fewest pool-to-miner payload packets (job pushes).
const MIN_PUSHES: u64 = 10;
/// Fewest miner-to-pool payload packets (submissions).
const MIN_SUBMITS: u64 = 5;
/// Range of the mean time between pushes (seconds).
const PUSH_PERIOD_S: (f64, f64) = (5.0, 300.0);
/// Highest coefficient of variation of the time between pushes.
const MAX_PUSH_CV: f64 = 0.6;
/// Largest mean payload per packet, either way (bytes).
const MAX_MEAN_PAYLOAD: f64 = 1200.0;
/// Most payload bytes in all.
const MAX_BYTES: u64 = 2 << 20;

/// The behaviour signals if the flow looks like mining, else `None`.
pub fn suspect(r: &FlowRecord, client: Dir) -> Option<Vec<String>> {
    if r.proto != crate::decode::PROTO_TCP {
        return None;
    }
    let s = &r.shape;
    let (c, p) = (client.index(), client.flip().index());
    let duration = r.last_ts.saturating_sub(r.first_ts) as f64 / 1e9;
    let pushes = s.payload_packets[p];
    let submits = s.payload_packets[c];
    let bytes = s.payload_bytes[c] + s.payload_bytes[p];
    let mean = |d: usize| s.payload_bytes[d] as f64 / s.payload_packets[d].max(1) as f64;
    let (period, cv) = s.period(p)?;
    let ok = duration >= MIN_DURATION_S
        && pushes >= MIN_PUSHES
        && submits >= MIN_SUBMITS
        && (PUSH_PERIOD_S.0..=PUSH_PERIOD_S.1).contains(&period)
        && cv <= MAX_PUSH_CV
        && mean(c) <= MAX_MEAN_PAYLOAD
        && mean(p) <= MAX_MEAN_PAYLOAD
        && bytes <= MAX_BYTES;
    ok.then(|| {
        vec![
            format!("behaviour:long-lived {duration:.0}s"),
            format!(
                "behaviour:server pushes {pushes} every {period:.1}s (cv {cv:.2}), mean {:.0} B",
                mean(p)
            ),
            format!("behaviour:client messages {submits}, mean {:.0} B", mean(c)),
            format!("behaviour:little bulk {} KB", bytes / 1024),
        ]
    })
}

//! Behaviour, for flows that stay opaque (TLS to an unnamed endpoint, or a protocol nobody
//! parses): the conversation in messages ([`crate::flow::rhythm`]) against the thresholds of
//! `rules/behaviour.table`. A miner starts exchanges (login, shares) that the pool answers at
//! once with tiny acknowledgements, at random times; the pool pushes jobs the miner does not
//! answer; nothing is bulk. A flow with all of these for the table's window is `suspect`, with
//! the measured features as signals and a confidence that grows with the exchanges seen.

use crate::detect::FlowRecord;
use crate::flow::Dir;
use crate::rules::behaviour::Behaviour;

/// The confidence and signals if the flow's conversation looks like mining, else `None`.
pub fn suspect(r: &FlowRecord, client: Dir, t: &Behaviour) -> Option<(f64, Vec<String>)> {
    if r.proto != crate::decode::PROTO_TCP {
        return None;
    }
    let rh = &r.shape.rhythm;
    let (c, s) = (&rh.sides[client.index()], &rh.sides[client.flip().index()]);
    // The window is the connection's life as seen (handshake to close), not its messages'.
    let span = r.last_ts.saturating_sub(r.first_ts) as f64 / 1e9;
    let (submits, pushes) = (f64::from(c.answered), f64::from(s.starts));
    let answered = submits / f64::from(c.starts.max(1));
    let client_answers = f64::from(c.answers) / f64::from(c.messages.max(1));
    let within = |x: f64, (lo, hi): (f64, f64)| (lo..=hi).contains(&x);
    let rate = (c.bytes + s.bytes) as f64 / span.max(1.0);
    let (submit_every, submit_cv) = c.start_gaps.period()?;
    let ack = s.mean_later_answer().unwrap_or(f64::NAN);
    let ok = span >= t.window_s
        && submits >= t.min_submits
        && pushes >= t.min_pushes
        && answered >= t.min_answered
        && client_answers <= t.max_client_answers
        && within(c.mean_start(), t.submit_bytes)
        && within(ack, t.ack_bytes)
        && within(s.mean_start(), t.push_bytes)
        && f64::from(c.bulk + s.bulk) <= t.max_bulk
        && rate <= t.max_rate
        && within(submit_cv, t.submit_cv)
        && s.start_gaps
            .period()
            .is_none_or(|(every, _)| every >= t.min_push_every_s);
    if !ok {
        return None;
    }
    let (base, step, max) = t.confidence;
    let extra = (submits - t.min_submits) + (pushes - t.min_pushes);
    let confidence = ((base + step * extra).min(max) * 100.0).round() / 100.0;
    let unit = if rh.tls { "TLS records" } else { "packets" };
    let pushes_every = s
        .start_gaps
        .period()
        .map(|(p, cv)| format!(" every {p:.1}s (cv {cv:.2})"))
        .unwrap_or_default();
    let signals = vec![
        format!(
            "behaviour:{span:.0}s in {unit}, {rate:.0} B/s, {} bulk, longest silence {:.0}s",
            c.bulk + s.bulk,
            rh.max_idle_ns as f64 / 1e9
        ),
        format!(
            "behaviour:client exchanges {}, {} answered ({:.0}%), mean {:.0} B, every {submit_every:.1}s (cv {submit_cv:.2})",
            c.starts,
            c.answered,
            answered * 100.0,
            c.mean_start()
        ),
        format!("behaviour:server acknowledgements mean {ack:.0} B"),
        format!(
            "behaviour:server pushes {pushes}, mean {:.0} B{pushes_every}; client answers {} of {} messages",
            s.mean_start(),
            c.answers,
            c.messages
        ),
    ];
    Some((confidence, signals))
}

//! The run summary written to stderr: what was read, what was found, how fast.

use crate::decode::Skip;
use crate::pipeline::{InputReport, RunStats};
use std::fmt::Write;

/// The summary as lines of text.
pub fn render(s: &RunStats) -> String {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let read = s.inputs.len() - s.failed_inputs();
    let damaged_inputs = s
        .inputs
        .iter()
        .filter(|i| {
            matches!(
                i,
                InputReport::Read {
                    damage: Some(_),
                    ..
                }
            )
        })
        .count();
    let mut o = String::new();
    let _ = writeln!(
        o,
        "minetap: {} input(s) read, {} unusable, {} damaged part-way",
        read,
        s.failed_inputs(),
        damaged_inputs
    );
    let _ = writeln!(
        o,
        "  packets {}  bytes {}  flows {}  mining flows {}  pool look-ups {}  crypto-node flows {}",
        s.packets, s.bytes, s.flows.flows, s.mining_flows, s.dns_events, s.node_events
    );
    let _ = writeln!(
        o,
        "  skipped packets {} (damaged {})  fragments reassembled {}  flows evicted {}",
        s.skipped.0.iter().sum::<u64>(),
        s.skipped.damaged(),
        s.frags.reassembled,
        s.flows.evicted
    );
    let reasons: Vec<String> = Skip::ALL
        .iter()
        .filter(|r| s.skipped.get(**r) > 0)
        .map(|r| format!("{} {}", r.name(), s.skipped.get(*r)))
        .collect();
    if !reasons.is_empty() {
        let _ = writeln!(o, "  not decoded: {}", reasons.join(", "));
    }
    if s.filtered > 0 {
        let _ = writeln!(o, "  left out by --filter: {} packet(s)", s.filtered);
    }
    if s.snapped > 0 {
        let share = 100.0 * s.snapped as f64 / s.packets.max(1) as f64;
        let _ = writeln!(
            o,
            "  cut by the capture's snap length: {} packet(s) ({share:.0} %): their payloads are lost, and mining in them cannot be seen (capture with -s 0)",
            s.snapped
        );
    }
    let _ = writeln!(
        o,
        "  elapsed {:.3} s  {:.0} packets/s  {:.3} Gbit/s",
        secs,
        s.packets as f64 / secs,
        s.bytes as f64 * 8.0 / secs / 1e9
    );
    o
}

/// Says, on stderr, when frames could not be kept for evidence bundles.
pub fn warn_evidence_budget(s: &RunStats) {
    if s.flows.evidence_frames_over_budget > 0 {
        eprintln!(
            "minetap: warning: {} frame(s) were not kept for evidence bundles: the memory for them \
             (--evidence-memory-mb) was spent; bundles written meanwhile miss frames",
            s.flows.evidence_frames_over_budget
        );
    }
}

/// The summary as one JSON object (`--summary-json FILE`), for scripts.
pub fn json(s: &RunStats) -> serde_json::Value {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let inputs: Vec<serde_json::Value> = s
        .inputs
        .iter()
        .map(|i| match i {
            InputReport::Read {
                name,
                packets,
                damage,
                interrupted,
            } => serde_json::json!({
                "input": name.to_string(),
                "packets": packets,
                "damage": damage.as_ref().map(|d| d.to_string()),
                "interrupted": interrupted,
            }),
            InputReport::Failed(e) => serde_json::json!({ "error": e.to_string() }),
        })
        .collect();
    let skipped: serde_json::Map<String, serde_json::Value> = Skip::ALL
        .iter()
        .filter(|r| s.skipped.get(**r) > 0)
        .map(|r| (r.name().to_string(), s.skipped.get(*r).into()))
        .collect();
    serde_json::json!({
        "inputs": inputs,
        "inputs_read": s.inputs.len() - s.failed_inputs(),
        "inputs_unusable": s.failed_inputs(),
        "packets": s.packets,
        "bytes": s.bytes,
        "snapped_packets": s.snapped,
        "filtered_packets": s.filtered,
        "skipped_packets": skipped,
        "flows": s.flows.flows,
        "flows_evicted": s.flows.evicted,
        "mining_flows": s.mining_flows,
        "pool_lookups": s.dns_events,
        "crypto_node_flows": s.node_events,
        "elapsed_s": secs,
        "packets_per_s": s.packets as f64 / secs,
    })
}

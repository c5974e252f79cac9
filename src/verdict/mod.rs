//! Stage 5, **verdict**: a flow's [`Finding`] in; a [`Verdict`] out — the level (`confirmed`,
//! `likely`, `suspect`), a confidence in 0..1, and the signals that led there.
//!
//! Today every finding comes from a parsed mining protocol, so the level is `confirmed`; the
//! confidence says how much of the conversation was seen.

use crate::detect::{Coverage, Finding};
use serde::Serialize;

/// How sure the verdict is, weakest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Behaviour only.
    Suspect,
    /// Opaque or encrypted, but the endpoint is a known pool.
    Likely,
    /// The mining protocol itself was parsed.
    Confirmed,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Suspect => "suspect",
            Level::Likely => "likely",
            Level::Confirmed => "confirmed",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub level: Level,
    pub confidence: f64,
    pub signals: Vec<String>,
}

/// Judges a finding.
pub fn judge(f: &Finding) -> Verdict {
    let confidence = match f.coverage {
        // Both ends spoke the protocol, each in its own role.
        Coverage::BothSides => 0.99,
        // Pool pushes (jobs, difficulty) with the right shapes: the other end is a miner.
        Coverage::PoolOnly => 0.95,
        // A host asking to mine; nobody answered in what the tap saw.
        Coverage::MinerOnly => 0.8,
    };
    Verdict {
        level: Level::Confirmed,
        confidence,
        signals: f.signals.clone(),
    }
}

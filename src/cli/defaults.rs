//! Defaults of the settings that no stage's own `Default` holds.

use crate::verdict::Level;
pub const MIN_LEVEL: Level = Level::Suspect;
pub const SUBSCRIBER_MIN_LEVEL: Level = Level::Likely;
pub const EVIDENCE_MIN_LEVEL: Level = Level::Likely;
pub const ATTRIBUTION_TOLERANCE_S: i64 = 60;
pub const EVIDENCE_PACKETS: usize = 1000;
pub const EVIDENCE_MEMORY_MB: usize = 512;
/// Messages kept per flow for an evidence transcript.
pub const TRANSCRIPT: usize = 256;
pub const FEED_BATCH: usize = 100;
pub const FEED_DRAIN_S: u64 = 10;
pub const STATS_INTERVAL_S: u64 = 60;
/// NATS subjects: `<prefix>.events.<sensor>`, `<prefix>.profiles.<sensor>`.
pub const FEED_SUBJECT_PREFIX: &str = "minetap";

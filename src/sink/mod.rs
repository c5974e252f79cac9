//! Stage 7, **sink**: flow records with their verdicts in; events out, one JSON object per
//! line (schema `minetap/1`, in `docs/event.schema.json`), and the run summary.

pub mod event;
pub mod feed;
pub mod summary;
pub mod time;

pub use event::{Event, SCHEMA};

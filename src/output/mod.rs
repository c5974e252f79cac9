//! Stage 7, **output**: flow records with their verdicts in; events out, one JSON object per
//! line (schema `minetap/1`, in `docs/event.schema.json`).

pub mod event;
pub mod feed;
pub mod time;

pub use event::{Event, SCHEMA};

//! Stage 7, **output**: flow records with their verdicts in; events out, one JSON object per
//! line (schema `minetap/1`, in `docs/event.schema.json`), to a file or stdout ([`writer`],
//! with rotation) and to the data platform's feed ([`feed`], through an on-disk spool); the
//! summaries of all ended flows in, per-site traffic profiles out ([`profile`]).

pub mod event;
pub mod feed;
pub mod feed_auth;
pub mod nats;
pub mod profile;
pub mod time;
pub mod writer;

pub use event::{Event, SCHEMA};

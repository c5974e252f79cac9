//! minetap finds cryptocurrency-mining connections in network traffic.
//!
//! The crate is laid out as the pipeline it runs (see `docs/ARCHITECTURE.md`):
//! [`source`] → [`decode`] → [`flow`] → [`detect`] → [`verdict`] → [`output`], driven by
//! [`pipeline`] and exposed by [`cli`].

pub mod attrib;
pub mod cli;
pub mod decode;
pub mod detect;
pub mod evidence;
pub mod flow;
pub mod inventory;
pub mod output;
pub mod pipeline;
pub mod rules;
pub mod source;
pub mod verdict;
pub mod wire;

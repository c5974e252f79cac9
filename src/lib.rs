//! minetap finds cryptocurrency-mining connections in network traffic.
//!
//! The crate is laid out as the pipeline it runs (see `docs/ARCHITECTURE.md`):
//! [`source`] → [`decode`] → [`flow`] → [`detect`] → `verdict` → [`attrib`] → `output` →
//! `evidence`, with `rules` and `wire` as leaves every stage may read, `inventory` after the
//! runs, [`probe`] (active, opt-in) beside the verdict, driven by [`pipeline`] and exposed by [`cli`]. The stages that tests, benchmarks and
//! fuzz targets drive directly are public; the others are the crate's own.
#![warn(missing_docs)]

pub mod attrib;
pub mod cli;
pub mod decode;
pub mod detect;
pub(crate) mod evidence;
pub mod flow;
pub(crate) mod inventory;
pub(crate) mod output;
pub mod pipeline;
pub mod probe;
pub(crate) mod rules;
pub mod source;
pub(crate) mod verdict;
pub(crate) mod wire;

/// What the benchmarks drive of the stages that are the crate's own (not a public interface).
#[doc(hidden)]
pub mod bench {
    pub use crate::output::profile::{ProfileConfig, Profiles};

    /// The built-in rules, as `scan` uses them by default.
    pub fn builtin_rules() -> crate::pipeline::Rules {
        let r = crate::rules::load(&crate::rules::Choice {
            builtin: true,
            extra: None,
        })
        .unwrap_or_default();
        crate::pipeline::Rules {
            intel: std::sync::Arc::new(r.intel),
            tables: std::sync::Arc::new(r.tables),
        }
    }
}

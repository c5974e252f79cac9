//! The project's own traffic generator: real packet bytes (built with `etherparse`) written as
//! pcap or pcapng. It makes the sample captures in `pcaps/`, the inputs of the tests and the
//! large captures of the benchmarks. It is a crate of the workspace used by tests, benches
//! and examples only: nothing here is part of the product.

pub mod capture;
pub mod dialects;
pub mod mix;
pub mod opaque;
pub mod samples;
pub mod session;
pub mod stratum;
pub mod subscribers;
pub mod tls;

pub use capture::{Format, Frame, L2};
pub use session::TcpSession;

//! The mining protocols, one file each: a flow's bytes in (through the shared framing where
//! the protocol speaks JSON); a `Finding` of kind `Mining` (or `Shape`) out.

pub mod cryptonote;
pub mod ethproxy;
pub mod noderpc;
pub mod stratum;
pub mod stratum_v2;

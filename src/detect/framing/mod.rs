//! What the JSON-speaking mining protocols share: newline framing ([`lines`], [`linejson`]),
//! HTTP/1.x bodies ([`http`]), JSON-RPC envelopes ([`jsonrpc`]) and the per-flow tally a
//! dialect keeps ([`rpc`]). Bytes of one direction in; messages out, to a protocol's `Dialect`.

pub mod http;
pub mod jsonrpc;
pub mod linejson;
pub mod lines;
pub mod records;
pub mod rpc;

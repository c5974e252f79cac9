//! What every flow leaves behind when it ends, recognised or not: who called whom, how much went
//! each way, whether the called side answered. The site profiles are built from these; the
//! worker marks the ones whose final verdict is mining.

use super::{Counters, Dir};
use std::net::IpAddr;

/// One ended flow, in a few words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowSummary {
    /// The flow's id (as in events).
    pub id: u64,
    /// IP protocol.
    pub proto: u8,
    /// The side that opened the flow (the TCP handshake's, else the first sender).
    pub client: (IpAddr, u16),
    /// The side it called.
    pub server: (IpAddr, u16),
    /// Bytes on the wire from the client, and from the server.
    pub bytes: [u64; 2],
    /// Whether the server sent anything back.
    pub answered: bool,
    /// The table's clock when the flow ended (ns since the epoch).
    pub ended_ns: u64,
    /// Its final verdict was mining (set by the worker).
    pub mining: bool,
}

impl FlowSummary {
    /// Marks the flow as mining by `miner` (the verdict's word on who the client is, which
    /// beats the first sender when the capture began mid-stream).
    pub fn mined_by(&mut self, miner: (IpAddr, u16)) {
        self.mining = true;
        if self.server == miner {
            std::mem::swap(&mut self.client, &mut self.server);
            self.bytes.swap(0, 1);
            self.answered = self.bytes[1] > 0;
        }
    }

    /// The summary of a flow between `fwd` (first sender) and `rev`, with its counters
    /// indexed by [`Dir::index`], opened by `syn_from` when the handshake was seen.
    pub fn new(
        (id, proto): (u64, u8),
        (fwd, rev): ((IpAddr, u16), (IpAddr, u16)),
        counters: &[Counters; 2],
        syn_from: Option<Dir>,
        ended_ns: u64,
    ) -> Self {
        let client = syn_from.unwrap_or(Dir::Fwd);
        let (c, s) = (counters[client.index()], counters[client.flip().index()]);
        let (client_end, server_end) = if client == Dir::Fwd {
            (fwd, rev)
        } else {
            (rev, fwd)
        };
        FlowSummary {
            id,
            proto,
            client: client_end,
            server: server_end,
            bytes: [c.bytes, s.bytes],
            answered: s.packets > 0,
            ended_ns,
            mining: false,
        }
    }
}

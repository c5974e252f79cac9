//! Crypto-currency node traffic — not mining, and reported apart so that it is never taken
//! for mining: Bitcoin P2P, Monero levin, Ethereum discovery v4. Bytes in; a `CryptoNode`
//! finding out.

pub mod bitcoin_p2p;
pub mod eth_discv4;
pub mod monero_levin;

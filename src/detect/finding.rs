//! What a detector reports: a [`Finding`] — fields every finding has (kind, protocol, who the
//! miner is, signals, transcript) and a [`Detail`] for what only one kind of protocol says: a
//! mining [`Session`], a TLS handshake, DNS [`Lookups`].

use super::observe::tls::TlsInfo;
use crate::flow::Dir;
use std::net::IpAddr;

/// What a finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A mining protocol was parsed.
    Mining,
    /// A mining protocol recognised by its shape (an encrypted handshake), not parsed.
    Shape,
    /// Facts about the flow (a TLS handshake) that say mining only with endpoint knowledge.
    Observation,
    /// Look-ups of pool domains.
    Dns,
    /// Crypto-currency node traffic: not mining.
    CryptoNode,
}

/// How much of the protocol was seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Coverage {
    /// Valid protocol messages from both the miner and the pool.
    BothSides,
    /// Only the miner's side (for example a pool that never answered).
    MinerOnly,
    /// Only the pool's side (for example a capture with one direction missing).
    PoolOnly,
}

/// Share counts, by outcome.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Shares {
    /// Shares the miner sent.
    pub submitted: u64,
    /// Shares the pool accepted.
    pub accepted: u64,
    /// Shares the pool rejected.
    pub rejected: u64,
}

/// What one share is worth, as the pool set it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ShareValue {
    /// A pool difficulty: the hashes it stands for depend on the algorithm (2^32 per unit for
    /// SHA-256d Stratum, ...), which the verdict stage knows from its tables.
    Difficulty(f64),
    /// Expected hashes (or solutions) per share, from a target.
    Hashes(f64),
}

/// A sum of share values: how many shares had a known value, and their difficulties and hashes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct WorkSum {
    /// Shares counted (with or without a known value).
    pub shares: u64,
    /// Shares whose value was known.
    pub valued: u64,
    /// Sum of the difficulties of the shares valued by difficulty.
    pub difficulty: f64,
    /// Sum of the hashes of the shares valued by target.
    pub hashes: f64,
}

impl WorkSum {
    /// Counts one share of value `v` (unknown: `None`).
    pub fn add(&mut self, v: Option<ShareValue>) {
        self.shares += 1;
        match v {
            Some(ShareValue::Difficulty(d)) => {
                self.valued += 1;
                self.difficulty += d;
            }
            Some(ShareValue::Hashes(h)) => {
                self.valued += 1;
                self.hashes += h;
            }
            None => {}
        }
    }
}

/// The work behind a flow's shares.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Work {
    /// Work of the shares submitted.
    pub submitted: WorkSum,
    /// Work of the shares accepted.
    pub accepted: WorkSum,
}

/// What the pool's latest job says of the chain (Stratum V1 `mining.notify`, a block template,
/// a CryptoNote job).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Job {
    /// The block's height, from the coinbase's first push (BIP 34).
    pub height: Option<u64>,
    /// The network's target in compact form (`nbits`).
    pub nbits: Option<u32>,
    /// The block header's time (`ntime`), seconds since the epoch.
    pub ntime: Option<u32>,
    /// The block's major version (CryptoNote: the hard-fork version the pool mines under).
    pub major_version: Option<u8>,
    /// How many times Keccak-256 was applied to 32 zero bytes to reach the job's Ethash seed
    /// hash: the block is at or after `seed_rounds * 30000`.
    pub seed_rounds: Option<u32>,
    /// The kind of block the job is for.
    pub form: JobForm,
}

/// The kind of block a job is for, which decides the chains it can belong to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum JobForm {
    /// A Bitcoin-style header (Stratum V1 notify, getwork, a block template): Bitcoin and the
    /// chains built from its code.
    #[default]
    Bitcoin,
    /// A CryptoNote block blob: Monero and its kin.
    CryptoNote,
    /// An Ethash work package (EthProxy): Ethereum, Ethereum Classic, EthereumPoW.
    Ethash,
}

impl JobForm {
    /// Its name in the chain table (`job=`).
    pub fn name(self) -> &'static str {
        match self {
            JobForm::Bitcoin => "bitcoin",
            JobForm::CryptoNote => "cryptonote",
            JobForm::Ethash => "ethash",
        }
    }
}

impl Job {
    /// The network difficulty `nbits` stands for: the difficulty-1 target (0x1d00ffff) over it.
    pub fn network_difficulty(&self) -> Option<f64> {
        crate::rules::chains::compact_difficulty(self.nbits?)
    }
}

/// How many rounds of Keccak-256 from 32 zero bytes give an Ethash seed hash (`0x`-hex, as
/// work packages carry it): the job's block is at or after `rounds * 30000`. `None` for a seed
/// of none of the first 4,096 epochs (block 122,880,000 on).
pub fn seed_rounds(seed: &str) -> Option<u32> {
    static SEEDS: std::sync::OnceLock<hashbrown::HashMap<[u8; 32], u32>> =
        std::sync::OnceLock::new();
    let hex = seed.strip_prefix("0x").unwrap_or(seed);
    let mut want = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, b) in want.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    let seeds = SEEDS.get_or_init(|| {
        use sha3::Digest;
        let mut s = [0u8; 32];
        (0..4096u32)
            .map(|k| {
                let here = (s, k);
                s = sha3::Keccak256::digest(s).into();
                here
            })
            .collect()
    });
    seeds.get(&want).copied()
}

/// The height a BIP 34 coinbase names: `coinb1` (hex) is the coinbase transaction up to the
/// extranonce — version, one input spending nothing (a null outpoint), the script's length and
/// the script, whose first push is the height (little-endian).
pub fn coinbase_height(coinb1: &str) -> Option<u64> {
    let hex = |i: usize| -> Option<u8> {
        coinb1
            .get(i * 2..i * 2 + 2)
            .and_then(|b| u8::from_str_radix(b, 16).ok())
    };
    // version (4), input count (1) = 1, outpoint (32 zero bytes, index ffffffff).
    if hex(4)? != 1 || (5..37).any(|i| hex(i) != Some(0)) || (37..41).any(|i| hex(i) != Some(0xff))
    {
        return None;
    }
    let script_len = hex(41)?;
    if script_len >= 0xfd {
        return None;
    }
    match hex(42)? {
        // OP_1..OP_16: heights 1 to 16.
        op @ 0x51..=0x60 => Some(u64::from(op - 0x50)),
        n @ 1..=8 => {
            let mut h = 0u64;
            for i in (0..usize::from(n)).rev() {
                h = h << 8 | u64::from(hex(43 + i)?);
            }
            Some(h)
        }
        _ => None,
    }
}

/// What a mining session says: who mines, with what, and the work behind the shares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Session {
    /// The mining software, as it names itself.
    pub agent: Option<String>,
    /// Worker (account) names.
    pub workers: Vec<String>,
    /// The pool's extranonce1.
    pub extranonce1: Option<String>,
    /// Current share difficulty.
    pub difficulty: Option<f64>,
    /// Current share target (hex), for pools that send targets.
    pub target: Option<String>,
    /// Jobs the pool sent.
    pub jobs: u64,
    /// Shares by outcome.
    pub shares: Shares,
    /// BIP 310 version-rolling mask.
    pub version_mask: Option<String>,
    /// BIP 310 extensions the miner asked for.
    pub extensions: Vec<String>,
    /// BIP 310 `info.*` fields (name without the prefix, value).
    pub device: Vec<(String, String)>,
    /// Pool host the miner names (some subscribe forms carry it).
    pub pool_host: Option<String>,
    /// Mining algorithm the protocol names (CryptoNote `algo`, ...).
    pub algorithm: Option<String>,
    /// Hashrate the miner itself reports (H/s), never an estimate.
    pub claimed_hashrate_hs: Option<f64>,
    /// The work behind the shares.
    pub work: Work,
    /// Difficulty (or target) changes as the pool announced them: (capture time, value).
    pub difficulty_changes: Vec<(u64, ShareValue)>,
    /// What the latest job says of the chain.
    pub job: Job,
}

/// Look-ups of pool names.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lookups {
    /// Pool names looked up: (name, record type).
    pub queries: Vec<(String, &'static str)>,
    /// Pool addresses answered: (name, address, TTL).
    pub answers: Vec<(String, IpAddr, u32)>,
}

/// What only one kind of protocol says.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Detail {
    /// Nothing beyond the common fields (node traffic, a handshake's shape).
    #[default]
    None,
    /// A mining protocol's session.
    Mining(Box<Session>),
    /// A TLS handshake.
    Tls(TlsInfo),
    /// Pool-name look-ups.
    Dns(Lookups),
}

/// What a detector found on a flow: the protocol, who the miner is, why, and the detail.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// What the finding is about.
    pub kind: Kind,
    /// Protocol family, as in events (`stratum-v1`, ...).
    pub protocol: &'static str,
    /// Application protocol name, as Suricata's `app_proto`.
    pub app_proto: &'static str,
    /// The direction in which the miner sends, if the protocol said.
    pub miner_sends: Option<Dir>,
    /// Which sides spoke the protocol.
    pub coverage: Coverage,
    /// Short reasons, e.g. `stratum:mining.notify x12`.
    pub signals: Vec<String>,
    /// The protocol messages, as sent, for evidence: (capture time, direction, message).
    pub transcript: Vec<(u64, Dir, String)>,
    /// What only this kind of protocol says.
    pub detail: Detail,
}

/// Longest message kept in a transcript, bytes.
pub const TRANSCRIPT_MESSAGE: usize = 4096;

/// The messages a detector keeps for an evidence transcript: at most `cap` of them, each cut to
/// [`TRANSCRIPT_MESSAGE`] bytes.
#[derive(Debug, Default)]
pub struct Transcript {
    cap: usize,
    kept: Vec<(u64, Dir, String)>,
}

impl Transcript {
    /// An empty transcript that keeps up to `cap` messages (0: none).
    pub fn new(cap: usize) -> Self {
        Transcript {
            cap,
            kept: Vec::new(),
        }
    }

    /// Keeps `msg`, sent in `dir` at `ts`, while there is room.
    pub fn keep(&mut self, ts: u64, dir: Dir, msg: &[u8]) {
        if self.kept.len() < self.cap {
            let m = &msg[..msg.len().min(TRANSCRIPT_MESSAGE)];
            self.kept
                .push((ts, dir, String::from_utf8_lossy(m).into_owned()));
        }
    }

    /// The messages kept, oldest first.
    pub fn messages(&self) -> &[(u64, Dir, String)] {
        &self.kept
    }
}

impl Finding {
    /// A mining finding of `protocol` with nothing in it yet.
    pub fn new(protocol: &'static str, app_proto: &'static str) -> Self {
        Finding {
            kind: Kind::Mining,
            protocol,
            app_proto,
            miner_sends: None,
            coverage: Coverage::BothSides,
            signals: Vec::new(),
            transcript: Vec::new(),
            detail: Detail::None,
        }
    }

    /// The mining session, when the finding has one.
    pub fn session(&self) -> Option<&Session> {
        match &self.detail {
            Detail::Mining(s) => Some(s),
            _ => None,
        }
    }

    /// The TLS handshake, when there was one.
    pub fn tls(&self) -> Option<&TlsInfo> {
        match &self.detail {
            Detail::Tls(t) => Some(t),
            _ => None,
        }
    }

    /// The pool-name look-ups, when the finding is DNS.
    pub fn lookups(&self) -> Option<&Lookups> {
        match &self.detail {
            Detail::Dns(l) => Some(l),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_ethash_seed_names_its_rounds_of_keccak() {
        // ethashjs's test vectors: the seeds of blocks 30,000 and 60,000.
        let one = "0x290decd9548b62a8d60345a988386fc84ba6bc95484008f6362f93160ef3e563";
        let two = "510e4e770828ddbf7f7b00ab00a9f6adaf81c0dc9cc85f1f8249c256942d61d9";
        assert_eq!(super::seed_rounds(one), Some(1));
        assert_eq!(super::seed_rounds(two), Some(2));
        assert_eq!(super::seed_rounds(&"0".repeat(64)), Some(0));
        assert_eq!(super::seed_rounds(&"f".repeat(64)), None);
        assert_eq!(super::seed_rounds("0x1234"), None);
        assert_eq!(super::seed_rounds(&"zz".repeat(32)), None);
    }
}

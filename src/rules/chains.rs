//! The chain table (`chains.table`, `difficulty.table`): which chain a pool's job is for. A job
//! names some of: its block height, its block time, the network's target (`nbits`), the seed of
//! an Ethash epoch. Each chain row says where the chain's heights stood at a dated block and how
//! fast they grow; each `difficulty` row is one of the chain's real block headers (height, time,
//! `nbits`), so the network difficulty the chain had between two of them is known within a
//! factor (`spread`). Rows in; the chains a job fits, with the rows that decided it, out.

/// A chain, as far as a job's height, time, difficulty or epoch tells it from others.
#[derive(Debug, Clone, PartialEq)]
pub struct Chain {
    pub name: String,
    pub algorithm: String,
    /// A block of known height and its time (seconds since the epoch): the genesis block, or
    /// the first block of the current spacing.
    pub anchor: (u64, i64),
    /// Target seconds between blocks.
    pub spacing: f64,
    /// Heights the row holds for, `from` included, `until` not (the chain mined another
    /// algorithm before or after).
    pub heights: (u64, u64),
    /// The form of its jobs' blocks (`bitcoin`, `cryptonote`, `ethash`): only jobs of that
    /// form are matched against it.
    pub job: String,
    /// Allowed distance of a height from the expected one, as a fraction of it.
    pub within: f64,
    /// How far the network difficulty may stray beyond the two dated blocks around a job's
    /// time (a factor): 2 allows half the lower and twice the higher.
    pub spread: f64,
    /// Blocks per Ethash epoch (`ethash` jobs): 30,000, or 60,000 for Ethereum Classic after
    /// ECIP-1099.
    pub epoch: u64,
    pub source: String,
    /// file:line
    pub row: String,
}

/// One real block of a chain: its height, time and compact target, from a `difficulty` row.
#[derive(Debug, Clone, PartialEq)]
pub struct DifficultyPoint {
    pub chain: String,
    pub height: u64,
    pub time: i64,
    pub bits: u32,
    /// The difficulty `bits` stands for.
    pub difficulty: f64,
    pub source: String,
    /// file:line
    pub row: String,
}

/// Blocks per seed of Ethash: the seed hash of block `h` is Keccak-256 applied `h / 30000`
/// times to 32 zero bytes, on every chain (ECIP-1099 lengthens the epoch, not the seed's step).
pub const SEED_STEP: u64 = 30_000;

/// The network difficulty a compact target (`nbits`) stands for: the difficulty-1 target
/// (0x1d00ffff) over it. `None` for a zero or negative target.
pub fn compact_difficulty(bits: u32) -> Option<f64> {
    let (exp, mant) = ((bits >> 24) as i32, f64::from(bits & 0x00ff_ffff));
    if mant == 0.0 || bits & 0x0080_0000 != 0 {
        return None;
    }
    // target = mant * 256^(exp-3); diff1 = 0xffff * 256^(0x1d-3).
    Some(f64::from(0xffff_u32) / mant * 256f64.powi(0x1d - exp))
}

/// What a job says of its chain.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JobFacts<'a> {
    /// `bitcoin`, `cryptonote` or `ethash`.
    pub form: &'a str,
    pub height: Option<u64>,
    /// The job's time: its block time, or when it was seen.
    pub time: i64,
    /// The network difficulty its `nbits` stands for.
    pub difficulty: Option<f64>,
    /// How many times Keccak-256 was applied to reach its Ethash seed.
    pub seed_rounds: Option<u64>,
}

/// The chains a job fits and the rows that decided it.
#[derive(Debug, Default, PartialEq)]
pub struct Fit<'a> {
    pub chains: Vec<&'a Chain>,
    /// file:line of every chain and difficulty row used.
    pub rows: Vec<String>,
}

impl Chain {
    /// Whether a block at `height` fits this chain at time `t`: the height is within the
    /// row's range and near the one the anchor and the spacing give for that time.
    pub fn fits(&self, height: u64, t: i64) -> bool {
        let (h0, t0) = self.anchor;
        let expected = h0 as f64 + (t - t0) as f64 / self.spacing;
        (self.heights.0..self.heights.1).contains(&height)
            && expected > 0.0
            && (height as f64 - expected).abs() <= self.within * expected
    }

    /// Whether an Ethash seed reached in `rounds` rounds can be this chain's at `height` (if
    /// known) and time `t`: its epochs start at multiples of `epoch`, and the height, or the
    /// epoch's first block, fits the chain then.
    fn fits_seed(&self, rounds: u64, height: Option<u64>, t: i64) -> bool {
        let start = rounds * SEED_STEP;
        start % self.epoch == 0
            && match height {
                Some(h) => (start..start + self.epoch).contains(&h) && self.fits(h, t),
                None => self.fits(start, t),
            }
    }
}

/// Each chain with dated difficulty rows and the time of its last one, in table order: after
/// it, the difficulty no longer rules the chain out.
pub fn difficulty_until(points: &[DifficultyPoint]) -> Vec<(&str, i64)> {
    let mut out: Vec<(&str, i64)> = Vec::new();
    for p in points {
        match out.iter_mut().find(|(c, _)| *c == p.chain) {
            Some((_, t)) => *t = (*t).max(p.time),
            None => out.push((&p.chain, p.time)),
        }
    }
    out
}

/// The difficulty band `chain` had at time `t`, from its dated blocks around it, and their
/// rows; `None` when its rows do not cover `t`.
pub fn difficulty_band<'a>(
    points: &'a [DifficultyPoint],
    chain: &Chain,
    t: i64,
) -> Option<((f64, f64), [&'a str; 2])> {
    let mut before: Option<&DifficultyPoint> = None;
    let mut after: Option<&DifficultyPoint> = None;
    for p in points.iter().filter(|p| p.chain == chain.name) {
        if p.time <= t && before.is_none_or(|b| p.time > b.time) {
            before = Some(p);
        }
        if p.time >= t && after.is_none_or(|a| p.time < a.time) {
            after = Some(p);
        }
    }
    let (a, b) = (before?, after?);
    let (lo, hi) = (
        a.difficulty.min(b.difficulty),
        a.difficulty.max(b.difficulty),
    );
    Some(((lo / chain.spread, hi * chain.spread), [&a.row, &b.row]))
}

/// The chains a job fits. A chain fits when the job is of its form, its height (or its Ethash
/// epoch) fits the chain at the job's time, and its network difficulty is within the chain's
/// band then, where the table has one. A job with neither height nor epoch fits only the
/// chains whose band holds its difficulty.
pub fn fit<'a>(chains: &'a [Chain], points: &'a [DifficultyPoint], job: &JobFacts<'_>) -> Fit<'a> {
    let mut fit = Fit::default();
    for c in chains.iter().filter(|c| c.job == job.form) {
        let placed = match (job.seed_rounds, job.height) {
            (Some(r), h) => Some(c.fits_seed(r, h, job.time)),
            (None, Some(h)) => Some(c.fits(h, job.time)),
            (None, None) => None,
        };
        if placed == Some(false) {
            continue;
        }
        let band = job.difficulty.and_then(|d| {
            let (band, rows) = difficulty_band(points, c, job.time)?;
            Some(((band.0..=band.1).contains(&d), rows))
        });
        match (placed, band) {
            (_, Some((false, _))) | (None, None) => continue,
            (_, Some((true, rows))) => {
                fit.rows.push(c.row.clone());
                fit.rows.extend(rows.iter().map(|r| r.to_string()));
            }
            (Some(_), None) => fit.rows.push(c.row.clone()),
        }
        fit.chains.push(c);
    }
    fit.rows.dedup();
    fit
}

fn get<'a>(kv: &'a [(String, String)], k: &str) -> Option<&'a str> {
    kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str())
}

/// The forms of job a chain row may name.
const FORMS: [&str; 3] = ["bitcoin", "cryptonote", "ethash"];

/// A `chain NAME algorithm=... genesis=TIME|anchor=HEIGHT@TIME spacing=... within=...
/// [from=HEIGHT] [until=HEIGHT] [job=FORM] [spread=F] [epoch=BLOCKS]` row.
pub(super) fn chain_row(
    name: &str,
    kv: &[(String, String)],
    source: String,
    row: String,
) -> Result<Chain, String> {
    let num = |k: &str| {
        get(kv, k)
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v > 0.0)
            .ok_or_else(|| format!("'{k}' must be a positive number"))
    };
    let height = |k: &str, none: u64| match get(kv, k) {
        None => Ok(none),
        Some(v) => v
            .parse::<u64>()
            .map_err(|_| format!("'{k}' must be a height")),
    };
    let epoch = height("epoch", SEED_STEP)?;
    if epoch == 0 || epoch % SEED_STEP != 0 {
        return Err(format!("'epoch' must be a multiple of {SEED_STEP} blocks"));
    }
    Ok(Chain {
        name: name.to_ascii_uppercase(),
        algorithm: get(kv, "algorithm")
            .ok_or("a chain row names its algorithm=")?
            .to_ascii_lowercase(),
        anchor: match (get(kv, "genesis"), get(kv, "anchor")) {
            (Some(_), None) => (0, num("genesis")? as i64),
            (None, Some(a)) => a
                .split_once('@')
                .and_then(|(h, t)| Some((h.parse().ok()?, t.parse().ok()?)))
                .ok_or("'anchor' must be HEIGHT@UNIX_TIME")?,
            _ => return Err("a chain row gives genesis=TIME or anchor=HEIGHT@TIME".into()),
        },
        spacing: num("spacing")?,
        heights: (height("from", 0)?, height("until", u64::MAX)?),
        job: match get(kv, "job").unwrap_or("bitcoin") {
            j if FORMS.contains(&j) => j.to_string(),
            other => {
                return Err(format!(
                    "'job' must be bitcoin, cryptonote or ethash, not '{other}'"
                ))
            }
        },
        within: num("within")?,
        spread: match get(kv, "spread") {
            None => 2.0,
            Some(_) => num("spread")?.max(1.0),
        },
        epoch,
        source,
        row,
    })
}

/// A `difficulty CHAIN height=H time=UNIX_TIME bits=0x1d00ffff` row: one of the chain's
/// blocks, as its header has it.
pub(super) fn difficulty_row(
    chain: &str,
    kv: &[(String, String)],
    source: String,
    row: String,
) -> Result<DifficultyPoint, String> {
    let height = get(kv, "height")
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or("'height' must be a block height")?;
    let time = get(kv, "time")
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or("'time' must be seconds since the epoch")?;
    let bits = get(kv, "bits")
        .and_then(|v| v.strip_prefix("0x"))
        .and_then(|v| u32::from_str_radix(v, 16).ok())
        .ok_or("'bits' must be a compact target in hex (0x1d00ffff)")?;
    let difficulty = compact_difficulty(bits).ok_or("'bits' is not a positive target")?;
    Ok(DifficultyPoint {
        chain: chain.to_ascii_uppercase(),
        height,
        time,
        bits,
        difficulty,
        source,
        row,
    })
}

#[cfg(test)]
mod tests {
    use super::JobFacts;

    fn builtin() -> crate::rules::Loaded {
        crate::rules::load(&crate::rules::Choice {
            builtin: true,
            extra: None,
        })
        .unwrap()
    }

    fn names(t: &crate::rules::Loaded, job: JobFacts<'_>) -> Vec<(String, String)> {
        super::fit(&t.tables.chains, &t.tables.difficulty, &job)
            .chains
            .iter()
            .map(|c| (c.name.clone(), c.algorithm.clone()))
            .collect()
    }

    fn pair(n: &str, a: &str) -> (String, String) {
        (n.to_string(), a.to_string())
    }

    fn job(form: &str, height: Option<u64>, time: i64) -> JobFacts<'_> {
        JobFacts {
            form,
            height,
            time,
            difficulty: None,
            seed_rounds: None,
        }
    }

    #[test]
    fn chain_rows_hold_for_their_heights_and_their_jobs_form_only() {
        let t = builtin();
        // Monero before and after RandomX (block 1,978,433, 2019-11-30).
        assert_eq!(
            names(&t, job("cryptonote", Some(1_978_432), 1_575_072_000)),
            [pair("XMR", "cryptonight")]
        );
        assert_eq!(
            names(&t, job("cryptonote", Some(1_978_433), 1_575_072_000)),
            [pair("XMR", "randomx")]
        );
        // Litecoin's 2023 height is near Monero's then, but a Stratum job is not Monero's.
        assert_eq!(
            names(&t, job("bitcoin", Some(2_520_000), 1_690_934_400)),
            [pair("LTC", "scrypt")]
        );
        assert!(names(&t, job("cryptonote", Some(2_520_000), 1_690_934_400))
            .iter()
            .all(|(n, _)| n == "XMR"));
    }

    #[test]
    fn the_network_difficulty_tells_bitcoin_from_bitcoin_cash() {
        let t = builtin();
        let at = |difficulty: f64| JobFacts {
            difficulty: Some(difficulty),
            ..job("bitcoin", Some(523_347), 1_526_710_829)
        };
        // 2018-05-19: Bitcoin's difficulty was 4.14 T, Bitcoin Cash's some 0.5 T.
        assert_eq!(names(&t, at(4.1439e12)), [pair("BTC", "sha256d")]);
        assert_eq!(names(&t, at(5.66e11)), [pair("BCH", "sha256d")]);
        // Litecoin's difficulty at a Bitcoin height and time fits neither.
        assert!(names(&t, at(1.06e7)).is_empty());
        // With no height (getwork), the difficulty alone places the job.
        let no_height = JobFacts {
            height: None,
            ..at(4.1439e12)
        };
        assert_eq!(names(&t, no_height), [pair("BTC", "sha256d")]);
        let fit = super::fit(&t.tables.chains, &t.tables.difficulty, &no_height);
        assert!(fit.rows.iter().any(|r| r.starts_with("difficulty.table:")));
        // Before the first dated block, a height-less job fits nothing.
        assert!(names(
            &t,
            JobFacts {
                time: 1_000_000_000,
                ..no_height
            }
        )
        .is_empty());
    }

    #[test]
    fn an_ethash_seed_gives_the_epoch_and_the_epoch_length_the_chain() {
        let t = builtin();
        let eth = |rounds: u64, height: Option<u64>, time: i64| JobFacts {
            seed_rounds: Some(rounds),
            ..job("ethash", height, time)
        };
        let chains = |j| -> Vec<String> { names(&t, j).into_iter().map(|(n, _)| n).collect() };
        // 2021-06: epoch 418 (block 12,540,000-) fits Ethereum; Ethereum Classic's 60,000-block
        // epochs start at even seeds only, and its height then was near 12.9 M.
        assert_eq!(chains(eth(421, None, 1_623_000_000)), ["ETH"]);
        assert_eq!(chains(eth(420, None, 1_623_000_000)), ["ETH", "ETC"]);
        // A height in the second half of a 60,000-block epoch is Ethereum Classic's only.
        assert_eq!(chains(eth(420, Some(12_630_001), 1_623_000_000)), ["ETC"]);
        // After the merge (2022-09-15), Ethereum mines no more: ETHW and ETC remain.
        assert_eq!(chains(eth(521, None, 1_665_000_000)), ["ETHW"]);
    }
}

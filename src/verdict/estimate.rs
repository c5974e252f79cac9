//! How much is being mined: hashrate from the accepted shares and the work each stood for, with
//! a 95 % interval from the share count (Poisson), the algorithm and coin and how they were
//! known, and power from the hashrate and the efficiency table. Never presented as exact: the
//! share count, the observed time and the interval always go with the estimate.

use super::Pool;
use crate::detect::{Session, WorkSum};
use crate::rules::chains::JobFacts;
use crate::rules::tables::{AgentSays, Algorithm, Tables};
use serde::Serialize;

/// How the algorithm or coin was known, strongest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Basis {
    Protocol,
    /// The pool's job: its block height at its time fits the chains of one algorithm.
    Job,
    Pool,
    Agent,
    Port,
    Algorithm,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hashrate {
    /// Hashes (or Equihash solutions) per second.
    pub hashrate_hs: f64,
    /// 95 % interval from the share count.
    pub hashrate_hs_low: f64,
    pub hashrate_hs_high: f64,
    /// Shares the estimate rests on, and which: `accepted`, or `submitted` when no answers
    /// from the pool were seen.
    pub shares: u64,
    pub basis: &'static str,
    /// Seconds of the flow over which the shares were counted.
    pub observed_s: f64,
    /// Mean expected hashes per share.
    pub hashes_per_share: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Power {
    pub watts: f64,
    pub watts_low: f64,
    pub watts_high: f64,
    /// Joules per hash used for `watts`, and the row it came from.
    pub joules_per_hash: f64,
    pub efficiency_row: String,
    pub efficiency_year: u16,
    /// The hardware class of the row used (`asic`, `gpu`, `cpu`), and how it was chosen:
    /// `agent` (the miner software runs on that class) or `algorithm` (its usual hardware).
    pub hardware: String,
    pub hardware_basis: &'static str,
}

/// What a flow's shares say about scale; serialized into the event's `mining` object as is.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// The algorithm, when one is known; left out when nothing says which and when the
    /// evidence leaves several (then `algorithm_candidates` is there): an optional field of
    /// `minetap/1`, never a null.
    #[serde(skip_serializing_if = "Algo::is_unspecified")]
    pub algorithm: Algo,
    /// How the algorithm was known: protocol, pool, agent or port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm_basis: Option<Basis>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub coin_basis: Option<Basis>,
    /// The estimated hashrate with its interval and the shares it rests on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashrate: Option<Hashrate>,
    /// Why no hashrate could be given, when none is.
    #[serde(rename = "hashrate_missing", skip_serializing_if = "Option::is_none")]
    pub missing: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power: Option<Power>,
    /// When the evidence leaves several algorithms (an agent that runs several): an estimate
    /// for each, and no single figure put forward.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub algorithm_candidates: Vec<Candidate>,
    /// What the pool's job says of the chain, when it names a height the chain table places.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub chain: Option<ChainSeen>,
}

/// The chains a job fits, and the values that decided it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChainSeen {
    /// The chains it fits (several when neither height nor difficulty tells them apart).
    pub names: Vec<String>,
    /// Always `job`.
    pub basis: Basis,
    /// The block height in the job (a coinbase's BIP 34 push, a template's or CryptoNote
    /// job's height, an Ethash work package's fourth field); absent from getwork.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u64>,
    /// The job's block time, seconds since the epoch (Ethash work: when it was seen).
    pub job_time: u32,
    /// The network difficulty the job's `nbits` stands for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub network_difficulty: Option<f64>,
    /// Ethash: the epoch of the job's seed hash, in 30,000-block steps (Keccak-256 rounds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed_epoch: Option<u32>,
    /// The chain and difficulty table rows that decided it (file:line).
    pub rows: Vec<String>,
}

/// The chains a session's latest job fits, with what decided it.
fn chain_seen(s: &Session, tables: &Tables) -> Option<(ChainSeen, Vec<String>)> {
    let t = s.job.ntime?;
    let job = JobFacts {
        form: s.job.form.name(),
        height: s.job.height,
        time: i64::from(t),
        difficulty: s.job.network_difficulty(),
        seed_rounds: s.job.seed_rounds.map(u64::from),
    };
    let fit = tables.chains_for(&job);
    if fit.chains.is_empty() {
        return None;
    }
    let mut algorithms: Vec<String> = fit.chains.iter().map(|c| c.algorithm.clone()).collect();
    algorithms.sort();
    algorithms.dedup();
    let mut names: Vec<String> = fit.chains.iter().map(|c| c.name.clone()).collect();
    names.dedup();
    Some((
        ChainSeen {
            names,
            basis: Basis::Job,
            height: s.job.height,
            job_time: t,
            network_difficulty: job.difficulty,
            seed_epoch: s.job.seed_rounds,
            rows: fit.rows,
        },
        algorithms,
    ))
}

/// One algorithm the flow may be mining, with what the shares would then mean.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    pub algorithm: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hashrate: Option<Hashrate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub power: Option<Power>,
}

/// What is known of a flow's algorithm.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Algo {
    /// No evidence at all.
    #[default]
    Unknown,
    /// The evidence leaves several.
    Several,
    Known(String),
}

impl Algo {
    fn is_unspecified(&self) -> bool {
        !matches!(self, Algo::Known(_))
    }
}

impl Serialize for Algo {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Algo::Known(n) => s.serialize_str(n),
            Algo::Unknown | Algo::Several => s.serialize_none(),
        }
    }
}

/// ln Γ(x) (Lanczos).
fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 6] = [
        76.180_091_729_471_46,
        -86.505_320_329_416_77,
        24.014_098_240_830_91,
        -1.231_739_572_450_155,
        0.001_208_650_973_866_179,
        -0.000_005_395_239_384_953,
    ];
    let mut y = x;
    let tmp = x + 5.5 - (x + 0.5) * (x + 5.5).ln();
    let mut ser = 1.000_000_000_190_015;
    for g in G {
        y += 1.0;
        ser += g / y;
    }
    -tmp + (2.506_628_274_631_000_5 * ser / x).ln()
}

/// The regularised lower incomplete gamma function P(a, x).
fn gamma_p(a: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    let gln = ln_gamma(a);
    if x < a + 1.0 {
        let (mut ap, mut sum) = (a, 1.0 / a);
        let mut del = sum;
        for _ in 0..10_000 {
            ap += 1.0;
            del *= x / ap;
            sum += del;
            if del.abs() < sum.abs() * 1e-15 {
                break;
            }
        }
        sum * (-x + a * x.ln() - gln).exp()
    } else {
        // Continued fraction for Q(a, x) (modified Lentz).
        let tiny = 1e-300;
        let mut b = x + 1.0 - a;
        let mut c = 1.0 / tiny;
        let mut d = 1.0 / b;
        let mut h = d;
        for i in 1..10_000 {
            let an = -(i as f64) * (i as f64 - a);
            b += 2.0;
            d = an * d + b;
            if d.abs() < tiny {
                d = tiny;
            }
            c = b + an / c;
            if c.abs() < tiny {
                c = tiny;
            }
            d = 1.0 / d;
            let del = d * c;
            h *= del;
            if (del - 1.0).abs() < 1e-15 {
                break;
            }
        }
        1.0 - (-x + a * x.ln() - gln).exp() * h
    }
}

/// The λ in [lo, hi] where `f` (increasing in λ) reaches `target`.
fn solve(f: impl Fn(f64) -> f64, target: f64, mut lo: f64, mut hi: f64) -> f64 {
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if f(mid) < target {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    0.5 * (lo + hi)
}

/// Exact (Garwood) 95 % interval for the mean of a Poisson count `n`.
pub fn poisson_interval(n: u64) -> (f64, f64) {
    let n = n as f64;
    let top = n + 20.0 * (n + 1.0).sqrt() + 20.0;
    // Upper: P(X <= n; λ) = 0.025, i.e. P(n+1, λ) = 0.975.
    let hi = solve(|l| gamma_p(n + 1.0, l), 0.975, 0.0, top);
    // Lower: P(X >= n; λ) = 0.025, i.e. P(n, λ) = 0.025.
    let lo = if n == 0.0 {
        0.0
    } else {
        solve(|l| gamma_p(n, l), 0.025, 0.0, top)
    };
    (lo, hi)
}

/// Hashes a sum of share values stands for, given the hashes per unit of difficulty.
fn hashes(w: &WorkSum, unit: Option<f64>) -> Option<f64> {
    if w.difficulty > 0.0 {
        Some(w.difficulty * unit? + w.hashes)
    } else {
        Some(w.hashes)
    }
}

/// What the evidence says the algorithm is.
enum Choice<'a> {
    One(&'a Algorithm, Basis),
    /// Several: those the tables know, and the names of those they do not.
    Several(Vec<&'a Algorithm>, Vec<&'a str>),
    Unknown,
}

/// The algorithm from the strongest evidence: the protocol's word, the pool's coin, the agent
/// (when it runs one algorithm; one that runs several leaves them all), the port.
fn choose<'a>(
    s: &Session,
    job_algorithms: &[String],
    pool_coin: Option<&str>,
    (port, t): (u16, i64),
    tables: &'a Tables,
) -> Choice<'a> {
    if let Some(a) = s.algorithm.as_deref().and_then(|a| tables.by_name(a)) {
        return Choice::One(a, Basis::Protocol);
    }
    if let [one] = job_algorithms {
        if let Some(a) = tables.by_name(one) {
            return Choice::One(a, Basis::Job);
        }
    }
    if let Some(a) = pool_coin.and_then(|c| tables.by_coin(c, t)) {
        return Choice::One(a, Basis::Pool);
    }
    // The weak hints never name an algorithm for a flow seen before its first day.
    match s.agent.as_deref().and_then(|a| tables.by_agent(a)) {
        Some(AgentSays::One(a)) if a.existed_at(t) => return Choice::One(a, Basis::Agent),
        Some(AgentSays::Several(mut v, others)) => {
            v.retain(|a| a.existed_at(t));
            match v.len() + others.len() {
                0 => {}
                1 if v.len() == 1 => return Choice::One(v[0], Basis::Agent),
                _ => return Choice::Several(v, others),
            }
        }
        _ => {}
    }
    match tables.by_port(port, t) {
        Some(a) => Choice::One(a, Basis::Port),
        None => Choice::Unknown,
    }
}

/// The hashrate and power the shares of `work` stand for under `algo`, or why there is none.
fn rate(
    (work, basis): (&WorkSum, &'static str),
    observed_s: f64,
    (algo, class): (Option<&Algorithm>, Option<&str>),
    tables: &Tables,
) -> Result<(Hashrate, Option<Power>), &'static str> {
    let total = match hashes(work, algo.map(|a| a.unit)) {
        _ if work.valued == 0 => return Err("no share with a known difficulty or target"),
        None => return Err("difficulty without a known algorithm"),
        _ if observed_s <= 0.0 => return Err("no observed time"),
        Some(h) => h,
    };
    let n = work.valued;
    let per_share = total / n as f64;
    let (lo, hi) = poisson_interval(n);
    let hs = total / observed_s;
    let hashrate = Hashrate {
        hashrate_hs: hs,
        hashrate_hs_low: lo * per_share / observed_s,
        hashrate_hs_high: hi * per_share / observed_s,
        shares: n,
        basis,
        observed_s,
        hashes_per_share: per_share,
    };
    let power = algo
        .and_then(|a| tables.efficiency(&a.name, class))
        .map(|eff| Power {
            watts: hs * eff.typical,
            watts_low: lo * per_share / observed_s * eff.low,
            watts_high: hi * per_share / observed_s * eff.high,
            joules_per_hash: eff.typical,
            efficiency_row: eff.row.clone(),
            efficiency_year: eff.year,
            hardware: eff.class.clone(),
            hardware_basis: if class == Some(eff.class.as_str()) {
                "agent"
            } else {
                "algorithm"
            },
        });
    Ok((hashrate, power))
}

/// Estimates the hashrate and power of a mining flow observed from `first_ts` to `last_ts`.
pub fn estimate(
    s: &Session,
    pool: Option<&Pool>,
    server_port: u16,
    first_ts: u64,
    last_ts: u64,
    tables: &Tables,
) -> Estimate {
    let pool_coin = pool
        .and_then(|p| p.coin.as_deref())
        .and_then(|c| c.split(',').next());
    let seen = chain_seen(s, tables);
    let job_algorithms = seen.as_ref().map(|x| x.1.clone()).unwrap_or_default();
    let t = (first_ts / 1_000_000_000) as i64;
    let choice = choose(s, &job_algorithms, pool_coin, (server_port, t), tables);
    let algo = match &choice {
        Choice::One(a, _) => Some(*a),
        _ => None,
    };
    // The job's chains: one names the coin; several leave it open (the algorithm's usual
    // coin is no answer when the job says it may be another).
    let job_chains = seen.as_ref().map(|x| x.0.names.as_slice());
    let (coin, coin_basis) = match (pool_coin, job_chains, algo.and_then(|a| a.coins.first())) {
        (Some(c), _, _) => (Some(c.to_string()), Some(Basis::Pool)),
        (None, Some([c]), _) => (Some(c.clone()), Some(Basis::Job)),
        (None, Some(_), _) | (None, None, None) => (None, None),
        (None, None, Some(c)) => (Some(c.to_ascii_uppercase()), Some(Basis::Algorithm)),
    };
    let (algorithm, algorithm_basis) = match &choice {
        Choice::One(a, b) => (Algo::Known(a.name.clone()), Some(*b)),
        Choice::Several(..) => (Algo::Several, Some(Basis::Agent)),
        Choice::Unknown => match &s.algorithm {
            Some(a) => (Algo::Known(a.clone()), Some(Basis::Protocol)),
            None => (Algo::Unknown, None),
        },
    };
    let mut e = Estimate {
        algorithm,
        algorithm_basis,
        coin,
        coin_basis,
        chain: seen.map(|x| x.0),
        ..Estimate::default()
    };
    // Accepted shares when the pool's answers were seen, else what was submitted.
    let work = if s.work.accepted.shares > 0 || s.shares.rejected > 0 {
        (&s.work.accepted, "accepted")
    } else {
        (&s.work.submitted, "submitted")
    };
    let observed_s = last_ts.saturating_sub(first_ts) as f64 / 1e9;
    // The miner software's hardware class, when its agent names one.
    let class = s
        .agent
        .as_deref()
        .and_then(|a| tables.hardware_of(a))
        .map(|h| h.class.as_str());
    if let Choice::Several(candidates, others) = &choice {
        e.missing = Some("several algorithms are possible: see algorithm_candidates");
        e.algorithm_candidates = candidates
            .iter()
            .map(|a| {
                let r = rate(work, observed_s, (Some(a), class), tables).ok();
                Candidate {
                    algorithm: a.name.clone(),
                    hashrate: r.as_ref().map(|r| r.0.clone()),
                    power: r.and_then(|r| r.1),
                }
            })
            .chain(others.iter().map(|name| Candidate {
                algorithm: name.to_string(),
                hashrate: None,
                power: None,
            }))
            .collect();
        return e;
    }
    match rate(work, observed_s, (algo, class), tables) {
        Err(why) => e.missing = Some(why),
        Ok((h, p)) => {
            e.hashrate = Some(h);
            e.power = p;
        }
    }
    e
}

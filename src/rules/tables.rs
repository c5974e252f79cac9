//! The estimation tables under `rules/`: `algorithms.table` (what a unit of difficulty is worth,
//! how to recognise an algorithm) and `power.table` (energy per hash). Each row carries its
//! source; a bad row is an error naming file and line.

use super::chains::{self, chain_row, difficulty_row, Chain, DifficultyPoint, Fit, JobFacts};
use super::intel::RuleError;
use std::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub struct Algorithm {
    pub name: String,
    /// Expected hashes per share at difficulty 1.
    pub unit: f64,
    pub aliases: Vec<String>,
    pub coins: Vec<String>,
    pub agents: Vec<String>,
    pub ports: Vec<u16>,
    /// The first day it was mined (seconds since the epoch), when the row says: the weak hints
    /// (agent, port) never name it for a flow seen before.
    pub since: Option<i64>,
    pub source: String,
    /// file:line
    pub row: String,
}

impl Algorithm {
    /// Whether it was mined at time `t` (seconds since the epoch), as far as the row says.
    pub fn existed_at(&self, t: i64) -> bool {
        self.since.is_none_or(|s| t >= s)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Efficiency {
    pub algorithm: String,
    /// The hardware class the row is for: `asic`, `gpu` or `cpu`.
    pub class: String,
    /// Joules per hash: most efficient, typical, oldest.
    pub low: f64,
    pub typical: f64,
    pub high: f64,
    pub year: u16,
    pub source: String,
    pub row: String,
}

/// Mining software that runs several algorithms: its name says none of them for sure.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiAgent {
    /// Substring of the agent string (lower case).
    pub pattern: String,
    /// The algorithms it runs.
    pub algorithms: Vec<String>,
    pub source: String,
    /// file:line
    pub row: String,
}

/// What an agent string says about the algorithm.
#[derive(Debug, Clone, PartialEq)]
pub enum AgentSays<'a> {
    /// Software that runs one algorithm.
    One(&'a Algorithm),
    /// Software that runs several: those the tables know, and the names of those they do
    /// not (candidates too, though nothing can be estimated for them).
    Several(Vec<&'a Algorithm>, Vec<&'a str>),
}

/// Mining software that runs on one class of hardware: its agent string says the class.
#[derive(Debug, Clone, PartialEq)]
pub struct Hardware {
    /// `asic`, `gpu` or `cpu`.
    pub class: String,
    /// Substrings of agent strings (lower case).
    pub agents: Vec<String>,
    pub source: String,
    /// file:line
    pub row: String,
}

/// An agent string as the tables' patterns are matched against it: lower case, and a space
/// between name and version written as `/` (Stratum sends `cgminer/3.7.2`, HTTP's User-Agent
/// `cgminer 3.7.2`).
fn agent_key(agent: &str) -> String {
    agent.to_ascii_lowercase().replace(' ', "/")
}

/// The hardware classes an efficiency or hardware row may name.
const CLASSES: [&str; 3] = ["asic", "gpu", "cpu"];

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tables {
    pub algorithms: Vec<Algorithm>,
    pub efficiency: Vec<Efficiency>,
    pub multi_agents: Vec<MultiAgent>,
    pub chains: Vec<Chain>,
    /// `difficulty` rows: a chain's network difficulty at dated blocks.
    pub difficulty: Vec<DifficultyPoint>,
    pub hardware: Vec<Hardware>,
    /// `behaviour` rows, in the order read.
    pub behaviour: Vec<super::behaviour::Row>,
}

/// Splits a line into `key=value` pairs (values may be double-quoted) after a leading word.
pub(super) fn fields(line: &str) -> Result<(String, Vec<(String, String)>), String> {
    let mut out = Vec::new();
    let mut rest = line.trim();
    let (head, tail) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
    let head = head.to_string();
    rest = tail.trim_start();
    let mut first_value = None;
    while !rest.is_empty() {
        let (token, after) = match rest.find(['=', ' ', '\t']) {
            Some(i) if rest.as_bytes()[i] == b'=' => {
                let key = &rest[..i];
                let v = &rest[i + 1..];
                if let Some(q) = v.strip_prefix('"') {
                    let end = q
                        .find('"')
                        .ok_or_else(|| format!("unclosed quote after {key}="))?;
                    (Some((key.to_string(), q[..end].to_string())), &q[end + 1..])
                } else {
                    let end = v.find(char::is_whitespace).unwrap_or(v.len());
                    (Some((key.to_string(), v[..end].to_string())), &v[end..])
                }
            }
            Some(i) => {
                first_value.get_or_insert(rest[..i].to_string());
                (None, &rest[i..])
            }
            None => {
                first_value.get_or_insert(rest.to_string());
                (None, "")
            }
        };
        if let Some(t) = token {
            out.push(t);
        }
        rest = after.trim_start();
    }
    let name = first_value.ok_or("a name is missing")?;
    Ok((format!("{head} {name}"), out))
}

fn number(v: &str) -> Option<f64> {
    if let Some(e) = v.strip_prefix("2^") {
        return e.parse::<i32>().ok().map(|e| 2f64.powi(e));
    }
    v.parse::<f64>().ok().filter(|x| x.is_finite() && *x > 0.0)
}

fn per(unit: &str) -> Option<f64> {
    let (prefix, base) =
        unit.split_at(
            unit.len()
                .saturating_sub(if unit.ends_with("Sol") { 3 } else { 1 }),
        );
    if !matches!(base, "H" | "Sol") {
        return None;
    }
    Some(match prefix {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        _ => return None,
    })
}

fn list(v: &str) -> Vec<String> {
    v.split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.to_ascii_lowercase())
        .collect()
}

/// An `efficiency NAME per=UNIT low=J typical=J high=J year=YYYY` row.
fn efficiency_row(
    name: &str,
    kv: &[(String, String)],
    source: String,
    row: String,
) -> Result<Efficiency, String> {
    let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let scale = get("per")
        .and_then(per)
        .ok_or("'per' must be H, kH, MH, GH, TH, PH or Sol, kSol, ...")?;
    let j = |k: &str| {
        get(k)
            .and_then(number)
            .map(|v| v / scale)
            .ok_or_else(|| format!("'{k}' must be a positive number"))
    };
    let (low, typical, high) = (j("low")?, j("typical")?, j("high")?);
    if !(low <= typical && typical <= high) {
        return Err("needs low <= typical <= high".into());
    }
    let year = get("year")
        .and_then(|y| y.parse().ok())
        .ok_or("'year' must be a year")?;
    let class = get("class")
        .filter(|c| CLASSES.contains(c))
        .ok_or("'class' must be asic, gpu or cpu (the hardware the row is for)")?;
    Ok(Efficiency {
        algorithm: name.to_ascii_lowercase(),
        class: class.to_string(),
        low,
        typical,
        high,
        year,
        source,
        row,
    })
}

impl Tables {
    /// Adds the rows of one table file.
    pub fn add_text(&mut self, file: &Path, text: &str) -> Result<(), RuleError> {
        let fname = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let err = |message: String| RuleError {
                file: file.to_path_buf(),
                line: i + 1,
                message,
            };
            let (head, kv) = fields(line).map_err(err)?;
            let get = |k: &str| kv.iter().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
            let row = format!("{fname}:{}", i + 1);
            let source = get("source")
                .ok_or_else(|| err("every row needs source=\"...\"".into()))?
                .to_string();
            match head.split_once(' ') {
                Some(("algorithm", name)) => {
                    let unit = get("unit")
                        .and_then(number)
                        .ok_or_else(|| err("'unit' must be a positive number or 2^N".into()))?;
                    let ports = match get("ports") {
                        Some(p) => p
                            .split(',')
                            .map(|x| {
                                x.parse::<u16>()
                                    .map_err(|_| err(format!("'{x}' is not a port")))
                            })
                            .collect::<Result<_, _>>()?,
                        None => Vec::new(),
                    };
                    self.algorithms.push(Algorithm {
                        name: name.to_ascii_lowercase(),
                        unit,
                        aliases: get("aliases").map(list).unwrap_or_default(),
                        coins: get("coins").map(list).unwrap_or_default(),
                        agents: get("agents").map(list).unwrap_or_default(),
                        ports,
                        since: match get("since") {
                            None => None,
                            Some(v) => Some(v.parse::<i64>().map_err(|_| {
                                err(format!("'since' must be seconds since the epoch, not '{v}'"))
                            })?),
                        },
                        source,
                        row,
                    });
                }
                Some(("efficiency", name)) => {
                    let e = efficiency_row(name, &kv, source, row).map_err(err)?;
                    self.efficiency.push(e);
                }
                Some(("agent", name)) => {
                    let algorithms = get("algorithms").map(list).unwrap_or_default();
                    if algorithms.len() < 2 {
                        return Err(err(
                            "an agent row names the algorithms=a,b it runs (two or more)".into(),
                        ));
                    }
                    self.multi_agents.push(MultiAgent {
                        pattern: name.to_ascii_lowercase(),
                        algorithms,
                        source,
                        row,
                    });
                }
                Some(("chain", name)) => {
                    self.chains.push(chain_row(name, &kv, source, row).map_err(err)?);
                }
                Some(("difficulty", name)) => {
                    self.difficulty
                        .push(difficulty_row(name, &kv, source, row).map_err(err)?);
                }
                Some(("hardware", class)) if CLASSES.contains(&class) => {
                    self.hardware.push(Hardware {
                        class: class.to_string(),
                        agents: get("agents").map(list).unwrap_or_default(),
                        source,
                        row,
                    });
                }
                Some(("behaviour", name)) => {
                    let r = super::behaviour::row(name, get("value"), row).map_err(err)?;
                    self.behaviour.push(r);
                }
                _ => {
                    return Err(err(format!(
                        "expected 'algorithm NAME ...', 'agent NAME ...', 'efficiency NAME ...', 'hardware asic|gpu|cpu ...', 'chain NAME ...', 'difficulty CHAIN ...' or 'behaviour NAME ...', got '{line}'"
                    )))
                }
            }
        }
        Ok(())
    }

    /// The chains a job fits (`chains::fit`), with the rows that decided it.
    pub fn chains_for(&self, job: &JobFacts<'_>) -> Fit<'_> {
        chains::fit(&self.chains, &self.difficulty, job)
    }

    /// Each chain with dated difficulty rows and the time of its last one.
    pub fn difficulty_until(&self) -> Vec<(&str, i64)> {
        chains::difficulty_until(&self.difficulty)
    }

    /// The algorithm a protocol's name for it (or its own name) stands for.
    pub fn by_name(&self, name: &str) -> Option<&Algorithm> {
        let n = name.to_ascii_lowercase();
        self.algorithms
            .iter()
            .find(|a| a.name == n || a.aliases.contains(&n))
    }

    /// The algorithm a coin was mined with at time `t` (the first row naming the coin that
    /// existed then: Monero was CryptoNight before RandomX).
    pub fn by_coin(&self, coin: &str, t: i64) -> Option<&Algorithm> {
        let c = coin.to_ascii_lowercase();
        self.algorithms
            .iter()
            .find(|a| a.coins.contains(&c) && a.existed_at(t))
    }

    /// What the agent string says: the entry whose substring matches it, the longest match
    /// winning (so that `xmr-stak-cpu` is not taken for `xmr-stak`); software listed as running
    /// several algorithms says only which ones it may be.
    pub fn by_agent(&self, agent: &str) -> Option<AgentSays<'_>> {
        let a = agent_key(agent);
        let one = self
            .algorithms
            .iter()
            .flat_map(|x| x.agents.iter().map(move |s| (x, s)))
            .filter(|(_, s)| a.contains(s.as_str()))
            .max_by_key(|(_, s)| s.len());
        let several = self
            .multi_agents
            .iter()
            .filter(|m| a.contains(m.pattern.as_str()))
            .max_by_key(|m| m.pattern.len());
        match (one, several) {
            (Some((x, s)), Some(m)) if s.len() > m.pattern.len() => Some(AgentSays::One(x)),
            (Some((x, _)), None) => Some(AgentSays::One(x)),
            (_, Some(m)) => Some(AgentSays::Several(
                m.algorithms
                    .iter()
                    .filter_map(|n| self.by_name(n))
                    .collect(),
                m.algorithms
                    .iter()
                    .filter(|n| self.by_name(n).is_none())
                    .map(String::as_str)
                    .collect(),
            )),
            (None, None) => None,
        }
    }

    /// The algorithm conventionally mined on `port` at time `t`.
    pub fn by_port(&self, port: u16, t: i64) -> Option<&Algorithm> {
        self.algorithms
            .iter()
            .find(|a| a.ports.contains(&port) && a.existed_at(t))
    }

    /// The efficiency row for `algorithm` on hardware of `class` when there is one, else the
    /// algorithm's first row (its usual hardware).
    pub fn efficiency(&self, algorithm: &str, class: Option<&str>) -> Option<&Efficiency> {
        let rows = || self.efficiency.iter().filter(|e| e.algorithm == algorithm);
        class
            .and_then(|c| rows().find(|e| e.class == c))
            .or_else(|| rows().next())
    }

    /// The hardware class an agent string names (the longest matching substring wins).
    pub fn hardware_of(&self, agent: &str) -> Option<&Hardware> {
        let a = agent_key(agent);
        self.hardware
            .iter()
            .flat_map(|h| h.agents.iter().map(move |s| (h, s)))
            .filter(|(_, s)| a.contains(s.as_str()))
            .max_by_key(|(_, s)| s.len())
            .map(|(h, _)| h)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cgminer_runs_scrypt_or_sha256d_only_from_2_6_to_3_7() {
        let t = crate::rules::load(&crate::rules::Choice {
            builtin: true,
            extra: None,
        })
        .unwrap()
        .tables;
        let names = |agent: &str| match t.by_agent(agent) {
            Some(AgentSays::One(a)) => vec![a.name.clone()],
            Some(AgentSays::Several(v, _)) => v.iter().map(|a| a.name.clone()).collect(),
            None => vec![],
        };
        for both in [
            "cgminer/3.7.2",
            "cgminer 3.7.2",
            "cgminer/2.6.0",
            "CGMiner/3.1.1",
        ] {
            assert_eq!(names(both), ["sha256d", "scrypt"], "{both}");
        }
        for one in [
            "cgminer/4.10.0",
            "cgminer/3.10.0",
            "cgminer/3.8.0",
            "cgminer/2.5.2",
        ] {
            assert_eq!(names(one), ["sha256d"], "{one}");
        }
    }

    use super::*;

    #[test]
    fn rows_and_errors() {
        let mut t = Tables::default();
        t.add_text(Path::new("a.table"), "algorithm sha256d unit=2^32 agents=bmminer,cgminer coins=BTC source=\"spec\"\nefficiency sha256d class=asic per=TH low=15 typical=21.5 high=34.5 year=2024 source=\"vendor\"\n").unwrap();
        let one = |agent: &str| match t.by_agent(agent) {
            Some(AgentSays::One(a)) => a.clone(),
            other => panic!("{agent}: {other:?}"),
        };
        assert_eq!(one("Bmminer/2.0").unit, 4294967296.0);
        t.add_text(Path::new("c.table"), "algorithm randomx unit=1 agents=xmr-stak source=\"s\"\nalgorithm cryptonight unit=1 agents=xmr-stak-cpu source=\"s\"\n").unwrap();
        let one = |agent: &str| match t.by_agent(agent) {
            Some(AgentSays::One(a)) => a.name.clone(),
            other => panic!("{agent}: {other:?}"),
        };
        assert_eq!(one("xmr-stak-cpu/1.3.0"), "cryptonight");
        assert_eq!(one("xmr-stak/2.10"), "randomx");
        assert_eq!(t.by_coin("btc", 1_700_000_000).unwrap().name, "sha256d");
        let e = t.efficiency("sha256d", None).unwrap();
        assert!((e.typical - 21.5e-12).abs() < 1e-18);
        assert_eq!(e.row, "a.table:2");
        let bad = Tables::default()
            .add_text(Path::new("b.table"), "\nalgorithm x unit=0 source=\"s\"\n")
            .unwrap_err();
        assert_eq!(
            bad.to_string(),
            "b.table:2: 'unit' must be a positive number or 2^N"
        );
        let bad = Tables::default()
            .add_text(Path::new("b.table"), "algorithm x unit=1\n")
            .unwrap_err();
        assert!(bad.message.contains("source"));
    }

    #[test]
    fn the_built_in_gpu_miners_run_several_algorithms_and_cgminer_4_one() {
        let t = crate::rules::load(&crate::rules::Choice {
            builtin: true,
            extra: None,
        })
        .unwrap()
        .tables;
        let several = |agent: &str| match t.by_agent(agent) {
            Some(AgentSays::Several(v, others)) => v.len() + others.len(),
            other => panic!("{agent}: {other:?}"),
        };
        for agent in [
            "GMiner/3.44",
            "lolMiner 1.76",
            "T-Rex/0.26.8",
            "sgminer 5.6.1",
        ] {
            assert!(several(agent) >= 4, "{agent}");
        }
        // "gminer" is inside "cgminer": the longer pattern wins.
        assert!(
            matches!(t.by_agent("cgminer 4.10.0"), Some(AgentSays::One(a)) if a.name == "sha256d")
        );
        assert!(
            matches!(t.by_agent("ethminer/0.19.0"), Some(AgentSays::One(a)) if a.name == "ethash")
        );
    }

    #[test]
    fn software_that_runs_several_algorithms_names_none_of_them() {
        let mut t = Tables::default();
        let text = "algorithm sha256d unit=2^32 agents=bmminer source=\"s\"\nalgorithm scrypt unit=2^16 source=\"s\"\nagent cpuminer algorithms=scrypt,sha256d source=\"s\"\nagent cpuminer-bm algorithms=sha256d,x11 source=\"s\"\n";
        t.add_text(Path::new("a.table"), text).unwrap();
        let names = |agent: &str| match t.by_agent(agent) {
            Some(AgentSays::Several(v, others)) => v
                .iter()
                .map(|a| a.name.as_str())
                .chain(others)
                .collect::<Vec<_>>(),
            other => panic!("{agent}: {other:?}"),
        };
        assert_eq!(names("cpuminer/2.5.1"), ["scrypt", "sha256d"]);
        // An algorithm the tables do not know is a candidate still: the agent decides nothing.
        assert_eq!(names("cpuminer-bm/1"), ["sha256d", "x11"]);
        assert!(matches!(t.by_agent("bmminer/2"), Some(AgentSays::One(_))));
        let bad = Tables::default()
            .add_text(
                Path::new("b.table"),
                "agent x algorithms=scrypt source=\"s\"\n",
            )
            .unwrap_err();
        assert!(
            bad.to_string().starts_with("b.table:1: an agent row names"),
            "{bad}"
        );
    }

    #[test]
    fn a_port_hint_never_names_an_algorithm_before_its_first_day() {
        let t = crate::rules::load(&crate::rules::Choice {
            builtin: true,
            extra: None,
        })
        .unwrap()
        .tables;
        // 2017-01-16 (a CryptoNote pool on 14444 then mined CryptoNight), and 2020.
        assert_eq!(t.by_port(14444, 1_484_582_400), None);
        assert_eq!(t.by_port(14444, 1_600_000_000).unwrap().name, "randomx");
        // A pool rule's coin: Monero in 2017 was CryptoNight, in 2020 RandomX.
        assert_eq!(t.by_coin("XMR", 1_484_582_400).unwrap().name, "cryptonight");
        assert_eq!(t.by_coin("XMR", 1_600_000_000).unwrap().name, "randomx");
        let bad = Tables::default().add_text(
            Path::new("a.table"),
            "algorithm x unit=1 since=yesterday source=\"s\"\n",
        );
        assert!(bad
            .unwrap_err()
            .to_string()
            .contains("'since' must be seconds"));
    }

    #[test]
    fn a_chain_row_with_a_bad_anchor_or_form_says_what_is_wrong() {
        for (row, want) in [
            (
                "chain X algorithm=a anchor=12 spacing=1 within=0.1",
                "HEIGHT@UNIX_TIME",
            ),
            (
                "chain X algorithm=a spacing=1 within=0.1",
                "genesis=TIME or anchor",
            ),
            (
                "chain X algorithm=a genesis=1 spacing=1 within=0.1 job=eth",
                "'job' must be bitcoin, cryptonote or ethash",
            ),
            (
                "chain X algorithm=a genesis=1 spacing=1 within=0.1 from=x",
                "'from' must be a height",
            ),
            (
                "chain X algorithm=a genesis=1 spacing=1 within=0.1 epoch=1000",
                "'epoch' must be a multiple of 30000",
            ),
            (
                "difficulty X height=1 time=2 bits=1d00ffff",
                "'bits' must be",
            ),
            ("difficulty X height=1 bits=0x1d00ffff", "'time' must be"),
        ] {
            let mut t = Tables::default();
            let e = t
                .add_text(
                    std::path::Path::new("c.table"),
                    &format!("{row} source=\"t\"\n"),
                )
                .unwrap_err();
            assert!(e.to_string().contains(want), "{row}: {e}");
            assert!(e.to_string().contains("c.table:1"), "{e}");
        }
    }
}

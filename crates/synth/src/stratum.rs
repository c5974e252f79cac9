//! Stratum V1 conversations as scripts of JSON lines, in the shapes real miners and pools use.

use super::capture::{Frame, L2};
use super::session::{addr, TcpSession};

/// Who sends a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum From {
    Miner,
    Pool,
}

/// A line of the conversation and the pause before it.
#[derive(Debug, Clone)]
pub struct Line {
    pub from: From,
    pub wait_ms: u64,
    pub text: String,
}

/// The dialect of Stratum V1 a script speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Bitcoin-style: 9-field notify, set_difficulty.
    Sha256,
    /// Bitcoin-style opened with BIP 310 `mining.configure` and version rolling.
    Bip310,
    /// Zcash-style (Equihash): 8-field notify, set_target, 5-field submit with a solution.
    Equihash,
}

/// What a generated session looks like.
#[derive(Debug, Clone)]
pub struct Script {
    pub flavour: Flavour,
    pub agent: String,
    pub worker: String,
    pub difficulty: f64,
    pub jobs: usize,
    /// Submits after each job.
    pub submits_per_job: usize,
    /// Every `reject_every`-th submit is rejected (0: none).
    pub reject_every: usize,
    /// Milliseconds between jobs.
    pub job_interval_ms: u64,
    /// A chain's job (SHA-256 flavour): block height (written as the coinbase's BIP 34 push),
    /// nbits and ntime; None: random coinbase, fixed nbits and ntime.
    pub chain: Option<(u64, u32, u32)>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            flavour: Flavour::Sha256,
            agent: "cpuminer/2.5.1".into(),
            worker: "bc1qexamplewallet0000000000000000000.rig1".into(),
            difficulty: 0.01,
            jobs: 6,
            submits_per_job: 2,
            reject_every: 5,
            job_interval_ms: 30_000,
            chain: None,
        }
    }
}

/// Index in the script's lines where the session is past its opening (subscribe, authorize,
/// first job): a capture started there sees only jobs, difficulty and submits.
pub fn opening_len(lines: &[Line]) -> usize {
    lines
        .iter()
        .position(|l| l.text.contains("\"mining.submit\""))
        .unwrap_or(lines.len())
}

/// A coinbase up to the extranonce as pools send it in `coinb1`: version 1, one input spending
/// the null outpoint, a script whose first push is the height (BIP 34) and a pool tag.
fn bip34_coinb1(height: u64) -> String {
    let mut h = height.to_le_bytes().to_vec();
    while h.len() > 1 && h[h.len() - 1] == 0 {
        h.pop();
    }
    if h[h.len() - 1] & 0x80 != 0 {
        h.push(0); // a script number is signed
    }
    let tag = b"/minetap-test/";
    // The script goes on with the extranonces (8 bytes) after coinb1.
    let script_len = 1 + h.len() + tag.len() + 8;
    let mut out = String::from(
        "01000000010000000000000000000000000000000000000000000000000000000000000000ffffffff",
    );
    out.push_str(&format!("{script_len:02x}{:02x}", h.len()));
    for b in h.iter().chain(tag.iter()) {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

fn hex(seed: u64, bytes: usize) -> String {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..bytes)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            format!("{:02x}", x as u8)
        })
        .collect()
}

impl Script {
    pub fn lines(&self) -> Vec<Line> {
        let mut out = Vec::new();
        let mut miner = |w: u64, t: String| {
            out.push(Line {
                from: From::Miner,
                wait_ms: w,
                text: t,
            })
        };
        let mut id = 1;
        let eq = self.flavour == Flavour::Equihash;
        if self.flavour == Flavour::Bip310 {
            miner(
                0,
                format!(
                    r#"{{"id":{id},"method":"mining.configure","params":[["version-rolling","minimum-difficulty","info"],{{"version-rolling.mask":"1fffe000","version-rolling.min-bit-count":2,"minimum-difficulty.value":2048,"info.connection-url":"stratum+tcp://pool.example.net:3333","info.hw-version":"Antminer S19 Pro","info.sw-version":"bmminer 1.0.0","info.hw-id":"a1b2c3d4e5f60718"}}]}}"#
                ),
            );
            id += 1;
        }
        let sub = if eq {
            format!(
                r#"{{"id":{id},"method":"mining.subscribe","params":["{}",null,"pool.example.net","3333"]}}"#,
                self.agent
            )
        } else {
            format!(
                r#"{{"id":{id},"method":"mining.subscribe","params":["{}"]}}"#,
                self.agent
            )
        };
        miner(0, sub);
        let sub_id = id;
        id += 1;
        miner(
            5,
            format!(
                r#"{{"id":{id},"method":"mining.authorize","params":["{}","x"]}}"#,
                self.worker
            ),
        );
        let auth_id = id;
        id += 1;
        let mut lines = out;
        let pool = |lines: &mut Vec<Line>, w: u64, t: String| {
            lines.push(Line {
                from: From::Pool,
                wait_ms: w,
                text: t,
            })
        };
        // Pool answers, in order.
        let mut answers = Vec::new();
        if self.flavour == Flavour::Bip310 {
            answers.push(r#"{"id":1,"result":{"version-rolling":true,"version-rolling.mask":"1fffe000","minimum-difficulty":true},"error":null}"#.to_string());
        }
        if eq {
            answers.push(format!(
                r#"{{"id":{sub_id},"result":[null,"8aaf9c01"],"error":null}}"#
            ));
        } else {
            answers.push(format!(
                r#"{{"id":{sub_id},"result":[[["mining.set_difficulty","{}"],["mining.notify","{}"]],"08000002",4],"error":null}}"#,
                hex(1, 8),
                hex(2, 8)
            ));
        }
        answers.push(format!(r#"{{"id":{auth_id},"result":true,"error":null}}"#));
        for (i, a) in answers.into_iter().enumerate() {
            // The first answer comes back after the opening requests were sent.
            pool(&mut lines, if i == 0 { 20 } else { 1 }, a);
        }
        if self.flavour == Flavour::Bip310 {
            pool(
                &mut lines,
                1,
                r#"{"id":null,"method":"mining.set_version_mask","params":["1fffe000"]}"#.into(),
            );
        }
        pool(&mut lines, 1, self.difficulty_line());
        let mut submit_no = 0;
        for j in 0..self.jobs {
            let job = format!("{:x}", 0x4f00 + j);
            // 2026-03-02, the samples' own day: past the last dated difficulty row, so a job
            // without a height names no chain.
            let ntime = format!("{:08x}", 0x69a5_4600 + j * 30);
            let notify = if eq {
                format!(
                    r#"{{"id":null,"method":"mining.notify","params":["{job}","04000000","{}","{}","{}","{ntime}","1d0ba8e3",{}]}}"#,
                    hex(10 + j as u64, 32),
                    hex(20 + j as u64, 32),
                    hex(0, 32),
                    j == 0
                )
            } else {
                let (coinb1, nbits, ntime) = match self.chain {
                    Some((height, nbits, t)) => (
                        bip34_coinb1(height),
                        format!("{nbits:08x}"),
                        format!("{:08x}", t + j as u32 * 30),
                    ),
                    None => (hex(30 + j as u64, 58), "1703a30c".into(), ntime.clone()),
                };
                format!(
                    r#"{{"id":null,"method":"mining.notify","params":["{job}","{}","{}","{}",["{}","{}"],"20000000","{nbits}","{ntime}",{}]}}"#,
                    hex(10 + j as u64, 32),
                    coinb1,
                    hex(40 + j as u64, 40),
                    hex(50 + j as u64, 32),
                    hex(60 + j as u64, 32),
                    j == 0
                )
            };
            if j > 0 && j == self.jobs / 2 && !eq {
                // The pool retargets half-way: the new difficulty applies from the next job.
                let d = Script {
                    difficulty: self.difficulty * 2.0,
                    ..self.clone()
                };
                pool(&mut lines, self.job_interval_ms / 2, d.difficulty_line());
            }
            pool(
                &mut lines,
                if j == 0 { 1 } else { self.job_interval_ms },
                notify,
            );
            for s in 0..self.submits_per_job {
                submit_no += 1;
                let text = match self.flavour {
                    Flavour::Sha256 => format!(
                        r#"{{"id":{id},"method":"mining.submit","params":["{}","{job}","{:08x}","{ntime}","{}"]}}"#,
                        self.worker,
                        submit_no,
                        hex(70 + submit_no as u64, 4)
                    ),
                    Flavour::Bip310 => format!(
                        r#"{{"id":{id},"method":"mining.submit","params":["{}","{job}","{:08x}","{ntime}","{}","{}"]}}"#,
                        self.worker,
                        submit_no,
                        hex(70 + submit_no as u64, 4),
                        hex(90 + submit_no as u64, 2) + "0000"
                    ),
                    Flavour::Equihash => format!(
                        r#"{{"id":{id},"method":"mining.submit","params":["{}","{job}","{ntime}","{}","fd4005{}"]}}"#,
                        self.worker,
                        hex(80 + submit_no as u64, 28),
                        hex(99 + submit_no as u64, 64)
                    ),
                };
                let wait = self.job_interval_ms / (self.submits_per_job as u64 + 1);
                lines.push(Line {
                    from: From::Miner,
                    wait_ms: wait.max(1) + s as u64,
                    text,
                });
                let reply = if self.reject_every > 0 && submit_no % self.reject_every == 0 {
                    format!(
                        r#"{{"id":{id},"result":null,"error":[23,"Low difficulty share",null]}}"#
                    )
                } else {
                    format!(r#"{{"id":{id},"result":true,"error":null}}"#)
                };
                pool(&mut lines, 40, reply);
                id += 1;
            }
        }
        lines
    }

    fn difficulty_line(&self) -> String {
        if self.flavour == Flavour::Equihash {
            r#"{"id":null,"method":"mining.set_target","params":["0010000000000000000000000000000000000000000000000000000000000000"]}"#.into()
        } else {
            format!(
                r#"{{"id":null,"method":"mining.set_difficulty","params":[{}]}}"#,
                self.difficulty
            )
        }
    }
}

/// Plays a script over a session; returns the frame index at which each line starts.
pub fn play(s: &mut TcpSession, lines: &[Line]) -> Vec<usize> {
    let mut starts = Vec::with_capacity(lines.len());
    for l in lines {
        s.wait_ms(l.wait_ms);
        starts.push(s.frames.len());
        let mut t = l.text.clone().into_bytes();
        t.push(b'\n');
        s.send(l.from == From::Miner, &t);
    }
    starts
}

/// A full Stratum session from SYN to FIN.
pub fn stratum_session(
    client: &str,
    server: &str,
    start: u64,
    l2: L2,
    script: &Script,
) -> Vec<Frame> {
    let mut s = TcpSession::new(addr(client), addr(server), start, l2);
    s.handshake();
    play(&mut s, &script.lines());
    s.close();
    s.frames
}

//! The test pool and Stratum miner as a program, for making fixtures with real miners:
//!
//!   poolsim pool ADDR:PORT [--tls NAME,...] [--job-every S] [--cn-difficulty D] [--seconds N]
//!   poolsim miner ADDR:PORT [--tls [--sni NAME]] [--seconds N] [--share-every S] [--seed N]
//!
//! See tests/data/tls/make-tls.sh.

#[path = "../tests/common/pool.rs"]
mod pool;

use std::time::Duration;

fn arg<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

fn num(args: &[String], name: &str, default: f64) -> f64 {
    arg(args, name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(cmd), Some(addr)) = (args.first(), args.get(1)) else {
        eprintln!("usage: poolsim pool|miner ADDR:PORT [options]");
        std::process::exit(2);
    };
    let seconds = num(&args, "--seconds", 150.0);
    match cmd.as_str() {
        "pool" => {
            let names: Vec<String> = arg(&args, "--tls")
                .map(|n| n.split(',').map(str::to_string).collect())
                .unwrap_or_default();
            let names: Vec<&str> = names.iter().map(String::as_str).collect();
            let cfg = pool::PoolConfig {
                job_every_s: num(&args, "--job-every", 30.0),
                cn_difficulty: num(&args, "--cn-difficulty", 2000.0) as u64,
                tls: (!names.is_empty()).then(|| pool::tls_config(&names)),
                ..pool::PoolConfig::default()
            };
            let p = pool::start(addr, cfg);
            eprintln!("poolsim: pool on {}", p.addr);
            std::thread::sleep(Duration::from_secs_f64(seconds));
        }
        "miner" => {
            let Ok(to) = addr.parse() else {
                eprintln!("poolsim: '{addr}' is not ADDR:PORT");
                std::process::exit(2);
            };
            let tls = args
                .iter()
                .any(|a| a == "--tls")
                .then(|| arg(&args, "--sni"));
            match pool::stratum_miner(
                to,
                tls,
                Duration::from_secs_f64(seconds),
                num(&args, "--share-every", 10.0),
                num(&args, "--seed", 1.0) as u64,
            ) {
                Ok(n) => eprintln!("poolsim: {n} shares accepted"),
                Err(e) => {
                    eprintln!("poolsim: {e}");
                    std::process::exit(1);
                }
            }
        }
        _ => {
            eprintln!("usage: poolsim pool|miner ADDR:PORT [options]");
            std::process::exit(2);
        }
    }
}

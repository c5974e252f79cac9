//! `minetap rules learn`: events (and probe reports) in; pool rules lines out, for the
//! endpoints a run confirmed — by a mining protocol parsed in the clear, or by a probe's
//! answer — so that a later run knows them (`--rules DIR`).

use std::collections::BTreeMap;
use std::path::PathBuf;

/// What was learned about one server address.
#[derive(Default)]
struct Learned {
    how: std::collections::BTreeSet<String>,
    ports: std::collections::BTreeSet<u64>,
    flows: u64,
    first: String,
    last: String,
}

/// The server address, port, how it was confirmed and when, if the line confirms one.
fn confirmed(v: &serde_json::Value) -> Option<(String, u64, String, String, Option<String>)> {
    if v.get("event_type").and_then(|t| t.as_str()) == Some("mining") {
        let m = v.get("mining")?;
        if m.get("level")?.as_str()? != "confirmed" {
            return None;
        }
        let how = match m.pointer("/pool/source").and_then(|s| s.as_str()) {
            Some("probe") => "probe".to_string(),
            _ => m.get("protocol")?.as_str()?.to_string(),
        };
        let host = v
            .pointer("/tls/sni")
            .or_else(|| m.pointer("/pool/host"))
            .and_then(|h| h.as_str())
            .map(str::to_string);
        return Some((
            v.get("dest_ip")?.as_str()?.to_string(),
            v.get("dest_port")?.as_u64()?,
            how,
            v.get("timestamp")?.as_str()?.to_string(),
            host,
        ));
    }
    // A probe report (`minetap probe`, or live's --probe-log).
    if v.get("pool")?.as_bool()? {
        let ep: std::net::SocketAddr = v.get("endpoint")?.as_str()?.parse().ok()?;
        let how = format!("probe {}", v.get("dialect")?.as_str()?);
        let at = v.get("probed_at")?.as_u64()?;
        let when = jiff::Timestamp::from_second(at as i64).ok()?.to_string();
        let host = v.get("sni").and_then(|h| h.as_str()).map(str::to_string);
        return Some((ep.ip().to_string(), u64::from(ep.port()), how, when, host));
    }
    None
}

/// Reads every file and prints the rules lines; a line that is not JSON is an error naming
/// the file and line.
pub fn run(files: &[PathBuf]) -> Result<i32, super::error::CliError> {
    let mut by_ip: BTreeMap<String, Learned> = BTreeMap::new();
    let mut hosts: BTreeMap<String, String> = BTreeMap::new();
    for f in files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| super::error::CliError::Input(format!("{}: {e}", f.display())))?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let v: serde_json::Value = serde_json::from_str(line).map_err(|e| {
                super::error::CliError::Input(format!("{}:{}: not JSON: {e}", f.display(), i + 1))
            })?;
            let Some((ip, port, how, when, host)) = confirmed(&v) else {
                continue;
            };
            let l = by_ip.entry(ip.clone()).or_default();
            l.how.insert(how);
            l.ports.insert(port);
            l.flows += 1;
            if l.first.is_empty() || when < l.first {
                l.first = when.clone();
            }
            if when > l.last {
                l.last = when;
            }
            if let Some(h) = host.filter(|h| h.parse::<std::net::IpAddr>().is_err()) {
                hosts.entry(h).or_insert(ip);
            }
        }
    }
    out!(
        "# learned by `minetap rules learn` from {} file(s): {} address(es), {} name(s)",
        files.len(),
        by_ip.len(),
        hosts.len()
    );
    for (ip, l) in &by_ip {
        let how: Vec<&str> = l.how.iter().map(String::as_str).collect();
        let ports: Vec<String> = l.ports.iter().map(u64::to_string).collect();
        out!(
            "ip {ip} pool=learned   # {} on port {}: {} confirmation(s), {} .. {}",
            how.join(", "),
            ports.join(","),
            l.flows,
            l.first,
            l.last
        );
    }
    for (host, ip) in &hosts {
        out!("domain {host} pool=learned   # the name a miner used for {ip}");
    }
    Ok(0)
}

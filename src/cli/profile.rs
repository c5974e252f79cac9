//! `--profile-local CIDR`: the site traffic profiles of `scan` and `live` — the settings read
//! into an [`output::profile::ProfileConfig`](crate::output::profile::ProfileConfig), and the
//! sink that writes flow events and, as flows end, the profiles of the intervals they close.

use super::CliError;
use crate::detect::FlowRecord;
use crate::flow::FlowSummary;
use crate::output::profile::{ProfileConfig, Profiles};
use crate::output::writer::EventWriter;
use crate::verdict::Verdict;

/// The `--profile-*` flags as given (merged over the config file): local networks, interval,
/// prefix lengths, most sites.
type Flags<'a> = (&'a [String], Option<u64>, Option<&'a str>, Option<usize>);

/// The profile settings, or `None` when no local network is given.
pub fn config(
    (local, interval, prefix, max_sites): Flags<'_>,
) -> Result<Option<ProfileConfig>, CliError> {
    if local.is_empty() {
        if interval.is_some() || prefix.is_some() {
            return Err(CliError::Usage(
                "--profile-interval and --profile-prefix need --profile-local CIDR".into(),
            ));
        }
        return Ok(None);
    }
    let local = local
        .iter()
        .map(|c| crate::decode::filter::Cidr::parse(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CliError::Usage(format!("--profile-local: {e}")))?;
    let interval = interval.unwrap_or(3600);
    if !(60..=7 * 86_400).contains(&interval) {
        return Err(CliError::Usage(format!(
            "--profile-interval must be from 60 to 604800 seconds, not {interval}"
        )));
    }
    let prefix = match prefix {
        None => (32, 64),
        Some(p) => {
            let (v4, v6) = p.split_once(',').unwrap_or((p, "64"));
            match (v4.trim().parse::<u8>(), v6.trim().parse::<u8>()) {
                (Ok(a), Ok(b)) if a <= 32 && b <= 128 => (a, b),
                _ => {
                    return Err(CliError::Usage(format!(
                        "--profile-prefix '{p}': expected V4[,V6], at most 32 and 128"
                    )))
                }
            }
        }
    };
    let max_sites = max_sites.unwrap_or(100_000);
    if max_sites == 0 {
        return Err(CliError::Usage(
            "--profile-max-sites must be at least 1 (further sites are summed as `other`)".into(),
        ));
    }
    Ok(Some(ProfileConfig {
        local,
        interval_ns: interval * 1_000_000_000,
        max_sites,
        prefix,
    }))
}

/// What else a sink does with each flow and its verdict.
pub type Also<'a> = &'a mut (dyn FnMut(&FlowRecord, &Verdict) + Send);

/// Writes flow events, and site profiles as flows end.
pub struct ProfilingSink<'a> {
    pub writer: &'a EventWriter,
    pub profiles: Option<Profiles>,
    /// Also called with each flow and its verdict (live: metrics and the probe).
    pub also: Option<Also<'a>>,
}

impl crate::pipeline::Sink for ProfilingSink<'_> {
    fn flow(&mut self, r: FlowRecord, v: Verdict) {
        if let Some(f) = self.also.as_mut() {
            f(&r, &v);
        }
        self.writer.write(&r, &v);
    }

    fn ended(&mut self, flows: &[FlowSummary]) {
        if let Some(p) = self.profiles.as_mut() {
            for f in flows {
                for site in p.add(f) {
                    self.writer.write_profile(&site);
                }
            }
        }
    }
}

impl ProfilingSink<'_> {
    /// Writes the profiles of the interval under way (the run ended).
    pub fn finish(&mut self) {
        if let Some(p) = self.profiles.as_mut() {
            for site in p.finish() {
                self.writer.write_profile(&site);
            }
        }
    }
}

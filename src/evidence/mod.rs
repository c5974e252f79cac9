//! Stage 7a, **evidence**: a mining flow's record and event in; a bundle on disk out — the flow's
//! own frames as a pcap, the event, a transcript of the decoded messages, the subscriber record,
//! and a manifest with the SHA-256 of every file, signed with the sensor's Ed25519 key.
//!
//! Bundles are written atomically: into a temporary folder, every file and the folder synced,
//! then renamed into place — a crash leaves a complete bundle or none. `verify` checks every hash
//! and the signature and says exactly what differs; `pack` makes one `.tar.zst` for transfer.

mod pcap;

use crate::detect::FlowRecord;
use crate::flow::Dir;
use crate::output::time::rfc3339_micros;
use crate::output::Event;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

pub const MANIFEST: &str = "manifest.json";
pub const SIGNATURE: &str = "manifest.sig";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    (s.len() % 2 == 0)
        .then(|| {
            (0..s.len() / 2)
                .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok())
                .collect()
        })
        .flatten()
}

/// Makes a sensor key: the secret (hex, readable by its owner only) at `path`, the public key
/// beside it as `path.pub`.
pub fn keygen(path: &Path) -> Result<String, String> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).map_err(|e| format!("no randomness for a key: {e}"))?;
    let key = SigningKey::from_bytes(&seed);
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    writeln!(f, "{SECRET_MARK} {}", hex(&seed)).map_err(|e| format!("{}: {e}", path.display()))?;
    let public = hex(key.verifying_key().as_bytes());
    let mut pubpath = path.as_os_str().to_owned();
    pubpath.push(".pub");
    fs::write(&pubpath, format!("{PUBLIC_MARK} {public}\n"))
        .map_err(|e| format!("{}: {e}", Path::new(&pubpath).display()))?;
    Ok(public)
}

/// The first word of a sensor key file: what the file holds.
const SECRET_MARK: &str = "minetap-sensor-key-v1";
const PUBLIC_MARK: &str = "minetap-sensor-pubkey-v1";

/// Reads a sensor key made by [`keygen`]. A public key, a file without the secret key's mark,
/// and (unless `insecure_permissions`) a key that others may read are refused, so that no
/// bundle is ever signed with a key anyone could have.
pub fn load_key(path: &Path, insecure_permissions: bool) -> Result<SigningKey, String> {
    use std::os::unix::fs::PermissionsExt;
    let at = |m: &str| format!("{}: {m}", path.display());
    let text = fs::read_to_string(path).map_err(|e| at(&e.to_string()))?;
    let (mark, key) = text.trim().split_once(' ').unwrap_or(("", text.trim()));
    match mark {
        SECRET_MARK => {}
        PUBLIC_MARK => {
            return Err(at(
                "is a public key: bundles are signed with the secret key beside it (without .pub)",
            ))
        }
        _ => {
            return Err(at(
                "is not a sensor key made by `minetap keygen` (it has no key mark)",
            ))
        }
    }
    let mode = fs::metadata(path)
        .map_err(|e| at(&e.to_string()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 && !insecure_permissions {
        return Err(at(&format!(
            "others may read this secret key (mode {:o}): chmod 600 it, or give --insecure-key-permissions",
            mode & 0o777
        )));
    }
    let seed: [u8; 32] = unhex(key)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| at("not a sensor key (64 hex digits after the mark)"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// Reads a public key file (its mark and 64 hex digits; files written before the marks, 64
/// hex digits alone, are read too, so older bundles still verify).
pub fn load_public(path: &Path) -> Result<VerifyingKey, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let key = match text.trim().split_once(' ') {
        Some((PUBLIC_MARK, k)) => k,
        Some((SECRET_MARK, _)) => {
            return Err(format!(
                "{}: is a secret key; verify with the public key (.pub)",
                path.display()
            ))
        }
        _ => text.trim(),
    };
    let b: [u8; 32] = unhex(key)
        .and_then(|v| v.try_into().ok())
        .ok_or_else(|| format!("{}: not a public key (64 hex digits)", path.display()))?;
    VerifyingKey::from_bytes(&b).map_err(|e| format!("{}: {e}", path.display()))
}

/// Writes bundles for mining flows.
pub struct Bundler {
    pub dir: PathBuf,
    pub key: SigningKey,
    pub sensor: String,
    pub rules_digest: String,
    /// The run's inputs in order (files, or `live: IFACE`): a flow's frames name theirs by index.
    pub inputs: Vec<String>,
}

/// Writes a file readable by its owner only (bundles may hold subscriber data) and syncs it.
fn write_synced(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}

impl Bundler {
    /// Writes the bundle of one flow; returns its folder.
    pub fn write(&self, event: &Event, r: &FlowRecord, client: Dir) -> Result<PathBuf, String> {
        let ev = r.evidence.as_deref().ok_or("the flow kept no frames")?;
        let name = format!(
            "{}-{}",
            rfc3339_micros(r.first_ts).replace([':', '.'], ""),
            r.id
        );
        let fin = self.dir.join(&name);
        if fin.exists() {
            return Ok(fin);
        }
        let tmp = self.dir.join(format!(".{name}.tmp{}", std::process::id()));
        let io = |e: std::io::Error| format!("{}: {e}", tmp.display());
        {
            use std::os::unix::fs::DirBuilderExt;
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(&tmp)
                .map_err(io)?;
        }
        let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
        files.push(("flow.pcap", pcap::write(ev)));
        files.push((
            "event.json",
            serde_json::to_vec_pretty(event).unwrap_or_default(),
        ));
        let transcript: String = r
            .finding
            .iter()
            .flat_map(|f| f.transcript.iter())
            .map(|(ts, d, m)| {
                let dir = if *d == client {
                    "to_server"
                } else {
                    "to_client"
                };
                format!(
                    "{}\n",
                    json!({"timestamp": rfc3339_micros(*ts), "direction": dir, "message": m})
                )
            })
            .collect();
        files.push(("transcript.jsonl", transcript.into_bytes()));
        if let Some(s) = &event.subscriber {
            files.push((
                "subscriber.json",
                serde_json::to_vec_pretty(s).unwrap_or_default(),
            ));
        }
        let hashes: serde_json::Map<String, serde_json::Value> = files
            .iter()
            .map(|(n, b)| (n.to_string(), json!(hex(&Sha256::digest(b)))))
            .collect();
        let manifest = json!({
            "format": "minetap-evidence/1",
            "tool": format!("minetap {}", env!("CARGO_PKG_VERSION")),
            "sensor": self.sensor,
            "public_key": hex(self.key.verifying_key().as_bytes()),
            "rules_digest": self.rules_digest,
            "capture_source": ev
                .inputs
                .iter()
                .map(|&i| self.inputs.get(i as usize).map_or("?", String::as_str))
                .collect::<Vec<_>>()
                .join(", "),
            "flow_id": r.id,
            "time_range": {"first": rfc3339_micros(r.first_ts), "last": rfc3339_micros(r.last_ts)},
            "frames": ev.frames.len(),
            "files": hashes,
        });
        let manifest = serde_json::to_vec_pretty(&manifest).unwrap_or_default();
        let sig = self.key.sign(&manifest);
        files.push((MANIFEST, manifest));
        files.push((
            SIGNATURE,
            format!("{}\n", hex(&sig.to_bytes())).into_bytes(),
        ));
        let whole = || -> std::io::Result<()> {
            for (n, b) in &files {
                write_synced(&tmp.join(n), b)?;
            }
            fs::File::open(&tmp).and_then(|d| d.sync_all())?;
            fs::rename(&tmp, &fin)
        };
        if let Err(e) = whole() {
            // No half-written bundle is left behind (a full disk, say): the event says why.
            let _ = fs::remove_dir_all(&tmp);
            return Err(io(e));
        }
        if let Ok(d) = fs::File::open(&self.dir) {
            let _ = d.sync_all();
        }
        Ok(fin)
    }
}

/// Checks a bundle (a folder, or a `.tar.zst` made by [`pack`]): every file's hash, no file
/// missing or added, and the manifest's signature — by `key` when given, else by the key the
/// manifest names. Returns what was checked, or every difference found.
pub fn verify(bundle: &Path, key: Option<&VerifyingKey>) -> Result<String, Vec<String>> {
    let unpacked;
    let dir = if bundle.is_file() {
        unpacked = unpack(bundle).map_err(|e| vec![e])?;
        unpacked.path().to_path_buf()
    } else {
        bundle.to_path_buf()
    };
    let mut problems = Vec::new();
    let manifest = fs::read(dir.join(MANIFEST)).map_err(|e| vec![format!("{MANIFEST}: {e}")])?;
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&manifest).ok();
    // The signature covers the manifest's bytes: checked first, whatever they hold.
    let embedded = parsed
        .as_ref()
        .and_then(|m| m["public_key"].as_str().and_then(unhex))
        .and_then(|b| <[u8; 32]>::try_from(b).ok())
        .and_then(|b| VerifyingKey::from_bytes(&b).ok());
    let (vk, which) = match (key, embedded) {
        (Some(k), _) => (Some(*k), "the given public key"),
        (None, e) => (
            e,
            "the key the manifest names (not checked against a trusted key)",
        ),
    };
    let sig = fs::read_to_string(dir.join(SIGNATURE))
        .ok()
        .and_then(|s| unhex(&s))
        .and_then(|b| <[u8; 64]>::try_from(b).ok())
        .map(|b| Signature::from_bytes(&b));
    match (vk, sig) {
        (Some(vk), Some(sig)) => {
            if vk.verify(&manifest, &sig).is_err() {
                problems.push(format!(
                    "{MANIFEST}: the signature does not verify with {which}"
                ));
            }
        }
        (None, _) => problems.push(format!(
            "{MANIFEST}: no public key to verify the signature with"
        )),
        (_, None) => problems.push(format!("{SIGNATURE}: missing or not a signature")),
    }
    let Some(m) = parsed else {
        problems.push(format!("{MANIFEST}: not JSON"));
        return Err(problems);
    };
    let files = m["files"].as_object().cloned().unwrap_or_default();
    for (name, want) in &files {
        match fs::read(dir.join(name)) {
            Ok(b) => {
                let got = hex(&Sha256::digest(&b));
                if Some(got.as_str()) != want.as_str() {
                    problems.push(format!(
                        "{name}: SHA-256 is {got}, the manifest says {}",
                        want.as_str().unwrap_or("?")
                    ));
                }
            }
            Err(e) => problems.push(format!("{name}: {e}")),
        }
    }
    if let Ok(entries) = fs::read_dir(&dir) {
        for e in entries.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n != MANIFEST && n != SIGNATURE && !files.contains_key(&n) {
                problems.push(format!("{n}: not in the manifest"));
            }
        }
    }
    if problems.is_empty() {
        Ok(format!("{} files, signature good ({which})", files.len()))
    } else {
        Err(problems)
    }
}

/// Packs a bundle folder into one `.tar.zst` file.
pub fn pack(bundle: &Path, out: &Path) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    if !bundle.join(MANIFEST).is_file() || !bundle.join(SIGNATURE).is_file() {
        return Err(format!(
            "{}: not an evidence bundle (no manifest.json and manifest.sig)",
            bundle.display()
        ));
    }
    // Owner-only, like the bundle (it may hold subscriber data); never over another file.
    let f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(out)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => {
                format!("{}: exists already; it is not overwritten", out.display())
            }
            _ => format!("{}: {e}", out.display()),
        })?;
    let enc = zstd::Encoder::new(f, 9).map_err(|e| e.to_string())?;
    let mut tar = tar::Builder::new(enc);
    tar.append_dir_all(".", bundle)
        .map_err(|e| format!("{}: {e}", bundle.display()))?;
    let enc = tar.into_inner().map_err(|e| e.to_string())?;
    let f = enc.finish().map_err(|e| e.to_string())?;
    f.sync_all().map_err(|e| e.to_string())
}

fn unpack(file: &Path) -> Result<tempfile::TempDir, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let f = fs::File::open(file).map_err(|e| format!("{}: {e}", file.display()))?;
    let dec = zstd::Decoder::new(f).map_err(|e| format!("{}: {e}", file.display()))?;
    tar::Archive::new(dec)
        .unpack(dir.path())
        .map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(dir)
}

impl crate::output::writer::BundleWriter for Bundler {
    fn write_bundle(&self, event: &Event, r: &FlowRecord, client: Dir) -> Result<PathBuf, String> {
        self.write(event, r, client)
    }
}

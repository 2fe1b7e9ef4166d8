//! Why a job ran: the fingerprint of its last hit or pass on this checkout,
//! kept per job under `.parity/cache/explain/`, compared with today's.

use super::digest::hex;
use super::key::Fingerprint;
use super::walk::Snapshot;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

/// A fingerprint written out: digests only, never values.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub(crate) key: String,
    pub(crate) job: String,
    /// RFC 3339.
    pub(crate) recorded: String,
    pub(crate) parts: BTreeMap<String, String>,
    pub(crate) env: BTreeMap<String, String>,
    pub(crate) cache_env: BTreeMap<String, Option<String>>,
    pub(crate) needs: BTreeMap<String, String>,
    /// Path → kind and content digest (shortened: this is for people).
    pub(crate) files: BTreeMap<String, String>,
}

impl Manifest {
    pub(crate) fn new(job: &str, fp: &Fingerprint, snapshot: &Snapshot) -> Manifest {
        let short = |d: &[u8; 32]| hex(&d[..16]);
        Manifest {
            key: fp.key.clone(),
            job: job.to_owned(),
            recorded: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            parts: fp
                .parts
                .iter()
                .map(|(n, d)| ((*n).to_owned(), short(d)))
                .collect(),
            env: fp.env.iter().map(|(n, d)| (n.clone(), short(d))).collect(),
            cache_env: fp
                .cache_env
                .iter()
                .map(|(n, d)| (n.clone(), d.as_ref().map(short)))
                .collect(),
            needs: fp.needs.iter().cloned().collect(),
            files: fp
                .files
                .iter()
                .map(|&i| {
                    let f = &snapshot.files[i];
                    (
                        f.path.to_string_lossy().into_owned(),
                        format!("{}:{}", f.kind.tag() as char, short(&f.hash)),
                    )
                })
                .collect(),
        }
    }

    /// What differs from `before`, in the order a person checks things.
    pub(crate) fn changes_since(&self, before: &Manifest) -> Vec<Change> {
        let mut changes = Vec::new();
        for (part, digest) in &self.parts {
            if before.parts.get(part) != Some(digest) {
                changes.push(Change::Definition(part.clone()));
            }
        }
        diff_maps(&before.env, &self.env, &mut changes, Change::Env);
        for (name, value) in &self.cache_env {
            match before.cache_env.get(name) {
                Some(old) if old == value => {}
                Some(_) | None => changes.push(Change::CacheEnv {
                    name: name.clone(),
                    set: value.is_some(),
                }),
            }
        }
        diff_maps(&before.needs, &self.needs, &mut changes, Change::Need);
        diff_maps(&before.files, &self.files, &mut changes, Change::File);
        changes
    }
}

fn diff_maps<V: PartialEq>(
    before: &BTreeMap<String, V>,
    now: &BTreeMap<String, V>,
    out: &mut Vec<Change>,
    make: impl Fn(String, Edit) -> Change,
) {
    for (name, value) in now {
        match before.get(name) {
            None => out.push(make(name.clone(), Edit::Added)),
            Some(old) if old != value => out.push(make(name.clone(), Edit::Changed)),
            Some(_) => {}
        }
    }
    for name in before.keys().filter(|n| !now.contains_key(*n)) {
        out.push(make(name.clone(), Edit::Removed));
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Added,
    Removed,
    Changed,
}

impl Edit {
    fn word(self) -> &'static str {
        match self {
            Edit::Added => "added",
            Edit::Removed => "removed",
            Edit::Changed => "changed",
        }
    }
}

/// One reason a key changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `steps`, `shell`, `matrix`, `tools`, `platform`… changed.
    Definition(String),
    Env(String, Edit),
    CacheEnv {
        name: String,
        set: bool,
    },
    Need(String, Edit),
    File(String, Edit),
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Change::Definition(part) => write!(f, "{part:<9} changed in parity.toml"),
            Change::Env(name, edit) => write!(f, "env       `{name}` {}", edit.word()),
            Change::CacheEnv { name, set: true } => write!(f, "cache_env `{name}` value changed"),
            Change::CacheEnv { name, set: false } => {
                write!(f, "cache_env `{name}` is no longer set")
            }
            Change::Need(name, Edit::Changed) => write!(f, "need      `{name}`: its key changed"),
            Change::Need(name, edit) => write!(f, "need      `{name}` {}", edit.word()),
            Change::File(path, edit) => write!(f, "{:<9} {path}", edit.word()),
        }
    }
}

/// Where an entry for the key was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Local,
    Remote,
    /// Neither store has it (evicted, or never stored).
    Nowhere,
    /// The remote could not be asked.
    Unknown,
}

/// What `--explain` says about one job instance.
#[derive(Debug, Clone)]
pub enum Explanation {
    NotCacheable {
        job: String,
        reason: String,
    },
    /// Same key as the last hit.
    Unchanged {
        job: String,
        key: String,
        since: String,
        found: Found,
    },
    Changed {
        job: String,
        key: String,
        since: String,
        changes: Vec<Change>,
        found: Found,
    },
    /// No hit or pass recorded on this checkout yet.
    NoHistory {
        job: String,
        key: String,
        found: Found,
    },
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let found = |found: &Found| match found {
            Found::Local => "the local cache has an entry for it",
            Found::Remote => "the remote cache has an entry for it",
            Found::Nowhere => "no cache has an entry for it",
            Found::Unknown => "the remote cache could not be asked",
        };
        match self {
            Explanation::NotCacheable { job, reason } => write!(f, "{job}: always runs: {reason}"),
            Explanation::Unchanged { job, key, since, found: Found::Local | Found::Remote } => write!(
                f,
                "{job}: cached: nothing changed since the last hit ({since}); key {}",
                &key[..16]
            ),
            Explanation::Unchanged { job, key, since, found: how } => write!(
                f,
                "{job}: runs: nothing changed since the last hit ({since}), but {} (evicted?); key {}",
                found(how),
                &key[..16]
            ),
            Explanation::Changed { job, key, since, changes, found: how } => {
                let verdict = if matches!(how, Found::Local | Found::Remote) { "cached" } else { "runs" };
                writeln!(
                    f,
                    "{job}: {verdict}: {} change{} since the last hit ({since}); key {}, {}",
                    changes.len(),
                    if changes.len() == 1 { "" } else { "s" },
                    &key[..16],
                    found(how)
                )?;
                for (i, change) in changes.iter().enumerate() {
                    if i == 30 {
                        writeln!(f, "  … and {} more", changes.len() - 30)?;
                        break;
                    }
                    writeln!(f, "  {change}")?;
                }
                Ok(())
            }
            Explanation::NoHistory { job, key, found: how } => write!(
                f,
                "{job}: {}: no earlier hit recorded in this checkout; key {}, {}",
                if matches!(how, Found::Local | Found::Remote) { "cached" } else { "runs" },
                &key[..16],
                found(how)
            ),
        }
    }
}

/// The last hit's manifest of each job, in `.parity/cache/explain/`.
pub(crate) struct Manifests {
    dir: PathBuf,
}

impl Manifests {
    pub(crate) fn new(state_dir: &Path) -> Manifests {
        Manifests {
            dir: state_dir.join("cache").join("explain"),
        }
    }

    fn paths(&self, job: &str) -> (PathBuf, PathBuf) {
        let name = hex(&blake3::hash(job.as_bytes()).as_bytes()[..12]);
        (
            self.dir.join(format!("{name}.json")),
            self.dir.join(format!("{name}.key")),
        )
    }

    /// The key of the last recorded hit: cheap, read on every hit.
    pub(crate) fn key(&self, job: &str) -> Option<String> {
        std::fs::read_to_string(self.paths(job).1)
            .ok()
            .map(|k| k.trim().to_owned())
    }

    pub(crate) fn load(&self, job: &str) -> Option<Manifest> {
        let bytes = std::fs::read(self.paths(job).0).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// Records `manifest` unless it is already the last one. Best effort:
    /// losing it only makes `--explain` less specific.
    pub(crate) fn save(&self, manifest: &Manifest) {
        if self.key(&manifest.job).as_deref() == Some(manifest.key.as_str()) {
            return;
        }
        let (json, key) = self.paths(&manifest.job);
        let write = |path: &Path, bytes: &[u8]| -> std::io::Result<()> {
            std::fs::create_dir_all(&self.dir)?;
            let mut temp = tempfile::NamedTempFile::new_in(&self.dir)?;
            temp.write_all(bytes)?;
            temp.persist(path).map_err(|e| e.error)?;
            Ok(())
        };
        let bytes = serde_json::to_vec(manifest).unwrap_or_default();
        if write(&json, &bytes).is_ok() {
            let _ = write(&key, manifest.key.as_bytes());
        }
    }
}

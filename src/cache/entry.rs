//! The action entry: what a passed job left, stored under its key in the
//! local store and at `/ac/<key>` on the remote.
//!
//! It is JSON rather than Bazel's `ActionResult` protobuf: it has to carry
//! full file modes, symlinks and a format version that protobuf's
//! `OutputFile` has no room for, and a hand-written protobuf codec would be
//! code to keep right for no gain to parity. bazel-remote therefore needs
//! `--disable_http_ac_validation`; plain HTTP caches (nginx, S3/GCS behind
//! an endpoint) store it as they store anything.

use super::digest::{is_hex64, BlobId};
use serde::{Deserialize, Serialize};
use std::path::{Component, Path, PathBuf};

const FORMAT: &str = "parity-action-v1";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ActionEntry {
    pub(crate) format: String,
    pub(crate) key: String,
    /// The job instance that stored it, for people reading the cache.
    pub(crate) job: String,
    /// When it was stored, RFC 3339.
    pub(crate) created: String,
    /// How long the job ran when it did: what a hit saves.
    pub(crate) duration_ms: u64,
    pub(crate) log: BlobId,
    pub(crate) outputs: Vec<OutputEntry>,
}

/// One output file or symlink, relative to the pipeline root.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct OutputEntry {
    pub(crate) path: String,
    /// Permission bits (`0o755`), for files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mode: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) blob: Option<BlobId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) symlink: Option<String>,
}

impl ActionEntry {
    pub(crate) fn new(
        key: &str,
        job: &str,
        duration_ms: u64,
        log: BlobId,
        outputs: Vec<OutputEntry>,
    ) -> ActionEntry {
        ActionEntry {
            format: FORMAT.to_owned(),
            key: key.to_owned(),
            job: job.to_owned(),
            created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
            duration_ms,
            log,
            outputs,
        }
    }

    pub(crate) fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Parses and checks an entry from a store. Anything that could make a
    /// restore write outside the pipeline root, or that is not this
    /// format, is refused: the remote is not trusted with paths.
    pub(crate) fn parse(bytes: &[u8], key: &str) -> Result<ActionEntry, String> {
        let entry: ActionEntry =
            serde_json::from_slice(bytes).map_err(|e| format!("not a parity cache entry: {e}"))?;
        if entry.format != FORMAT {
            return Err(format!("unknown entry format `{}`", entry.format));
        }
        if entry.key != key {
            return Err(format!("entry is for key {}, not {key}", entry.key));
        }
        for blob in entry.blobs() {
            if !is_hex64(&blob.sha256) {
                return Err(format!("bad blob id `{}`", blob.sha256));
            }
        }
        for output in &entry.outputs {
            if safe_relative(&output.path).is_none() {
                return Err(format!(
                    "output path `{}` leaves the pipeline directory",
                    output.path
                ));
            }
            if output.blob.is_some() == output.symlink.is_some() {
                return Err(format!(
                    "output `{}` must be a file or a symlink",
                    output.path
                ));
            }
        }
        Ok(entry)
    }

    /// Every blob the entry refers to: the log first.
    pub(crate) fn blobs(&self) -> impl Iterator<Item = &BlobId> {
        std::iter::once(&self.log).chain(self.outputs.iter().filter_map(|o| o.blob.as_ref()))
    }
}

/// `path` as a relative path of plain components, or `None` if it is
/// absolute, empty or climbs with `..`.
pub(crate) fn safe_relative(path: &str) -> Option<PathBuf> {
    let path = Path::new(path);
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    (!out.as_os_str().is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_outside_the_root() {
        assert!(safe_relative("dist/app").is_some());
        for bad in ["/etc/passwd", "../x", "a/../../x", "", "."] {
            assert!(safe_relative(bad).is_none(), "{bad}");
        }
        let log = super::super::digest::sha256_bytes(b"log");
        let mut entry = ActionEntry::new(&"a".repeat(64), "job", 1, log, Vec::new());
        entry.outputs.push(OutputEntry {
            path: "../escape".into(),
            mode: Some(0o644),
            blob: Some(entry.log.clone()),
            symlink: None,
        });
        assert!(ActionEntry::parse(&entry.to_bytes(), &"a".repeat(64)).is_err());
        entry.outputs.clear();
        assert!(ActionEntry::parse(&entry.to_bytes(), &"a".repeat(64)).is_ok());
        assert!(ActionEntry::parse(&entry.to_bytes(), &"b".repeat(64)).is_err());
        assert!(ActionEntry::parse(b"{\"format\": 1", &"a".repeat(64)).is_err());
    }
}

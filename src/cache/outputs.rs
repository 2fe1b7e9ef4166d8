//! A job's `outputs`: collected from the tree after it passed, and put back
//! on a hit, all staged first and then renamed into place, so a restore that
//! meets a corrupt blob leaves the tree as it was.

use super::digest::{self, BlobId};
use super::entry::{safe_relative, OutputEntry};
use super::stat_cache::{now_ns, Stamp};
use super::store::Store;
use globset::{GlobBuilder, GlobSetBuilder};
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// An output file found after the job ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Collected {
    pub(crate) path: PathBuf,
    pub(crate) kind: CollectedKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CollectedKind {
    File { mode: u32 },
    Symlink(PathBuf),
}

/// Finds what `specs` name under `root`: a file, a directory (everything in
/// it) or a glob. `.gitignore` does not apply: outputs are usually ignored.
/// A spec that names nothing is returned as the error.
pub(crate) fn collect(root: &Path, specs: &[String]) -> Result<Vec<Collected>, String> {
    let mut found = Vec::new();
    for spec in specs {
        let before = found.len();
        let text = spec.trim_start_matches("./").trim_end_matches('/');
        let literal = !text.contains(['*', '?', '[', ']', '{', '}']);
        if literal {
            if let Some(rel) = safe_relative(text) {
                collect_path(root, &rel, &mut found);
            }
        } else {
            collect_glob(root, text, &mut found);
        }
        if found.len() == before {
            return Err(spec.clone());
        }
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    found.dedup_by(|a, b| a.path == b.path);
    Ok(found)
}

fn collect_path(root: &Path, rel: &Path, found: &mut Vec<Collected>) {
    let full = root.join(rel);
    let Ok(meta) = full.symlink_metadata() else {
        return;
    };
    let kind = meta.file_type();
    if kind.is_symlink() {
        if let Ok(target) = std::fs::read_link(&full) {
            found.push(Collected {
                path: rel.to_owned(),
                kind: CollectedKind::Symlink(target),
            });
        }
    } else if kind.is_file() {
        found.push(Collected {
            path: rel.to_owned(),
            kind: CollectedKind::File {
                mode: meta.permissions().mode() & 0o7777,
            },
        });
    } else if kind.is_dir() {
        let mut children: Vec<PathBuf> = std::fs::read_dir(&full)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| rel.join(e.file_name()))
            .collect();
        children.sort();
        for child in children {
            collect_path(root, &child, found);
        }
    }
}

fn collect_glob(root: &Path, pattern: &str, found: &mut Vec<Collected>) {
    let Ok(glob) = GlobBuilder::new(pattern).literal_separator(true).build() else {
        return;
    };
    let Ok(set) = GlobSetBuilder::new().add(glob).build() else {
        return;
    };
    let prefix: PathBuf = pattern
        .split('/')
        .take_while(|part| !part.contains(['*', '?', '[', ']', '{', '}']))
        .collect();
    let start = root.join(&prefix);
    let walker = ignore::WalkBuilder::new(&start)
        .standard_filters(false)
        .follow_links(false)
        .build();
    for entry in walker.flatten() {
        if entry.file_type().is_some_and(|t| t.is_dir()) {
            continue;
        }
        if let Ok(rel) = entry.path().strip_prefix(root) {
            if set.is_match(rel) {
                collect_path(root, rel, found);
            }
        }
    }
}

/// Remembers which SHA-256 an output file had at a given stamp, so files
/// already in place are not read again on every hit.
pub(crate) trait OutputStamps {
    fn known(&self, rel: &Path, stamp: &Stamp) -> Option<String>;
    /// `seen_at_ns`: when the file was stat'ed, before it was read.
    fn learn(&self, rel: &Path, stamp: Stamp, seen_at_ns: i64, sha256: &str);
}

/// What a restore did.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Restored {
    pub(crate) written: usize,
    pub(crate) unchanged: usize,
}

#[derive(Debug)]
pub(crate) enum RestoreError {
    /// A blob does not match its id; it has been removed from the store.
    Corrupt {
        path: String,
        why: String,
    },
    /// Something in the tree is in the way (a directory where a file goes,
    /// a symlink among the parent directories).
    Blocked {
        path: String,
        why: String,
    },
    Io {
        path: String,
        source: io::Error,
    },
}

impl std::fmt::Display for RestoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestoreError::Corrupt { path, why } => {
                write!(f, "cached copy of `{path}` is corrupt ({why})")
            }
            RestoreError::Blocked { path, why } => write!(f, "cannot restore `{path}`: {why}"),
            RestoreError::Io { path, source } => write!(f, "cannot restore `{path}`: {source}"),
        }
    }
}

/// A change waiting to be renamed into place.
enum Staged {
    File(tempfile::NamedTempFile, PathBuf),
    Symlink(PathBuf, PathBuf),
}

/// Puts `outputs` back under `root` from the store. Files already holding
/// the right content are left alone (only their mode is fixed). `trusted`
/// says which blobs were verified moments ago and need no second hashing.
pub(crate) fn restore(
    root: &Path,
    outputs: &[OutputEntry],
    store: &Store,
    trusted: &dyn Fn(&BlobId) -> bool,
    stamps: &dyn OutputStamps,
) -> Result<Restored, RestoreError> {
    let mut staged = Vec::new();
    let mut report = Restored::default();
    let result = stage_all(
        root,
        outputs,
        store,
        trusted,
        stamps,
        &mut staged,
        &mut report,
    );
    if let Err(e) = result {
        for change in staged {
            if let Staged::Symlink(temp, _) = change {
                let _ = std::fs::remove_file(temp);
            }
        }
        return Err(e);
    }
    for change in staged {
        let (dest, result) = match change {
            Staged::File(temp, dest) => {
                let result = temp.persist(&dest).map(|_| ()).map_err(|e| e.error);
                (dest, result)
            }
            Staged::Symlink(temp, dest) => {
                let result = std::fs::rename(&temp, &dest);
                (dest, result)
            }
        };
        result.map_err(|source| RestoreError::Io {
            path: dest.display().to_string(),
            source,
        })?;
        report.written += 1;
    }
    Ok(report)
}

fn stage_all(
    root: &Path,
    outputs: &[OutputEntry],
    store: &Store,
    trusted: &dyn Fn(&BlobId) -> bool,
    stamps: &dyn OutputStamps,
    staged: &mut Vec<Staged>,
    report: &mut Restored,
) -> Result<(), RestoreError> {
    for output in outputs {
        let blocked = |why: &str| RestoreError::Blocked {
            path: output.path.clone(),
            why: why.to_owned(),
        };
        let io_error = |source: io::Error| RestoreError::Io {
            path: output.path.clone(),
            source,
        };
        let rel = safe_relative(&output.path)
            .ok_or_else(|| blocked("the path leaves the pipeline directory"))?;
        check_parents(root, &rel).map_err(|why| blocked(&why))?;
        let dest = root.join(&rel);
        let parent = dest.parent().unwrap_or(root).to_owned();
        let existing = dest.symlink_metadata().ok();
        if existing.as_ref().is_some_and(|m| m.is_dir()) {
            return Err(blocked("a directory is in the way"));
        }
        match (&output.blob, &output.symlink) {
            (_, Some(target)) => {
                let current = std::fs::read_link(&dest).ok();
                if current.as_deref() == Some(Path::new(target)) {
                    report.unchanged += 1;
                    continue;
                }
                std::fs::create_dir_all(&parent).map_err(io_error)?;
                let temp = parent.join(format!(".parity-restore-{}", unique()));
                std::os::unix::fs::symlink(target, &temp).map_err(io_error)?;
                staged.push(Staged::Symlink(temp, dest));
            }
            (Some(blob), None) => {
                let mode = output.mode.unwrap_or(0o644) & 0o7777;
                let same = match existing
                    .as_ref()
                    .filter(|m| m.is_file() && m.len() == blob.size)
                {
                    None => false,
                    Some(meta) => {
                        let stamp = Stamp::of(meta);
                        if stamps.known(&rel, &stamp).as_deref() == Some(blob.sha256.as_str()) {
                            true
                        } else {
                            let seen = now_ns();
                            digest::sha256_file(&dest).is_ok_and(|id| {
                                stamps.learn(&rel, stamp, seen, &id.sha256);
                                id == *blob
                            })
                        }
                    }
                };
                if same {
                    if existing.is_some_and(|m| m.permissions().mode() & 0o7777 != mode) {
                        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(mode))
                            .map_err(io_error)?;
                    }
                    report.unchanged += 1;
                    continue;
                }
                std::fs::create_dir_all(&parent).map_err(io_error)?;
                let mut temp = tempfile::Builder::new()
                    .prefix(".parity-restore-")
                    .tempfile_in(&parent)
                    .map_err(io_error)?;
                let mut source = store.open_blob(blob).map_err(|e| RestoreError::Corrupt {
                    path: output.path.clone(),
                    why: format!("blob {} cannot be read: {e}", blob.sha256),
                })?;
                if trusted(blob) {
                    io::copy(&mut source, temp.as_file_mut()).map_err(io_error)?;
                } else {
                    let got =
                        digest::copy_hashing(&mut source, temp.as_file_mut()).map_err(io_error)?;
                    if got != *blob {
                        store.remove_blob(blob);
                        return Err(RestoreError::Corrupt {
                            path: output.path.clone(),
                            why: format!("blob {} does not match its SHA-256", blob.sha256),
                        });
                    }
                }
                temp.as_file()
                    .set_permissions(std::fs::Permissions::from_mode(mode))
                    .map_err(io_error)?;
                staged.push(Staged::File(temp, dest));
            }
            (None, None) => return Err(blocked("the entry names neither a file nor a symlink")),
        }
    }
    Ok(())
}

/// Refuses to write through a symlink or into a file among the parents: a
/// crafted entry must not reach outside the pipeline directory that way.
fn check_parents(root: &Path, rel: &Path) -> Result<(), String> {
    let mut at = root.to_owned();
    let parents: Vec<_> = rel
        .parent()
        .map(|p| p.components().collect())
        .unwrap_or_default();
    for part in parents {
        at.push(part);
        match at.symlink_metadata() {
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(format!("{} is a symlink", at.display()));
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(format!("{} is not a directory", at.display()))
            }
            _ => {}
        }
    }
    Ok(())
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!(
        "{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_files_dirs_globs_and_reports_missing() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("dist/sub")).unwrap();
        std::fs::write(root.join("dist/a"), "a").unwrap();
        std::fs::write(root.join("dist/sub/b"), "b").unwrap();
        std::fs::write(root.join("x.tar"), "x").unwrap();
        let found = collect(root, &["dist".into(), "*.tar".into()]).unwrap();
        let paths: Vec<_> = found.iter().map(|c| c.path.display().to_string()).collect();
        assert_eq!(paths, ["dist/a", "dist/sub/b", "x.tar"]);
        assert_eq!(
            collect(root, &["dist".into(), "missing.bin".into()]).unwrap_err(),
            "missing.bin"
        );
    }
}

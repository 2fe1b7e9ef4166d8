//! Template clusters: `initdb` once per PostgreSQL build and settings, then
//! copy. A copy of a fresh cluster takes a fraction of what `initdb` takes
//! (it runs the bootstrap backend and writes every catalog).
//!
//! Templates live in `$XDG_CACHE_HOME/parity/postgres/` (else
//! `~/.cache/parity/postgres/`), keyed by the server binary and every
//! setting `initdb` bakes in. A template appears by an atomic rename, so a
//! directory under its final name is always complete; creators of the same
//! template take turns through a lock file, so concurrent runs initdb once.

use super::super::user::{self, RunAs};
use super::super::ServiceError;
use super::postgres::Settings;
use nix::fcntl::{Flock, FlockArg};
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Bump when the way templates are made changes, so old ones are not used.
const FORMAT: u32 = 2;

/// Fills `data_dir` with a cluster: a copy of the cached template when there
/// is one, else `init` (initdb) into `data_dir`, which then becomes the
/// template for later starts. Without a usable cache, just `init`.
pub(super) fn provide(
    bin: &Path,
    settings: &Settings,
    data_dir: &Path,
    run_as: Option<&RunAs>,
    log: &Path,
    init: impl FnOnce(&Path) -> Result<(), ServiceError>,
) -> Result<(), ServiceError> {
    let Some(cache) = cache_dir() else {
        return init(data_dir);
    };
    let template = cache.join(key(bin, settings));
    if template.join("PG_VERSION").is_file() {
        return copy_in(&template, data_dir, run_as, log);
    }
    if std::fs::create_dir_all(&cache).is_err() {
        return init(data_dir);
    }
    let lock_path = template.with_extension("lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .ok()
        .and_then(|file| Flock::lock(file, FlockArg::LockExclusive).ok());
    // Someone else may have made it while this run waited for the lock.
    if template.join("PG_VERSION").is_file() {
        return copy_in(&template, data_dir, run_as, log);
    }
    init(data_dir)?;
    if lock.is_some() {
        let staging = cache.join(format!(".staging-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&staging);
        let published =
            copy_tree(data_dir, &staging).and_then(|()| std::fs::rename(&staging, &template));
        if let Err(e) = published {
            let _ = std::fs::remove_dir_all(&staging);
            note(
                log,
                &format!(
                    "parity: could not save a template cluster in {}: {e}",
                    cache.display()
                ),
            );
        }
    }
    drop(lock);
    Ok(())
}

fn copy_in(
    template: &Path,
    data_dir: &Path,
    run_as: Option<&RunAs>,
    log: &Path,
) -> Result<(), ServiceError> {
    note(
        log,
        &format!("parity: copying template cluster {}", template.display()),
    );
    copy_tree(template, data_dir)
        .and_then(|()| user::chown_tree(data_dir, run_as))
        .map_err(|e| ServiceError::io("cannot copy the template cluster into", data_dir, e))
}

/// `$XDG_CACHE_HOME/parity/postgres` or `~/.cache/parity/postgres`.
pub(crate) fn cache_dir() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))?;
    Some(base.join("parity").join("postgres"))
}

/// `15-<hash>`: the major version when the path shows it, and a hash of the
/// binary's identity and every setting initdb bakes into the cluster.
fn key(bin: &Path, settings: &Settings) -> String {
    let postgres = bin.join("postgres");
    let meta = std::fs::metadata(&postgres).ok();
    let mut hasher = std::hash::DefaultHasher::new();
    FORMAT.hash(&mut hasher);
    postgres.hash(&mut hasher);
    meta.as_ref().map(|m| m.len()).hash(&mut hasher);
    meta.and_then(|m| m.modified().ok()).hash(&mut hasher);
    settings.hash(&mut hasher);
    let version = bin
        .parent()
        .and_then(|p| p.file_name())
        .and_then(|n| n.to_str())
        .filter(|n| n.chars().all(|c| c.is_ascii_digit()))
        .unwrap_or("pg");
    format!("{version}-{:016x}", hasher.finish())
}

/// Copies a directory tree, keeping modes and symlinks; leaves out the files
/// of a running server.
pub(crate) fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    std::fs::set_permissions(to, std::fs::metadata(from)?.permissions())?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "postmaster.pid" || name == "postmaster.opts" {
            continue;
        }
        let (source, target) = (entry.path(), to.join(&name));
        let kind = entry.file_type()?;
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(&source)?, &target)?;
        } else if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else if entry.metadata()?.len() >= SPARSE_FROM {
            copy_sparse(&source, &target)?;
        } else {
            std::fs::copy(&source, &target)?;
        }
    }
    Ok(())
}

/// Files this large are copied block by block, skipping zero blocks: a WAL
/// segment is 16 MiB, nearly all zeros in a fresh cluster.
const SPARSE_FROM: u64 = 1 << 20;

fn copy_sparse(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::io::Read;
    use std::os::unix::fs::{FileExt, OpenOptionsExt, PermissionsExt};
    let mut source = std::fs::File::open(from)?;
    let mode = source.metadata()?.permissions().mode();
    let target = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(to)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut offset = 0u64;
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|&b| b != 0) {
            target.write_all_at(&buf[..n], offset)?;
        }
        offset += n as u64;
    }
    target.set_len(offset)
}

fn note(log: &Path, line: &str) {
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log)
    {
        let _ = writeln!(file, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_trees_with_modes_and_symlinks_but_not_pid_files() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("a");
        std::fs::create_dir_all(from.join("base/1")).unwrap();
        std::fs::write(from.join("base/1/f"), "x").unwrap();
        std::fs::write(from.join("postmaster.pid"), "1").unwrap();
        std::fs::set_permissions(&from, std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("base", from.join("link")).unwrap();
        let to = dir.path().join("b");
        copy_tree(&from, &to).unwrap();
        assert_eq!(std::fs::read_to_string(to.join("base/1/f")).unwrap(), "x");
        assert!(!to.join("postmaster.pid").exists());
        assert_eq!(
            std::fs::read_link(to.join("link")).unwrap(),
            Path::new("base")
        );
        assert_eq!(
            std::fs::metadata(&to).unwrap().permissions().mode() & 0o777,
            0o700
        );
    }
}

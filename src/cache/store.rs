//! The local store: content-addressed blobs and action entries under the
//! user cache directory, shared by every pipeline and every concurrent run
//! on this machine.
//!
//! ```text
//! $XDG_CACHE_HOME/parity/v1/
//!   ac/<2 hex>/<job key>    action entries (JSON): a job's log and outputs
//!   cas/<2 hex>/<sha256>    blobs, named by content
//!   tmp/                    where writes happen before their atomic rename
//!   lock                    shared by runs, exclusive for `parity cache gc`
//! ```
//!
//! Every write lands in `tmp/` and is renamed into place, so a reader never
//! sees half a file, and two runs writing the same blob write the same
//! bytes. Reads verify content against its name, so a corrupt blob is a miss.
//! Recency is the file's mtime, refreshed on every hit: eviction is LRU.

use super::digest::{self, BlobId};
use super::error::CacheError;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Store layout version: a new layout lives beside the old one.
const LAYOUT: &str = "v1";
/// The limit when `[cache] max_size` does not say.
pub const DEFAULT_MAX_SIZE: u64 = 10 * 1024 * 1024 * 1024;
/// Eviction goes this far below the limit, so it does not run every time.
const GC_TARGET_PERCENT: u64 = 90;
/// Downloads at least this large are received and hashed on two threads.
const OVERLAP_FROM: u64 = 4 << 20;
/// Temporary files older than this were left by a run that died.
const STALE_TEMP: Duration = Duration::from_secs(3600);

#[derive(Debug)]
pub(crate) struct Store {
    dir: PathBuf,
}

/// What is in the store.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct StoreStats {
    pub dir: PathBuf,
    pub entries: u64,
    pub blobs: u64,
    pub bytes: u64,
    pub limit: u64,
    /// Seconds since the epoch of the least and most recently used file.
    pub oldest_use: Option<u64>,
    pub newest_use: Option<u64>,
}

/// What a garbage collection removed.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct GcReport {
    pub removed_files: u64,
    pub removed_bytes: u64,
    pub bytes_before: u64,
    pub bytes_after: u64,
}

/// Why a blob could not be put into the store from a stream.
#[derive(Debug)]
pub(crate) enum PutError {
    /// The content does not hash to its name, or is not the declared size.
    Corrupt(String),
    Io(io::Error),
}

impl Store {
    /// `$XDG_CACHE_HOME/parity`, else `$HOME/.cache/parity`.
    pub(crate) fn default_base() -> Result<PathBuf, CacheError> {
        let from = |var: &str| {
            std::env::var_os(var)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        from("XDG_CACHE_HOME")
            .filter(|p| p.is_absolute())
            .or_else(|| from("HOME").map(|home| home.join(".cache")))
            .map(|dir| dir.join("parity"))
            .ok_or(CacheError::NoCacheDir)
    }

    pub(crate) fn open(base: &Path) -> Result<Store, CacheError> {
        let dir = base.join(LAYOUT);
        for sub in ["ac", "cas", "tmp"] {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(|source| CacheError::Store { path, source })?;
        }
        Ok(Store { dir })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the store lock: shared for runs, exclusive for eviction.
    /// `wait = false` returns `None` instead of waiting for it.
    pub(crate) fn lock(
        &self,
        exclusive: bool,
        wait: bool,
    ) -> Result<Option<Flock<File>>, CacheError> {
        let path = self.dir.join("lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| CacheError::Store {
                path: path.clone(),
                source,
            })?;
        let arg = match (exclusive, wait) {
            (true, true) => FlockArg::LockExclusive,
            (true, false) => FlockArg::LockExclusiveNonblock,
            (false, true) => FlockArg::LockShared,
            (false, false) => FlockArg::LockSharedNonblock,
        };
        match Flock::lock(file, arg) {
            Ok(lock) => Ok(Some(lock)),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) if !wait => Ok(None),
            Err((_, errno)) => Err(CacheError::Store {
                path,
                source: io::Error::from(errno),
            }),
        }
    }

    fn ac_path(&self, key: &str) -> PathBuf {
        self.dir.join("ac").join(&key[..2]).join(key)
    }

    pub(crate) fn cas_path(&self, sha256: &str) -> PathBuf {
        self.dir.join("cas").join(&sha256[..2]).join(sha256)
    }

    /// The action entry of `key`, marked as just used.
    pub(crate) fn read_ac(&self, key: &str) -> Option<Vec<u8>> {
        let path = self.ac_path(key);
        let bytes = std::fs::read(&path).ok()?;
        touch(&path);
        Some(bytes)
    }

    pub(crate) fn write_ac(&self, key: &str, bytes: &[u8]) -> io::Result<()> {
        let mut temp = self.temp()?;
        io::Write::write_all(&mut temp, bytes)?;
        self.place(temp, &self.ac_path(key))
    }

    pub(crate) fn remove_ac(&self, key: &str) {
        let _ = std::fs::remove_file(self.ac_path(key));
    }

    /// Whether the blob is present with the right size (its content is
    /// checked when it is read).
    pub(crate) fn has_blob(&self, id: &BlobId) -> bool {
        std::fs::metadata(self.cas_path(&id.sha256)).is_ok_and(|m| m.len() == id.size)
    }

    /// Whether a file for the blob exists at all: an entry whose blobs
    /// were evicted is a quiet miss, one whose blobs are damaged is not.
    pub(crate) fn blob_exists(&self, id: &BlobId) -> bool {
        self.cas_path(&id.sha256).exists()
    }

    /// Copies a file into the store, hashing it on the way.
    pub(crate) fn put_file(&self, source: &Path) -> io::Result<BlobId> {
        let mut input = File::open(source)?;
        let mut temp = self.temp()?;
        let id = digest::copy_hashing(&mut input, &mut temp)?;
        if self.has_blob(&id) {
            touch(&self.cas_path(&id.sha256));
        } else {
            self.place(temp, &self.cas_path(&id.sha256))?;
        }
        Ok(id)
    }

    /// Stores a blob read from `reader` (a download), refusing content that
    /// does not match `id`.
    pub(crate) fn put_verified(&self, id: &BlobId, reader: &mut impl Read) -> Result<(), PutError> {
        let mut temp = self.temp().map_err(PutError::Io)?;
        let got = if id.size >= OVERLAP_FROM {
            digest::copy_hashing_overlapped(reader, temp.as_file_mut())
        } else {
            digest::copy_hashing(reader, &mut temp)
        }
        .map_err(PutError::Io)?;
        if got != *id {
            return Err(PutError::Corrupt(format!(
                "expected {} bytes with SHA-256 {}, got {} bytes with SHA-256 {}",
                id.size, id.sha256, got.size, got.sha256
            )));
        }
        self.place(temp, &self.cas_path(&id.sha256))
            .map_err(PutError::Io)
    }

    pub(crate) fn open_blob(&self, id: &BlobId) -> io::Result<File> {
        let path = self.cas_path(&id.sha256);
        let file = File::open(&path)?;
        touch(&path);
        Ok(file)
    }

    pub(crate) fn remove_blob(&self, id: &BlobId) {
        let _ = std::fs::remove_file(self.cas_path(&id.sha256));
    }

    /// Reads a whole blob, checking it against its id.
    pub(crate) fn read_blob(&self, id: &BlobId) -> Result<Vec<u8>, PutError> {
        let mut bytes = Vec::with_capacity(usize::try_from(id.size).unwrap_or(0).min(1 << 28));
        self.open_blob(id)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(PutError::Io)?;
        let got = digest::sha256_bytes(&bytes);
        if got != *id {
            return Err(PutError::Corrupt(format!(
                "blob {} holds {} bytes with SHA-256 {}",
                id.sha256, got.size, got.sha256
            )));
        }
        Ok(bytes)
    }

    fn temp(&self) -> io::Result<tempfile::NamedTempFile> {
        tempfile::Builder::new()
            .prefix("put-")
            .tempfile_in(self.dir.join("tmp"))
    }

    fn place(&self, temp: tempfile::NamedTempFile, dest: &Path) -> io::Result<()> {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent)?;
        }
        temp.persist(dest).map_err(|e| e.error)?;
        Ok(())
    }

    /// Counts what the store holds.
    pub(crate) fn stats(&self, limit: u64) -> StoreStats {
        let mut stats = StoreStats {
            dir: self.dir.clone(),
            limit,
            ..StoreStats::default()
        };
        for (kind, files) in [("ac", self.files("ac")), ("cas", self.files("cas"))] {
            for file in files {
                if kind == "ac" {
                    stats.entries += 1;
                } else {
                    stats.blobs += 1;
                }
                stats.bytes += file.size;
                let used = file
                    .used
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                stats.oldest_use = Some(stats.oldest_use.map_or(used, |o| o.min(used)));
                stats.newest_use = Some(stats.newest_use.map_or(used, |n| n.max(used)));
            }
        }
        stats
    }

    /// Total size of entries and blobs, for deciding whether to collect.
    pub(crate) fn size(&self) -> u64 {
        self.files("ac")
            .iter()
            .chain(&self.files("cas"))
            .map(|f| f.size)
            .sum()
    }

    /// Evicts the least recently used files until the store is below
    /// `limit` (with some room). Call with the exclusive lock held.
    pub(crate) fn gc(&self, limit: u64) -> GcReport {
        let now = SystemTime::now();
        for temp in std::fs::read_dir(self.dir.join("tmp"))
            .into_iter()
            .flatten()
            .flatten()
        {
            let old = temp
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| now.duration_since(t).unwrap_or_default() > STALE_TEMP);
            if old {
                let _ = std::fs::remove_file(temp.path());
            }
        }
        let mut files = self.files("ac");
        files.extend(self.files("cas"));
        let before: u64 = files.iter().map(|f| f.size).sum();
        let mut report = GcReport {
            bytes_before: before,
            bytes_after: before,
            ..GcReport::default()
        };
        if before <= limit {
            return report;
        }
        let target = limit / 100 * GC_TARGET_PERCENT;
        files.sort_by_key(|f| f.used);
        for file in files {
            if report.bytes_after <= target {
                break;
            }
            if std::fs::remove_file(&file.path).is_ok() {
                report.removed_files += 1;
                report.removed_bytes += file.size;
                report.bytes_after -= file.size;
            }
        }
        report
    }

    fn files(&self, kind: &str) -> Vec<StoredFile> {
        let mut out = Vec::new();
        for shard in std::fs::read_dir(self.dir.join(kind))
            .into_iter()
            .flatten()
            .flatten()
        {
            for file in std::fs::read_dir(shard.path())
                .into_iter()
                .flatten()
                .flatten()
            {
                if let Ok(meta) = file.metadata() {
                    out.push(StoredFile {
                        path: file.path(),
                        size: meta.len(),
                        used: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
                    });
                }
            }
        }
        out
    }
}

struct StoredFile {
    path: PathBuf,
    size: u64,
    used: SystemTime,
}

/// Marks a file as just used, for LRU eviction. Best effort.
fn touch(path: &Path) {
    if let Ok(file) = File::open(path) {
        let _ = file.set_modified(SystemTime::now());
    }
}

/// Parses sizes as people write them: `500MB`, `10GB`, `2GiB`, `1048576`.
pub fn parse_size(text: &str) -> Result<u64, CacheError> {
    let bad = || CacheError::Size {
        text: text.to_owned(),
    };
    let trimmed = text.trim();
    let split = trimmed
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(split);
    let number: f64 = number.parse().map_err(|_| bad())?;
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1_000,
        "kib" => 1 << 10,
        "m" | "mb" => 1_000_000,
        "mib" => 1 << 20,
        "g" | "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "t" | "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => return Err(bad()),
    };
    Ok((number * factor as f64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_round_trip_and_corruption_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let source = dir.path().join("src");
        std::fs::write(&source, b"hello").unwrap();
        let id = store.put_file(&source).unwrap();
        assert_eq!(id, digest::sha256_bytes(b"hello"));
        assert_eq!(store.read_blob(&id).unwrap(), b"hello");
        std::fs::write(store.cas_path(&id.sha256), b"hellO").unwrap();
        assert!(matches!(store.read_blob(&id), Err(PutError::Corrupt(_))));
        let wrong = digest::sha256_bytes(b"other");
        assert!(matches!(
            store.put_verified(&wrong, &mut &b"hello"[..]),
            Err(PutError::Corrupt(_))
        ));
    }

    #[test]
    fn gc_evicts_least_recently_used() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut ids = Vec::new();
        for (i, age) in [(0u8, 300u64), (1, 200), (2, 100)] {
            let path = dir.path().join(format!("f{i}"));
            std::fs::write(&path, vec![i; 1000]).unwrap();
            let id = store.put_file(&path).unwrap();
            let file = File::open(store.cas_path(&id.sha256)).unwrap();
            file.set_modified(SystemTime::now() - Duration::from_secs(age))
                .unwrap();
            ids.push(id);
        }
        let report = store.gc(2500);
        assert_eq!(report.removed_files, 1);
        assert!(!store.has_blob(&ids[0]), "the oldest goes first");
        assert!(store.has_blob(&ids[2]));
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("2GiB").unwrap(), 2 << 30);
        assert_eq!(parse_size("500MB").unwrap(), 500_000_000);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("lots").is_err());
    }
}

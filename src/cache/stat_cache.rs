//! Remembers each input file's hash next to its `stat` fields, so an
//! unchanged tree costs one `stat` per file instead of a read.
//!
//! A stamp is trusted only when the file was last changed clearly before it
//! was stat'ed: a write landing in the same timestamp tick as the hash would
//! otherwise leave the old hash behind (git's "racy clean" problem).

use std::collections::HashMap;
use std::fs::Metadata;
use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

const MAGIC: &[u8; 8] = b"PSTAT01\n";
/// Output files are remembered under this first path component, which no
/// real path can have (NUL), with their SHA-256 instead of BLAKE3.
const OUTPUTS: &str = "\0outputs";
/// On filesystems with nanosecond timestamps, how close to the stat time a
/// change may be before the hash is not remembered (a coarse kernel clock
/// tick is a few milliseconds).
const FINE_WINDOW: i64 = 100_000_000;
/// Timestamps with no nanoseconds come from a filesystem with one- or
/// two-second granularity.
const COARSE_WINDOW: i64 = 3_000_000_000;

/// The `stat` fields that change whenever content may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    pub(crate) size: u64,
    pub(crate) mtime_ns: i64,
    pub(crate) ctime_ns: i64,
    pub(crate) ino: u64,
    pub(crate) mode: u32,
}

impl Stamp {
    pub(crate) fn of(meta: &Metadata) -> Stamp {
        Stamp {
            size: meta.size(),
            mtime_ns: meta
                .mtime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.mtime_nsec()),
            ctime_ns: meta
                .ctime()
                .saturating_mul(1_000_000_000)
                .saturating_add(meta.ctime_nsec()),
            ino: meta.ino(),
            mode: meta.mode(),
        }
    }

    /// Whether a hash taken at `seen_ns` can be trusted for this stamp later.
    fn settled(&self, seen_ns: i64) -> bool {
        let changed = self.mtime_ns.max(self.ctime_ns);
        let window = if changed % 1_000_000_000 == 0 {
            COARSE_WINDOW
        } else {
            FINE_WINDOW
        };
        seen_ns.saturating_sub(changed) > window
    }
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    stamp: Stamp,
    hash: [u8; 32],
}

/// The stat cache of one pipeline root.
#[derive(Debug, Default)]
pub(crate) struct StatCache {
    entries: HashMap<PathBuf, Entry>,
    dirty: bool,
}

pub(crate) fn now_ns() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl StatCache {
    /// Reads the cache file; a missing, truncated or foreign file is an
    /// empty cache (it only costs re-hashing).
    pub(crate) fn load(path: &Path) -> StatCache {
        let entries = std::fs::read(path)
            .ok()
            .and_then(|bytes| decode(&bytes))
            .unwrap_or_default();
        StatCache {
            entries,
            ..StatCache::default()
        }
    }

    /// The remembered hash of `path` if its stamp is unchanged.
    pub(crate) fn get(&self, path: &Path, stamp: &Stamp) -> Option<[u8; 32]> {
        self.entries
            .get(path)
            .filter(|e| e.stamp == *stamp)
            .map(|e| e.hash)
    }

    /// Remembers hashes computed in this run at `seen_at_ns` (when the walk
    /// began, so before any of them was read).
    pub(crate) fn learn<'a>(
        &mut self,
        seen_at_ns: i64,
        learned: impl Iterator<Item = (&'a Path, Stamp, [u8; 32])>,
    ) {
        for (path, stamp, hash) in learned {
            self.dirty = true;
            if stamp.settled(seen_at_ns) {
                self.entries.insert(path.to_owned(), Entry { stamp, hash });
            } else {
                self.entries.remove(path);
            }
        }
    }

    /// The SHA-256 remembered for an output file (relative to the root)
    /// with this stamp: a cached rerun need not read unchanged outputs.
    pub(crate) fn get_output(&self, rel: &Path, stamp: &Stamp) -> Option<[u8; 32]> {
        self.get(&Path::new(OUTPUTS).join(rel), stamp)
    }

    pub(crate) fn learn_output(
        &mut self,
        rel: &Path,
        stamp: Stamp,
        seen_at_ns: i64,
        sha256: [u8; 32],
    ) {
        let key = Path::new(OUTPUTS).join(rel);
        self.learn(seen_at_ns, std::iter::once((key.as_path(), stamp, sha256)));
    }

    /// Writes the cache back if this run changed it. Entries this run did not
    /// see (`current` says no) are kept only while their file exists, so the
    /// cache does not grow forever.
    pub(crate) fn save(
        &mut self,
        path: &Path,
        root: &Path,
        current: impl Fn(&Path) -> bool,
    ) -> io::Result<()> {
        if !self.dirty {
            return Ok(());
        }
        self.entries.retain(|p, _| {
            let real = p.strip_prefix(OUTPUTS).unwrap_or(p);
            current(p) || root.join(real).symlink_metadata().is_ok()
        });
        let mut bytes = Vec::with_capacity(64 + self.entries.len() * 96);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&(self.entries.len() as u64).to_le_bytes());
        for (p, e) in &self.entries {
            let name = p.as_os_str().as_bytes();
            bytes.extend_from_slice(&(name.len() as u32).to_le_bytes());
            bytes.extend_from_slice(name);
            bytes.extend_from_slice(&e.stamp.size.to_le_bytes());
            bytes.extend_from_slice(&e.stamp.mtime_ns.to_le_bytes());
            bytes.extend_from_slice(&e.stamp.ctime_ns.to_le_bytes());
            bytes.extend_from_slice(&e.stamp.ino.to_le_bytes());
            bytes.extend_from_slice(&e.stamp.mode.to_le_bytes());
            bytes.extend_from_slice(&e.hash);
        }
        let dir = path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir)?;
        let mut temp = tempfile::NamedTempFile::new_in(dir)?;
        temp.write_all(&bytes)?;
        temp.persist(path).map_err(|e| e.error)?;
        self.dirty = false;
        Ok(())
    }
}

fn decode(bytes: &[u8]) -> Option<HashMap<PathBuf, Entry>> {
    let mut r = Reader { bytes, at: 0 };
    if r.take(MAGIC.len())? != MAGIC {
        return None;
    }
    let count = r.u64()?;
    let mut entries = HashMap::with_capacity(usize::try_from(count).ok()?.min(1 << 24));
    for _ in 0..count {
        let len = r.u32()? as usize;
        let name = PathBuf::from(std::ffi::OsStr::from_bytes(r.take(len)?));
        let stamp = Stamp {
            size: r.u64()?,
            mtime_ns: r.u64()? as i64,
            ctime_ns: r.u64()? as i64,
            ino: r.u64()?,
            mode: r.u32()?,
        };
        let hash: [u8; 32] = r.take(32)?.try_into().ok()?;
        entries.insert(name, Entry { stamp, hash });
    }
    Some(entries)
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let slice = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(slice)
    }
    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_racy_entries() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("stat");
        let old = Stamp {
            size: 3,
            mtime_ns: 1_500_000_001,
            ctime_ns: 1_500_000_001,
            ino: 7,
            mode: 0o644,
        };
        let racy = Stamp {
            mtime_ns: now_ns(),
            ctime_ns: now_ns(),
            ..old
        };
        let mut cache = StatCache::default();
        cache.learn(
            now_ns(),
            [
                (Path::new("a"), old, [1; 32]),
                (Path::new("b"), racy, [2; 32]),
            ]
            .into_iter(),
        );
        cache.save(&file, dir.path(), |_| true).unwrap();
        let loaded = StatCache::load(&file);
        assert_eq!(loaded.get(Path::new("a"), &old), Some([1; 32]));
        assert_eq!(loaded.get(Path::new("a"), &Stamp { size: 4, ..old }), None);
        assert_eq!(
            loaded.get(Path::new("b"), &racy),
            None,
            "a just-changed file is not trusted"
        );
        std::fs::write(&file, b"PSTAT01\n\xff").unwrap();
        assert!(
            StatCache::load(&file).entries.is_empty(),
            "truncated file is an empty cache"
        );
    }
}

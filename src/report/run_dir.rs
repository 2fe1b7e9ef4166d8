//! `.parity/runs/<id>/`: one directory per run with every job's log.

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// parity's state directory inside a repository.
pub const STATE_DIR: &str = ".parity";

#[derive(Debug)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
    /// A shared lock on the directory for as long as the run lasts, so that
    /// another parity's pruning leaves it alone ([`in_use`]). None where
    /// the file system has no locks.
    _in_use: Option<Flock<File>>,
}

impl RunDir {
    /// Creates a fresh run directory under `root/.parity/runs` and points
    /// `.parity/runs/latest` at it.
    pub fn create(root: &Path) -> io::Result<RunDir> {
        let state = root.join(STATE_DIR);
        let runs = state.join("runs");
        std::fs::create_dir_all(&runs)?;
        spread_subdirectories(&runs);
        // Keeps the state directory out of `git status` without asking the
        // user to edit their .gitignore.
        let ignore = state.join(".gitignore");
        if !ignore.exists() {
            std::fs::write(&ignore, "*\n")?;
        }
        let id = new_id();
        let path = runs.join(&id);
        std::fs::create_dir(&path)?;
        let in_use = File::open(&path)
            .ok()
            .and_then(|dir| Flock::lock(dir, FlockArg::LockSharedNonblock).ok());
        let latest = runs.join("latest");
        let temp = runs.join(format!(".latest-{id}"));
        std::os::unix::fs::symlink(&id, &temp)?;
        std::fs::rename(&temp, &latest)?;
        Ok(RunDir {
            id,
            path,
            _in_use: in_use,
        })
    }

    /// The run directory as a person types it: relative to the working
    /// directory when inside it.
    pub fn display(&self) -> String {
        let cwd = std::env::current_dir().unwrap_or_default();
        self.path
            .strip_prefix(&cwd)
            .unwrap_or(&self.path)
            .display()
            .to_string()
    }

    /// A log file path per job name, unique even when names differ only in
    /// characters a file name cannot hold.
    pub fn log_paths(&self, names: &[String]) -> Vec<PathBuf> {
        let mut used = std::collections::HashSet::new();
        names
            .iter()
            .map(|name| {
                let slug = slug(name);
                let mut candidate = slug.clone();
                let mut n = 2;
                while !used.insert(candidate.clone()) {
                    candidate = format!("{slug}-{n}");
                    n += 1;
                }
                self.path.join(format!("{candidate}.log"))
            })
            .collect()
    }
}

/// Whether a run is still going in `dir`: another process holds its lock.
/// A run started in the next terminal, or by a file watcher, while a long
/// one runs must not delete the long one's logs as it prunes. The lock goes
/// with its process, however that ends.
pub(crate) fn in_use(dir: &Path) -> bool {
    let Ok(dir) = File::open(dir) else {
        return false;
    };
    matches!(
        Flock::lock(dir, FlockArg::LockExclusiveNonblock),
        Err((_, Errno::EWOULDBLOCK))
    )
}

/// Marks `runs` as the top of separate hierarchies (`chattr +T`), so that
/// ext4 places each run directory, and so its logs, in a block group of
/// its own. Pruning frees a whole run's inodes at once; on ext4 without a
/// journal the allocator steps over recently freed inodes one by one, which
/// made every log file of the next run slower to create when it shared
/// their group (a 200-job run: about 20 % slower when run back to back).
/// Other file systems do not support the flag, which is fine.
fn spread_subdirectories(runs: &Path) {
    use rustix::fs::{ioctl_getflags, ioctl_setflags, IFlags};
    let Ok(dir) = std::fs::File::open(runs) else {
        return;
    };
    match ioctl_getflags(&dir) {
        Ok(flags) if !flags.contains(IFlags::TOPDIR) => {
            let _ = ioctl_setflags(&dir, flags | IFlags::TOPDIR);
        }
        _ => {}
    }
}

/// The longest slug, in bytes: with a `-N` to tell truncated names apart
/// and `.log`, a log's name stays under the usual limit of 255 bytes
/// (`NAME_MAX`), however long a job's name (a matrix of long values).
const SLUG_MAX: usize = 200;

/// `test (features=full, os=linux)` → `test-features=full-os=linux`.
/// Letters and digits of any script stay: `prüfung` keeps its name.
fn slug(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_alphanumeric() || matches!(c, '.' | '_' | '=' | '-') {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let mut end = out.len().min(SLUG_MAX);
    while !out.is_char_boundary(end) {
        end -= 1;
    }
    let out = out[..end].trim_matches('-');
    if out.is_empty() {
        "job".to_owned()
    } else {
        out.to_owned()
    }
}

/// `20261127T092024.123Z-1a2b`: the UTC start to the millisecond, so ids
/// sort by time, and a salt that keeps concurrent runs apart.
fn new_id() -> String {
    let now = SystemTime::now();
    let stamp: String = humantime::format_rfc3339_millis(now)
        .to_string()
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let nanos = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    // Both halves of the pid count, so that runs started in the same
    // millisecond by different processes most likely differ.
    let pid = std::process::id();
    let salt = (nanos ^ pid ^ (pid >> 16)) & 0xffff;
    format!("{stamp}-{salt:04x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_file_names() {
        assert_eq!(
            slug("test (features=full, os=linux)"),
            "test-features=full-os=linux"
        );
        assert_eq!(slug("///"), "job");
        assert_eq!(slug("prüfung (lang=日本語)"), "prüfung-lang=日本語");
        let long = slug(&"ü".repeat(SLUG_MAX));
        assert!(long.len() <= SLUG_MAX && long.chars().all(|c| c == 'ü'));
    }

    #[test]
    fn logs_are_unique_and_latest_points_here() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let long = "j".repeat(300);
        let logs = run.log_paths(&["a b".into(), "a/b".into(), long.clone(), long + "k"]);
        assert_ne!(logs[0], logs[1]);
        assert_ne!(logs[2], logs[3]);
        assert!(logs[3].file_name().unwrap().len() < 255);
        let latest = std::fs::read_link(dir.path().join(".parity/runs/latest")).unwrap();
        assert_eq!(latest, Path::new(&run.id));
    }

    #[test]
    fn on_ext4_runs_are_spread_over_block_groups() {
        const EXT4_SUPER_MAGIC: u64 = 0xEF53;
        let dir = tempfile::tempdir().unwrap();
        let on_ext4 = rustix::fs::statfs(dir.path())
            .is_ok_and(|fs| u64::try_from(fs.f_type).ok() == Some(EXT4_SUPER_MAGIC));
        RunDir::create(dir.path()).unwrap();
        if !on_ext4 {
            eprintln!("skipped: the temporary directory is not on ext4");
            return;
        }
        let runs = std::fs::File::open(dir.path().join(".parity/runs")).unwrap();
        let flags = rustix::fs::ioctl_getflags(&runs).unwrap();
        assert!(flags.contains(rustix::fs::IFlags::TOPDIR), "{flags:?}");
    }

    #[test]
    fn a_run_is_in_use_until_its_directory_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::create(dir.path()).unwrap();
        let path = run.path.clone();
        assert!(in_use(&path));
        drop(run);
        assert!(!in_use(&path));
    }

    #[test]
    fn ids_sort_by_time_to_the_millisecond() {
        let first = new_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_id();
        assert!(first < second, "{first} !< {second}");
        // 20261127T092024.123Z-1a2b
        assert_eq!(first.len(), 25, "{first}");
        assert_eq!(&first[8..9], "T");
        assert_eq!(&first[15..16], ".");
    }
}

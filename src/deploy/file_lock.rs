//! Machine-local locks: `flock` on files in the repository's git directory.
//!
//! The deploy lock is held for a whole deploy. It serializes deploys from
//! one clone even with no remote at all, and it keeps the processes of one
//! clone from all polling the remote: only its holder competes for the
//! ledger's lock. The kernel drops it when the process dies, however it dies.

use super::git::Git;
use super::DeployError;
use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

pub(crate) struct FileLock {
    _file: Flock<File>,
}

/// Takes the deploy lock for `environment`. When another process holds it,
/// waits (telling `on_wait` what that process wrote into the file) or,
/// without `wait`, fails with what it is doing. Setting `stop` (a signal)
/// ends the wait.
pub(crate) fn lock(
    git: &Git,
    environment: &str,
    wait: bool,
    doing: &str,
    stop: &AtomicBool,
    on_wait: impl FnOnce(&str),
) -> Result<FileLock, DeployError> {
    let path = lock_path(git, &format!("deploy-{environment}"))?;
    let file = open(&path)?;
    let failed = |errno: Errno| DeployError::io(format!("lock {}", path.display()))(errno.into());
    let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(locked) => locked,
        Err((mut file, Errno::EWOULDBLOCK)) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = format!("another parity on this machine ({})", holder.trim());
            if !wait {
                return Err(DeployError::Locked {
                    environment: environment.to_owned(),
                    holder,
                });
            }
            on_wait(&holder);
            // Polled rather than blocking, so Ctrl-C ends the wait cleanly.
            let mut file = file;
            loop {
                if stop.load(Ordering::SeqCst) {
                    return Err(DeployError::Interrupted);
                }
                std::thread::sleep(Duration::from_millis(100));
                match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                    Ok(locked) => break locked,
                    Err((again, Errno::EWOULDBLOCK)) => file = again,
                    Err((_, errno)) => return Err(failed(errno)),
                }
            }
        }
        Err((_, errno)) => return Err(failed(errno)),
    };
    let note = format!("pid {}, {doing}\n", std::process::id());
    let _ = file.set_len(0);
    let _ = file.rewind();
    let _ = file.write_all(note.as_bytes());
    Ok(FileLock { _file: file })
}

/// Holds `<git common dir>/parity/NAME.lock` until dropped, waiting for it:
/// for short critical sections such as `git worktree add`, which is not
/// safe to run twice at once in one clone.
pub(crate) fn hold(git: &Git, name: &str) -> Result<FileLock, DeployError> {
    let path = lock_path(git, name)?;
    let file = open(&path)?;
    let file = Flock::lock(file, FlockArg::LockExclusive)
        .map_err(|(_, errno)| DeployError::io(format!("lock {}", path.display()))(errno.into()))?;
    Ok(FileLock { _file: file })
}

fn open(path: &Path) -> Result<File, DeployError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(DeployError::io(format!("create {}", dir.display())))?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(DeployError::io(format!("open {}", path.display())))
}

/// `<git common dir>/parity/NAME.lock`: shared by every worktree of the
/// clone, and never inside a work tree.
fn lock_path(git: &Git, name: &str) -> Result<PathBuf, DeployError> {
    let common = git.run(&["rev-parse", "--path-format=absolute", "--git-common-dir"])?;
    Ok(PathBuf::from(common)
        .join("parity")
        .join(format!("{name}.lock")))
}

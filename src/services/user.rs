//! The account a server runs as. PostgreSQL refuses to run as root, and CI
//! runs parity as root; so as root, parity runs servers that need it as the
//! `postgres` system account (Debian's postgresql package creates it) or,
//! failing that, `nobody`, and hands their data directories to that account.

use nix::unistd::{Gid, Uid, User};
use std::path::Path;

/// An unprivileged account to run a server as.
#[derive(Debug, Clone)]
pub(crate) struct RunAs {
    pub(crate) name: String,
    pub(crate) uid: Uid,
    pub(crate) gid: Gid,
}

/// `Some` account when parity runs as root; `None` when it can run servers as
/// itself.
pub(crate) fn unprivileged() -> Option<RunAs> {
    if !Uid::effective().is_root() {
        return None;
    }
    ["postgres", "nobody"].iter().find_map(|name| {
        let user = User::from_name(name).ok().flatten()?;
        Some(RunAs {
            name: user.name,
            uid: user.uid,
            gid: user.gid,
        })
    })
}

/// Gives `path` and everything under it to `user` (no-op without one).
pub(crate) fn chown_tree(path: &Path, user: Option<&RunAs>) -> std::io::Result<()> {
    let Some(user) = user else { return Ok(()) };
    std::os::unix::fs::lchown(path, Some(user.uid.as_raw()), Some(user.gid.as_raw()))?;
    if path.is_dir() && !path.is_symlink() {
        for entry in std::fs::read_dir(path)? {
            chown_tree(&entry?.path(), Some(user))?;
        }
    }
    Ok(())
}

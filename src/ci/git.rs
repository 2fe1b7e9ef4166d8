//! The few git questions CI integration asks, through the `git` CLI so
//! every git config (core.hooksPath, worktrees) is honoured exactly.

use super::CiError;
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> Result<std::process::Output, CiError> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .map_err(|e| CiError::Git {
            args: args.join(" "),
            dir: dir.to_owned(),
            message: e.to_string(),
        })
}

/// The top of the working tree holding `dir`, or `None` outside git.
pub(crate) fn toplevel(dir: &Path) -> Option<PathBuf> {
    let out = git(dir, &["rev-parse", "--show-toplevel"]).ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8(out.stdout).ok()?;
    let path = PathBuf::from(text.trim_end_matches(['\n', '\r']));
    // git prints a canonical path; keep the caller's spelling of the same
    // directory so paths stay comparable.
    let canonical_dir = dir.canonicalize().ok()?;
    let depth = canonical_dir
        .strip_prefix(path.canonicalize().ok()?)
        .ok()?
        .components()
        .count();
    let mut top = dir.to_path_buf();
    for _ in 0..depth {
        top.pop();
    }
    Some(top)
}

/// The directory git runs hooks from: `core.hooksPath` when set, else
/// `.git/hooks` (of the main repository, for a worktree).
pub(crate) fn hooks_dir(top: &Path) -> Result<PathBuf, CiError> {
    let out = git(top, &["rev-parse", "--git-path", "hooks"])?;
    if !out.status.success() {
        return Err(CiError::Git {
            args: "rev-parse --git-path hooks".into(),
            dir: top.to_owned(),
            message: String::from_utf8_lossy(&out.stderr).trim().to_owned(),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(top.join(text.trim_end_matches(['\n', '\r'])))
}

/// Whether `path` (relative to `top`) is tracked by git.
pub(crate) fn is_tracked(top: &Path, path: &str) -> bool {
    git(top, &["ls-files", "--error-unmatch", "--", path]).is_ok_and(|out| out.status.success())
}

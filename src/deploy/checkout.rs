//! Where a deploy runs: the work tree itself when it is exactly the commit
//! being deployed, otherwise a temporary `git worktree` of that commit, so
//! what runs is always what the ledger records.

use super::file_lock;
use super::git::Git;
use super::DeployError;
use std::path::{Path, PathBuf};

pub(crate) struct Checkout {
    /// The pipeline file to deploy with, inside the checkout.
    pub(crate) pipeline: PathBuf,
    /// Set for a temporary worktree, removed on drop.
    temporary: Option<(Git, PathBuf)>,
}

impl Checkout {
    /// `explicit` is whether the user named the commit (`--commit`): then
    /// a dirty work tree is no reason to refuse, the deploy simply runs in a
    /// clean checkout.
    pub(crate) fn prepare(
        git: &Git,
        pipeline: &Path,
        commit: &str,
        explicit: bool,
        name: &str,
    ) -> Result<Checkout, DeployError> {
        let head = git.commit_sha("HEAD")?;
        if head.as_deref() == Some(commit) {
            let changed = changed_paths(git)?;
            if changed.is_empty() {
                return Ok(Checkout {
                    pipeline: pipeline.to_owned(),
                    temporary: None,
                });
            }
            if !explicit {
                return Err(DeployError::Dirty { paths: changed });
            }
        }
        let toplevel = PathBuf::from(git.run(&["rev-parse", "--show-toplevel"])?);
        // git prints the top level with symlinks resolved.
        let canonical = std::fs::canonicalize(pipeline).unwrap_or_else(|_| pipeline.to_owned());
        let relative = canonical
            .strip_prefix(&toplevel)
            .map(Path::to_owned)
            .unwrap_or_else(|_| PathBuf::from(crate::pipeline::FILE_NAME));
        let path = std::env::temp_dir().join(format!("parity-deploy-{name}"));
        let path_text = path.to_string_lossy().into_owned();
        {
            let _serial = file_lock::hold(git, "worktrees")?;
            git.run(&["worktree", "add", "--detach", "--quiet", &path_text, commit])?;
        }
        Ok(Checkout {
            pipeline: path.join(relative),
            temporary: Some((git.clone(), path)),
        })
    }

    /// The temporary worktree, when the deploy runs in one.
    pub(crate) fn temporary(&self) -> Option<&Path> {
        self.temporary.as_ref().map(|(_, path)| path.as_path())
    }
}

impl Drop for Checkout {
    fn drop(&mut self) {
        if let Some((git, path)) = self.temporary.take() {
            let path_text = path.to_string_lossy().into_owned();
            let _serial = file_lock::hold(&git, "worktrees");
            if git
                .run(&["worktree", "remove", "--force", &path_text])
                .is_err()
            {
                let _ = std::fs::remove_dir_all(&path);
                let _ = git.run(&["worktree", "prune"]);
            }
        }
    }
}

/// Tracked files that differ from HEAD (staged or not). Untracked files are
/// not the commit's either, but build output is usually untracked.
fn changed_paths(git: &Git) -> Result<Vec<String>, DeployError> {
    let status = git.run(&["status", "--porcelain=v1", "--untracked-files=no"])?;
    Ok(status
        .lines()
        .filter_map(|line| line.get(3..))
        .map(str::to_owned)
        .collect())
}

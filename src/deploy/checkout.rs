//! Where a deploy runs: the work tree itself when it is exactly the commit
//! being deployed, otherwise a temporary `git worktree` of that commit, so
//! what runs is always what the ledger records.

use super::file_lock;
use super::git::Git;
use super::DeployError;
use crate::report::errln;
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
            let (changed, untracked) = changes(git)?;
            if changed.is_empty() {
                if !untracked.is_empty() {
                    errln!(
                        "warning: deploying from this work tree, where {} not in the commit: {}; `--commit HEAD` deploys a clean checkout",
                        if untracked.len() == 1 { "this untracked file is" } else { "these untracked files are" },
                        listed(&untracked)
                    );
                }
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

/// Tracked files that differ from HEAD (staged or not), which stop a deploy,
/// and untracked ones git does not ignore, which a deploy script may read
/// but the recorded commit lacks: worth a warning, not a refusal, since
/// build output is often left untracked without an ignore rule.
fn changes(git: &Git) -> Result<(Vec<String>, Vec<String>), DeployError> {
    let status = git.run(&["status", "--porcelain=v1"])?;
    let (untracked, changed): (Vec<&str>, Vec<&str>) =
        status.lines().partition(|line| line.starts_with("??"));
    let paths = |lines: Vec<&str>| {
        lines
            .into_iter()
            .filter_map(|line| line.get(3..))
            .map(str::to_owned)
            .collect()
    };
    Ok((paths(changed), paths(untracked)))
}

/// The first few paths, and how many more.
fn listed(paths: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = paths[..paths.len().min(SHOWN)].join(", ");
    if paths.len() > SHOWN {
        text.push_str(&format!(" and {} more", paths.len() - SHOWN));
    }
    text
}

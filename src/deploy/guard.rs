//! What may be deployed: commits on the environment's branch, and never one
//! older than what is live unless the user says `--rollback`.

use super::entry::Live;
use super::git::{short, Git};
use super::store::{fetch_object, remote_ref, Place};
use super::DeployError;

/// How the commit to deploy relates to the live one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freshness {
    /// Nothing was ever deployed here.
    First,
    /// The live commit again (a redeploy).
    Same,
    /// A descendant of the live commit: the normal case.
    Newer,
    /// Older or diverged, deployed on purpose with `--rollback`.
    Rollback,
}

/// Refuses `commit` unless it contains the live commit or `rollback` is set.
pub(crate) fn freshness(
    git: &Git,
    environment: &str,
    commit: &str,
    live: Option<&Live>,
    rollback: bool,
) -> Result<Freshness, DeployError> {
    let Some(live) = live else {
        return Ok(Freshness::First);
    };
    if live.commit == commit {
        return Ok(Freshness::Same);
    }
    if !git.has_commit(&live.commit)? {
        return Err(DeployError::Git {
            command: format!("cat-file -e {}", live.commit),
            dir: git.dir().to_owned(),
            stderr: format!(
                "the live commit {} of `{environment}` is not in this clone",
                short(&live.commit)
            ),
            help: Some(
                "fetch it (`git fetch`); parity needs it to tell whether this commit is newer"
                    .into(),
            ),
        });
    }
    if git.is_ancestor(&live.commit, commit)? {
        return Ok(Freshness::Newer);
    }
    if rollback {
        return Ok(Freshness::Rollback);
    }
    let older = git.is_ancestor(commit, &live.commit)?;
    let (commit, live_short) = (short(commit).to_owned(), short(&live.commit).to_owned());
    if older {
        return Err(DeployError::Older {
            commit,
            live: live_short,
            environment: environment.to_owned(),
        });
    }
    Err(DeployError::Diverged {
        commit,
        live: live_short,
        environment: environment.to_owned(),
    })
}

/// Refuses `commit` unless `branch` (on the ledger's remote, else here)
/// contains it.
pub(crate) fn on_branch(
    git: &Git,
    place: &Place,
    environment: &str,
    branch: &str,
    commit: &str,
) -> Result<(), DeployError> {
    let reference = format!("refs/heads/{branch}");
    let (tip, where_) = match place {
        Place::Remote(remote) => {
            let tip = remote_ref(git, remote, &reference)?;
            if let Some(tip) = &tip {
                fetch_object(git, remote, &reference, tip)?;
            }
            (tip, format!("remote `{remote}`"))
        }
        Place::Local => (git.commit_sha(&reference)?, "this repository".to_owned()),
    };
    let Some(tip) = tip else {
        return Err(DeployError::NoBranch {
            branch: branch.to_owned(),
            place: where_,
            environment: environment.to_owned(),
        });
    };
    if git.is_ancestor(commit, &tip)? {
        Ok(())
    } else {
        Err(DeployError::NotOnBranch {
            commit: short(commit).to_owned(),
            branch: branch.to_owned(),
            place: where_,
            environment: environment.to_owned(),
        })
    }
}

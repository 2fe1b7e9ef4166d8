//! What can go wrong in a deploy, each with where it happened and what to do.

use crate::env_file::EnvFileError;
use crate::exec::PlanError;
use crate::exit_code;
use crate::pipeline::PipelineError;
use miette::Diagnostic;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum DeployError {
    #[error("no deploy environment named `{name}`")]
    #[diagnostic(code(parity::deploy::unknown_environment))]
    UnknownEnvironment {
        name: String,
        #[help]
        help: Option<String>,
    },

    #[error("cannot run `git`")]
    #[diagnostic(
        code(parity::deploy::git_missing),
        help("parity records deploys with your own git: install it or put it on PATH")
    )]
    GitMissing(#[source] std::io::Error),

    #[error("`git {command}` failed in {}: {stderr}", dir.display())]
    #[diagnostic(code(parity::deploy::git))]
    Git {
        command: String,
        dir: PathBuf,
        stderr: String,
        #[help]
        help: Option<String>,
    },

    #[error("{} is not inside a git repository", path.display())]
    #[diagnostic(
        code(parity::deploy::not_a_repository),
        help("deploys are recorded in git: deploy from a clone of the project")
    )]
    NotARepository { path: PathBuf },

    #[error("no git remote named `{name}`")]
    #[diagnostic(code(parity::deploy::unknown_remote))]
    UnknownRemote {
        name: String,
        #[help]
        help: Option<String>,
    },

    #[error("this repository has several remotes and none is `origin`: {}", remotes.join(", "))]
    #[diagnostic(
        code(parity::deploy::which_remote),
        help("say which one holds the deploy ledger with --remote NAME or PARITY_DEPLOY_REMOTE")
    )]
    WhichRemote { remotes: Vec<String> },

    #[error("`{rev}` is not a commit in this repository")]
    #[diagnostic(
        code(parity::deploy::unknown_commit),
        help("fetch it first (`git fetch`), or give a branch, tag or full SHA")
    )]
    UnknownCommit { rev: String },

    #[error("{commit} is not on branch `{branch}` of {place}")]
    #[diagnostic(
        code(parity::deploy::not_on_branch),
        help("`{environment}` only takes commits reachable from `{branch}` (its `branch` key): merge and push first")
    )]
    NotOnBranch {
        commit: String,
        branch: String,
        place: String,
        environment: String,
    },

    #[error("branch `{branch}` does not exist on {place}")]
    #[diagnostic(
        code(parity::deploy::no_branch),
        help("`[deploy.{environment}]` says `branch = \"{branch}\"`: push that branch, or fix the key")
    )]
    NoBranch {
        branch: String,
        place: String,
        environment: String,
    },

    #[error("{commit} is older than live {live} on `{environment}`")]
    #[diagnostic(
        code(parity::deploy::stale),
        help("use --rollback to deploy an older commit on purpose")
    )]
    Older {
        commit: String,
        live: String,
        environment: String,
    },

    #[error("{commit} does not contain live {live} on `{environment}` (their histories diverged)")]
    #[diagnostic(
        code(parity::deploy::stale),
        help("deploy a commit that contains {live} (merge it first), or use --rollback to replace it on purpose")
    )]
    Diverged {
        commit: String,
        live: String,
        environment: String,
    },

    #[error("`{environment}` is locked: {holder}")]
    #[diagnostic(
        code(parity::deploy::locked),
        help("without --no-wait parity waits for the lock; a lock whose holder died is broken once its lease expires, or at once with `parity deploy unlock {environment} --force`")
    )]
    Locked { environment: String, holder: String },

    #[error("the working tree has uncommitted changes: {}", paths.join(", "))]
    #[diagnostic(
        code(parity::deploy::dirty),
        help("a deploy ships a commit, and these changes are in none: commit or stash them, or deploy a clean checkout with `--commit HEAD`")
    )]
    Dirty { paths: Vec<String> },

    #[error("ledger entry {commit} in {reference} is unreadable: {reason}")]
    #[diagnostic(
        code(parity::deploy::corrupt_ledger),
        help("the ledger is ordinary git history: inspect it with `git log {reference}`")
    )]
    Corrupt {
        commit: String,
        reference: String,
        reason: String,
    },

    #[error("`parity deploy unlock {environment}` breaks another deploy's lock")]
    #[diagnostic(
        code(parity::deploy::unlock_needs_force),
        help(
            "make sure its holder is gone, then add --force; the unlock is recorded in the ledger"
        )
    )]
    UnlockNeedsForce { environment: String },

    #[error("bad lease `{value}` from {origin}")]
    #[diagnostic(
        code(parity::deploy::bad_lease),
        help("write durations like \"90s\" or \"2m\"")
    )]
    BadLease { value: String, origin: String },

    #[error("the ledger {reference} kept changing while parity recorded this deploy ({attempts} attempts)")]
    #[diagnostic(
        code(parity::deploy::contention),
        help("another machine writes to it in a tight loop; `parity deploy log` shows who")
    )]
    Contention { reference: String, attempts: u32 },

    #[error("interrupted before the deploy started; nothing was recorded")]
    #[diagnostic(code(parity::deploy::interrupted))]
    Interrupted,

    #[error("cannot {what}")]
    #[diagnostic(code(parity::deploy::io))]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },

    #[error(transparent)]
    #[diagnostic(transparent)]
    Pipeline(#[from] PipelineError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Plan(#[from] PlanError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    EnvFile(#[from] EnvFileError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Services(#[from] crate::services::ServiceError),
}

impl DeployError {
    /// 2 when the request itself is wrong (the user must change it); 1 when
    /// the world got in the way (git failed, the lock is held).
    pub fn exit_code(&self) -> i32 {
        match self {
            DeployError::UnknownEnvironment { .. }
            | DeployError::NotARepository { .. }
            | DeployError::UnknownCommit { .. }
            | DeployError::UnknownRemote { .. }
            | DeployError::WhichRemote { .. }
            | DeployError::NotOnBranch { .. }
            | DeployError::NoBranch { .. }
            | DeployError::Older { .. }
            | DeployError::Diverged { .. }
            | DeployError::Dirty { .. }
            | DeployError::UnlockNeedsForce { .. }
            | DeployError::BadLease { .. }
            | DeployError::Pipeline(_)
            | DeployError::Plan(_)
            | DeployError::EnvFile(_) => exit_code::USAGE,
            DeployError::GitMissing(_)
            | DeployError::Git { .. }
            | DeployError::Locked { .. }
            | DeployError::Corrupt { .. }
            | DeployError::Contention { .. }
            | DeployError::Io { .. } => exit_code::FAILED,
            DeployError::Services(e) => e.exit_code(),
            DeployError::Interrupted => exit_code::INTERRUPTED,
        }
    }

    pub(crate) fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> DeployError {
        let what = what.into();
        move |source| DeployError::Io { what, source }
    }
}

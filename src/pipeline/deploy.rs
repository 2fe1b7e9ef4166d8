//! `[deploy.NAME]`: an environment that `parity deploy NAME` ships commits to.
//!
//! The model is shared by `parity deploy` (which runs it) and the workflow
//! generators (which give each environment a CI job and a concurrency group).

use indexmap::IndexMap;
use std::time::Duration;

/// How long a deploy lock stays valid without renewal when the file does
/// not say: long enough that a slow network never loses a live lock, short
/// enough that a crashed laptop does not block production for long.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);

/// Names that `parity deploy` reads as its own subcommands, so no
/// environment may take them.
pub const RESERVED_DEPLOY_NAMES: [&str; 4] = ["log", "status", "unlock", "help"];

/// One deploy environment, validated.
#[derive(Debug, Clone)]
pub struct Deploy {
    pub name: String,
    /// Shell lines run in order once the environment's lock is held.
    pub steps: Vec<String>,
    /// The program and arguments a step is handed to, before `-c STEP`.
    pub shell: Vec<String>,
    /// Only commits reachable from this branch (on the ledger's remote) may
    /// be deployed.
    pub branch: Option<String>,
    /// Pipeline jobs that must pass for the commit before the lock is taken.
    pub needs: Vec<String>,
    pub services: Vec<String>,
    /// Limit on the deploy's own steps.
    pub timeout: Option<Duration>,
    pub env: IndexMap<String, String>,
    /// How long the lock outlives its holder's last renewal.
    pub lease: Duration,
    /// CI runner label for the generated workflow's deploy job.
    pub runs_on: Option<String>,
}

impl Deploy {
    /// The git ref whose commits are this environment's ledger.
    pub fn ledger_ref(&self) -> String {
        ledger_ref(&self.name)
    }

    /// A CI concurrency group shared by every run that deploys to this
    /// environment (GitHub's `concurrency.group`): queued, never cancelled.
    pub fn concurrency_group(&self) -> String {
        format!("parity-deploy-{}", self.name)
    }
}

/// `refs/parity/deploys/NAME`.
pub fn ledger_ref(environment: &str) -> String {
    format!("refs/parity/deploys/{environment}")
}

/// Whether `name` can be an environment: a single ref path component made
/// of letters, digits, `-`, `_` and `.`, and not one of `parity deploy`'s
/// subcommands.
pub(crate) fn deploy_name_problem(name: &str) -> Option<&'static str> {
    if RESERVED_DEPLOY_NAMES.contains(&name) {
        return Some("this name is a `parity deploy` subcommand");
    }
    let ok_chars = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name.is_empty()
        || !ok_chars
        || name.starts_with(['.', '-'])
        || name.contains("..")
        || name.ends_with(".lock")
    {
        return Some("use letters, digits, `-`, `_` and `.` (it becomes a git ref name)");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_ref_components_and_not_subcommands() {
        assert_eq!(deploy_name_problem("production"), None);
        assert_eq!(deploy_name_problem("eu-west.2_b"), None);
        for bad in [
            "", "a/b", "a b", ".x", "-x", "a..b", "x.lock", "log", "status",
        ] {
            assert!(deploy_name_problem(bad).is_some(), "{bad}");
        }
    }
}

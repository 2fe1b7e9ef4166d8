//! Where a ledger ref lives and how it changes: only by compare-and-swap.
//!
//! With a remote, the remote's ref is the truth. Reads ask it (`ls-remote`),
//! writes are `git push --force-with-lease=REF:EXPECTED`, which the server
//! applies only if the ref still points where this machine last saw it, so
//! two machines racing cannot both win. Without a remote the local ref is
//! the ledger and `git update-ref REF NEW OLD` is the same swap.

use super::git::Git;
use super::DeployError;

/// Where the ledger is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Place {
    Remote(String),
    /// No remote: this repository alone (a file lock serializes this machine).
    Local,
}

/// The ledger ref of one environment, in its place.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    git: Git,
    place: Place,
    reference: String,
}

impl Store {
    pub(crate) fn new(git: &Git, place: Place, reference: String) -> Store {
        Store {
            git: git.clone(),
            place,
            reference,
        }
    }

    pub(crate) fn reference(&self) -> &str {
        &self.reference
    }

    pub(crate) fn place(&self) -> &Place {
        &self.place
    }

    /// The current tip, with its objects present locally; `None` when the
    /// ledger does not exist yet.
    pub(crate) fn tip(&self) -> Result<Option<String>, DeployError> {
        match &self.place {
            Place::Local => self.local_tip(),
            Place::Remote(remote) => {
                let Some(tip) = remote_ref(&self.git, remote, &self.reference)? else {
                    return Ok(None);
                };
                self.ensure_fetched(remote, &tip)?;
                Ok(Some(tip))
            }
        }
    }

    /// Points the ledger at `new` if it still points at `expected` (`None`:
    /// does not exist). `Ok(false)` when someone else moved it first.
    pub(crate) fn swap(&self, expected: Option<&str>, new: &str) -> Result<bool, DeployError> {
        match &self.place {
            Place::Local => {
                let args = [
                    "update-ref",
                    "-m",
                    "parity deploy",
                    &self.reference,
                    new,
                    expected.unwrap_or(""),
                ];
                let output = self.git.output(&args, &[])?;
                if output.success() {
                    return Ok(true);
                }
                let now = self.local_tip()?;
                if now.as_deref() != expected {
                    return Ok(false);
                }
                Err(self.git.failure(&args, &output))
            }
            Place::Remote(remote) => {
                let lease = format!(
                    "--force-with-lease={}:{}",
                    self.reference,
                    expected.unwrap_or("")
                );
                let refspec = format!("{new}:{}", self.reference);
                // No hooks (a pre-push hook may run a whole pipeline), no
                // tags or submodules: this push carries the ledger only.
                let args = [
                    "push",
                    "--porcelain",
                    "--no-verify",
                    "--no-follow-tags",
                    "--no-signed",
                    "--recurse-submodules=no",
                    &lease,
                    remote,
                    &refspec,
                ];
                let output = self.git.output(&args, &[])?;
                let now = if output.success() {
                    Some(new.to_owned())
                } else {
                    remote_ref(&self.git, remote, &self.reference)?
                };
                if now.as_deref() == Some(new) {
                    self.mirror(new);
                    return Ok(true);
                }
                if now.as_deref() != expected {
                    return Ok(false);
                }
                Err(with_remote_help(self.git.failure(&args, &output), remote))
            }
        }
    }

    /// `refs/parity/deploys/NAME` here follows the remote, so `git log` and
    /// `parity deploy log` work offline. Best effort: another parity may be
    /// moving it at the same moment, and the remote stays the truth.
    fn mirror(&self, tip: &str) {
        let _ = self.git.output(
            &[
                "update-ref",
                "-m",
                "parity deploy (mirror)",
                &self.reference,
                tip,
            ],
            &[],
        );
    }

    fn local_tip(&self) -> Result<Option<String>, DeployError> {
        let output = self
            .git
            .output(&["rev-parse", "--verify", "--quiet", &self.reference], &[])?;
        Ok(output.success().then(|| output.stdout.trim().to_owned()))
    }

    fn ensure_fetched(&self, remote: &str, tip: &str) -> Result<(), DeployError> {
        if self.git.has_commit(tip)? {
            self.mirror(tip);
            return Ok(());
        }
        let refspec = format!("+{0}:{0}", self.reference);
        let args = [
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            "--recurse-submodules=no",
            remote,
            &refspec,
        ];
        // Another parity in this clone may be updating the same local ref
        // ("cannot lock ref"); what matters is that the objects arrived.
        let mut last = None;
        for _ in 0..3 {
            let output = self.git.output(&args, &[])?;
            if self.git.has_commit(tip)? {
                return Ok(());
            }
            last = Some(output);
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let output = last.unwrap_or(super::git::GitOutput {
            code: None,
            stdout: String::new(),
            stderr: String::new(),
        });
        Err(with_remote_help(self.git.failure(&args, &output), remote))
    }
}

/// The value of `reference` on `remote`, asked now.
pub(crate) fn remote_ref(
    git: &Git,
    remote: &str,
    reference: &str,
) -> Result<Option<String>, DeployError> {
    let args = ["ls-remote", "--quiet", remote, reference];
    let output = git.output(&args, &[])?;
    if !output.success() {
        return Err(with_remote_help(git.failure(&args, &output), remote));
    }
    Ok(output.stdout.lines().find_map(|line| {
        let (sha, name) = line.split_once('\t')?;
        (name == reference).then(|| sha.to_owned())
    }))
}

/// Makes sure `sha` (the tip of `reference` on `remote`) is here.
pub(crate) fn fetch_object(
    git: &Git,
    remote: &str,
    reference: &str,
    sha: &str,
) -> Result<(), DeployError> {
    if git.has_commit(sha)? {
        return Ok(());
    }
    let args = [
        "fetch",
        "--quiet",
        "--no-tags",
        "--no-write-fetch-head",
        "--recurse-submodules=no",
        remote,
        reference,
    ];
    let output = git.output(&args, &[])?;
    if git.has_commit(sha)? {
        Ok(())
    } else {
        Err(with_remote_help(git.failure(&args, &output), remote))
    }
}

fn with_remote_help(error: DeployError, remote: &str) -> DeployError {
    match error {
        DeployError::Git { command, dir, stderr, .. } => DeployError::Git {
            command,
            dir,
            stderr,
            help: Some(format!(
                "the deploy ledger and lock live on remote `{remote}`: check that `git fetch {remote}` works here, or choose another remote with --remote"
            )),
        },
        other => other,
    }
}

/// Which remote holds the ledgers: the one asked for, else `origin`, else
/// the only remote; no remote at all means this repository alone.
pub(crate) fn choose_place(git: &Git, asked: Option<&str>) -> Result<Place, DeployError> {
    let listed = git.run(&["remote"])?;
    let remotes: Vec<String> = listed
        .lines()
        .map(str::to_owned)
        .filter(|r| !r.is_empty())
        .collect();
    if let Some(name) = asked {
        if remotes.iter().any(|r| r == name) {
            return Ok(Place::Remote(name.to_owned()));
        }
        return Err(DeployError::UnknownRemote {
            name: name.to_owned(),
            help: crate::pipeline::suggest(name, remotes.iter()).or_else(|| {
                Some(if remotes.is_empty() {
                    "this repository has no remotes".to_owned()
                } else {
                    format!("remotes here: {}", remotes.join(", "))
                })
            }),
        });
    }
    match remotes.as_slice() {
        [] => Ok(Place::Local),
        [only] => Ok(Place::Remote(only.clone())),
        _ if remotes.iter().any(|r| r == "origin") => Ok(Place::Remote("origin".to_owned())),
        _ => Err(DeployError::WhichRemote { remotes }),
    }
}

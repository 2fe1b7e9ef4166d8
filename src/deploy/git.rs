//! The user's `git`, run as a child process.
//!
//! Why the `git` CLI and not libgit2: the ledger is pushed to the team's real
//! remote, so it must travel exactly as the user's own pushes do, with their
//! credential helpers, SSH agent, `insteadOf` rewrites, proxies and protocol
//! settings, which libgit2 reimplements partly or not at all. Every command
//! here is also one a person can run by hand to inspect or repair a ledger.
//!
//! Only plumbing that leaves the work tree, the index and the user's branches
//! alone is used: `commit-tree`, `update-ref` on parity's own refs, `push` and
//! `fetch` with explicit refspecs.

use super::DeployError;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A repository, addressed by a directory inside it.
#[derive(Debug, Clone)]
pub(crate) struct Git {
    dir: PathBuf,
}

/// A finished git command.
#[derive(Debug)]
pub(crate) struct GitOutput {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl GitOutput {
    pub(crate) fn success(&self) -> bool {
        self.code == Some(0)
    }
}

impl Git {
    pub(crate) fn new(dir: &Path) -> Git {
        Git {
            dir: dir.to_owned(),
        }
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Runs `git ARGS` to its end, whatever its exit code.
    pub(crate) fn output(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<GitOutput, DeployError> {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(&self.dir)
            .args(args)
            .envs(env.iter().copied())
            // Reads (`status`, `rev-parse`) must not refresh the user's index.
            .env("GIT_OPTIONAL_LOCKS", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // parity may be a child subreaper whose orphan sweep reaps exited
        // children it does not own; registering the pid keeps that sweep
        // from taking git's exit status before `wait` reads it.
        let child = {
            let mut owned = crate::exec::owned_children();
            let child = command.spawn().map_err(DeployError::GitMissing)?;
            owned.insert(child.id() as i32);
            child
        };
        let pid = child.id() as i32;
        let result = child.wait_with_output();
        crate::exec::owned_children().remove(&pid);
        let output = result.map_err(DeployError::io(format!(
            "wait for `git {}`",
            args.join(" ")
        )))?;
        Ok(GitOutput {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }

    /// Runs `git ARGS` and returns its stdout, without the final newline;
    /// a non-zero exit is an error naming the command.
    pub(crate) fn run(&self, args: &[&str]) -> Result<String, DeployError> {
        self.run_env(args, &[])
    }

    pub(crate) fn run_env(
        &self,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<String, DeployError> {
        let output = self.output(args, env)?;
        if output.success() {
            Ok(output.stdout.trim_end_matches('\n').to_owned())
        } else {
            Err(self.failure(args, &output))
        }
    }

    /// For yes/no commands (`merge-base --is-ancestor`): exit 0 is yes,
    /// 1 is no, anything else an error.
    pub(crate) fn test(&self, args: &[&str]) -> Result<bool, DeployError> {
        let output = self.output(args, &[])?;
        match output.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(self.failure(args, &output)),
        }
    }

    pub(crate) fn failure(&self, args: &[&str], output: &GitOutput) -> DeployError {
        let stderr = if output.stderr.is_empty() {
            match output.code {
                Some(code) => format!("exited with code {code}"),
                None => "killed by a signal".to_owned(),
            }
        } else {
            output.stderr.clone()
        };
        DeployError::Git {
            command: args.join(" "),
            dir: self.dir.clone(),
            stderr,
            help: None,
        }
    }

    /// The full SHA of `rev` as a commit, or `None` when there is no such
    /// commit here.
    pub(crate) fn commit_sha(&self, rev: &str) -> Result<Option<String>, DeployError> {
        let spec = format!("{rev}^{{commit}}");
        let output = self.output(
            &[
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ],
            &[],
        )?;
        Ok(output
            .success()
            .then(|| output.stdout.trim().to_owned())
            .filter(|s| !s.is_empty()))
    }

    /// Whether the object is in this repository (fetched).
    pub(crate) fn has_commit(&self, sha: &str) -> Result<bool, DeployError> {
        let spec = format!("{sha}^{{commit}}");
        Ok(self.output(&["cat-file", "-e", &spec], &[])?.success())
    }

    /// Whether `ancestor` is `descendant` or one of its ancestors.
    pub(crate) fn is_ancestor(
        &self,
        ancestor: &str,
        descendant: &str,
    ) -> Result<bool, DeployError> {
        self.test(&["merge-base", "--is-ancestor", ancestor, descendant])
    }

    pub(crate) fn config(&self, key: &str) -> Option<String> {
        let output = self.output(&["config", "--get", key], &[]).ok()?;
        let value = output.stdout.trim();
        (output.success() && !value.is_empty()).then(|| value.to_owned())
    }
}

/// The first 8 characters of a SHA, as people quote commits.
pub(crate) fn short(sha: &str) -> &str {
    sha.get(..8).unwrap_or(sha)
}

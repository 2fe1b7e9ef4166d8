//! CI integration end to end: generated workflows (golden files, checked by
//! actionlint), `parity check`, secrets and masking, the output parity gives
//! a CI runner, and the pre-push hook against real git repositories.

mod actions;
mod check;
mod gen;
mod hook;
mod masking;
mod secrets;

use crate::harness::PARITY;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Variables that would change what parity does under test.
const SCRUBBED: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITEA_ACTIONS",
    "GITLAB_CI",
    "GITHUB_STEP_SUMMARY",
    "GITHUB_OUTPUT",
    "GITHUB_WORKSPACE",
    "PARITY_FILE",
    "PARITY_SKIP_HOOK",
    "DRY_RUN",
];

/// What one command printed.
#[derive(Debug)]
pub(crate) struct Ran {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Ran {
    #[track_caller]
    pub(crate) fn status(&self, code: i32) -> &Ran {
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self}");
        self
    }

    #[track_caller]
    pub(crate) fn stdout_has(&self, text: &str) -> &Ran {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}\n{self}");
        self
    }

    /// Checks stderr with miette's wrapping undone: line breaks, the `│`
    /// gutter and runs of spaces read as one space.
    #[track_caller]
    pub(crate) fn stderr_has(&self, text: &str) -> &Ran {
        let flat = |t: &str| {
            t.replace('│', " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert!(
            flat(&self.stderr).contains(&flat(text)),
            "stderr lacks {text:?}\n{self}"
        );
        self
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- exit code: {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs `program args` in `dir` with parity's directory first on PATH (git
/// hooks call `parity` by name), a clean CI environment plus `env`.
pub(crate) fn run_in(dir: &Path, program: &str, args: &[&str], env: &[(&str, &str)]) -> Ran {
    let mut command = Command::new(program);
    command.current_dir(dir).args(args).stdin(Stdio::null());
    for var in SCRUBBED {
        command.env_remove(var);
    }
    command.env("PATH", path_with_parity());
    command
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    Ran {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

pub(crate) fn parity(dir: &Path, args: &[&str]) -> Ran {
    run_in(dir, PARITY, args, &[])
}

pub(crate) fn parity_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Ran {
    run_in(dir, PARITY, args, env)
}

/// `git args` in `dir`, which must succeed.
#[track_caller]
pub(crate) fn git(dir: &Path, args: &[&str]) -> Ran {
    let ran = run_in(dir, "git", args, &[]);
    assert_eq!(ran.code, Some(0), "git {args:?} failed\n{ran}");
    ran
}

/// A fresh git repository with an identity, on branch `main`.
pub(crate) fn git_init(dir: &Path) {
    git(dir, &["init", "-q", "-b", "main"]);
    git(dir, &["config", "user.name", "parity test"]);
    git(dir, &["config", "user.email", "test@parity.invalid"]);
}

fn path_with_parity() -> std::ffi::OsString {
    let bin = Path::new(PARITY)
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default();
    let mut paths = vec![bin];
    paths.extend(std::env::split_paths(
        &std::env::var_os("PATH").unwrap_or_default(),
    ));
    std::env::join_paths(paths).unwrap_or_default()
}

/// Every file under `dir`, recursively (symlinks not followed).
pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_symlink() {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Writes `content` (unindented) to `dir/path`, creating directories.
pub(crate) fn write(dir: &Path, path: &str, content: &str) {
    let path = dir.join(path);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create parent directory");
    }
    std::fs::write(&path, crate::harness::unindent(content)).expect("write file");
}

pub(crate) fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("parity-ci-")
        .tempdir()
        .expect("temporary directory")
}

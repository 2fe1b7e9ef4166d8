//! What can go wrong generating, checking or installing CI files.

use crate::exit_code;
use miette::Diagnostic;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum CiError {
    #[error("cannot read {}", path.display())]
    #[diagnostic(code(parity::ci::read))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot write {}", path.display())]
    #[diagnostic(code(parity::ci::write))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("`git {args}` failed in {}: {message}", dir.display())]
    #[diagnostic(
        code(parity::ci::git),
        help("is git installed, and is this a git repository?")
    )]
    Git {
        args: String,
        dir: PathBuf,
        message: String,
    },

    #[error("{} is not inside a git repository", dir.display())]
    #[diagnostic(
        code(parity::ci::not_a_repo),
        help("git hooks live in a repository: run `git init` first")
    )]
    NotARepo { dir: PathBuf },

    #[error("{} exists and was not written by parity", path.display())]
    #[diagnostic(
        code(parity::ci::hook_exists),
        help("`parity hook install --force` replaces it, keeping it as {}; `parity hook uninstall` puts it back", backup.display())
    )]
    HookExists { path: PathBuf, backup: PathBuf },

    #[error("cannot generate a workflow for {what}")]
    #[diagnostic(code(parity::ci::unsupported), help("{why}"))]
    Unsupported { what: String, why: String },

    #[error("{}:{line}: not valid YAML: {message}", path.display())]
    #[diagnostic(
        code(parity::ci::yaml),
        help("fix the file, or regenerate it with `parity gen`")
    )]
    Yaml {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

impl CiError {
    pub fn exit_code(&self) -> i32 {
        match self {
            CiError::Read { .. } | CiError::Write { .. } | CiError::Git { .. } => exit_code::FAILED,
            CiError::NotARepo { .. }
            | CiError::HookExists { .. }
            | CiError::Unsupported { .. }
            | CiError::Yaml { .. } => exit_code::USAGE,
        }
    }
}

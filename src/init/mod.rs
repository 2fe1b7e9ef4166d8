//! `parity init`: a first `parity.toml`, from what the repository holds or
//! from an existing GitHub Actions workflow. What it writes always parses:
//! it is validated before it touches the disk.

mod detect;
mod draft;
mod workflow;
mod yaml;

use crate::pipeline::Pipeline;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error, miette::Diagnostic)]
pub enum InitError {
    #[error("{} already exists", path.display())]
    #[diagnostic(
        code(parity::init_exists),
        help("parity init never overwrites a pipeline: move it away first, or print a draft with `--stdout`")
    )]
    Exists { path: PathBuf },
    #[error("cannot read the workflow {}", path.display())]
    #[diagnostic(
        code(parity::init_read),
        help("give the path of a GitHub Actions workflow, e.g. .github/workflows/ci.yml")
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not valid YAML: {message}", path.display())]
    #[diagnostic(code(parity::init_yaml))]
    Yaml { path: PathBuf, message: String },
    #[error("{message}")]
    #[diagnostic(code(parity::init_workflow))]
    Workflow { message: String },
    #[error("cannot write {}", path.display())]
    #[diagnostic(code(parity::init_write))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("parity init wrote a pipeline parity itself rejects (a bug in parity; please report it with the draft below)\n{text}")]
    #[diagnostic(code(parity::init_bug))]
    Invalid {
        text: String,
        #[source]
        source: crate::pipeline::PipelineError,
    },
}

impl InitError {
    pub fn exit_code(&self) -> i32 {
        match self {
            InitError::Write { .. } | InitError::Invalid { .. } => crate::exit_code::FAILED,
            _ => crate::exit_code::USAGE,
        }
    }
}

/// A starter pipeline for the repository at `root`.
pub fn from_repository(root: &Path) -> String {
    detect::draft(root).render()
}

/// A pipeline translated from the GitHub Actions workflow at `path`;
/// `shown` is how comments name the file.
pub fn from_workflow(path: &Path, shown: &str) -> Result<String, InitError> {
    let text = std::fs::read_to_string(path).map_err(|source| InitError::Read {
        path: path.to_owned(),
        source,
    })?;
    let doc = yaml::parse(&text).map_err(|message| InitError::Yaml {
        path: path.to_owned(),
        message,
    })?;
    let draft = workflow::import(&doc, shown).map_err(|message| InitError::Workflow { message })?;
    Ok(draft.render())
}

/// Checks that `text` is a pipeline parity accepts, as if read from `target`.
pub fn validate(target: &Path, text: &str) -> Result<(), InitError> {
    Pipeline::parse(target, text.to_owned())
        .map(|_| ())
        .map_err(|source| InitError::Invalid {
            text: text.to_owned(),
            source,
        })
}

/// Writes `text` to `target` unless a file is already there.
pub fn write_new(target: &Path, text: &str) -> Result<(), InitError> {
    let write_error = |source| InitError::Write {
        path: target.to_owned(),
        source,
    };
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(target)
        .map_err(|source| match source.kind() {
            std::io::ErrorKind::AlreadyExists => InitError::Exists {
                path: target.to_owned(),
            },
            _ => write_error(source),
        })?;
    std::io::Write::write_all(&mut file, text.as_bytes()).map_err(write_error)
}

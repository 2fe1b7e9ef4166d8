//! What can go wrong in the cache, each saying what, where and what to do.

use miette::Diagnostic;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum CacheError {
    #[error("cannot find a cache directory: neither XDG_CACHE_HOME nor HOME is set")]
    #[diagnostic(
        code(parity::cache::no_dir),
        help("set XDG_CACHE_HOME to a writable directory")
    )]
    NoCacheDir,

    #[error("cannot use the cache directory {}", path.display())]
    #[diagnostic(
        code(parity::cache::store),
        help("check that it is writable, or point XDG_CACHE_HOME somewhere else")
    )]
    Store {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read the inputs of the pipeline under {}", path.display())]
    #[diagnostic(code(parity::cache::inputs))]
    Walk {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot read input file {}", path.display())]
    #[diagnostic(
        code(parity::cache::input),
        help("check the file's permissions, or leave it out of `inputs`")
    )]
    Input {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("bad size `{text}`")]
    #[diagnostic(
        code(parity::cache::size),
        help("write sizes like 500MB, 10GB or 2GiB")
    )]
    Size { text: String },

    #[error("no job named `{name}`")]
    #[diagnostic(code(parity::unknown_job))]
    UnknownJob {
        name: String,
        #[help]
        help: Option<String>,
    },
}

impl CacheError {
    /// Whether the user asked for something that cannot be (exit code 2),
    /// rather than the machine failing parity.
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            CacheError::Size { .. } | CacheError::UnknownJob { .. }
        )
    }
}

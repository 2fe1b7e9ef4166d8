//! The one user-facing error: every module's error, with its exit code.

use crate::env_file::EnvFileError;
use crate::exec::PlanError;
use crate::exit_code;
use crate::pipeline::PipelineError;
use crate::services::ServiceError;
use miette::Diagnostic;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum Error {
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
    Services(#[from] ServiceError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Ci(#[from] crate::ci::CiError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Insight(#[from] crate::report::InsightError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Init(#[from] crate::init::InitError),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Cache(#[from] crate::cache::CacheError),

    /// Boxed: deploy errors are large and rare.
    #[error(transparent)]
    #[diagnostic(transparent)]
    Deploy(Box<crate::deploy::DeployError>),

    #[error(transparent)]
    #[diagnostic(transparent)]
    Container(#[from] crate::container::ContainerError),

    #[error("cannot create the run directory under {}", path.display())]
    #[diagnostic(
        code(parity::run_dir),
        help("each run keeps its logs in .parity/runs/ there: that path must be a writable directory, or absent")
    )]
    RunDir {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot start the run")]
    #[diagnostic(code(parity::io))]
    Start(#[source] std::io::Error),
}

impl Error {
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Pipeline(_) | Error::Plan(_) | Error::EnvFile(_) | Error::Secrets(_) => {
                exit_code::USAGE
            }
            Error::RunDir { .. } | Error::Start(_) => exit_code::FAILED,
            Error::Services(e) => e.exit_code(),
            Error::Deploy(e) => e.exit_code(),
            Error::Ci(e) => e.exit_code(),
            Error::Insight(e) => e.exit_code(),
            Error::Init(e) => e.exit_code(),
            Error::Cache(e) if e.is_usage() => exit_code::USAGE,
            Error::Cache(_) => exit_code::FAILED,
            Error::Container(e) if e.is_usage() => exit_code::USAGE,
            Error::Container(_) => exit_code::FAILED,
        }
    }
}

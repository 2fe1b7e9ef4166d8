//! `ContainerError`: every way the engine, an image build or a container can
//! fail, worded so the reader knows what to do next.

use miette::Diagnostic;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum ContainerError {
    #[error("no container engine: neither `docker` nor `podman` is on PATH")]
    #[diagnostic(
        code(parity::no_engine),
        help("install Docker or Podman, or run without --container")
    )]
    NoEngine,

    #[error("PARITY_ENGINE={value}: `{value}` was not found on PATH")]
    #[diagnostic(
        code(parity::no_engine),
        help("set PARITY_ENGINE to `docker` or `podman`, or unset it")
    )]
    EngineNotFound { value: String },

    #[error("{engine}: cannot connect to the {daemon}{}", detail.as_ref().map(|d| format!(" ({d})")).unwrap_or_default())]
    #[diagnostic(
        code(parity::engine_down),
        help("start it, or run without --container")
    )]
    EngineDown {
        engine: String,
        daemon: String,
        detail: Option<String>,
    },

    #[error("`{command}` failed: {detail}")]
    #[diagnostic(code(parity::engine_command))]
    Command { command: String, detail: String },

    #[error("cannot read {}", path.display())]
    #[diagnostic(code(parity::container_read))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("the runner Dockerfile {} does not exist", path.display())]
    #[diagnostic(
        code(parity::no_dockerfile),
        help("fix `[runner] dockerfile` in parity.toml (paths are relative to it)")
    )]
    NoDockerfile { path: PathBuf },

    #[error("building the runner image {tag} failed (exit code {code})")]
    #[diagnostic(code(parity::image_build), help("{help}"))]
    Build {
        tag: String,
        code: i32,
        help: String,
    },

    #[error("the pipeline has no `[runner]`, so there is no image to run jobs in")]
    #[diagnostic(
        code(parity::no_runner),
        help("add `[runner]` with `image = \"…\"` or `dockerfile = \"…\"` to parity.toml")
    )]
    NoRunner,

    #[error("`[runner] image` {template}: {detail}")]
    #[diagnostic(
        code(parity::runner_image),
        help("only `{{{{matrix.KEY}}}}` placeholders of the job's matrix can name the image")
    )]
    ImageTemplate { template: String, detail: String },

    #[error("service `{name}`: {message}")]
    #[diagnostic(code(parity::container_service))]
    Service {
        name: String,
        message: String,
        #[help]
        help: Option<String>,
    },

    #[error("service `{name}` not ready after {}: {last}", humantime::format_duration(*after))]
    #[diagnostic(
        code(parity::service_not_ready),
        help("its output: `{engine} logs {container}` while it runs; raise `ready.timeout` if it is only slow")
    )]
    NotReady {
        name: String,
        after: std::time::Duration,
        last: String,
        engine: String,
        container: String,
    },

    #[error("compose file {}: {message}", path.display())]
    #[diagnostic(code(parity::compose))]
    Compose {
        path: PathBuf,
        message: String,
        #[help]
        help: Option<String>,
    },

    #[error("cannot write {}", path.display())]
    #[diagnostic(code(parity::container_write))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ContainerError {
    /// Bad input (exit 2) as opposed to a failure of the machine (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(
            self,
            ContainerError::EngineNotFound { .. }
                | ContainerError::NoDockerfile { .. }
                | ContainerError::NoRunner
                | ContainerError::ImageTemplate { .. }
                | ContainerError::Compose { .. }
        )
    }
}

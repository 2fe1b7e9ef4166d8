//! `ServiceError`: every way starting, probing or stopping a service can go
//! wrong, worded for the person who has to fix it.

use miette::Diagnostic;
use std::path::PathBuf;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum ServiceError {
    #[error("no service named `{name}` in the pipeline")]
    #[diagnostic(code(parity::unknown_service))]
    Unknown {
        name: String,
        #[help]
        help: Option<String>,
    },

    #[error("service `{name}` uses `image = …`, which needs container mode")]
    #[diagnostic(
        code(parity::service_image),
        help("native mode starts `preset` and `command` services; use `preset = \"postgres\"` or a `command`")
    )]
    ImageNotNative { name: String },

    #[error("{what} was not found")]
    #[diagnostic(code(parity::service_program))]
    ProgramNotFound {
        what: String,
        #[help]
        help: String,
    },

    #[error("port {port} for `{name}` is already in use{}", holder.as_ref().map(|h| format!(" by {h}")).unwrap_or_default())]
    #[diagnostic(
        code(parity::port_taken),
        help("stop whatever holds it, or remove `port` from [services.{name}] so parity picks a free one")
    )]
    PortTaken {
        name: String,
        port: u16,
        holder: Option<String>,
    },

    #[error("service `{name}`: {message}")]
    #[diagnostic(code(parity::service_config))]
    Config {
        name: String,
        message: String,
        #[help]
        help: Option<String>,
    },

    #[error("{name} {end} before it was ready")]
    #[diagnostic(code(parity::service_exited))]
    Exited { name: String, end: String },

    #[error("{name} not ready after {}: {last}", humantime::format_duration(*after))]
    #[diagnostic(
        code(parity::service_not_ready),
        help("its log is in {}; raise `ready.timeout` if it is only slow", log.display())
    )]
    NotReady {
        name: String,
        after: std::time::Duration,
        last: String,
        log: PathBuf,
    },

    #[error("{name}: {step} failed: {detail}")]
    #[diagnostic(code(parity::service_setup))]
    Setup {
        name: String,
        step: String,
        detail: String,
    },

    #[error("starting {name} was interrupted")]
    #[diagnostic(
        code(parity::service_interrupted),
        help("it was stopped; services that were ready before stay up (`parity services down` stops them)")
    )]
    Interrupted { name: String },

    #[error("`parity {command}` is not run by hand: `parity services up` starts it to write a service's log")]
    #[diagnostic(
        code(parity::service_log_by_hand),
        help("`parity services logs NAME` shows a service's log")
    )]
    RelayByHand { command: &'static str },

    #[error("{what} {}", path.display())]
    #[diagnostic(code(parity::service_io))]
    Io {
        what: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl ServiceError {
    pub(crate) fn io(
        what: impl Into<String>,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        ServiceError::Io {
            what: what.into(),
            path: path.into(),
            source,
        }
    }

    /// Bad input (a name or setting the user wrote) is exit 2; a service
    /// that would not start is a failed run, exit 1.
    pub fn exit_code(&self) -> i32 {
        match self {
            ServiceError::Unknown { .. }
            | ServiceError::ImageNotNative { .. }
            | ServiceError::Config { .. }
            | ServiceError::RelayByHand { .. } => crate::exit_code::USAGE,
            ServiceError::Interrupted { .. } => crate::exit_code::INTERRUPTED,
            _ => crate::exit_code::FAILED,
        }
    }
}

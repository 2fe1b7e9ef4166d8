//! Container mode: the engine (Docker or Podman through its CLI), the
//! runner image (built from the project's Dockerfile and tagged by the hash
//! of what builds it), one container per job, services as containers on a
//! network of the run's own, and compose files read as service definitions.

pub mod compose;
mod context;
pub mod devcontainer;
mod engine;
mod error;
pub mod image;
mod job;
mod owned;
mod prepare;
mod sandbox;
pub mod service;
mod sweep;

pub use engine::{Engine, EngineKind, ENGINE_VAR};
pub use error::ContainerError;
pub use job::{JobContainer, JobSpec};
pub use prepare::{in_container, prepare, ContainerOptions, Prepared};
pub use sandbox::{ContainerSandbox, SandboxSettings};
pub use sweep::sweep;

use std::path::{Path, PathBuf};

/// Labels put on every container and network parity creates, so a later
/// parity can find and remove what a killed run left behind.
#[derive(Debug, Clone)]
pub struct Labels {
    pub run: String,
    pub root: PathBuf,
}

/// The label keys, in one place.
pub(crate) const RUN_LABEL: &str = "parity.run";
pub(crate) const ROOT_LABEL: &str = "parity.root";
pub(crate) const PID_LABEL: &str = "parity.pid";
pub(crate) const HOST_LABEL: &str = "parity.host";

impl Labels {
    pub fn new(run: &str, root: &Path) -> Labels {
        Labels {
            run: run.to_owned(),
            root: root.to_owned(),
        }
    }

    /// `--label K=V` pairs for `docker run` and `docker network create`.
    pub fn args(&self) -> Vec<String> {
        [
            (RUN_LABEL, self.run.clone()),
            (ROOT_LABEL, self.root.display().to_string()),
            (PID_LABEL, std::process::id().to_string()),
            (HOST_LABEL, hostname()),
        ]
        .into_iter()
        .flat_map(|(k, v)| ["--label".to_owned(), format!("{k}={v}")])
        .collect()
    }
}

pub(crate) fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default()
}

/// What is mounted into a job's container: the git checkout holding the
/// pipeline (so `../` paths inside it work), else the pipeline's directory.
pub fn mount_root(pipeline_root: &Path) -> PathBuf {
    pipeline_root
        .ancestors()
        .find(|dir| dir.join(".git").exists())
        .unwrap_or(pipeline_root)
        .to_owned()
}

/// `uid:gid` of the person running parity: files a job writes into the
/// mounted checkout stay theirs.
pub fn caller_user() -> String {
    format!("{}:{}", nix::unistd::getuid(), nix::unistd::getgid())
}

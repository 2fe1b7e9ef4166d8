//! The `parity.toml` model: read with spans, validated, immutable afterwards.

mod deploy;
mod error;
mod file;
mod graph;
mod matrix;
pub(crate) mod placeholder;
#[cfg(test)]
mod properties;
mod validate;

pub use deploy::{ledger_ref, Deploy, DEFAULT_LEASE, RESERVED_DEPLOY_NAMES};
pub use error::{PipelineError, Problem};
pub use graph::{Instance, InstanceGraph};
pub use matrix::{instance_name, Combination, Matrix};

use indexmap::IndexMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The file name parity looks for, walking up from the working directory.
pub const FILE_NAME: &str = "parity.toml";

/// A validated pipeline. Every reference in it (needs, services, profiles)
/// names something that exists, and the job graph has no cycle.
#[derive(Debug)]
pub struct Pipeline {
    /// The pipeline file.
    pub path: PathBuf,
    /// The directory holding the pipeline file: where steps run.
    pub root: PathBuf,
    pub tools: IndexMap<String, String>,
    pub env: IndexMap<String, String>,
    pub secrets: Secrets,
    pub profiles: IndexMap<String, Profile>,
    pub services: IndexMap<String, Service>,
    pub jobs: IndexMap<String, Job>,
    pub runner: Option<Runner>,
    pub cache: Cache,
    /// A compose file whose services are used like `[services.*]`.
    pub compose: Option<PathBuf>,
    /// `[deploy.NAME]` environments, in file order.
    pub deploys: IndexMap<String, Deploy>,
}

/// The container that mirrors CI (`--container`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runner {
    pub source: RunnerSource,
    pub build_args: IndexMap<String, String>,
    pub mount_docker_socket: bool,
    pub gpus: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunnerSource {
    Image(String),
    /// A Dockerfile and its build context, relative to the pipeline root.
    Dockerfile {
        path: PathBuf,
        context: PathBuf,
    },
}

/// Where job results are cached and who may write them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cache {
    /// A Bazel HTTP cache (`/ac`, `/cas`).
    pub remote: Option<String>,
    pub write: CacheWrite,
    /// Local store limit in bytes.
    pub max_size: Option<u64>,
    /// The env var holding the remote's bearer token or `user:password`.
    pub token_env: Option<String>,
    /// How long a remote operation may stall before the remote counts as down.
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CacheWrite {
    /// Only where `CI` is truthy: laptops and pull requests read.
    #[default]
    Ci,
    Always,
    Never,
}

#[derive(Debug, Default)]
pub struct Secrets {
    /// Must be set (environment or `.env.ci.local`) before any job starts.
    pub required: Vec<String>,
    /// Masked when set, but may be absent.
    pub optional: Vec<String>,
}

#[derive(Debug, Default)]
pub struct Profile {
    pub skip: Vec<String>,
    pub only: Vec<String>,
    pub enable: Vec<String>,
    pub container: Option<bool>,
    pub keep_going: bool,
}

#[derive(Debug)]
pub struct Job {
    pub name: String,
    pub needs: Vec<String>,
    /// Shell lines, run in order; may still hold `{{…}}` placeholders.
    pub steps: Vec<String>,
    pub env: IndexMap<String, String>,
    pub switch: Option<String>,
    pub timeout: Option<Duration>,
    /// The program and arguments a step is handed to, before `-c STEP`.
    pub shell: Vec<String>,
    pub matrix: Option<Matrix>,
    pub publish: bool,
    pub services: Vec<String>,
    pub inputs: Vec<String>,
    pub outputs: Vec<String>,
    pub cache_env: Vec<String>,
    pub runs_on: Option<String>,
    pub container: Option<bool>,
    /// Relative to the pipeline root.
    pub working_directory: Option<PathBuf>,
    /// `[secrets]` this job uses (besides those its `run` lines name as
    /// `$NAME`): only these jobs need them set, and only they get them in CI.
    pub secrets: Vec<String>,
}

/// The shell steps run in unless a job says otherwise: the same as GitHub
/// Actions' `bash`, so a step fails on the first failing command or pipe.
pub const DEFAULT_SHELL: [&str; 3] = ["bash", "-eo", "pipefail"];

#[derive(Debug)]
pub struct Service {
    pub name: String,
    pub kind: ServiceKind,
    pub port: Option<u16>,
    pub env: IndexMap<String, String>,
    pub needs: Vec<String>,
    pub ready: Option<Ready>,
    pub data_dir: Option<String>,
    /// `HOST:CONTAINER` port mappings for image services.
    pub ports: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceKind {
    Preset(Preset),
    Command(String),
    Image(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    Postgres,
    Redis,
}

impl Preset {
    pub const ALL: [(&'static str, Preset); 2] =
        [("postgres", Preset::Postgres), ("redis", Preset::Redis)];
}

#[derive(Debug, Clone)]
pub struct Ready {
    pub probe: Probe,
    pub interval: Duration,
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Exec(String),
    Tcp(String),
    Http { url: String, status: u16 },
    Log { pattern: String, times: u32 },
}

impl Pipeline {
    /// Finds `parity.toml` in `start` or the nearest parent directory. The
    /// nearest entry of that name is the one, even when it cannot be read
    /// (a directory, a dangling link): reading it then says what is wrong,
    /// where passing it over would run another pipeline.
    pub fn discover(start: &Path) -> Result<PathBuf, PipelineError> {
        start
            .ancestors()
            .map(|dir| dir.join(FILE_NAME))
            .find(|candidate| candidate.symlink_metadata().is_ok())
            .ok_or_else(|| PipelineError::NotFound {
                start: start.to_owned(),
            })
    }

    /// Reads and validates a pipeline file.
    pub fn load(path: &Path) -> Result<Pipeline, PipelineError> {
        let text = std::fs::read_to_string(path).map_err(|source| PipelineError::Read {
            path: path.to_owned(),
            source,
        })?;
        // Steps run in the file's directory; an absolute root keeps that true
        // whatever directory a step changes to.
        let path = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        Self::parse(&path, text)
    }

    /// Validates pipeline text that was read from `path`.
    pub fn parse(path: &Path, text: String) -> Result<Pipeline, PipelineError> {
        let display = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| FILE_NAME.to_owned());
        let source = miette::NamedSource::new(display, Arc::<str>::from(text));
        validate::validate(path, &source).map_err(|problems| PipelineError::Invalid {
            path: path.to_owned(),
            problems,
        })
    }

    /// Matrix instances and their dependency edges.
    pub fn instances(&self) -> InstanceGraph {
        InstanceGraph::new(self)
    }
}

/// "did you mean …?" for a name given on the command line.
pub fn suggest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a String>) -> Option<String> {
    error::did_you_mean(name, candidates.into_iter().map(String::as_str))
}

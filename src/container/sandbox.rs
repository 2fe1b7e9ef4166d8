//! The container side of `exec`'s sandbox seam: which jobs of a plan run in
//! a container, in which image, and with what mounted, labelled and passed.

use super::job::{JobContainer, JobSpec};
use super::service::sanitize;
use super::{Engine, Labels};
use crate::exec::{Opened, PlannedJob, Sandbox};
use indexmap::IndexMap;
use std::io;
use std::path::PathBuf;

/// What every job container of a run shares.
#[derive(Debug, Clone)]
pub struct SandboxSettings {
    pub engine: Engine,
    pub labels: Labels,
    /// Mounted at the same path; jobs' working directories are inside it.
    pub mount: PathBuf,
    /// The run's network, when services run as containers.
    pub network: Option<String>,
    pub user: Option<String>,
    pub socket: Option<(PathBuf, Option<u32>)>,
    pub gpus: Option<String>,
    /// Host variables every container job gets (`CI`, declared secrets):
    /// the host's environment is not passed wholesale, since its `PATH`,
    /// `HOME` and toolchain variables describe the host, not the image.
    pub passthrough: Vec<(String, String)>,
}

/// Runs the plan's jobs that have an image in their containers.
pub struct ContainerSandbox {
    settings: SandboxSettings,
    /// `images[i]`: the image of plan job `i`; `None` runs it on the host.
    images: Vec<Option<String>>,
    /// `extra_env[i]`: variables for job `i` on top of its own (how it
    /// reaches services from inside the network).
    extra_env: Vec<Vec<(String, String)>>,
}

impl ContainerSandbox {
    pub fn new(
        settings: SandboxSettings,
        images: Vec<Option<String>>,
        extra_env: Vec<Vec<(String, String)>>,
    ) -> Self {
        ContainerSandbox {
            settings,
            images,
            extra_env,
        }
    }

    /// The container spec for job `index`.
    pub fn spec(
        &self,
        index: usize,
        job: &PlannedJob,
        env: &[(String, String)],
    ) -> Option<JobSpec> {
        let image = self.images.get(index)?.clone()?;
        let s = &self.settings;
        let mut vars: IndexMap<String, String> = s.passthrough.iter().cloned().collect();
        vars.extend(env.iter().cloned());
        vars.extend(self.extra_env.get(index).into_iter().flatten().cloned());
        Some(JobSpec {
            name: format!(
                "parity-{}-{index}-{}",
                sanitize(&s.labels.run),
                sanitize(&job.job)
            ),
            image,
            mount: s.mount.clone(),
            workdir: job.cwd.clone(),
            env: vars.into_iter().collect(),
            labels: label_pairs(&s.labels, &job.name),
            network: s.network.clone(),
            user: s.user.clone(),
            socket: s.socket.clone(),
            gpus: s.gpus.clone(),
        })
    }
}

fn label_pairs(labels: &Labels, job: &str) -> Vec<(String, String)> {
    let args = labels.args();
    let mut pairs: Vec<(String, String)> = args
        .chunks(2)
        .filter_map(|pair| {
            pair.get(1)?
                .split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
        })
        .collect();
    pairs.push(("parity.job".into(), job.to_owned()));
    pairs
}

impl Sandbox for ContainerSandbox {
    fn contains(&self, index: usize) -> bool {
        self.images.get(index).is_some_and(Option::is_some)
    }

    fn open(&self, index: usize, job: &PlannedJob, env: &[(String, String)]) -> io::Result<Opened> {
        let spec = self
            .spec(index, job, env)
            .ok_or_else(|| io::Error::other("job has no runner image"))?;
        let (container, demux, stderr) = JobContainer::start(&self.settings.engine, &spec)?;
        Ok(Opened {
            enclosure: container,
            outputs: vec![Box::new(demux), Box::new(stderr)],
        })
    }
}

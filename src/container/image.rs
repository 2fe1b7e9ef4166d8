//! The runner image: named by `[runner] image`, or built from
//! `[runner] dockerfile` and tagged by the hash of what builds it, so an
//! unchanged Dockerfile is one `image inspect` away from ready and is
//! never rebuilt.

use super::context;
use super::{ContainerError, Engine};
use crate::pipeline::placeholder::render;
use crate::pipeline::{Combination, Pipeline, Runner, RunnerSource};
use indexmap::IndexMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;

/// Label on every image parity builds: the pipeline root it was built for.
pub const RUNNER_LABEL: &str = "parity.runner";
/// Label holding the full hash the tag abbreviates.
const HASH_LABEL: &str = "parity.hash";

/// The image one job instance runs in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Wanted {
    /// A named image, pulled by the engine if it is missing.
    Named(String),
    /// An image built from a Dockerfile, tagged by its hash.
    Built(Build),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Build {
    pub tag: String,
    pub hash: String,
    pub dockerfile: PathBuf,
    pub context: PathBuf,
    pub args: Vec<(String, String)>,
    root: PathBuf,
}

impl Wanted {
    /// The reference `docker run` is given.
    pub fn reference(&self) -> &str {
        match self {
            Wanted::Named(name) => name,
            Wanted::Built(build) => &build.tag,
        }
    }

    /// The image for a job instance with `matrix` values: placeholders in
    /// `image` and in build args are filled from the matrix, so each
    /// version of a matrix gets its own image.
    pub fn for_instance(
        pipeline: &Pipeline,
        matrix: &Combination,
    ) -> Result<Wanted, ContainerError> {
        let runner = pipeline.runner.as_ref().ok_or(ContainerError::NoRunner)?;
        Self::of(pipeline, runner, matrix)
    }

    fn of(
        pipeline: &Pipeline,
        runner: &Runner,
        matrix: &Combination,
    ) -> Result<Wanted, ContainerError> {
        let fill = |template: &str| {
            render(template, |name| {
                matrix.get(name.strip_prefix("matrix.")?).cloned()
            })
            .map_err(|e| ContainerError::ImageTemplate {
                template: template.to_owned(),
                detail: e.to_string(),
            })
        };
        match &runner.source {
            RunnerSource::Image(image) => Ok(Wanted::Named(fill(image)?)),
            RunnerSource::Dockerfile { path, context } => {
                let args: IndexMap<String, String> = runner
                    .build_args
                    .iter()
                    .map(|(k, v)| Ok((k.clone(), fill(v)?)))
                    .collect::<Result<_, ContainerError>>()?;
                let dockerfile = pipeline.root.join(path);
                let context = pipeline.root.join(context);
                let hash = context::hash(&dockerfile, &context, &args)?;
                Ok(Wanted::Built(Build {
                    tag: format!("{}:{}", repository(&pipeline.root), &hash[..16]),
                    hash,
                    dockerfile,
                    context,
                    args: args.into_iter().collect(),
                    root: pipeline.root.clone(),
                }))
            }
        }
    }

    /// Every distinct image the pipeline's job instances run in.
    pub fn all(pipeline: &Pipeline) -> Result<Vec<Wanted>, ContainerError> {
        let mut wanted: Vec<Wanted> = Vec::new();
        for instance in pipeline.instances().instances {
            let image = Self::for_instance(pipeline, &instance.matrix)?;
            if !wanted.contains(&image) {
                wanted.push(image);
            }
        }
        if wanted.is_empty() {
            wanted.push(Self::for_instance(pipeline, &Combination::new())?);
        }
        Ok(wanted)
    }
}

/// `parity-runner-<project>`: the repository every runner image of a
/// project is tagged into, named after the pipeline's directory.
fn repository(root: &Path) -> String {
    let name = root
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let mut clean: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    clean = clean
        .trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_owned();
    if clean.is_empty() {
        "parity-runner".to_owned()
    } else {
        format!("parity-runner-{clean}")
    }
}

/// Where a build's output goes.
pub enum BuildOutput<'a> {
    /// To parity's stderr, for `parity image build`.
    Terminal,
    /// To a log file, for `parity run`, which shows its own progress.
    Log(&'a Path),
}

/// What `ensure` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// A named image: the engine pulls it on first use if missing.
    Named,
    /// Built before: nothing to do.
    Present,
    Built,
}

/// Makes sure the image exists: builds a Dockerfile image when its tag is
/// missing (or when `rebuild`), and does nothing for a named image.
pub fn ensure(
    engine: &Engine,
    wanted: &Wanted,
    rebuild: bool,
    output: BuildOutput<'_>,
) -> Result<Readiness, ContainerError> {
    let Wanted::Built(build) = wanted else {
        return Ok(Readiness::Named);
    };
    if !rebuild && exists(engine, &build.tag) {
        return Ok(Readiness::Present);
    }
    let mut command = engine.command();
    command
        .arg("build")
        .arg("--file")
        .arg(&build.dockerfile)
        .arg("--tag")
        .arg(&build.tag)
        .arg("--label")
        .arg(format!("{RUNNER_LABEL}={}", build.root.display()))
        .arg("--label")
        .arg(format!("{HASH_LABEL}={}", build.hash));
    for (key, value) in &build.args {
        command.arg("--build-arg").arg(format!("{key}={value}"));
    }
    command.arg(&build.context).stdin(Stdio::null());
    let help = match output {
        BuildOutput::Terminal => {
            command.stdout(std::io::stderr());
            "the build output above says why".to_owned()
        }
        BuildOutput::Log(path) => {
            let file = std::fs::File::create(path).map_err(|source| ContainerError::Write {
                path: path.to_owned(),
                source,
            })?;
            let copy = file.try_clone().map_err(|source| ContainerError::Write {
                path: path.to_owned(),
                source,
            })?;
            command.stdout(file).stderr(copy);
            format!(
                "the build log is {}; `parity image build` shows it live",
                path.display()
            )
        }
    };
    let status = command.status().map_err(|e| ContainerError::Command {
        command: format!("{} build", engine.name()),
        detail: e.to_string(),
    })?;
    if !status.success() {
        return Err(ContainerError::Build {
            tag: build.tag.clone(),
            code: status.code().unwrap_or(-1),
            help,
        });
    }
    Ok(Readiness::Built)
}

/// Whether the engine has the image locally.
pub fn exists(engine: &Engine, reference: &str) -> bool {
    engine.succeeds(["image", "inspect", "--format", "{{.Id}}", reference])
}

/// One runner image of this project, as `parity image ls` shows it.
#[derive(Debug, Clone)]
pub struct Listed {
    pub tag: String,
    pub id: String,
    pub created: String,
    pub size: String,
}

/// The runner images built for this pipeline, newest first.
pub fn list(engine: &Engine, root: &Path) -> Result<Vec<Listed>, ContainerError> {
    let text = engine.output([
        "images",
        "--filter",
        &format!("label={RUNNER_LABEL}={}", root.display()),
        "--format",
        "{{.Repository}}:{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}",
    ])?;
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut parts = line.split('\t');
            Some(Listed {
                tag: parts.next()?.to_owned(),
                id: parts.next()?.to_owned(),
                created: parts.next()?.to_owned(),
                size: parts.next().unwrap_or_default().to_owned(),
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repository_names_are_valid_references() {
        assert_eq!(
            repository(Path::new("/src/My App_2")),
            "parity-runner-my-app-2"
        );
        assert_eq!(repository(Path::new("/")), "parity-runner");
    }
}

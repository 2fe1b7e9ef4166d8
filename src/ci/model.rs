//! The pipeline as a CI system sees it: one CI job per pipeline job, with
//! the ids, needs, conditions and secrets every generated flavour shares,
//! and one per `[deploy.NAME]`.

use super::caches::{self, ToolCache};
use super::CiError;
use crate::pipeline::{Deploy, Job, Matrix, Pipeline, Preset, Profile, ServiceKind};
use crate::secrets::{deploy_needs, jobs_needing};
use std::collections::BTreeSet;
use std::path::Path;

/// The profile generated workflows run with when the pipeline has one.
pub(crate) const CI_PROFILE: &str = "ci";
/// The pull-request label that switches jobs to `--container`.
pub(crate) const CONTAINER_LABEL: &str = "run-container";
/// Where jobs run when the pipeline does not say (`runs_on`).
pub(crate) const DEFAULT_RUNNER: &str = "ubuntu-latest";

#[derive(Debug)]
pub(crate) struct CiPlan {
    pub(crate) jobs: Vec<CiJob>,
    /// One per `[deploy.NAME]`, in file order.
    pub(crate) deploys: Vec<CiDeploy>,
    /// Switches some generated job is guarded by, in first-use order.
    pub(crate) switches: Vec<String>,
    /// `--profile ci` on every `parity run`.
    pub(crate) profile: Option<&'static str>,
    /// The CI profile turns container mode on for every job.
    pub(crate) container: bool,
    pub(crate) fail_fast: bool,
    pub(crate) caches: Vec<ToolCache>,
    /// The pipeline's directory relative to the repository root, when it is
    /// not the root itself (`/`-separated).
    pub(crate) subdir: Option<String>,
    /// An id for the job that runs `parity check`, unique among the others.
    pub(crate) check_id: String,
    /// `[tools] rust`, for the GitLab image.
    pub(crate) rust: Option<String>,
}

#[derive(Debug)]
pub(crate) struct CiJob {
    /// A valid CI job id derived from the name.
    pub(crate) id: String,
    /// The `[jobs.NAME]`.
    pub(crate) name: String,
    /// Ids of the CI jobs it needs.
    pub(crate) needs: Vec<Need>,
    /// The switch that must be on, unless the CI profile enables it.
    pub(crate) switch: Option<String>,
    pub(crate) publish: bool,
    pub(crate) matrix: Option<Matrix>,
    pub(crate) timeout_minutes: Option<u64>,
    /// parity's own limit, for the comment next to the CI one.
    pub(crate) timeout: Option<std::time::Duration>,
    pub(crate) runs_on: String,
    /// Secrets the job's steps use: handed to it, and to no other job.
    pub(crate) secrets: Vec<String>,
    /// Preset services whose programs the runner needs.
    pub(crate) presets: Vec<Preset>,
}

/// The CI job that runs `parity deploy NAME` for pushes to its branch.
#[derive(Debug)]
pub(crate) struct CiDeploy {
    /// A valid CI job id, unique among every other: `deploy-NAME`.
    pub(crate) id: String,
    /// The `[deploy.NAME]`.
    pub(crate) name: String,
    /// The CI jobs of its `needs`.
    pub(crate) needs: Vec<Need>,
    /// Pushes to this branch deploy; `None`: the repository's default branch.
    pub(crate) branch: Option<String>,
    /// Shared by every run that deploys to the environment.
    pub(crate) concurrency_group: String,
    pub(crate) runs_on: String,
    /// Secrets its steps, or the jobs it runs first, use.
    pub(crate) secrets: Vec<String>,
    /// Preset services whose programs the runner needs: the deploy's own,
    /// and those of the jobs `parity deploy` runs first.
    pub(crate) presets: Vec<Preset>,
}

#[derive(Debug)]
pub(crate) struct Need {
    pub(crate) id: String,
    /// The need may not run at all (its switch is off), which must not stop
    /// this job: GitLab needs `optional: true` for that.
    pub(crate) may_be_absent: bool,
}

impl CiPlan {
    pub(crate) fn new(pipeline: &Pipeline, repo_root: &Path) -> Result<CiPlan, CiError> {
        let profile = pipeline.profiles.get(CI_PROFILE);
        // As `parity run --profile ci` selects: `only` and what it needs,
        // less what `skip` names.
        let selected = selected_jobs(pipeline, profile);
        let included = |job: &Job| selected.contains(&job.name.as_str());
        let enabled = |switch: &str| profile.is_some_and(|p| p.enable.iter().any(|e| e == switch));
        let container = profile.and_then(|p| p.container).unwrap_or(false);

        let mut taken: BTreeSet<String> = BTreeSet::new();
        let ids: Vec<(String, String)> = pipeline
            .jobs
            .values()
            .filter(|job| included(job))
            .map(|job| (job.name.clone(), unique_id(&job.name, &mut taken)))
            .collect();
        let id_of = |name: &str| {
            ids.iter()
                .find(|(n, _)| n == name)
                .map(|(_, id)| id.clone())
        };
        let check_id = unique_id("parity-check", &mut taken);
        let need = |name: &str| {
            let id = id_of(name)?;
            let need_job = pipeline.jobs.get(name)?;
            Some(Need {
                id,
                may_be_absent: need_job.switch.as_deref().is_some_and(|s| !enabled(s)),
            })
        };
        let declared_secrets = || {
            pipeline
                .secrets
                .required
                .iter()
                .chain(&pipeline.secrets.optional)
        };

        let mut jobs = Vec::new();
        let mut switches: Vec<String> = Vec::new();
        for job in pipeline.jobs.values().filter(|job| included(job)) {
            let switch = job.switch.clone().filter(|s| !enabled(s));
            if let Some(s) = &switch {
                if !switches.contains(s) {
                    switches.push(s.clone());
                }
            }
            if let Some(matrix) = &job.matrix {
                check_matrix(&job.name, matrix)?;
            }
            let needs = job.needs.iter().filter_map(|n| need(n)).collect();
            let secrets = declared_secrets()
                .filter(|secret| jobs_needing(pipeline, secret).contains(&job.name.as_str()))
                .cloned()
                .collect();
            let in_container = container || job.container == Some(true);
            jobs.push(CiJob {
                id: id_of(&job.name).unwrap_or_else(|| job.name.clone()),
                name: job.name.clone(),
                needs,
                switch,
                publish: job.publish,
                matrix: job.matrix.clone(),
                timeout_minutes: job.timeout.map(|t| t.as_secs().div_ceil(60) + 1),
                timeout: job.timeout,
                runs_on: job
                    .runs_on
                    .clone()
                    .unwrap_or_else(|| DEFAULT_RUNNER.to_owned()),
                secrets,
                presets: if in_container {
                    Vec::new()
                } else {
                    presets(pipeline, &job.services)
                },
            });
        }
        let deploys = pipeline
            .deploys
            .values()
            .map(|deploy| {
                check_branch(deploy)?;
                Ok(CiDeploy {
                    id: unique_id(&format!("deploy-{}", deploy.name), &mut taken),
                    name: deploy.name.clone(),
                    needs: deploy.needs.iter().filter_map(|n| need(n)).collect(),
                    branch: deploy.branch.clone(),
                    concurrency_group: deploy.concurrency_group(),
                    runs_on: deploy
                        .runs_on
                        .clone()
                        .unwrap_or_else(|| DEFAULT_RUNNER.to_owned()),
                    secrets: declared_secrets()
                        .filter(|secret| deploy_needs(pipeline, deploy, secret))
                        .cloned()
                        .collect(),
                    // `parity deploy` runs natively, with the services of
                    // its own steps and of every job it runs first.
                    presets: presets(pipeline, &deploy_services(pipeline, deploy)),
                })
            })
            .collect::<Result<Vec<_>, CiError>>()?;
        let subdir = pipeline
            .root
            .strip_prefix(repo_root)
            .ok()
            .filter(|p| !p.as_os_str().is_empty())
            .map(|p| {
                p.components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/")
            });
        let mut dirs = vec![pipeline.root.clone(), repo_root.to_path_buf()];
        dirs.extend(
            pipeline
                .jobs
                .values()
                .filter_map(|j| j.working_directory.as_ref())
                .map(|d| pipeline.root.join(d)),
        );
        Ok(CiPlan {
            jobs,
            deploys,
            switches,
            profile: profile.map(|_| CI_PROFILE),
            container,
            fail_fast: !profile.is_some_and(|p| p.keep_going),
            caches: caches::detect(repo_root, &dirs),
            subdir,
            check_id,
            rust: pipeline.tools.get("rust").cloned(),
        })
    }

    /// The runner most jobs use (the first of the most used), for jobs of
    /// parity's own such as `parity check`.
    pub(crate) fn usual_runner(&self) -> &str {
        let mut best = (DEFAULT_RUNNER, 0);
        for job in &self.jobs {
            let count = self
                .jobs
                .iter()
                .filter(|j| j.runs_on == job.runs_on)
                .count();
            if count > best.1 {
                best = (job.runs_on.as_str(), count);
            }
        }
        best.0
    }

    pub(crate) fn has_publish(&self) -> bool {
        self.jobs.iter().any(|j| j.publish)
    }

    /// The `parity run` line of a CI job. `matrix_word` spells the shell
    /// word `KEY=VALUE` with the CI's reference to a matrix value; `--publish` and `--container` come from
    /// the `PARITY_PUBLISH` and `PARITY_CONTAINER` variables the workflow sets.
    pub(crate) fn run_line(&self, job: &CiJob, matrix_word: impl Fn(&str) -> String) -> String {
        let mut words = vec!["parity".to_owned(), "run".to_owned()];
        if let Some(profile) = self.profile {
            words.extend(["--profile".to_owned(), profile.to_owned()]);
        }
        words.push("--job".to_owned());
        words.push(shell_word(&job.name));
        words.push("--no-deps".to_owned());
        if let Some(matrix) = &job.matrix {
            for key in matrix.keys() {
                words.push("--matrix".to_owned());
                words.push(matrix_word(key));
            }
        }
        if job.publish {
            words.push("${PARITY_PUBLISH:+--publish}".to_owned());
        }
        if !self.container {
            words.push("${PARITY_CONTAINER:+--container}".to_owned());
        }
        words.join(" ")
    }
}

/// The `parity deploy` line of a deploy's CI job: the commit the run was
/// started for, whatever the checkout holds.
pub(crate) fn deploy_line(deploy: &CiDeploy, commit: &str) -> String {
    format!(
        "parity deploy {} --commit {commit}",
        shell_word(&deploy.name)
    )
}

/// The Debian packages with the programs the preset services start.
pub(crate) fn preset_packages(presets: &[Preset]) -> String {
    let packages: Vec<&str> = presets
        .iter()
        .map(|p| match p {
            Preset::Postgres => "postgresql",
            Preset::Redis => "redis-server",
        })
        .collect();
    packages.join(" ")
}

/// The version generated workflows install: the one that generated them.
pub(crate) const PARITY_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The pinned install command.
pub(crate) fn install_command(root: Option<&str>) -> String {
    match root {
        Some(root) => {
            format!("cargo install --locked --version {PARITY_VERSION} --root {root} parity")
        }
        None => format!("cargo install --locked --version {PARITY_VERSION} parity"),
    }
}

/// A job name as one shell word.
fn shell_word(text: &str) -> String {
    shlex::try_quote(text)
        .map(|q| q.into_owned())
        .unwrap_or_else(|_| format!("'{text}'"))
}

/// The jobs a run with `profile` covers: all, or its `only` jobs and
/// everything they need; less its `skip` jobs.
fn selected_jobs<'p>(pipeline: &'p Pipeline, profile: Option<&Profile>) -> Vec<&'p str> {
    let mut selected: Vec<&str> = match profile.filter(|p| !p.only.is_empty()) {
        None => pipeline.jobs.keys().map(String::as_str).collect(),
        Some(p) => {
            let mut found: Vec<&str> = Vec::new();
            let mut stack: Vec<&str> = p.only.iter().map(String::as_str).collect();
            while let Some(name) = stack.pop() {
                let Some((name, job)) = pipeline.jobs.get_key_value(name) else {
                    continue;
                };
                if !found.contains(&name.as_str()) {
                    found.push(name);
                    stack.extend(job.needs.iter().map(String::as_str));
                }
            }
            found
        }
    };
    if let Some(p) = profile {
        selected.retain(|name| !p.skip.iter().any(|s| s == name));
    }
    selected
}

/// Matrix values land in a single-quoted shell word and in YAML; a quote or
/// a line break in one could not be passed through safely.
fn check_matrix(job: &str, matrix: &Matrix) -> Result<(), CiError> {
    let values = matrix
        .axes
        .iter()
        .flat_map(|(key, values)| values.iter().map(move |v| (key, v)))
        .chain(
            matrix
                .include
                .iter()
                .chain(&matrix.exclude)
                .flat_map(|c| c.iter()),
        );
    for (key, value) in values {
        if value.contains(['\'', '\n', '\r']) || key.contains(['\'', '\n', '\r', '=', ' ']) {
            return Err(CiError::Unsupported {
                what: format!("matrix entry `{key} = {value:?}` of job `{job}`"),
                why: "a generated workflow passes matrix values as `--matrix 'KEY=VALUE'`; quotes and line breaks cannot be passed that way".into(),
            });
        }
    }
    Ok(())
}

/// A branch name lands in a quoted string of a CI expression; braces could
/// end the expression early, so they are refused rather than escaped.
fn check_branch(deploy: &Deploy) -> Result<(), CiError> {
    match &deploy.branch {
        Some(branch) if branch.contains(['{', '}']) => Err(CiError::Unsupported {
            what: format!("branch `{branch}` of deploy `{}`", deploy.name),
            why: "a generated workflow compares the pushed ref with it inside `${{ }}`, where braces cannot be passed safely".into(),
        }),
        _ => Ok(()),
    }
}

/// The services `parity deploy` starts: the deploy's own, and those of the
/// jobs it runs first (its `needs`, and what they need).
fn deploy_services(pipeline: &Pipeline, deploy: &Deploy) -> Vec<String> {
    let mut services = deploy.services.clone();
    let mut seen: Vec<&str> = Vec::new();
    let mut stack: Vec<&str> = deploy.needs.iter().map(String::as_str).collect();
    while let Some(name) = stack.pop() {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        if let Some(job) = pipeline.jobs.get(name) {
            services.extend(job.services.iter().cloned());
            stack.extend(job.needs.iter().map(String::as_str));
        }
    }
    services
}

/// The preset services among `services`, directly or as what they need.
fn presets(pipeline: &Pipeline, services: &[String]) -> Vec<Preset> {
    let mut seen: Vec<&str> = Vec::new();
    let mut stack: Vec<&str> = services.iter().map(String::as_str).collect();
    while let Some(name) = stack.pop() {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        if let Some(service) = pipeline.services.get(name) {
            stack.extend(service.needs.iter().map(String::as_str));
        }
    }
    let mut presets: Vec<Preset> = Vec::new();
    for (_, preset) in Preset::ALL {
        let used = seen.iter().any(|name| {
            pipeline
                .services
                .get(*name)
                .is_some_and(|s| s.kind == ServiceKind::Preset(preset))
        });
        if used {
            presets.push(preset);
        }
    }
    presets
}

/// A CI job id: letters, digits, `-` and `_`, starting with a letter or `_`,
/// unique among `taken`.
fn unique_id(name: &str, taken: &mut BTreeSet<String>) -> String {
    let mut base: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if !base.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        base.insert_str(0, "job-");
    }
    let mut id = base.clone();
    let mut n = 2;
    while !taken.insert(id.clone()) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ci_profile_selects_as_a_run_would() {
        let pipeline = Pipeline::parse(
            Path::new("/repo/parity.toml"),
            r#"
version = 1
[profiles.ci]
only = ["package"]
skip = ["lint"]
[jobs.lint]
run = "lint"
[jobs.build]
needs = ["lint"]
run = "build"
[jobs.package]
needs = ["build"]
run = "package"
[jobs.docs]
run = "docs"
"#
            .to_owned(),
        )
        .expect("valid pipeline");
        let plan = CiPlan::new(&pipeline, Path::new("/repo")).expect("plan");
        let ids: Vec<&str> = plan.jobs.iter().map(|j| j.id.as_str()).collect();
        assert_eq!(ids, ["build", "package"]);
        assert!(plan.jobs[0].needs.is_empty(), "a skipped need is dropped");
        assert_eq!(plan.profile, Some(CI_PROFILE));
    }

    #[test]
    fn ids_are_valid_and_unique() {
        let mut taken = BTreeSet::new();
        assert_eq!(unique_id("lint", &mut taken), "lint");
        assert_eq!(unique_id("lint", &mut taken), "lint-2");
        assert_eq!(unique_id("1st step", &mut taken), "job-1st-step");
        assert_eq!(unique_id("ünï", &mut taken), "job--n-");
    }
}

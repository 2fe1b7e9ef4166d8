//! What a `parity run` will do: which job instances, in what order, with
//! which environment, and which are skipped and why.

use super::outcome::SkipReason;
use crate::pipeline::placeholder::render_partial;
use crate::pipeline::{Combination, Instance, Pipeline};
use indexmap::IndexMap;
use miette::Diagnostic;
use std::path::PathBuf;
use std::time::Duration;
use thiserror::Error;

/// The choices a user makes on the command line.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Jobs (or matrix instances) to run, with what they need; empty: all.
    pub targets: Vec<String>,
    /// Jobs run at once.
    pub parallelism: usize,
    pub keep_going: bool,
    pub profile: Option<String>,
    /// Switches turned on, as if their variables were set.
    pub enable: Vec<String>,
    /// Run `publish = true` jobs for real instead of with `DRY_RUN=1`.
    pub publish: bool,
    /// `--matrix key=value` filters.
    pub matrix: Vec<(String, String)>,
    /// Run only the targets, not what they need (`--no-deps`): a generated
    /// CI workflow runs each need in a CI job of its own.
    pub no_deps: bool,
}

#[derive(Debug, Error, Diagnostic)]
pub enum PlanError {
    #[error("{} has no jobs", path.display())]
    #[diagnostic(
        code(parity::no_jobs),
        help("add one: a [jobs.build] table with run = \"cargo build\"")
    )]
    NoJobs { path: PathBuf },
    #[error("no job named `{name}`")]
    #[diagnostic(code(parity::unknown_job))]
    UnknownJob {
        name: String,
        #[help]
        help: Option<String>,
    },
    #[error("no profile named `{name}`")]
    #[diagnostic(code(parity::unknown_profile))]
    UnknownProfile {
        name: String,
        #[help]
        help: Option<String>,
    },
    #[error("`--enable {name}`: no job has `switch = \"{name}\"`")]
    #[diagnostic(code(parity::unknown_switch))]
    UnknownSwitch {
        name: String,
        #[help]
        help: Option<String>,
    },
    #[error("`--matrix {key}={value}` matches no job instance")]
    #[diagnostic(code(parity::matrix_filter))]
    MatrixFilter {
        key: String,
        value: String,
        #[help]
        help: String,
    },
}

/// One job instance as it will run.
#[derive(Debug, Clone)]
pub struct PlannedJob {
    pub name: String,
    /// The `[jobs.NAME]` it comes from.
    pub job: String,
    pub matrix: Combination,
    pub needs: Vec<usize>,
    /// Set when the job will not run, decided before anything starts.
    pub skip: Option<SkipReason>,
    /// Steps with matrix values filled in.
    pub steps: Vec<String>,
    pub shell: Vec<String>,
    /// The pipeline's and the job's env, with matrix values filled in.
    pub env: Vec<(String, String)>,
    pub timeout: Option<Duration>,
    pub cwd: PathBuf,
    pub services: Vec<String>,
    /// A `publish = true` job run without `--publish`: it gets `DRY_RUN=1`.
    pub dry_run: bool,
}

#[derive(Debug)]
pub struct Plan {
    pub jobs: Vec<PlannedJob>,
}

impl PlannedJob {
    /// A job that is not in `[jobs]` (a deploy's own steps), to run through
    /// the same scheduler and process control as pipeline jobs.
    pub fn standalone(
        name: &str,
        steps: Vec<String>,
        shell: Vec<String>,
        env: Vec<(String, String)>,
        cwd: PathBuf,
    ) -> PlannedJob {
        PlannedJob {
            name: name.to_owned(),
            job: name.to_owned(),
            matrix: Combination::default(),
            needs: Vec::new(),
            skip: None,
            steps,
            shell,
            env,
            timeout: None,
            cwd,
            services: Vec::new(),
            dry_run: false,
        }
    }
}

impl Plan {
    /// Resolves the selection. `ambient` is the environment switches are
    /// read from (the process env with the env files over it).
    pub fn new(
        pipeline: &Pipeline,
        options: &RunOptions,
        ambient: &IndexMap<String, String>,
    ) -> Result<Plan, PlanError> {
        // A pipeline of services alone is fine for `services up`; a run of
        // nothing is a mistake to point out, as make and just do.
        if pipeline.jobs.is_empty() {
            return Err(PlanError::NoJobs {
                path: pipeline.path.clone(),
            });
        }
        let graph = pipeline.instances();
        let profile = match &options.profile {
            Some(name) => Some((
                name.as_str(),
                pipeline
                    .profiles
                    .get(name)
                    .ok_or_else(|| PlanError::UnknownProfile {
                        name: name.clone(),
                        help: crate::pipeline::suggest(name, pipeline.profiles.keys())
                            .or_else(|| Some(profiles_here(pipeline))),
                    })?,
            )),
            None => None,
        };

        // A misspelt switch would leave its jobs skipped while the user
        // believes them on.
        let switches: Vec<&String> = pipeline
            .jobs
            .values()
            .filter_map(|job| job.switch.as_ref())
            .collect();
        if let Some(name) = options.enable.iter().find(|e| !switches.contains(e)) {
            return Err(PlanError::UnknownSwitch {
                name: name.clone(),
                help: Some(
                    crate::pipeline::suggest(name, switches.iter().copied()).unwrap_or_else(|| {
                        if switches.is_empty() {
                            "no job in this pipeline has a `switch`".to_owned()
                        } else {
                            "`parity list` shows each job's switch".to_owned()
                        }
                    }),
                ),
            });
        }

        let mut roots = Vec::new();
        let targets: Vec<&String> = if options.targets.is_empty() {
            profile
                .map(|(_, p)| p.only.iter().collect())
                .unwrap_or_default()
        } else {
            options.targets.iter().collect()
        };
        for target in &targets {
            let found = graph.lookup(target);
            if found.is_empty() {
                let names = graph.instances.iter().map(|i| &i.job);
                return Err(PlanError::UnknownJob {
                    name: (*target).clone(),
                    help: Some(
                        crate::pipeline::suggest(target, names)
                            .unwrap_or_else(|| "`parity list` shows the jobs".to_owned()),
                    ),
                });
            }
            roots.extend(found);
        }
        if targets.is_empty() {
            roots = (0..graph.instances.len()).collect();
        }
        for (key, value) in &options.matrix {
            let before = roots.len();
            roots.retain(|&i| matrix_keeps(pipeline, &graph.instances[i], key, value));
            let any_match = graph.instances.iter().any(|i| {
                i.matrix.get(key) == Some(value) || value.is_empty() && has_key(pipeline, i, key)
            });
            if !any_match || roots.is_empty() && before > 0 {
                return Err(PlanError::MatrixFilter {
                    key: key.clone(),
                    value: value.clone(),
                    help: if any_match {
                        format!("no instance left by the other filters and job names has `{key}={value}`; `parity list` shows the matrix instances")
                    } else {
                        matrix_help(&graph.instances, key)
                    },
                });
            }
        }
        let explicit: Vec<usize> = if options.targets.is_empty() {
            Vec::new()
        } else {
            roots.clone()
        };
        let mut selected = if options.no_deps {
            let mut only = vec![false; graph.instances.len()];
            roots.iter().for_each(|&i| only[i] = true);
            only
        } else {
            graph.closure(&roots)
        };
        // A matrix filter also applies to what the chosen jobs need.
        for (i, instance) in graph.instances.iter().enumerate() {
            if options
                .matrix
                .iter()
                .any(|(k, v)| instance.matrix.get(k).is_some_and(|have| have != v))
            {
                selected[i] = false;
            }
        }

        let order: Vec<usize> = (0..graph.instances.len())
            .filter(|&i| selected[i])
            .collect();
        // Where each chosen instance lands in the plan, for its needs.
        let mut at = vec![None; graph.instances.len()];
        for (position, &i) in order.iter().enumerate() {
            at[i] = Some(position);
        }
        let position = |i: usize| at[i];
        let switch_on = |name: &str| {
            options.enable.iter().any(|e| e == name)
                || profile.is_some_and(|(_, p)| p.enable.iter().any(|e| e == name))
                || ambient.get(name).is_some_and(|v| truthy(v))
        };
        let jobs = order
            .iter()
            .map(|&i| {
                let instance = &graph.instances[i];
                let job = &pipeline.jobs[&instance.job];
                let skip = if let Some((name, p)) =
                    profile.filter(|(_, p)| p.skip.contains(&instance.job))
                {
                    let _ = p;
                    Some(SkipReason::Profile(name.to_owned()))
                } else {
                    match &job.switch {
                        Some(switch) if !switch_on(switch) && !explicit.contains(&i) => {
                            Some(SkipReason::SwitchOff(switch.clone()))
                        }
                        _ => None,
                    }
                };
                let fill = |text: &str| {
                    render_partial(text, |name| {
                        instance.matrix.get(name.strip_prefix("matrix.")?).cloned()
                    })
                };
                let mut env: Vec<(String, String)> = pipeline
                    .env
                    .iter()
                    .chain(&job.env)
                    .map(|(k, v)| (k.clone(), fill(v)))
                    .collect();
                let dry_run = job.publish && !options.publish;
                if dry_run {
                    env.push(("DRY_RUN".into(), "1".into()));
                }
                PlannedJob {
                    name: instance.name.clone(),
                    job: instance.job.clone(),
                    matrix: instance.matrix.clone(),
                    needs: instance.needs.iter().filter_map(|&n| position(n)).collect(),
                    skip,
                    steps: job.steps.iter().map(|s| fill(s)).collect(),
                    shell: job.shell.clone(),
                    env,
                    timeout: job.timeout,
                    cwd: match &job.working_directory {
                        Some(dir) => pipeline.root.join(dir),
                        None => pipeline.root.clone(),
                    },
                    services: job.services.clone(),
                    dry_run,
                }
            })
            .collect();
        Ok(Plan { jobs })
    }
}

/// Whether `--matrix key=value` keeps an instance: instances of jobs whose
/// matrix has no `key` always stay; the others must have that value, and an
/// empty value selects the instances an `include` left without `key` (what
/// `${{ matrix.key }}` expands to for them in a generated workflow).
fn matrix_keeps(pipeline: &Pipeline, instance: &Instance, key: &str, value: &str) -> bool {
    match instance.matrix.get(key) {
        Some(have) => have == value,
        None => value.is_empty() || !has_key(pipeline, instance, key),
    }
}

/// What `--matrix KEY=…` could have said, when no instance has its value:
/// the values `key` takes, or the keys there are.
fn matrix_help(instances: &[Instance], key: &str) -> String {
    let mut values: Vec<&str> = Vec::new();
    let mut keys: Vec<&str> = Vec::new();
    for instance in instances {
        for (k, v) in &instance.matrix {
            let (seen, word) = if k == key {
                (&mut values, v.as_str())
            } else {
                (&mut keys, k.as_str())
            };
            if !seen.contains(&word) {
                seen.push(word);
            }
        }
    }
    let listed = |words: &[&str]| {
        words
            .iter()
            .map(|w| format!("`{w}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (values.is_empty(), keys.is_empty()) {
        (false, _) => format!("`{key}` takes {}", listed(&values)),
        (true, false) => format!("no matrix has `{key}`; the keys are {}", listed(&keys)),
        (true, true) => "no job has a matrix".to_owned(),
    }
}

fn has_key(pipeline: &Pipeline, instance: &Instance, key: &str) -> bool {
    pipeline
        .jobs
        .get(&instance.job)
        .and_then(|job| job.matrix.as_ref())
        .is_some_and(|matrix| matrix.keys().any(|k| k == key))
}

/// How CI systems and shells spell "on": anything but empty, 0, false, no, off.
pub(crate) fn truthy(value: &str) -> bool {
    let value = value.trim();
    !(value.is_empty()
        || value == "0"
        || ["false", "no", "off"]
            .iter()
            .any(|f| value.eq_ignore_ascii_case(f)))
}

/// The profiles a pipeline has, for a name that matches none.
fn profiles_here(pipeline: &Pipeline) -> String {
    if pipeline.profiles.is_empty() {
        return "this pipeline has no `[profiles.NAME]` table".to_owned();
    }
    let names: Vec<String> = pipeline.profiles.keys().map(|n| format!("`{n}`")).collect();
    format!("profiles here: {}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(text: &str) -> Pipeline {
        Pipeline::parse(std::path::Path::new("/repo/parity.toml"), text.to_owned()).unwrap()
    }

    const FILE: &str = r#"
version = 1
[jobs.lint]
run = "lint"
[jobs.test]
needs = ["lint"]
run = "test {{matrix.f}}"
matrix = { f = ["a", "b"] }
[jobs.integration]
needs = ["test"]
switch = "RUN_INTEGRATION"
run = "it"
[jobs.publish]
needs = ["integration"]
publish = true
run = "pub"
[profiles.fast]
skip = ["publish"]
"#;

    fn plan(options: RunOptions) -> Plan {
        Plan::new(&pipeline(FILE), &options, &IndexMap::new()).unwrap()
    }

    #[test]
    fn whole_pipeline_with_matrix_and_switch() {
        let plan = plan(RunOptions::default());
        let names: Vec<_> = plan.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(
            names,
            ["lint", "test (f=a)", "test (f=b)", "integration", "publish"]
        );
        assert_eq!(plan.jobs[1].steps, ["test a"]);
        assert_eq!(plan.jobs[3].needs, [1, 2]);
        assert_eq!(
            plan.jobs[3].skip,
            Some(SkipReason::SwitchOff("RUN_INTEGRATION".into()))
        );
        assert!(plan.jobs[4].env.contains(&("DRY_RUN".into(), "1".into())));
    }

    #[test]
    fn selection_pulls_in_needs_and_matrix_filter_applies() {
        let plan = plan(RunOptions {
            targets: vec!["integration".into()],
            matrix: vec![("f".into(), "b".into())],
            ..RunOptions::default()
        });
        let names: Vec<_> = plan.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["lint", "test (f=b)", "integration"]);
        assert_eq!(plan.jobs[2].skip, None, "named explicitly, so it runs");
    }

    #[test]
    fn profile_skips_and_unknown_names_fail() {
        let plan = plan(RunOptions {
            profile: Some("fast".into()),
            enable: vec!["RUN_INTEGRATION".into()],
            ..RunOptions::default()
        });
        assert_eq!(plan.jobs[4].skip, Some(SkipReason::Profile("fast".into())));
        assert_eq!(plan.jobs[3].skip, None);
        let err = Plan::new(
            &pipeline(FILE),
            &RunOptions {
                targets: vec!["tset".into()],
                ..RunOptions::default()
            },
            &IndexMap::new(),
        )
        .unwrap_err();
        assert!(matches!(err, PlanError::UnknownJob { help: Some(h), .. } if h.contains("`test`")));
    }

    #[test]
    fn no_deps_runs_only_the_named_instance() {
        let plan = plan(RunOptions {
            targets: vec!["test".into()],
            matrix: vec![("f".into(), "b".into())],
            no_deps: true,
            ..RunOptions::default()
        });
        let names: Vec<_> = plan.jobs.iter().map(|j| j.name.as_str()).collect();
        assert_eq!(names, ["test (f=b)"]);
        assert!(plan.jobs[0].needs.is_empty());
    }

    #[test]
    fn empty_matrix_value_selects_instances_without_the_key() {
        let file = r#"
version = 1
[jobs.t]
run = "t"
matrix = { v = ["1", "2"], w = ["a"], include = [{ v = "9" }, { v = "3", extra = "x" }] }
"#;
        let pick = |pairs: &[(&str, &str)]| {
            let options = RunOptions {
                targets: vec!["t".into()],
                matrix: pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                no_deps: true,
                ..RunOptions::default()
            };
            let plan = Plan::new(&pipeline(file), &options, &IndexMap::new()).unwrap();
            plan.jobs.into_iter().map(|j| j.name).collect::<Vec<_>>()
        };
        assert_eq!(
            pick(&[("v", "1"), ("w", "a"), ("extra", "")]),
            ["t (v=1, w=a)"]
        );
        assert_eq!(pick(&[("v", "9"), ("w", ""), ("extra", "")]), ["t (v=9)"]);
        assert_eq!(
            pick(&[("v", "3"), ("w", ""), ("extra", "x")]),
            ["t (v=3, extra=x)"]
        );
    }

    #[test]
    fn truthy_values() {
        for on in ["1", "true", "yes", "ON"] {
            assert!(truthy(on), "{on}");
        }
        for off in ["", "0", "false", "No", "off"] {
            assert!(!truthy(off), "{off}");
        }
    }
}

//! Getting a run ready for container mode: which planned jobs run in their
//! runner container, their images checked or built once each, the
//! services placed in containers started on the run's network, and each
//! job told how to reach them from where it runs.

use super::compose;
use super::image::{self, BuildOutput, Readiness, Wanted};
use super::sandbox::{ContainerSandbox, SandboxSettings};
use super::service::{self, Endpoint, Placement, ServiceContainers, ServicesMode};
use super::{caller_user, mount_root, sweep, ContainerError, Engine, Labels};
use crate::exec::Plan;
use crate::pipeline::placeholder::render_partial;
use crate::pipeline::{Pipeline, RunnerSource};
use crate::services::env_prefix;
use indexmap::IndexMap;
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// The command line's say in container mode.
#[derive(Debug, Clone, Copy, Default)]
pub struct ContainerOptions {
    /// `--container`, or a profile's `container = true`.
    pub container: bool,
    pub services: ServicesMode,
    /// `--rebuild`: build the runner image even when its tag exists.
    pub rebuild: bool,
}

/// A run ready for its containers. Dropping it removes the service
/// containers and the run's network.
pub struct Prepared {
    pub sandbox: Option<Arc<ContainerSandbox>>,
    pub services: Option<ServiceContainers>,
    /// Services left to the native services module.
    pub native: Vec<String>,
}

/// Whether job `name` of the pipeline runs in its container.
pub fn in_container(pipeline: &Pipeline, name: &str, options: &ContainerOptions) -> bool {
    match pipeline.jobs.get(name).and_then(|j| j.container) {
        Some(choice) => choice,
        None => options.container,
    }
}

/// Prepares `plan` for containers, filling in how its jobs reach
/// container services. Does nothing (and needs no engine) when no job
/// runs in a container and no service must.
pub fn prepare(
    pipeline: &Pipeline,
    plan: &mut Plan,
    options: &ContainerOptions,
    labels: &Labels,
    run_dir: &Path,
    ambient: &IndexMap<String, String>,
    say: &dyn Fn(&str),
) -> Result<Prepared, ContainerError> {
    let runnable: Vec<usize> = (0..plan.jobs.len())
        .filter(|&i| plan.jobs[i].skip.is_none())
        .collect();
    let boxed: Vec<bool> = (0..plan.jobs.len())
        .map(|i| runnable.contains(&i) && in_container(pipeline, &plan.jobs[i].job, options))
        .collect();
    let compose = match &pipeline.compose {
        Some(path) => compose::load(&pipeline.root.join(path))?,
        None => IndexMap::new(),
    };
    let wanted_services: Vec<String> = runnable
        .iter()
        .flat_map(|&i| plan.jobs[i].services.iter().cloned())
        .collect();
    let order = service::start_order(pipeline, &wanted_services);

    // A Dockerfile runner's first engine call is the image check, which
    // answers "is the daemon up" too (a failed check pings before building):
    // one round trip fewer per run, the cheapest part of the overhead budget.
    let dockerfile_runner = matches!(
        pipeline.runner.as_ref().map(|r| &r.source),
        Some(RunnerSource::Dockerfile { .. })
    );
    let mut engine: Option<Engine> = None;
    let engine_for = |engine: &mut Option<Engine>| -> Result<Engine, ContainerError> {
        if let Some(e) = engine {
            return Ok(e.clone());
        }
        let found = Engine::find()?;
        if !dockerfile_runner {
            found.ping()?;
        }
        if super::sweep::needed(&pipeline.root) {
            sweep(&found, &pipeline.root);
        }
        *engine = Some(found.clone());
        Ok(found)
    };
    if boxed.iter().any(|b| *b) {
        engine_for(&mut engine)?;
    }
    // Asked at most once, and only for a service that cannot run natively:
    // a plain run with native services never waits on an engine.
    let mut answers: Option<bool> = engine.as_ref().map(|_| true);
    let mut placed: Vec<(String, Placement)> = Vec::new();
    for name in &order {
        let native = pipeline
            .services
            .get(name)
            .is_some_and(service::native_available);
        let available = match options.services {
            ServicesMode::Container => true,
            ServicesMode::Native => false,
            ServicesMode::Auto if native => false,
            ServicesMode::Auto => *answers.get_or_insert_with(|| Engine::detect().is_ok()),
        };
        placed.push((
            name.clone(),
            service::place(pipeline, &compose, name, options.services, available)?,
        ));
    }
    let native: Vec<String> = placed
        .iter()
        .filter(|(_, p)| matches!(p, Placement::Native))
        .map(|(n, _)| n.clone())
        .collect();
    let needs_services = placed
        .iter()
        .any(|(_, p)| matches!(p, Placement::Container(_)));
    if !needs_services && !boxed.iter().any(|b| *b) {
        return Ok(Prepared {
            sandbox: None,
            services: None,
            native,
        });
    }
    let engine = engine_for(&mut engine)?;
    if needs_services && dockerfile_runner {
        engine.ping()?;
    }

    // Images: one check (or build) per distinct image.
    let mut images: Vec<Option<String>> = vec![None; plan.jobs.len()];
    let mut checked: Vec<Wanted> = Vec::new();
    for (i, job) in plan.jobs.iter().enumerate() {
        if !boxed[i] {
            continue;
        }
        let wanted = Wanted::for_instance(pipeline, &job.matrix)?;
        if !checked.contains(&wanted) {
            ensure(&engine, &wanted, options.rebuild, run_dir, say)?;
            checked.push(wanted.clone());
        }
        images[i] = Some(wanted.reference().to_owned());
    }

    let mut services = None;
    if needs_services {
        let mut started = ServiceContainers::new(
            &engine,
            format!("parity-{}", service::sanitize(&labels.run)),
        );
        for (_, placement) in &placed {
            if let Placement::Container(definition) = placement {
                started.start(definition, labels, run_dir, say)?;
            }
        }
        let outside: IndexMap<String, Endpoint> = started
            .running
            .iter()
            .map(|r| (r.service.name.clone(), r.outside.clone()))
            .collect();
        let inside: IndexMap<String, Endpoint> = started
            .running
            .iter()
            .map(|r| (r.service.name.clone(), r.inside.clone()))
            .collect();
        for (i, job) in plan.jobs.iter_mut().enumerate() {
            let view = if boxed[i] { &inside } else { &outside };
            let fill = |text: &str| {
                render_partial(text, |name| {
                    let (svc, field) = name.strip_prefix("services.")?.split_once('.')?;
                    view.get(svc)?.field(field)
                })
            };
            for step in &mut job.steps {
                *step = fill(step);
            }
            for (_, value) in &mut job.env {
                *value = fill(value);
            }
            for name in &job.services {
                if let Some(endpoint) = view.get(name) {
                    let prefix = env_prefix(name);
                    job.env
                        .push((format!("{prefix}_HOST"), endpoint.host.clone()));
                    job.env
                        .push((format!("{prefix}_PORT"), endpoint.port.to_string()));
                    job.env
                        .push((format!("{prefix}_URL"), endpoint.url.clone()));
                }
            }
        }
        services = Some(started);
    }

    let sandbox = if boxed.iter().any(|b| *b) {
        let runner = pipeline.runner.as_ref().ok_or(ContainerError::NoRunner)?;
        let socket = if runner.mount_docker_socket {
            match engine.socket() {
                Some(path) => {
                    let group = std::fs::metadata(&path).ok().map(|m| m.gid());
                    let mine = nix::unistd::getgid().as_raw();
                    Some((path, group.filter(|g| *g != mine)))
                }
                None => {
                    say("the engine is not reached through a socket file here; `mount_docker_socket` is ignored");
                    None
                }
            }
        } else {
            None
        };
        let settings = SandboxSettings {
            engine: engine.clone(),
            labels: labels.clone(),
            mount: mount_root(&pipeline.root),
            network: services.as_ref().map(|s| s.network.clone()),
            user: Some(caller_user()),
            socket,
            gpus: runner.gpus.clone(),
            passthrough: passthrough(pipeline, ambient),
        };
        Some(Arc::new(ContainerSandbox::new(
            settings,
            images,
            vec![Vec::new(); plan.jobs.len()],
        )))
    } else {
        None
    };
    Ok(Prepared {
        sandbox,
        services,
        native,
    })
}

/// Checks the image and builds it when needed, saying so.
fn ensure(
    engine: &Engine,
    wanted: &Wanted,
    rebuild: bool,
    run_dir: &Path,
    say: &dyn Fn(&str),
) -> Result<(), ContainerError> {
    let Wanted::Built(build) = wanted else {
        return Ok(());
    };
    if rebuild || !image::exists(engine, &build.tag) {
        engine.ping()?;
        let log = run_dir.join(format!("image-{}.log", &build.hash[..16]));
        say(&format!(
            "building runner image {} (log: {})",
            build.tag,
            log.display()
        ));
        let started = Instant::now();
        if image::ensure(engine, wanted, true, BuildOutput::Log(&log))? == Readiness::Built {
            say(&format!(
                "built {} in {:.1}s",
                build.tag,
                started.elapsed().as_secs_f64()
            ));
        }
    }
    Ok(())
}

/// Host variables container jobs get: `CI`, the CI system's flags, declared
/// secrets and job switches, which steps on the host see too.
fn passthrough(pipeline: &Pipeline, ambient: &IndexMap<String, String>) -> Vec<(String, String)> {
    let mut names: Vec<&str> = vec!["CI", "GITHUB_ACTIONS", "GITEA_ACTIONS", "GITLAB_CI"];
    names.extend(pipeline.secrets.required.iter().map(String::as_str));
    names.extend(pipeline.secrets.optional.iter().map(String::as_str));
    names.extend(pipeline.jobs.values().filter_map(|j| j.switch.as_deref()));
    names
        .into_iter()
        .filter_map(|n| ambient.get(n).map(|v| (n.to_owned(), v.clone())))
        .collect()
}

//! The services of one `parity run`, shared by its jobs.
//!
//! A job's services (with what they need) start before its first step; a
//! service several jobs use starts once, for the first of them, under a
//! per-service lock so two jobs never start it twice. Each service stops,
//! dependents first, once the last planned job using it has finished or
//! been skipped, and whatever still runs stops when the run ends.

use super::launch::{self, Running, StartContext};
use super::leftovers::{ActiveRun, RecordedService};
use super::log::{tail, TAIL_LINES};
use super::spec::Specs;
use super::values::{redact_url, ServiceValues};
use super::ServiceError;
use crate::exec::Plan;
use crate::pipeline::Pipeline;
use crate::secrets::SecretSet;
use indexmap::IndexMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

enum Slot {
    Idle,
    Up(Box<Running>),
    /// Failed to start; later jobs fail with the same reason instead of
    /// waiting through the same timeout again.
    Failed(String),
    Stopped,
}

/// A service that did not start, with the end of its log.
#[derive(Debug)]
pub struct StartFailure {
    pub service: String,
    pub error: ServiceError,
    pub log: PathBuf,
    pub tail: Vec<String>,
}

/// When a service of the run started, answered its readiness probe and
/// stopped: the services' bars on the run's timeline.
#[derive(Debug, Clone)]
pub struct Lifetime {
    pub name: String,
    /// `postgres`, `redis`, `command` or `image`.
    pub kind: &'static str,
    pub port: Option<u16>,
    pub started: Instant,
    /// `None`: it never became ready.
    pub ready: Option<Instant>,
    /// `None`: still running when asked.
    pub stopped: Option<Instant>,
    pub log: PathBuf,
}

/// The services of one run.
pub struct ServicePool {
    specs: Specs,
    /// Every service in dependency order: stops go in reverse.
    order: Vec<String>,
    root: PathBuf,
    log_dir: PathBuf,
    env: Vec<(String, String)>,
    secrets: SecretSet,
    run_id: String,
    slots: IndexMap<String, Mutex<Slot>>,
    /// Per planned job: its services with their needs, dependencies first.
    closures: Vec<Vec<String>>,
    /// Per planned job: whether it still holds its services.
    holds: Mutex<Vec<bool>>,
    /// Per service: jobs that hold it.
    users: Mutex<IndexMap<String, usize>>,
    stoppers: Mutex<Vec<JoinHandle<()>>>,
    active: Option<ActiveRun>,
    lifetimes: Mutex<Vec<Lifetime>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl ServicePool {
    /// `run_dir` is `.parity/runs/<id>`; logs go to its `services/`. `env`
    /// is what every service gets under its own env (env files, parity's
    /// variables). `native`: the services this pool may start (`None`: all).
    /// Records the run under `.parity/active/` until `shutdown`.
    pub fn new(
        pipeline: &Pipeline,
        plan: &Plan,
        run_dir: &Path,
        run_id: &str,
        env: Vec<(String, String)>,
        secrets: SecretSet,
        native: Option<&[String]>,
    ) -> Result<ServicePool, ServiceError> {
        let specs = Specs::of(pipeline);
        let order = specs.closure(&specs.names())?;
        let mut closures = Vec::new();
        let mut users: IndexMap<String, usize> = order.iter().map(|n| (n.clone(), 0)).collect();
        let mut holds = Vec::new();
        for job in &plan.jobs {
            let mut closure = specs.closure(&job.services)?;
            // Services placed in containers were started (and filled into the
            // plan) by the container module.
            if let Some(native) = native {
                closure.retain(|name| native.contains(name));
            }
            let holding = job.skip.is_none() && !closure.is_empty();
            if holding {
                for name in &closure {
                    *users.entry(name.clone()).or_default() += 1;
                }
            }
            holds.push(holding);
            closures.push(closure);
        }
        let mut all_env: Vec<(String, String)> = pipeline
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all_env.extend(env);
        let active = ActiveRun::create(&pipeline.root, run_id).map_err(|e| {
            ServiceError::io(
                "cannot record the run under",
                pipeline.root.join(crate::report::STATE_DIR),
                e,
            )
        })?;
        Ok(ServicePool {
            slots: order
                .iter()
                .map(|n| (n.clone(), Mutex::new(Slot::Idle)))
                .collect(),
            specs,
            order,
            root: pipeline.root.clone(),
            log_dir: run_dir.join("services"),
            env: all_env,
            secrets,
            run_id: run_id.to_owned(),
            closures,
            holds: Mutex::new(holds),
            users: Mutex::new(users),
            stoppers: Mutex::new(Vec::new()),
            active: Some(active),
            lifetimes: Mutex::new(Vec::new()),
        })
    }

    /// Starts what job `job` needs (each wave of independent services at
    /// once) and returns their values. `cancel` is polled while waiting;
    /// `note` hears progress lines.
    pub fn acquire(
        &self,
        job: usize,
        cancel: &(dyn Fn() -> bool + Sync),
        note: &(dyn Fn(&str) + Sync),
    ) -> Result<ServiceValues, Box<StartFailure>> {
        let Some(closure) = self.closures.get(job) else {
            return Ok(ServiceValues::default());
        };
        for wave in self.specs.waves(closure) {
            let results: Vec<Result<(), Box<StartFailure>>> = std::thread::scope(|scope| {
                let handles: Vec<_> = wave
                    .iter()
                    .map(|name| scope.spawn(move || self.ensure(name, cancel, note)))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(self.failure("?", ServiceError::Interrupted { name: "?".into() }))
                        })
                    })
                    .collect()
            });
            if let Some(failure) = results.into_iter().find_map(Result::err) {
                return Err(failure);
            }
        }
        Ok(self.values(closure))
    }

    fn values(&self, names: &[String]) -> ServiceValues {
        let mut values = ServiceValues::default();
        for name in names {
            if let Some(slot) = self.slots.get(name) {
                if let Slot::Up(running) = &*lock(slot) {
                    values.0.insert(name.clone(), running.values.clone());
                }
            }
        }
        values
    }

    fn ensure(
        &self,
        name: &str,
        cancel: &dyn Fn() -> bool,
        note: &dyn Fn(&str),
    ) -> Result<(), Box<StartFailure>> {
        let (Some(slot), Ok(spec)) = (self.slots.get(name), self.specs.get(name)) else {
            return Ok(());
        };
        let others = self.values(&spec.needs);
        let mut slot = lock(slot);
        match &*slot {
            Slot::Up(_) => return Ok(()),
            Slot::Failed(reason) => {
                let error = ServiceError::Setup {
                    name: name.to_owned(),
                    step: "starting it for an earlier job".into(),
                    detail: reason.clone(),
                };
                return Err(self.failure(name, error));
            }
            Slot::Stopped => {
                let error = ServiceError::Setup {
                    name: name.to_owned(),
                    step: "starting it".into(),
                    detail: "it was already stopped for this run".into(),
                };
                return Err(self.failure(name, error));
            }
            Slot::Idle => {}
        }
        note(&format!("parity: starting service {name}"));
        let started = Instant::now();
        let ctx = StartContext {
            root: &self.root,
            log_dir: &self.log_dir,
            env: &self.env,
            secrets: &self.secrets,
            tag: &self.run_id,
            detached: false,
        };
        let kind = match &spec.kind {
            crate::pipeline::ServiceKind::Preset(crate::pipeline::Preset::Postgres) => "postgres",
            crate::pipeline::ServiceKind::Preset(crate::pipeline::Preset::Redis) => "redis",
            crate::pipeline::ServiceKind::Command(_) => "command",
            crate::pipeline::ServiceKind::Image(_) => "image",
        };
        let result = launch::start(spec, &others, &ctx, cancel);
        lock(&self.lifetimes).push(Lifetime {
            name: name.to_owned(),
            kind,
            port: result.as_ref().ok().map(|r| r.values.port),
            started,
            ready: result.is_ok().then(Instant::now),
            stopped: None,
            log: launch::log_path(&self.log_dir, name),
        });
        match result {
            Ok(running) => {
                note(&format!(
                    "parity: service {name} ready at {} in {}",
                    self.secrets.mask_str(&redact_url(&running.values.url)),
                    crate::report::short_duration(started.elapsed())
                ));
                if let Some(active) = &self.active {
                    active.add(RecordedService {
                        name: name.to_owned(),
                        identity: running.identity.clone(),
                        marker: running.marker.clone(),
                        temp_dir: running.temp_dir.clone(),
                    });
                }
                *slot = Slot::Up(Box::new(running));
                Ok(())
            }
            Err(error) => {
                if !matches!(error, ServiceError::Interrupted { .. }) {
                    *slot = Slot::Failed(error.to_string());
                }
                Err(self.failure(name, error))
            }
        }
    }

    fn failure(&self, name: &str, error: ServiceError) -> Box<StartFailure> {
        let log = launch::log_path(&self.log_dir, name);
        Box::new(StartFailure {
            service: name.to_owned(),
            tail: tail(&log, TAIL_LINES, &self.secrets),
            log,
            error,
        })
    }

    /// The end of each of the job's services' logs: shown when it fails.
    pub fn tails(&self, job: usize) -> Vec<(String, PathBuf, Vec<String>)> {
        self.closures
            .get(job)
            .into_iter()
            .flatten()
            .map(|name| {
                let log = launch::log_path(&self.log_dir, name);
                let lines = tail(&log, TAIL_LINES, &self.secrets);
                (name.clone(), log, lines)
            })
            .filter(|(_, log, _)| log.exists())
            .collect()
    }

    /// Job `job` is done (finished or skipped): services no other pending
    /// job uses stop, in the background so the scheduler does not wait.
    pub fn release(self: &std::sync::Arc<Self>, job: usize) {
        {
            let mut holds = lock(&self.holds);
            match holds.get_mut(job) {
                Some(held) if *held => *held = false,
                _ => return,
            }
        }
        let mut idle = Vec::new();
        {
            let mut users = lock(&self.users);
            for name in &self.closures[job] {
                if let Some(count) = users.get_mut(name) {
                    *count = count.saturating_sub(1);
                    if *count == 0 {
                        idle.push(name.clone());
                    }
                }
            }
        }
        if idle.is_empty() {
            return;
        }
        let pool = std::sync::Arc::clone(self);
        if let Ok(handle) = std::thread::Builder::new()
            .name("parity-service-stop".into())
            .spawn(move || pool.stop(&idle))
        {
            lock(&self.stoppers).push(handle);
        }
    }

    /// Each service started so far: when it started, was ready, stopped.
    pub fn lifetimes(&self) -> Vec<Lifetime> {
        lock(&self.lifetimes).clone()
    }

    /// Stops the named services, dependents first.
    fn stop(&self, names: &[String]) {
        for name in self.order.iter().rev().filter(|n| names.contains(n)) {
            let Some(slot) = self.slots.get(name) else {
                continue;
            };
            let mut slot = lock(slot);
            if let Slot::Up(running) = std::mem::replace(&mut *slot, Slot::Stopped) {
                running.stop();
                if let Some(life) = lock(&self.lifetimes)
                    .iter_mut()
                    .rev()
                    .find(|l| &l.name == name)
                {
                    life.stopped = Some(Instant::now());
                }
                if let Some(active) = &self.active {
                    active.remove(name);
                }
            }
        }
    }

    /// The end of the run: waits for background stops, then stops whatever
    /// still runs (interrupted, timed out) and drops the run's record.
    pub fn shutdown(&self) {
        let stoppers = std::mem::take(&mut *lock(&self.stoppers));
        for handle in stoppers {
            let _ = handle.join();
        }
        self.stop(&self.order.clone());
        if let Some(active) = &self.active {
            active.finish();
        }
    }

    /// SIGKILL to every running service at once: the second Ctrl-C. Slots
    /// busy starting are skipped; their start sees the interruption.
    pub fn kill(&self) {
        for slot in self.slots.values() {
            if let Ok(slot) = slot.try_lock() {
                if let Slot::Up(running) = &*slot {
                    running.kill_now();
                }
            }
        }
    }
}

//! `parity services up/down/status/logs`: the pipeline's services for local
//! development, left running between commands and found again through
//! their state files.

use super::identity::Identity;
use super::launch::{self, stop_process, StartContext};
use super::log::{tail, TAIL_LINES};
use super::pool::StartFailure;
use super::probe::Prober;
use super::spec::Specs;
use super::state::{self, ServiceState};
use super::values::{redact_url, ServiceValues};
use super::ServiceError;
use crate::exec::{terminate, Target, GRACE};
use crate::pipeline::Pipeline;
use crate::secrets::SecretSet;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::SigId;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The pipeline's services as seen from one repository.
pub struct LocalServices {
    specs: Specs,
    root: PathBuf,
    env: Vec<(String, String)>,
    secrets: SecretSet,
}

/// One line of `parity services status`.
#[derive(Debug)]
pub struct Status {
    pub name: String,
    pub state: Health,
    pub pid: Option<i32>,
    pub url: Option<String>,
    pub uptime: Option<Duration>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Health {
    /// Running and its readiness check passes now.
    Ready,
    /// Running, but the check fails now; says what it saw.
    NotReady(String),
    Stopped,
    /// The recorded pid now belongs to another program (or the machine
    /// rebooted): the state was dropped, nothing was signalled.
    Stale,
}

impl LocalServices {
    pub fn new(
        pipeline: &Pipeline,
        env: Vec<(String, String)>,
        secrets: SecretSet,
    ) -> LocalServices {
        let mut all_env: Vec<(String, String)> = pipeline
            .env
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        all_env.extend(env);
        LocalServices {
            specs: Specs::of(pipeline),
            root: pipeline.root.clone(),
            env: all_env,
            secrets,
        }
    }

    pub fn secrets(&self) -> &SecretSet {
        &self.secrets
    }

    fn dir(&self) -> Result<PathBuf, ServiceError> {
        state::dir(&self.root)
            .map_err(|e| ServiceError::io("cannot create", self.root.join(".parity/services"), e))
    }

    fn selection(&self, names: &[String]) -> Result<Vec<String>, ServiceError> {
        if names.is_empty() {
            self.specs.closure(&self.specs.names())
        } else {
            self.specs.closure(names)
        }
    }

    /// A recorded service that still runs; stale records are dropped.
    fn running(&self, dir: &Path, name: &str) -> Option<ServiceState> {
        let state = state::load(dir, name)?;
        if state.identity.alive() {
            Some(state)
        } else {
            state::remove(dir, name);
            None
        }
    }

    /// Starts the named services (default: all) and what they need, each
    /// wave at once; those already running are kept. `out` hears one line
    /// per service. Ctrl-C, SIGTERM or SIGHUP stop the services not yet
    /// ready, which no state records yet, so nothing could stop them later;
    /// those already ready stay up.
    pub fn up(
        &self,
        names: &[String],
        out: &(dyn Fn(&str) + Sync),
    ) -> Result<(), Box<StartFailure>> {
        let fail = |name: &str, error: ServiceError| {
            Box::new(StartFailure {
                service: name.to_owned(),
                error,
                log: PathBuf::new(),
                tail: Vec::new(),
            })
        };
        let order = self.selection(names).map_err(|e| fail("", e))?;
        let dir = self.dir().map_err(|e| fail("", e))?;
        let tag = format!("up-{}", std::process::id());
        let interrupted = Interruption::listen().map_err(|e| {
            fail(
                "",
                ServiceError::io("cannot listen for signals in", &dir, e),
            )
        })?;
        let cancel = || interrupted.happened();
        for wave in self.specs.waves(&order) {
            if let Some(next) = wave.first().filter(|_| interrupted.happened()) {
                return Err(fail(next, ServiceError::Interrupted { name: next.clone() }));
            }
            let results: Vec<Result<(), Box<StartFailure>>> = std::thread::scope(|scope| {
                let handles: Vec<_> = wave
                    .iter()
                    .map(|name| {
                        let (dir, tag) = (&dir, &tag);
                        let cancel = &cancel;
                        scope.spawn(move || self.up_one(name, dir, tag, cancel, out))
                    })
                    .collect();
                handles
                    .into_iter()
                    .map(|h| {
                        h.join().unwrap_or_else(|_| {
                            Err(fail("?", ServiceError::Interrupted { name: "?".into() }))
                        })
                    })
                    .collect()
            });
            if let Some(failure) = results.into_iter().find_map(Result::err) {
                return Err(failure);
            }
        }
        Ok(())
    }

    fn up_one(
        &self,
        name: &str,
        dir: &Path,
        tag: &str,
        cancel: &dyn Fn() -> bool,
        out: &(dyn Fn(&str) + Sync),
    ) -> Result<(), Box<StartFailure>> {
        let log = launch::log_path(dir, name);
        let failure = |error: ServiceError| {
            Box::new(StartFailure {
                service: name.to_owned(),
                tail: tail(&log, TAIL_LINES, &self.secrets),
                log: log.clone(),
                error,
            })
        };
        if let Some(state) = self.running(dir, name) {
            out(&format!(
                "{name}: already running (pid {}) at {}",
                state.identity.pid,
                self.secrets.mask_str(&redact_url(&state.values.url))
            ));
            return Ok(());
        }
        let spec = self.specs.get(name).map_err(failure)?;
        let mut others = ServiceValues::default();
        for need in &spec.needs {
            if let Some(state) = state::load(dir, need) {
                others.0.insert(need.clone(), state.values);
            }
        }
        let ctx = StartContext {
            root: &self.root,
            log_dir: dir,
            env: &self.env,
            secrets: &self.secrets,
            tag,
            detached: true,
        };
        let started = Instant::now();
        let running = launch::start(spec, &others, &ctx, cancel).map_err(failure)?;
        let record = ServiceState {
            name: name.to_owned(),
            identity: running.identity.clone(),
            marker: running.marker.clone(),
            values: running.values.clone(),
            log: running.log.clone(),
            temp_dir: running.temp_dir.clone(),
            started: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
            check: running.check.clone(),
            probe_env: running.probe_env.clone(),
            probe_cwd: running.probe_cwd.clone(),
            relay: running.relay(),
        };
        if let Err(e) = state::save(dir, &record) {
            running.stop();
            return Err(failure(ServiceError::io(
                "cannot record the service in",
                dir,
                e,
            )));
        }
        out(&format!(
            "{name}: ready in {} at {} (pid {})",
            crate::report::short_duration(started.elapsed()),
            self.secrets.mask_str(&redact_url(&record.values.url)),
            record.identity.pid
        ));
        running.detach();
        Ok(())
    }

    /// Stops the named services (default: all recorded ones) and every
    /// running service that needs them, dependents first.
    pub fn down(&self, names: &[String], out: &dyn Fn(&str)) -> Result<(), ServiceError> {
        let dir = self.dir()?;
        let all = self.specs.closure(&self.specs.names())?;
        let chosen: Vec<String> = if names.is_empty() {
            all.clone()
        } else {
            for name in names {
                self.specs.get(name)?;
            }
            // A service goes down with everything that needs it.
            all.iter()
                .filter(|candidate| {
                    self.specs
                        .closure(&[(*candidate).clone()])
                        .is_ok_and(|needs| needs.iter().any(|n| names.contains(n)))
                })
                .cloned()
                .collect()
        };
        let mut recorded_any = false;
        for name in all.iter().rev().filter(|n| chosen.contains(n)) {
            let Some(recorded) = state::load(&dir, name) else {
                continue;
            };
            recorded_any = true;
            if recorded.identity.alive() {
                stop_process(recorded.identity.pid, &recorded.marker, None, None);
                out(&format!("{name}: stopped (pid {})", recorded.identity.pid));
            } else if recorded.identity.reused() {
                out(&format!(
                    "{name}: pid {} now belongs to another program; left it alone and forgot the stale state",
                    recorded.identity.pid
                ));
            } else {
                out(&format!("{name}: was not running"));
            }
            if let Some(relay) = &recorded.relay {
                finish_relay(relay);
            }
            if let Some(temp) = &recorded.temp_dir {
                let _ = std::fs::remove_dir_all(temp);
            }
            state::remove(&dir, name);
        }
        if !recorded_any {
            out(&match names {
                [] => "nothing to stop: no service is up".to_owned(),
                [one] => format!("nothing to stop: {one} is not up"),
                _ => format!("nothing to stop: none of {} is up", names.join(", ")),
            });
        }
        Ok(())
    }

    /// Every service of the pipeline, with its health checked now.
    pub fn status(&self) -> Result<Vec<Status>, ServiceError> {
        let dir = self.dir()?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut rows = Vec::new();
        for name in self.specs.names() {
            let row = match state::load(&dir, &name) {
                None => Status {
                    name,
                    state: Health::Stopped,
                    pid: None,
                    url: None,
                    uptime: None,
                },
                Some(recorded) if !recorded.identity.alive() => {
                    let stale = recorded.identity.reused()
                        || recorded.identity.boot_id
                            != Identity::me().map(|m| m.boot_id).unwrap_or_default();
                    state::remove(&dir, &name);
                    Status {
                        name,
                        state: if stale {
                            Health::Stale
                        } else {
                            Health::Stopped
                        },
                        pid: None,
                        url: None,
                        uptime: None,
                    }
                }
                Some(recorded) => {
                    let mut prober = Prober::new(
                        recorded.check.clone(),
                        &recorded.log,
                        recorded.probe_env.clone(),
                        recorded.probe_cwd.clone(),
                    );
                    let state = match prober.attempt(Duration::from_secs(2)) {
                        Ok(()) => Health::Ready,
                        Err(seen) => Health::NotReady(seen),
                    };
                    Status {
                        name,
                        state,
                        pid: Some(recorded.identity.pid),
                        url: Some(self.secrets.mask_str(&redact_url(&recorded.values.url))),
                        uptime: Some(Duration::from_secs(now.saturating_sub(recorded.started))),
                    }
                }
            };
            rows.push(row);
        }
        Ok(rows)
    }

    /// The log of `name`: the one `services up` writes, else the one from
    /// the latest `parity run`.
    pub fn log_path(&self, name: &str) -> Result<PathBuf, ServiceError> {
        self.specs.get(name)?;
        let up = launch::log_path(&self.dir()?, name);
        let latest = launch::log_path(
            &self
                .root
                .join(crate::report::STATE_DIR)
                .join("runs/latest/services"),
            name,
        );
        Ok(if !up.exists() && latest.exists() {
            latest
        } else {
            up
        })
    }
}
/// SIGINT, SIGTERM and SIGHUP as a flag while `services up` starts
/// services, instead of the end of parity (and of what would stop them).
struct Interruption {
    flag: Arc<AtomicBool>,
    handlers: Vec<SigId>,
}

impl Interruption {
    fn listen() -> std::io::Result<Interruption> {
        let flag = Arc::new(AtomicBool::new(false));
        let handlers = [SIGINT, SIGTERM, SIGHUP]
            .into_iter()
            .map(|signal| signal_hook::flag::register(signal, Arc::clone(&flag)))
            .collect::<Result<_, _>>()?;
        Ok(Interruption { flag, handlers })
    }

    fn happened(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }
}

impl Drop for Interruption {
    fn drop(&mut self) {
        for handler in self.handlers.drain(..) {
            signal_hook::low_level::unregister(handler);
        }
    }
}

/// Waits for a stopped service's relay to write the last lines and end,
/// which it does once nothing can write to its pipe; stops it after a
/// while if something the service started elsewhere still holds the pipe.
fn finish_relay(relay: &Identity) {
    let deadline = Instant::now() + Duration::from_secs(1);
    while relay.alive() {
        if Instant::now() >= deadline {
            terminate(&[Target::process(relay.pid)], GRACE);
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

//! One job on its own thread: steps in order, one process group each, and at
//! the end every process the job left behind is stopped.

use super::logbook::JobLog;
use super::outcome::{Outcome, StepEnd};
use super::output::{JobSink, Pump, StepOutput};
use super::plan::PlannedJob;
use super::process::{self, StepCommand, StepProcess, Target};
use super::reaper::{self, MARKER_VAR};
use super::sandbox::{Enclosure, Sandbox};
use super::Observer;
use crate::secrets::SecretSet;
use crate::services::ServicePool;
use std::os::fd::AsFd;
use std::os::unix::process::ExitStatusExt;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Why the scheduler stopped a running job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    TimedOut(Duration),
    /// Another job failed (fail-fast).
    Cancelled,
    Interrupted,
}

/// The scheduler's handle on a running job.
#[derive(Default)]
pub(crate) struct JobControl {
    stop: Mutex<Option<Stop>>,
    /// The running step's shell, leader of its process group.
    current: Mutex<Option<i32>>,
    /// The job's first step pid: its leftovers all have larger pids.
    first_pid: AtomicI32,
    /// The last step to end left parity with no child process at all:
    /// nothing of the job's can be left.
    left_alone: AtomicBool,
    /// The process group of every step that ended: a leftover that
    /// cleared its environment (`env -i`) is still found in its step's group.
    groups: Mutex<Vec<Target>>,
    marker: String,
    /// The job's container, when it runs in one: stopping the job stops it.
    enclosure: Mutex<Option<Arc<dyn Enclosure>>>,
}

impl JobControl {
    pub(crate) fn new(marker: String) -> Arc<Self> {
        Arc::new(JobControl {
            marker,
            ..JobControl::default()
        })
    }

    /// Stops the job: SIGTERM to its running step and anything it started,
    /// SIGKILL after the grace period. The first reason given wins.
    pub(crate) fn stop(self: &Arc<Self>, reason: Stop) {
        {
            let mut stop = lock(&self.stop);
            if stop.is_some() {
                return;
            }
            *stop = Some(reason);
        }
        let control = Arc::clone(self);
        // The grace period must not hold up the scheduler.
        let _ = std::thread::Builder::new()
            .name("parity-stop".into())
            .spawn(move || {
                if let Some(enclosure) = control.enclosure() {
                    enclosure.kill();
                }
                process::terminate(&control.targets(), process::GRACE)
            });
    }

    /// SIGKILL now: the second Ctrl-C.
    pub(crate) fn kill(&self) {
        if let Some(enclosure) = self.enclosure() {
            enclosure.kill();
        }
        process::kill_now(&self.targets());
    }

    fn enclosure(&self) -> Option<Arc<dyn Enclosure>> {
        lock(&self.enclosure).clone()
    }

    fn stopped(&self) -> Option<Stop> {
        *lock(&self.stop)
    }

    fn targets(&self) -> Vec<Target> {
        let mut targets: Vec<Target> = lock(&self.current).map(Target::group).into_iter().collect();
        targets.extend(self.leftovers().iter().map(|p| Target::process(p.pid)));
        targets
    }

    fn leftovers(&self) -> Vec<reaper::ProcInfo> {
        match self.first_pid.load(Ordering::Relaxed) {
            0 => Vec::new(),
            first => reaper::leftovers(&self.marker, first, &lock(&self.groups)),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Everything a job thread needs.
pub(crate) struct JobRun<'a> {
    pub(crate) index: usize,
    pub(crate) job: &'a PlannedJob,
    /// Env-file values and parity's own variables, under the job's env.
    pub(crate) base_env: &'a [(String, String)],
    pub(crate) secrets: SecretSet,
    pub(crate) log: JobLog,
    pub(crate) observer: Arc<dyn Observer>,
    pub(crate) control: Arc<JobControl>,
    /// The run's native services; the job's start before its first step.
    pub(crate) services: Option<Arc<ServicePool>>,
    pub(crate) sandbox: Option<Arc<dyn Sandbox>>,
}

impl JobRun<'_> {
    pub(crate) fn run(self) -> Outcome {
        let sink = JobSink::new(
            self.index,
            self.log.clone(),
            Arc::clone(&self.observer),
            self.secrets.clone(),
        );
        let mut env = Vec::with_capacity(self.base_env.len() + self.job.env.len() + 2);
        env.extend_from_slice(self.base_env);
        env.push(("PARITY_JOB".into(), self.job.name.clone()));
        env.extend_from_slice(&self.job.env);
        env.push((MARKER_VAR.into(), self.control.marker.clone()));
        let steps = match self.with_services(&sink, &mut env) {
            Ok(steps) => steps,
            Err(outcome) => {
                self.service_tails(&sink);
                sink.close();
                return self.settle(outcome);
            }
        };
        if let Some(sandbox) = self.sandbox.as_ref().filter(|s| s.contains(self.index)) {
            let outcome = self.run_enclosed(sandbox.as_ref(), &sink, &env, &steps);
            sink.close();
            return self.settle(outcome);
        }

        let mut pumps = Vec::new();
        let mut outcome = Outcome::Passed;
        for (step, script) in steps.iter().enumerate() {
            if self.control.stopped().is_some() {
                break;
            }
            self.observer.step_started(self.index, step);
            sink.note(&header(script));
            let command = StepCommand {
                shell: &self.job.shell,
                script,
                cwd: &self.job.cwd,
                env: &env,
            };
            let result = self.run_step(&command, &sink, &mut pumps);
            self.observer
                .step_finished(self.index, step, result.as_ref().err());
            if let Err(end) = result {
                outcome = Outcome::Failed {
                    step,
                    command: script.clone(),
                    end,
                };
                break;
            }
        }
        outcome = self.settle(outcome);
        self.stop_leftovers(&sink);
        if outcome.is_failure() {
            self.service_tails(&sink);
        }
        for pump in &pumps {
            if !pump.wait(Duration::from_secs(1)) {
                self.observer.warn(&format!(
                    "{}: a process outside the job still holds its output open",
                    self.job.name
                ));
            }
        }
        sink.close();
        outcome
    }

    /// A stopped job ends the way it was stopped, whatever its step said.
    fn settle(&self, outcome: Outcome) -> Outcome {
        match self.control.stopped() {
            Some(Stop::TimedOut(limit)) => Outcome::TimedOut(limit),
            Some(Stop::Cancelled) => Outcome::Cancelled { interrupted: false },
            Some(Stop::Interrupted) => Outcome::Cancelled { interrupted: true },
            None => outcome,
        }
    }

    /// Runs the steps in the job's enclosure (its container). What they
    /// leave running ends with the enclosure.
    fn run_enclosed(
        &self,
        sandbox: &dyn Sandbox,
        sink: &Arc<JobSink>,
        env: &[(String, String)],
        steps: &[String],
    ) -> Outcome {
        let not_started = |why: String| Outcome::Failed {
            step: 0,
            command: self.job.steps.first().cloned().unwrap_or_default(),
            end: StepEnd::NotStarted(why),
        };
        if self.control.stopped().is_some() {
            return Outcome::Passed;
        }
        let opened = match sandbox.open(self.index, self.job, env) {
            Ok(opened) => opened,
            Err(e) => return not_started(e.to_string()),
        };
        let mut pumps = Vec::new();
        for output in opened.outputs {
            match Pump::start(output, Arc::clone(sink)) {
                Ok(pump) => pumps.push(pump),
                Err(e) => {
                    opened.enclosure.kill();
                    return not_started(e.to_string());
                }
            }
        }
        self.log.nudge();
        let enclosure = opened.enclosure;
        *lock(&self.control.enclosure) = Some(Arc::clone(&enclosure));
        // A stop that came before the enclosure was known did not reach it.
        if self.control.stopped().is_some() {
            enclosure.kill();
        }
        let mut outcome = Outcome::Passed;
        for (step, script) in steps.iter().enumerate() {
            if self.control.stopped().is_some() {
                break;
            }
            sink.note(&header(script));
            if let Err(end) = enclosure.run_step(&self.job.shell, script, &self.job.cwd) {
                outcome = Outcome::Failed {
                    step,
                    command: script.clone(),
                    end,
                };
                break;
            }
        }
        enclosure.close();
        for pump in &pumps {
            pump.wait(Duration::from_secs(2));
        }
        outcome
    }

    /// Starts the job's services, exports their `NAME_*` variables and fills
    /// `{{services.…}}` in its steps and env: the steps to run, or why the
    /// job fails before its first step.
    fn with_services(
        &self,
        sink: &Arc<JobSink>,
        env: &mut Vec<(String, String)>,
    ) -> Result<Vec<String>, Outcome> {
        let values = match &self.services {
            Some(pool) if !self.job.services.is_empty() => {
                let control = &self.control;
                let cancel = || control.stopped().is_some();
                let note = |line: &str| sink.note(line);
                pool.acquire(self.index, &cancel, &note)
                    .map_err(|failure| Outcome::Failed {
                        step: 0,
                        command: format!("start service {}", failure.service),
                        end: StepEnd::NotStarted(self.secrets.mask_str(&failure.error.to_string())),
                    })?
            }
            _ => Default::default(),
        };
        // The job's own env sits right after the base env and PARITY_JOB.
        for (key, value) in env
            .iter_mut()
            .skip(self.base_env.len() + 1)
            .take(self.job.env.len())
        {
            *value = values.fill(value).map_err(|why| Outcome::Failed {
                step: 0,
                command: format!("env {key}"),
                end: StepEnd::NotStarted(why),
            })?;
        }
        env.extend(values.exports());
        self.job
            .steps
            .iter()
            .enumerate()
            .map(|(step, script)| {
                values.fill(script).map_err(|why| Outcome::Failed {
                    step,
                    command: script.clone(),
                    end: StepEnd::NotStarted(why),
                })
            })
            .collect()
    }

    /// The end of each of the job's services' logs, for a failed job.
    fn service_tails(&self, sink: &JobSink) {
        let Some(pool) = &self.services else { return };
        for (name, log, lines) in pool.tails(self.index) {
            sink.note(&format!(
                "── service {name}: last {} lines of {} ──",
                lines.len(),
                log.display()
            ));
            for line in lines {
                sink.note(&line);
            }
        }
    }

    /// Runs one step to its end. Output pumps that do not finish with the
    /// step (a background process holds the pipe) are kept in `pumps`.
    fn run_step(
        &self,
        command: &StepCommand<'_>,
        sink: &Arc<JobSink>,
        pumps: &mut Vec<Pump>,
    ) -> Result<(), StepEnd> {
        let mut output =
            StepOutput::open(Arc::clone(sink)).map_err(|e| StepEnd::NotStarted(e.to_string()))?;
        let mut process = {
            let mut current = lock(&self.control.current);
            // Checked under the lock `stop` reads the group with, so a stop
            // cannot slip between this check and the spawn.
            if self.control.stopped().is_some() {
                return Err(StepEnd::NotStarted("the job was stopped".into()));
            }
            let process = StepProcess::spawn(command, output.writer())
                .map_err(|e| StepEnd::NotStarted(spawn_error(command, &e)))?;
            *current = Some(process.pid());
            self.control.left_alone.store(false, Ordering::Relaxed);
            let _ = self.control.first_pid.compare_exchange(
                0,
                process.pid(),
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            process
        };
        let process_pid = process.pid();
        let status = match process.exit_fd() {
            Some(exited) => {
                let followed = output.follow(exited.as_fd());
                let status = process.wait();
                StepProcess::close_later(exited);
                let alone = reaper::alone();
                self.control.left_alone.store(alone, Ordering::Relaxed);
                let finished = followed.and_then(|()| output.finish(alone));
                pumps.extend(finished.map_err(|e| StepEnd::NotStarted(e.to_string()))?);
                status
            }
            None => {
                // The pipe ends when the step and what it started close it.
                let pump = output
                    .pump()
                    .map_err(|e| StepEnd::NotStarted(e.to_string()))?;
                let status = process.wait();
                // Normally the pipe closes with the step; give a moment for
                // the last bytes, and keep waiting later if a background
                // process holds it.
                if !pump.wait(Duration::from_millis(20)) {
                    pumps.push(pump);
                }
                status
            }
        };
        let group = match &status {
            Ok(_) => Target::reaped_group(process_pid),
            Err(_) => Target::group(process_pid),
        };
        lock(&self.control.groups).push(group);
        *lock(&self.control.current) = None;
        match status {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(match (status.code(), status.signal()) {
                (Some(code), _) => StepEnd::Exit(code),
                (None, Some(signal)) => StepEnd::Signal(signal),
                (None, None) => StepEnd::Exit(-1),
            }),
            Err(e) => Err(StepEnd::NotStarted(e.to_string())),
        }
    }

    /// Stops what the job's steps left running, naming each, as GitHub
    /// Actions does when a job ends.
    fn stop_leftovers(&self, sink: &JobSink) {
        if self.control.left_alone.load(Ordering::Relaxed) {
            return;
        }
        let left = self.control.leftovers();
        if left.is_empty() {
            return;
        }
        let names: Vec<String> = left
            .iter()
            .map(|p| format!("{} (pid {})", self.secrets.mask_str(&p.command), p.pid))
            .collect();
        let message = format!(
            "{}: stopping {} process{} left running: {}",
            self.job.name,
            left.len(),
            if left.len() == 1 { "" } else { "es" },
            names.join(", ")
        );
        sink.log_only(&format!("parity: {message}"));
        // A stopped job's whole tree was signalled already: what is still
        // on its way out is no news on the console.
        if self.control.stopped().is_none() {
            self.observer.warn(&message);
        }
        let targets: Vec<Target> = left.iter().map(|p| Target::process(p.pid)).collect();
        process::terminate(&targets, process::GRACE);
    }
}

/// `$ command` with the first line of a multi-line step.
fn header(script: &str) -> String {
    let mut lines = script.trim().lines();
    let first = lines.next().unwrap_or_default();
    match lines.count() {
        0 => format!("$ {first}"),
        more => format!(
            "$ {first}  (+{more} more line{})",
            if more == 1 { "" } else { "s" }
        ),
    }
}

fn spawn_error(command: &StepCommand<'_>, error: &std::io::Error) -> String {
    let program = command.shell.first().map(String::as_str).unwrap_or("shell");
    match error.kind() {
        std::io::ErrorKind::NotFound if !command.cwd.is_dir() => {
            format!("working directory {} does not exist", command.cwd.display())
        }
        std::io::ErrorKind::NotFound => format!("`{program}` was not found on PATH"),
        _ => format!("`{program}`: {error}"),
    }
}

//! The one scheduling loop: starts jobs whose needs passed, up to the
//! parallelism limit; enforces timeouts; turns the first failure or Ctrl-C
//! into stopping everything that runs.

use super::job::{JobControl, JobRun, Stop};
use super::outcome::{JobResult, Outcome, SkipReason};
use super::plan::Plan;
use super::process::{self, Target};
use super::reaper;
use super::signal::SignalGuard;
use super::Observer;
use crate::exit_code;
use crate::secrets::SecretSet;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Everything the run shares between jobs.
pub struct RunContext {
    pub run_id: String,
    /// Where each job's log goes: `logs[i]` for `plan.jobs[i]`.
    pub logs: Vec<PathBuf>,
    /// Env-file values and parity's variables, set for every step.
    pub env: Vec<(String, String)>,
    pub secrets: SecretSet,
    pub parallelism: usize,
    pub keep_going: bool,
    /// The pipeline's native services, started for the jobs that use them.
    pub services: Option<Arc<crate::services::ServicePool>>,
    /// Runs some jobs elsewhere (their runner containers); `None`: all on the host.
    pub sandbox: Option<Arc<dyn super::Sandbox>>,
    /// Keys and stores for jobs that declare `inputs`; `None` with `--no-cache`.
    pub cache: Option<Arc<crate::cache::CacheSession>>,
}

#[derive(Debug)]
pub struct RunSummary {
    pub results: Vec<JobResult>,
    pub interrupted: bool,
    pub duration: Duration,
}

impl RunSummary {
    pub fn exit_code(&self) -> i32 {
        if self.interrupted {
            exit_code::INTERRUPTED
        } else if self.results.iter().any(|r| r.outcome.is_failure()) {
            exit_code::FAILED
        } else {
            exit_code::SUCCESS
        }
    }
}

enum Event {
    Finished { index: usize, outcome: Outcome },
    Signal,
}

struct Running {
    control: Arc<JobControl>,
    started: Instant,
    deadline: Option<(Instant, Duration)>,
}

type Work = Box<dyn FnOnce() + Send>;

/// The threads jobs run on: one more whenever every one is busy, up to the
/// parallelism limit, each reused for job after job rather than a thread
/// started per job.
struct Workers {
    queue: Option<mpsc::Sender<Work>>,
    shared: Arc<Mutex<mpsc::Receiver<Work>>>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    fn new() -> Workers {
        let (queue, shared) = mpsc::channel();
        Workers {
            queue: Some(queue),
            shared: Arc::new(Mutex::new(shared)),
            threads: Vec::new(),
        }
    }

    /// Runs `work` on a free worker; `busy` is how many are taken, this
    /// one included.
    fn run(&mut self, busy: usize, work: Work) -> std::io::Result<()> {
        if self.threads.len() < busy {
            let shared = Arc::clone(&self.shared);
            let thread = std::thread::Builder::new()
                .name(format!("parity-worker-{}", self.threads.len()))
                .spawn(move || loop {
                    // The lock is only held while waiting for work.
                    let next = shared
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .recv();
                    match next {
                        Ok(work) => work(),
                        Err(_) => return,
                    }
                })?;
            self.threads.push(thread);
        }
        match &self.queue {
            Some(queue) => queue
                .send(work)
                .map_err(|_| std::io::Error::other("every job worker has exited")),
            None => Err(std::io::Error::other("the job workers were shut down")),
        }
    }
}

impl Drop for Workers {
    /// Lets each worker finish its job and exit.
    fn drop(&mut self) {
        self.queue = None;
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Runs the plan to the end and says how each job ended.
pub fn run(
    plan: &Plan,
    ctx: &RunContext,
    observer: Arc<dyn Observer>,
) -> std::io::Result<RunSummary> {
    let started = Instant::now();
    if let Err(e) = reaper::become_subreaper() {
        observer.warn(&format!(
            "cannot become a child subreaper ({e}); daemonized leftovers may escape cleanup"
        ));
    }
    let (tx, rx) = mpsc::channel();
    let signal_tx = tx.clone();
    let _signals = SignalGuard::forward(move |_| {
        let _ = signal_tx.send(Event::Signal);
    })?;

    let count = plan.jobs.len();
    let mut outcomes: Vec<Option<(Outcome, Duration)>> = vec![None; count];
    let mut running: BTreeMap<usize, Running> = BTreeMap::new();
    let mut stopping: Option<SkipReason> = None;
    let mut interrupts = 0;
    let parallelism = ctx.parallelism.max(1);
    let mut workers = Workers::new();

    loop {
        // Settle every pending job that can be settled, start what may start.
        let mut progressed = true;
        while progressed {
            progressed = false;
            for index in 0..count {
                if outcomes[index].is_some() || running.contains_key(&index) {
                    continue;
                }
                let job = &plan.jobs[index];
                let settled = if let Some(reason) = &stopping {
                    Some(Outcome::Skipped(reason.clone()))
                } else if let Some(reason) = &job.skip {
                    Some(Outcome::Skipped(reason.clone()))
                } else if let Some(&failed) = job.needs.iter().find(|&&n| {
                    outcomes[n]
                        .as_ref()
                        .is_some_and(|(o, _)| !o.lets_dependents_run())
                }) {
                    Some(Outcome::Skipped(SkipReason::NeedFailed(
                        plan.jobs[failed].name.clone(),
                    )))
                } else {
                    None
                };
                if let Some(outcome) = settled {
                    if let Some(pool) = &ctx.services {
                        pool.release(index);
                    }
                    observer.job_finished(index, &outcome, Duration::ZERO, None);
                    outcomes[index] = Some((outcome, Duration::ZERO));
                    progressed = true;
                    continue;
                }
                let ready = job.needs.iter().all(|&n| outcomes[n].is_some());
                if ready && running.len() < parallelism {
                    let job = start(
                        plan,
                        ctx,
                        index,
                        &observer,
                        &tx,
                        &mut workers,
                        running.len() + 1,
                    )?;
                    running.insert(index, job);
                    progressed = true;
                }
            }
        }
        if running.is_empty() {
            break;
        }

        let now = Instant::now();
        let next_deadline = running
            .values()
            .filter_map(|r| r.deadline.map(|(at, _)| at))
            .min();
        let event = match next_deadline {
            Some(at) => rx.recv_timeout(at.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
        };
        match event {
            Ok(Event::Finished { index, outcome }) => {
                let Some(job) = running.remove(&index) else {
                    continue;
                };
                if let Some(pool) = &ctx.services {
                    pool.release(index);
                }
                let duration = job.started.elapsed();
                observer.job_finished(index, &outcome, duration, Some(&ctx.logs[index]));
                if outcome.is_failure() && !ctx.keep_going && stopping.is_none() {
                    stopping = Some(SkipReason::FailFast);
                    for other in running.values() {
                        other.control.stop(Stop::Cancelled);
                    }
                }
                outcomes[index] = Some((outcome, duration));
            }
            Ok(Event::Signal) => {
                interrupts += 1;
                stopping = Some(SkipReason::Interrupted);
                match interrupts {
                    1 => {
                        if !running.is_empty() {
                            observer.warn(&format!(
                                "interrupted: stopping {} running job{} (Ctrl-C again to kill at once)",
                                running.len(),
                                if running.len() == 1 { "" } else { "s" }
                            ));
                        }
                        for job in running.values() {
                            job.control.stop(Stop::Interrupted);
                        }
                    }
                    2 => {
                        observer.warn("killing every running step (Ctrl-C again to abort parity)");
                        for job in running.values() {
                            job.control.kill();
                        }
                        if let Some(pool) = &ctx.services {
                            pool.kill();
                        }
                    }
                    _ => {
                        for job in running.values() {
                            job.control.kill();
                        }
                        if let Some(pool) = &ctx.services {
                            pool.kill();
                        }
                        std::process::exit(exit_code::INTERRUPTED);
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let now = Instant::now();
                for job in running.values_mut() {
                    if let Some((at, limit)) = job.deadline {
                        if at <= now {
                            job.deadline = None;
                            job.control.stop(Stop::TimedOut(limit));
                        }
                    }
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    drop(workers);
    if let Some(pool) = &ctx.services {
        pool.shutdown();
    }
    stop_unclaimed(observer.as_ref(), &ctx.secrets);

    let results = plan
        .jobs
        .iter()
        .zip(outcomes)
        .map(|(job, outcome)| {
            let (outcome, duration) =
                outcome.unwrap_or((Outcome::Skipped(SkipReason::Interrupted), Duration::ZERO));
            JobResult {
                name: job.name.clone(),
                outcome,
                duration,
            }
        })
        .collect();
    Ok(RunSummary {
        results,
        interrupted: interrupts > 0,
        duration: started.elapsed(),
    })
}

fn start(
    plan: &Plan,
    ctx: &RunContext,
    index: usize,
    observer: &Arc<dyn Observer>,
    tx: &mpsc::Sender<Event>,
    workers: &mut Workers,
    busy: usize,
) -> std::io::Result<Running> {
    let job = plan.jobs[index].clone();
    let control = JobControl::new(format!("{}/{index}", ctx.run_id));
    let deadline = job.timeout.map(|limit| (Instant::now() + limit, limit));
    observer.job_started(index);
    let mut base_env = ctx.env.clone();
    base_env.push(("PARITY_JOB".into(), job.name.clone()));
    let run = JobRun {
        index,
        job,
        base_env,
        secrets: ctx.secrets.clone(),
        log: ctx.logs[index].clone(),
        observer: Arc::clone(observer),
        control: Arc::clone(&control),
        services: ctx.services.clone(),
        sandbox: ctx.sandbox.clone(),
    };
    let tx = tx.clone();
    let cache = ctx.cache.clone();
    workers.run(
        busy,
        Box::new(move || {
            let outcome = super::cached::run(cache.as_deref(), run);
            let _ = tx.send(Event::Finished { index, outcome });
        }),
    )?;
    Ok(Running {
        control,
        started: Instant::now(),
        deadline,
    })
}

/// Stops what no job could claim (a leftover that both cleared its
/// environment and left its process group) once every job has ended, so
/// nothing outlives the run.
fn stop_unclaimed(observer: &dyn Observer, secrets: &SecretSet) {
    let left = reaper::unclaimed_orphans();
    if !left.is_empty() {
        let names: Vec<String> = left
            .iter()
            .map(|p| format!("{} (pid {})", secrets.mask_str(&p.command), p.pid))
            .collect();
        observer.warn(&format!(
            "stopping processes left running by the run: {}",
            names.join(", ")
        ));
        let targets: Vec<Target> = left.iter().map(|p| Target::process(p.pid)).collect();
        process::terminate(&targets, process::GRACE);
    }
    reaper::reap_orphans();
}

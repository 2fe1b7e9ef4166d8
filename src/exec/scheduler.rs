//! The scheduler: starts jobs whose needs passed, up to the parallelism
//! limit; enforces timeouts; turns the first failure or Ctrl-C into
//! stopping everything that runs.
//!
//! The workers schedule: the one whose job ended settles it and takes the
//! next itself. The main thread only answers signals and timeouts.

use super::job::{JobControl, JobRun, Stop};
use super::logbook::Logbook;
use super::outcome::{JobResult, Outcome, SkipReason, StepEnd};
use super::plan::Plan;
use super::process::{self, Target};
use super::reaper;
use super::signal::SignalGuard;
use super::Observer;
use crate::exit_code;
use crate::secrets::SecretSet;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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

/// What wakes the main thread.
enum Event {
    /// Ctrl-C, SIGTERM or SIGHUP.
    Signal,
    /// The board changed in a way the main thread must see: a job with a
    /// timeout started, or the run ended.
    Changed,
}

struct Running {
    control: Arc<JobControl>,
    started: Instant,
    deadline: Option<(Instant, Duration)>,
}

/// Everything the scheduler knows, shared by the main thread (signals and
/// timeouts) and the workers. A worker whose job ends settles it and starts
/// what may start next itself, then runs the next job straight away: no
/// thread hand-off between two jobs.
///
/// The board is kept by events rather than by looking at every job after
/// each one ends, which cost a run of thousands of jobs time quadratic in
/// their number: a job's outcome counts down its dependents' `waiting`,
/// and names them for settling when it keeps them from running.
struct Board {
    outcomes: Vec<Option<(Outcome, Duration)>>,
    running: BTreeMap<usize, Running>,
    /// For each job, its needs without an outcome yet.
    waiting: Vec<usize>,
    /// Jobs that may start: every need has an outcome.
    ready: BTreeSet<usize>,
    /// Pending jobs that may have to be settled without running.
    unsettled: BTreeSet<usize>,
    /// Started jobs no worker has taken yet.
    queue: VecDeque<usize>,
    stopping: Option<SkipReason>,
    interrupts: u32,
    /// Every job has an outcome: workers exit.
    done: bool,
}

/// The board and what it needs to start jobs.
struct Scheduler<'a> {
    plan: &'a Plan,
    /// For each job, the jobs that need it.
    dependents: Vec<Vec<usize>>,
    ctx: &'a RunContext,
    observer: &'a Arc<dyn Observer>,
    logbook: Arc<Logbook>,
    board: Mutex<Board>,
    /// Workers wait here for queued jobs or the end of the run.
    work: Condvar,
    events: mpsc::Sender<Event>,
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
    let (events, rx) = mpsc::channel();
    let signal_tx = events.clone();
    let _signals = SignalGuard::forward(move |_| {
        let _ = signal_tx.send(Event::Signal);
    })?;

    let count = plan.jobs.len();
    let mut dependents = vec![Vec::new(); count];
    for (index, job) in plan.jobs.iter().enumerate() {
        for &need in &job.needs {
            dependents[need].push(index);
        }
    }
    let waiting: Vec<usize> = plan.jobs.iter().map(|job| job.needs.len()).collect();
    let scheduler = Scheduler {
        plan,
        dependents,
        ctx,
        observer: &observer,
        logbook: Logbook::start(ctx.logs.clone())?,
        board: Mutex::new(Board {
            outcomes: vec![None; count],
            running: BTreeMap::new(),
            ready: (0..count).filter(|&index| waiting[index] == 0).collect(),
            unsettled: (0..count)
                .filter(|&index| plan.jobs[index].skip.is_some())
                .collect(),
            waiting,
            queue: VecDeque::new(),
            stopping: None,
            interrupts: 0,
            done: false,
        }),
        work: Condvar::new(),
        events,
    };
    let workers = ctx.parallelism.max(1).min(count);
    std::thread::scope(|scope| -> std::io::Result<()> {
        let mut released = Vec::new();
        scheduler.dispatch(&mut scheduler.lock(), &mut released);
        scheduler.release(&released);
        for n in 0..workers {
            let worker = &scheduler;
            let spawned = std::thread::Builder::new()
                .name(format!("parity-worker-{n}"))
                .spawn_scoped(scope, move || worker.work());
            if let Err(e) = spawned {
                // The workers already started finish the run.
                if n == 0 {
                    scheduler.close();
                    return Err(e);
                }
                break;
            }
        }
        scheduler.watch(&rx);
        Ok(())
    })?;
    if let Some(pool) = &ctx.services {
        pool.shutdown();
    }
    stop_unclaimed(observer.as_ref(), &ctx.secrets);
    for (log, error) in scheduler.logbook.settle_all() {
        observer.warn(&format!("cannot write {}: {error}", log.display()));
    }

    let board = scheduler.lock();
    let results = plan
        .jobs
        .iter()
        .zip(&board.outcomes)
        .map(|(job, outcome)| {
            let (outcome, duration) = outcome
                .clone()
                .unwrap_or((Outcome::Skipped(SkipReason::Interrupted), Duration::ZERO));
            JobResult {
                name: job.name.clone(),
                outcome,
                duration,
                dry_run: job.dry_run,
            }
        })
        .collect();
    Ok(RunSummary {
        results,
        interrupted: board.interrupts > 0,
        duration: started.elapsed(),
    })
}

impl Scheduler<'_> {
    fn lock(&self) -> MutexGuard<'_, Board> {
        self.board
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Ends the run for the workers, whatever is left.
    fn close(&self) {
        self.lock().done = true;
        self.work.notify_all();
    }

    /// The main thread: Ctrl-C and timeouts, until the workers are done.
    fn watch(&self, rx: &mpsc::Receiver<Event>) {
        loop {
            let next_deadline = {
                let board = self.lock();
                if board.done {
                    return;
                }
                board
                    .running
                    .values()
                    .filter_map(|r| r.deadline.map(|(at, _)| at))
                    .min()
            };
            let event = match next_deadline {
                Some(at) => rx.recv_timeout(at.saturating_duration_since(Instant::now())),
                None => rx.recv().map_err(|_| mpsc::RecvTimeoutError::Disconnected),
            };
            match event {
                Ok(Event::Changed) => {}
                Ok(Event::Signal) => self.interrupt(),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let now = Instant::now();
                    for job in self.lock().running.values_mut() {
                        if let Some((at, limit)) = job.deadline {
                            if at <= now {
                                job.deadline = None;
                                job.control.stop(Stop::TimedOut(limit));
                            }
                        }
                    }
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    /// A first Ctrl-C stops every running job, a second kills them, a
    /// third ends parity at once.
    fn interrupt(&self) {
        let mut board = self.lock();
        board.interrupts += 1;
        board.stopping = Some(SkipReason::Interrupted);
        let running = board.running.len();
        match board.interrupts {
            1 => {
                if running > 0 {
                    self.observer.warn(&format!(
                        "interrupted: stopping {running} running job{} (Ctrl-C again to kill at once)",
                        if running == 1 { "" } else { "s" }
                    ));
                }
                for job in board.running.values() {
                    job.control.stop(Stop::Interrupted);
                }
            }
            n => {
                if n == 2 {
                    self.observer
                        .warn("killing every running step (Ctrl-C again to abort parity)");
                }
                for job in board.running.values() {
                    job.control.kill();
                }
                if let Some(pool) = &self.ctx.services {
                    pool.kill();
                }
                if n > 2 {
                    std::process::exit(exit_code::INTERRUPTED);
                }
            }
        }
    }

    /// A worker: runs queued jobs until the run is done.
    fn work(&self) {
        let mut board = self.lock();
        loop {
            if let Some(index) = board.queue.pop_front() {
                let control = match board.running.get(&index) {
                    Some(running) => Arc::clone(&running.control),
                    None => continue,
                };
                drop(board);
                let outcome = self.run_job(index, control);
                board = self.lock();
                let mut released = vec![index];
                self.finish(&mut board, index, outcome);
                self.dispatch(&mut board, &mut released);
                let last_started = board.ready.is_empty();
                drop(board);
                self.release(&released);
                if last_started {
                    // Nothing else can start before a running job ends:
                    // the log thread writes what it holds while the last
                    // jobs run, not after them, where the run's end would
                    // wait for it.
                    self.logbook.nudge();
                }
                board = self.lock();
                continue;
            }
            if board.done {
                return;
            }
            self.logbook.nudge();
            board = self
                .work
                .wait(board)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }

    /// Runs one job. A panic inside parity fails that job rather than
    /// leaving the run waiting for it forever.
    fn run_job(&self, index: usize, control: Arc<JobControl>) -> Outcome {
        let run = self.job_run(index, control);
        let command = run.job.steps.first().cloned().unwrap_or_default();
        let cache = self.ctx.cache.as_deref();
        std::panic::catch_unwind(AssertUnwindSafe(|| super::cached::run(cache, run)))
            .unwrap_or_else(|_| Outcome::Failed {
                step: 0,
                command,
                end: StepEnd::NotStarted("parity failed internally (see the message above)".into()),
            })
    }

    fn job_run(&self, index: usize, control: Arc<JobControl>) -> JobRun<'_> {
        JobRun {
            index,
            job: &self.plan.jobs[index],
            base_env: &self.ctx.env,
            secrets: self.ctx.secrets.clone(),
            log: self.logbook.log(index),
            observer: Arc::clone(self.observer),
            control,
            services: self.ctx.services.clone(),
            sandbox: self.ctx.sandbox.clone(),
        }
    }

    /// Records how a job ended; the first failure stops the others unless
    /// `--keep-going`.
    fn finish(&self, board: &mut Board, index: usize, outcome: Outcome) {
        let Some(job) = board.running.remove(&index) else {
            return;
        };
        let duration = job.started.elapsed();
        self.observer
            .job_finished(index, &outcome, duration, Some(&self.logbook.log(index)));
        if outcome.is_failure() && !self.ctx.keep_going && board.stopping.is_none() {
            board.stopping = Some(SkipReason::FailFast);
            for other in board.running.values() {
                other.control.stop(Stop::Cancelled);
            }
        }
        self.settle(board, index, outcome, duration);
    }

    /// Gives a job its outcome and tells the jobs that need it.
    fn settle(&self, board: &mut Board, index: usize, outcome: Outcome, duration: Duration) {
        let blocks = !outcome.lets_dependents_run() && !outcome.was_stopped();
        board.outcomes[index] = Some((outcome, duration));
        board.ready.remove(&index);
        for &dependent in &self.dependents[index] {
            board.waiting[dependent] -= 1;
            if board.waiting[dependent] == 0 {
                board.ready.insert(dependent);
            }
            if blocks {
                board.unsettled.insert(dependent);
            }
        }
    }

    /// Settles every pending job that can be settled and queues what may
    /// start, up to the parallelism limit. Jobs whose services can be
    /// released are added to `released`.
    fn dispatch(&self, board: &mut Board, released: &mut Vec<usize>) {
        let parallelism = self.ctx.parallelism.max(1);
        let pending = |board: &Board, index: usize| {
            board.outcomes[index].is_none() && !board.running.contains_key(&index)
        };
        if board.stopping.is_some() {
            let stopped = (0..self.plan.jobs.len()).filter(|&index| pending(board, index));
            board.unsettled.extend(stopped.collect::<Vec<_>>());
        }
        // Settle first (a skip can settle the jobs that need it), so that
        // skips are announced before the output of the jobs that start.
        // In passes over the jobs in order, as if each pass looked at every
        // job: a job settled late in a pass settles the jobs after it in
        // the same pass and those before it in the next.
        let mut from = 0;
        while let Some(index) = board
            .unsettled
            .range(from..)
            .next()
            .or_else(|| board.unsettled.first())
            .copied()
        {
            board.unsettled.remove(&index);
            from = index + 1;
            if !pending(board, index) {
                continue;
            }
            if let Some(outcome) = self.settlement(board, index) {
                released.push(index);
                self.observer
                    .job_finished(index, &outcome, Duration::ZERO, None);
                self.settle(board, index, outcome, Duration::ZERO);
            }
        }
        let mut queued = 0;
        let mut timed = false;
        while board.running.len() < parallelism {
            let Some(index) = board.ready.pop_first() else {
                break;
            };
            if !pending(board, index) {
                continue;
            }
            let job = &self.plan.jobs[index];
            let deadline = job.timeout.map(|limit| (Instant::now() + limit, limit));
            timed |= deadline.is_some();
            self.observer.job_started(index);
            board.running.insert(
                index,
                Running {
                    control: JobControl::new(format!("{}/{index}", self.ctx.run_id)),
                    started: Instant::now(),
                    deadline,
                },
            );
            board.queue.push_back(index);
            queued += 1;
        }
        if board.running.is_empty() {
            board.done = true;
            self.work.notify_all();
            let _ = self.events.send(Event::Changed);
        } else {
            // The worker calling this takes one job itself.
            for _ in 1..queued {
                self.work.notify_one();
            }
            if timed {
                let _ = self.events.send(Event::Changed);
            }
        }
    }

    /// How a pending job ends without running, if it does: the most lasting
    /// reason first. A job whose switch is off, or whose need failed on its
    /// own, would not run with `--keep-going` either, and must not be told
    /// it would.
    fn settlement(&self, board: &Board, index: usize) -> Option<Outcome> {
        let job = &self.plan.jobs[index];
        if let Some(reason) = &job.skip {
            return Some(Outcome::Skipped(reason.clone()));
        }
        let failed = job.needs.iter().find(|&&n| {
            board.outcomes[n]
                .as_ref()
                .is_some_and(|(o, _)| !o.lets_dependents_run() && !o.was_stopped())
        });
        if let Some(&failed) = failed {
            return Some(Outcome::Skipped(SkipReason::NeedFailed(
                self.plan.jobs[failed].name.clone(),
            )));
        }
        board
            .stopping
            .as_ref()
            .map(|reason| Outcome::Skipped(reason.clone()))
    }

    /// Lets the service pool stop what the settled jobs no longer need,
    /// outside the board's lock: stopping a service takes a while.
    fn release(&self, jobs: &[usize]) {
        if let Some(pool) = &self.ctx.services {
            for &index in jobs
                .iter()
                .filter(|&&i| !self.plan.jobs[i].services.is_empty())
            {
                pool.release(index);
            }
        }
    }
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

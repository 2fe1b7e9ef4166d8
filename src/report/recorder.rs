//! An [`Observer`] that sits in front of the console and writes down when
//! each job and step started and ended, and the end of each step's output,
//! for the run record, the JUnit file and the timeline.

use crate::exec::{JobLog, Observer, Outcome, StepEnd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// How much of each step's output is kept for JUnit: the end of it, where
/// the error usually is. The whole output is in the job's log.
pub(crate) const OUTPUT_TAIL: usize = 64 * 1024;

/// Times are offsets from the start of the run.
#[derive(Debug, Clone, Default)]
pub(crate) struct JobTiming {
    pub(crate) start: Option<Duration>,
    pub(crate) end: Option<Duration>,
    pub(crate) steps: Vec<StepTiming>,
}

#[derive(Debug, Clone)]
pub(crate) struct StepTiming {
    pub(crate) index: usize,
    pub(crate) start: Duration,
    pub(crate) end: Option<Duration>,
    /// How the step ended when it did not succeed.
    pub(crate) failure: Option<StepEnd>,
    /// The last [`OUTPUT_TAIL`] bytes of its output, masked.
    pub(crate) output: Vec<u8>,
    /// Whether output was dropped from the front to keep the tail.
    pub(crate) truncated: bool,
}

pub(crate) struct Recorder {
    inner: Arc<dyn Observer>,
    started: Instant,
    started_at: SystemTime,
    jobs: Mutex<Vec<JobTiming>>,
    under_way: Arc<UnderWay>,
}

/// Opens once the run is under way: its first step started, or a job ended
/// without one (a cache hit, a skip). Work beside the jobs waits for it, so
/// that it does not take the CPU from parity's start and the first step's
/// (a 200-job run started 1.5 ms later with the fingerprint and pruning
/// threads at work from the beginning, bench/README.md).
#[derive(Default)]
pub(crate) struct UnderWay {
    open: AtomicBool,
    lock: Mutex<bool>,
    opened: Condvar,
}

impl UnderWay {
    pub(crate) fn open(&self) {
        if self.open.swap(true, Ordering::AcqRel) {
            return;
        }
        *self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = true;
        self.opened.notify_all();
    }

    pub(crate) fn wait(&self) {
        let mut open = self
            .lock
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while !*open {
            open = self
                .opened
                .wait(open)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    }
}

impl Recorder {
    /// `under_way` opens when the run is.
    pub(crate) fn new(inner: Arc<dyn Observer>, jobs: usize, under_way: Arc<UnderWay>) -> Recorder {
        Recorder {
            inner,
            started: Instant::now(),
            started_at: SystemTime::now(),
            jobs: Mutex::new(vec![JobTiming::default(); jobs]),
            under_way,
        }
    }

    /// Wall-clock time of the run's start, the zero of every offset.
    pub(crate) fn started_at(&self) -> SystemTime {
        self.started_at
    }

    /// The monotonic zero of every offset.
    pub(crate) fn started(&self) -> Instant {
        self.started
    }

    /// Time since the run started.
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// What was recorded so far, one entry per planned job.
    pub(crate) fn timings(&self) -> Vec<JobTiming> {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<JobTiming>> {
        self.jobs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn with_job(&self, job: usize, f: impl FnOnce(&mut JobTiming)) {
        if let Some(timing) = self.lock().get_mut(job) {
            f(timing);
        }
    }

    fn keep_output(&self, job: usize, bytes: &[u8]) {
        self.with_job(job, |timing| {
            if let Some(step) = timing.steps.last_mut() {
                step.output.extend_from_slice(bytes);
                if step.output.len() > OUTPUT_TAIL {
                    let cut = step.output.len() - OUTPUT_TAIL;
                    step.output.drain(..cut);
                    step.truncated = true;
                }
            }
        });
    }
}

impl Observer for Recorder {
    fn job_started(&self, job: usize) {
        let now = self.elapsed();
        self.with_job(job, |timing| timing.start = Some(now));
        self.inner.job_started(job);
    }

    fn note(&self, job: usize, line: &str) {
        self.keep_output(job, format!("{line}\n").as_bytes());
        self.inner.note(job, line);
    }

    fn output(&self, job: usize, lines: &[u8]) {
        self.keep_output(job, lines);
        self.inner.output(job, lines);
    }

    fn job_finished(
        &self,
        job: usize,
        outcome: &Outcome,
        duration: Duration,
        log: Option<&JobLog>,
    ) {
        let now = self.elapsed();
        self.with_job(job, |timing| {
            if timing.start.is_some() {
                timing.end = Some(now);
            }
        });
        self.under_way.open();
        self.inner.job_finished(job, outcome, duration, log);
    }

    fn step_started(&self, job: usize, step: usize) {
        self.under_way.open();
        let now = self.elapsed();
        self.with_job(job, |timing| {
            timing.steps.push(StepTiming {
                index: step,
                start: now,
                end: None,
                failure: None,
                output: Vec::new(),
                truncated: false,
            });
        });
        self.inner.step_started(job, step);
    }

    fn step_finished(&self, job: usize, step: usize, end: Option<&StepEnd>) {
        let now = self.elapsed();
        self.with_job(job, |timing| {
            if let Some(timing) = timing.steps.iter_mut().rev().find(|s| s.index == step) {
                timing.end = Some(now);
                timing.failure = end.cloned();
            }
        });
        self.inner.step_finished(job, step, end);
    }

    fn warn(&self, message: &str) {
        self.inner.warn(message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    /// An observer that shows nothing.
    struct Quiet;

    impl Observer for Quiet {
        fn job_started(&self, _job: usize) {}
        fn note(&self, _job: usize, _line: &str) {}
        fn output(&self, _job: usize, _lines: &[u8]) {}
        fn job_finished(&self, _: usize, _: &Outcome, _: Duration, _: Option<&JobLog>) {}
        fn warn(&self, _message: &str) {}
    }

    /// Runs a thread that waits for `under_way`; says when it got through.
    fn waiter(under_way: &Arc<UnderWay>) -> mpsc::Receiver<()> {
        let (through, rx) = mpsc::channel();
        let waiting = Arc::clone(under_way);
        std::thread::spawn(move || {
            waiting.wait();
            let _ = through.send(());
        });
        rx
    }

    #[test]
    fn work_beside_the_jobs_waits_for_the_first_step() {
        let under_way = Arc::new(UnderWay::default());
        let recorder = Recorder::new(Arc::new(Quiet), 1, Arc::clone(&under_way));
        let through = waiter(&under_way);
        recorder.job_started(0);
        assert!(
            through.recv_timeout(Duration::from_millis(50)).is_err(),
            "went on before any step started"
        );
        recorder.step_started(0, 0);
        through
            .recv_timeout(Duration::from_secs(10))
            .expect("still waiting after the first step started");
        // Once open, it stays open.
        waiter(&under_way)
            .recv_timeout(Duration::from_secs(10))
            .expect("a waiter that came after the opening still waits");
    }

    #[test]
    fn a_job_that_ends_without_a_step_also_opens_the_way() {
        let under_way = Arc::new(UnderWay::default());
        let recorder = Recorder::new(Arc::new(Quiet), 1, Arc::clone(&under_way));
        let through = waiter(&under_way);
        recorder.job_finished(0, &Outcome::Passed, Duration::ZERO, None);
        through
            .recv_timeout(Duration::from_secs(10))
            .expect("still waiting after a job ended");
    }
}

//! An [`Observer`] that sits in front of the console and writes down when
//! each job and step started and ended, and the end of each step's output,
//! for the run record, the JUnit file and the timeline.

use crate::exec::{JobLog, Observer, Outcome, StepEnd};
use std::sync::{Arc, Mutex, MutexGuard};
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
}

impl Recorder {
    pub(crate) fn new(inner: Arc<dyn Observer>, jobs: usize) -> Recorder {
        Recorder {
            inner,
            started: Instant::now(),
            started_at: SystemTime::now(),
            jobs: Mutex::new(vec![JobTiming::default(); jobs]),
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
        self.inner.job_finished(job, outcome, duration, log);
    }

    fn step_started(&self, job: usize, step: usize) {
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

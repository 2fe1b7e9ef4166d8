//! Running a pipeline: the plan, the scheduler, and each step's process.

mod background;
mod cached;
mod job;
mod logbook;
mod outcome;
mod output;
mod plan;
mod process;
mod reaper;
mod sandbox;
mod scheduler;
mod signal;
mod spawn;
mod vfork;

pub(crate) use background::{give_way, GiveWay};
pub use logbook::JobLog;
pub use outcome::{JobResult, Outcome, SkipReason, StepEnd};
pub use plan::{Plan, PlanError, PlannedJob, RunOptions};
pub use sandbox::{Enclosure, Opened, Sandbox};
pub use scheduler::{run, RunContext, RunSummary};
// Process control the container and services modules reuse.
pub(crate) use process::{kill_now, owned_children, terminate, Target, GRACE};
pub(crate) use reaper::{describe, marked, MARKER_VAR};
pub(crate) use spawn::own_group;

use std::time::Duration;

/// What the scheduler tells whoever shows the run to a person.
///
/// Called from job threads; implementations synchronise themselves.
pub trait Observer: Send + Sync {
    fn job_started(&self, job: usize);
    /// A line of parity's own inside a job's output (a step header).
    fn note(&self, job: usize, line: &str);
    /// Whole lines of a job's output, masked.
    fn output(&self, job: usize, lines: &[u8]);
    /// `log` is `None` for jobs that never started.
    fn job_finished(&self, job: usize, outcome: &Outcome, duration: Duration, log: Option<&JobLog>);
    /// A step of a running job begins; its output follows until `step_finished`.
    /// Defaults to nothing: only the run record times steps.
    fn step_started(&self, _job: usize, _step: usize) {}
    /// A step ended: `end` is `None` when it succeeded.
    fn step_finished(&self, _job: usize, _step: usize, _end: Option<&StepEnd>) {}
    fn warn(&self, message: &str);
}

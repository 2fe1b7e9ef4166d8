//! Every way a job can end, spelled out.

use std::fmt;
use std::time::Duration;

/// How a step's process ended when it did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepEnd {
    Exit(i32),
    Signal(i32),
    /// The shell could not be started at all.
    NotStarted(String),
}

impl fmt::Display for StepEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StepEnd::Exit(code) => write!(f, "exited with code {code}"),
            StepEnd::Signal(signal) => {
                let name = nix::sys::signal::Signal::try_from(*signal)
                    .map(|s| s.as_str().to_owned())
                    .unwrap_or_else(|_| format!("signal {signal}"));
                write!(f, "was killed by {name}")
            }
            StepEnd::NotStarted(why) => write!(f, "could not start: {why}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkipReason {
    /// `switch = "NAME"` and NAME is not truthy.
    SwitchOff(String),
    /// The profile in use skips it.
    Profile(String),
    /// A job it needs did not pass.
    NeedFailed(String),
    /// Another job failed and `--keep-going` was not given.
    FailFast,
    /// parity was interrupted before it started.
    Interrupted,
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SkipReason::SwitchOff(switch) => {
                write!(f, "switch {switch} is off (--enable {switch} to run it)")
            }
            SkipReason::Profile(profile) => write!(f, "profile `{profile}` skips it"),
            SkipReason::NeedFailed(need) => write!(f, "needs `{need}`, which did not pass"),
            SkipReason::FailFast => f.write_str("stopped after a failure (--keep-going runs it)"),
            SkipReason::Interrupted => f.write_str("interrupted"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Passed,
    Failed {
        step: usize,
        command: String,
        end: StepEnd,
    },
    TimedOut(Duration),
    /// Stopped while running: fail-fast or Ctrl-C.
    Cancelled {
        interrupted: bool,
    },
    Skipped(SkipReason),
    /// Its inputs had not changed: log replayed and outputs restored from
    /// the cache (`remote` when the remote cache had it).
    Cached {
        remote: bool,
    },
    /// The steps passed, but an `outputs` entry names nothing.
    OutputMissing {
        path: String,
    },
}

impl Outcome {
    /// Whether jobs that need this one may run.
    pub fn lets_dependents_run(&self) -> bool {
        matches!(
            self,
            Outcome::Passed
                | Outcome::Cached { .. }
                | Outcome::Skipped(SkipReason::SwitchOff(_) | SkipReason::Profile(_))
        )
    }

    /// [`Outcome::detail`], or for a publish job that passed with
    /// `DRY_RUN=1` (`dry_run`), that it published nothing.
    pub fn detail_of(&self, dry_run: bool) -> Option<String> {
        match self.detail() {
            None if dry_run && !self.is_failure() => {
                Some("dry run: DRY_RUN=1 (`--publish` publishes)".into())
            }
            detail => detail,
        }
    }

    /// Whether the run's stopping (fail-fast or Ctrl-C), rather than the
    /// job itself, kept it from passing.
    pub fn was_stopped(&self) -> bool {
        matches!(
            self,
            Outcome::Cancelled { .. }
                | Outcome::Skipped(SkipReason::FailFast | SkipReason::Interrupted)
        )
    }

    /// Whether this outcome makes the run fail.
    pub fn is_failure(&self) -> bool {
        matches!(
            self,
            Outcome::Failed { .. } | Outcome::TimedOut(_) | Outcome::OutputMissing { .. }
        )
    }

    /// One word for tables: passed, failed, timed out, cancelled, skipped.
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed { .. } => "failed",
            Outcome::TimedOut(_) => "timed out",
            Outcome::Cancelled { .. } => "cancelled",
            Outcome::Skipped(_) => "skipped",
            Outcome::Cached { .. } => "cached",
            Outcome::OutputMissing { .. } => "failed",
        }
    }

    /// The sentence behind the label, if there is more to say.
    pub fn detail(&self) -> Option<String> {
        match self {
            Outcome::Passed => None,
            Outcome::Failed { step, command, end } => {
                Some(format!("step {} `{}` {end}", step + 1, first_line(command)))
            }
            Outcome::TimedOut(limit) => Some(format!(
                "timed out after {}",
                humantime::format_duration(*limit)
            )),
            Outcome::Cancelled { interrupted: true } => Some("interrupted".into()),
            Outcome::Cancelled { interrupted: false } => {
                Some("stopped because another job failed".into())
            }
            Outcome::Skipped(reason) => Some(reason.to_string()),
            Outcome::Cached { remote: true } => Some("from the remote cache".into()),
            Outcome::Cached { remote: false } => None,
            Outcome::OutputMissing { path } => Some(format!(
                "declared output `{path}` does not exist after the job ran (create it in a step, or fix `outputs`)"
            )),
        }
    }
}

fn first_line(command: &str) -> &str {
    let line = command.lines().next().unwrap_or_default();
    if line.len() > 60 {
        let mut end = 60;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        &line[..end]
    } else {
        line
    }
}

/// A finished job as the summary and the run record see it.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub name: String,
    pub outcome: Outcome,
    pub duration: Duration,
    /// A publish job that ran with `DRY_RUN=1`.
    pub dry_run: bool,
}

impl JobResult {
    /// Why it did not pass, or that its pass published nothing.
    pub fn detail(&self) -> Option<String> {
        self.outcome.detail_of(self.dry_run)
    }
}

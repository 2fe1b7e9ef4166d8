//! `run.json`: what a run did and where it ran, versioned and described by
//! `docs/run.schema.json`. `parity report`, `parity diff` and `parity runs`
//! read it back; CI uploads it with the logs.
//!
//! Times are milliseconds from the run's start (`started_at`), which makes a
//! timeline a matter of arithmetic. Every string that could quote a command
//! or its output is masked before it is stored.

use super::fingerprint::Fingerprint;
use super::recorder::JobTiming;
use crate::exec::{Outcome, Plan, RunSummary, StepEnd};
use crate::exit_code;
use crate::secrets::SecretSet;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};
use thiserror::Error;

/// Bumped when a field changes meaning or goes away; new optional fields do
/// not bump it.
pub const SCHEMA_VERSION: u32 = 1;

/// The record's file name inside a run directory.
pub const FILE_NAME: &str = "run.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub schema_version: u32,
    pub id: String,
    pub parity_version: String,
    /// RFC 3339 with milliseconds, UTC.
    pub started_at: String,
    pub duration_ms: u64,
    /// `passed`, `failed` or `interrupted`.
    pub result: String,
    pub exit_code: i32,
    /// The directory holding `parity.toml`.
    pub root: PathBuf,
    pub invocation: Invocation,
    pub jobs: Vec<JobRecord>,
    #[serde(default)]
    pub services: Vec<ServiceRecord>,
    pub fingerprint: Fingerprint,
}

/// What was asked for on the command line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invocation {
    pub targets: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    pub enable: Vec<String>,
    pub matrix: Vec<String>,
    pub keep_going: bool,
    pub parallelism: usize,
    pub publish: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobRecord {
    /// The instance name, e.g. `test (features=full)`.
    pub name: String,
    /// The `[jobs.NAME]` it comes from.
    pub job: String,
    pub matrix: IndexMap<String, String>,
    pub needs: Vec<String>,
    /// `passed`, `failed`, `timed_out`, `cancelled`, `skipped` or `cached`.
    pub result: String,
    /// Why, when it did not simply pass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub cache_hit: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    pub duration_ms: u64,
    /// The failing step's exit code or signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// The job's log, relative to the run directory; absent when it never ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    pub steps: Vec<StepRecord>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    pub index: usize,
    pub command: String,
    /// `passed`, `failed`, `not_run`, or the job's `timed_out` or
    /// `cancelled` for the step that was running when parity stopped it.
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<String>,
    /// Why it could not start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A service the run started, with when it answered its readiness probe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceRecord {
    pub name: String,
    /// `postgres`, `redis`, `command` or `image`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    pub start_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_ms: Option<u64>,
    /// `ready`, `failed` (never became ready) or `running` (left up).
    pub result: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// A service's life during a run, as the services engine saw it; turned
/// into a [`ServiceRecord`] with times relative to the run's start.
#[derive(Debug, Clone)]
pub struct ServiceTiming {
    pub name: String,
    /// `postgres`, `redis`, `command` or `image`.
    pub kind: String,
    pub port: Option<u16>,
    pub started: Instant,
    /// When its readiness probe first passed; `None`: it never did.
    pub ready: Option<Instant>,
    /// When it was stopped; `None`: it was left running.
    pub stopped: Option<Instant>,
    pub log: Option<PathBuf>,
}

impl ServiceTiming {
    /// The record of this service in a run that started at `run_start`,
    /// whose directory is `run_dir`.
    pub fn record(&self, run_start: Instant, run_dir: &Path) -> ServiceRecord {
        let at = |t: Instant| millis(t.saturating_duration_since(run_start));
        ServiceRecord {
            name: self.name.clone(),
            kind: self.kind.clone(),
            port: self.port,
            start_ms: at(self.started),
            ready_ms: self.ready.map(at),
            end_ms: self.stopped.map(at),
            result: match (self.ready, self.stopped) {
                (None, _) => "failed",
                (Some(_), None) => "running",
                (Some(_), Some(_)) => "ready",
            }
            .to_owned(),
            log: self.log.as_ref().map(|log| {
                log.strip_prefix(run_dir)
                    .unwrap_or(log)
                    .to_string_lossy()
                    .into_owned()
            }),
        }
    }
}

#[derive(Debug, Error, miette::Diagnostic)]
pub enum RecordError {
    #[error("cannot write {}", path.display())]
    #[diagnostic(code(parity::record))]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read the run record {}", path.display())]
    #[diagnostic(
        code(parity::record),
        help("`parity runs` lists the runs that have a record")
    )]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a run record this parity understands", path.display())]
    #[diagnostic(
        code(parity::record),
        help("it may be damaged, or written by another version of parity")
    )]
    Parse {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("{} has run record schema version {found}; this parity reads version {SCHEMA_VERSION}", path.display())]
    #[diagnostic(code(parity::record), help("use the parity version that wrote it"))]
    Version { path: PathBuf, found: u32 },
}

/// Everything a record is built from.
pub(crate) struct RecordInputs<'a> {
    pub(crate) id: &'a str,
    pub(crate) run_dir: &'a Path,
    pub(crate) root: &'a Path,
    pub(crate) started_at: SystemTime,
    pub(crate) plan: &'a Plan,
    pub(crate) summary: &'a RunSummary,
    pub(crate) timings: &'a [JobTiming],
    pub(crate) logs: &'a [PathBuf],
    pub(crate) invocation: Invocation,
    pub(crate) services: Vec<ServiceRecord>,
    pub(crate) fingerprint: Fingerprint,
    pub(crate) secrets: &'a SecretSet,
}

impl RunRecord {
    pub(crate) fn build(inputs: RecordInputs<'_>) -> RunRecord {
        let mask = |text: &str| inputs.secrets.mask_str(text);
        let names: Vec<&str> = inputs.plan.jobs.iter().map(|j| j.name.as_str()).collect();
        let jobs = inputs
            .plan
            .jobs
            .iter()
            .enumerate()
            .map(|(index, planned)| {
                let empty = JobTiming::default();
                let timing = inputs.timings.get(index).unwrap_or(&empty);
                let (outcome, duration) = inputs
                    .summary
                    .results
                    .get(index)
                    .map_or((None, Duration::ZERO), |r| (Some(&r.outcome), r.duration));
                let result = outcome.map_or_else(|| "skipped".to_owned(), result_name);
                let stopped = matches!(
                    outcome,
                    Some(Outcome::TimedOut(_) | Outcome::Cancelled { .. })
                );
                let failure = match outcome {
                    Some(Outcome::Failed { end, .. }) => Some(end),
                    _ => None,
                };
                let steps = planned
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(step, command)| {
                        let ran = timing.steps.iter().rev().find(|s| s.index == step);
                        let (exit_code, signal, error) = ran
                            .and_then(|s| s.failure.as_ref())
                            .map_or((None, None, None), |end| split_end(end, &mask));
                        StepRecord {
                            index: step,
                            command: mask(command),
                            result: match ran {
                                None => "not_run",
                                // The step parity stopped: the job's reason, not the step's fault.
                                Some(s) if s.failure.is_some() && stopped => result.as_str(),
                                Some(s) if s.failure.is_some() => "failed",
                                Some(_) => "passed",
                            }
                            .to_owned(),
                            start_ms: ran.map(|s| millis(s.start)),
                            end_ms: ran.and_then(|s| s.end.map(millis)),
                            exit_code,
                            signal,
                            error,
                        }
                    })
                    .collect();
                let (exit_code, signal, _) =
                    failure.map_or((None, None, None), |end| split_end(end, &mask));
                let log = timing.start.and_then(|_| {
                    let path = inputs.logs.get(index)?;
                    let relative = path.strip_prefix(inputs.run_dir).unwrap_or(path);
                    Some(relative.to_string_lossy().into_owned())
                });
                JobRecord {
                    name: planned.name.clone(),
                    job: planned.job.clone(),
                    matrix: planned
                        .matrix
                        .iter()
                        .map(|(k, v)| (k.clone(), mask(v)))
                        .collect(),
                    needs: planned
                        .needs
                        .iter()
                        .filter_map(|&n| names.get(n).map(|s| (*s).to_owned()))
                        .collect(),
                    cache_hit: result == "cached",
                    detail: outcome.and_then(Outcome::detail).map(|d| mask(&d)),
                    result,
                    start_ms: timing.start.map(millis),
                    end_ms: timing.end.map(millis),
                    duration_ms: millis(duration),
                    exit_code,
                    signal,
                    log,
                    steps,
                }
            })
            .collect();
        let code = inputs.summary.exit_code();
        RunRecord {
            schema_version: SCHEMA_VERSION,
            id: inputs.id.to_owned(),
            parity_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_at: humantime::format_rfc3339_millis(inputs.started_at).to_string(),
            duration_ms: millis(inputs.summary.duration),
            result: match code {
                exit_code::SUCCESS => "passed",
                exit_code::INTERRUPTED => "interrupted",
                _ => "failed",
            }
            .to_owned(),
            exit_code: code,
            root: inputs.root.to_owned(),
            invocation: inputs.invocation,
            jobs,
            services: inputs.services,
            fingerprint: inputs.fingerprint,
        }
    }

    /// Writes `run.json` into the run directory, whole or not at all.
    pub fn write(&self, run_dir: &Path) -> Result<PathBuf, RecordError> {
        let path = run_dir.join(FILE_NAME);
        let write_error = |source| RecordError::Write {
            path: path.clone(),
            source,
        };
        let mut text = serde_json::to_string_pretty(self).map_err(|e| write_error(e.into()))?;
        text.push('\n');
        let temp = run_dir.join(format!(".{FILE_NAME}.tmp"));
        std::fs::write(&temp, text).map_err(write_error)?;
        std::fs::rename(&temp, &path).map_err(write_error)?;
        Ok(path)
    }

    /// Reads a `run.json`.
    pub fn read(path: &Path) -> Result<RunRecord, RecordError> {
        let text = std::fs::read_to_string(path).map_err(|source| RecordError::Read {
            path: path.to_owned(),
            source,
        })?;
        let value: serde_json::Value =
            serde_json::from_str(&text).map_err(|source| RecordError::Parse {
                path: path.to_owned(),
                source,
            })?;
        let found = value
            .get("schema_version")
            .and_then(serde_json::Value::as_u64)
            .unwrap_or(0);
        if found != u64::from(SCHEMA_VERSION) {
            return Err(RecordError::Version {
                path: path.to_owned(),
                found: u32::try_from(found).unwrap_or(u32::MAX),
            });
        }
        serde_json::from_value(value).map_err(|source| RecordError::Parse {
            path: path.to_owned(),
            source,
        })
    }

    /// The job's log next to the record.
    pub fn log_path(&self, run_dir: &Path, job: &JobRecord) -> Option<PathBuf> {
        job.log.as_ref().map(|log| run_dir.join(log))
    }
}

/// The record's word for an outcome: its label, snake_cased.
pub fn result_name(outcome: &Outcome) -> String {
    outcome.label().replace(' ', "_")
}

/// Exit code, signal name, or why it never started.
fn split_end(
    end: &StepEnd,
    mask: &dyn Fn(&str) -> String,
) -> (Option<i32>, Option<String>, Option<String>) {
    match end {
        StepEnd::Exit(code) => (Some(*code), None, None),
        StepEnd::Signal(number) => {
            let name = nix::sys::signal::Signal::try_from(*number)
                .map(|s| s.as_str().to_owned())
                .unwrap_or_else(|_| format!("signal {number}"));
            (None, Some(name), None)
        }
        StepEnd::NotStarted(why) => (None, None, Some(mask(why))),
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

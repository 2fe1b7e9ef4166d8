//! What `parity run` keeps of a run besides the logs: it starts recording
//! before the jobs (the fingerprint is taken, and old runs are pruned, on
//! threads of their own meanwhile) and, once they are done, writes
//! `run.json`, `junit.xml` and, in CI, `report.html` into the run directory.

use super::fingerprint::{self, Fingerprint};
use super::record::{Invocation, RecordInputs, RunRecord, ServiceTiming};
use super::recorder::{Recorder, UnderWay};
use super::{html, junit, runs, RunDir};
use crate::exec::{give_way, GiveWay, Observer, Plan, RunSummary};
use crate::pipeline::Pipeline;
use crate::secrets::SecretSet;
use quick_junit::Report;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct Insight {
    recorder: Arc<Recorder>,
    /// Holds the fingerprint and the pruning back until the run is under
    /// way; opened at the latest when it ends.
    under_way: Arc<UnderWay>,
    fingerprint: Option<JoinHandle<Fingerprint>>,
    /// Deleting the oldest runs, while the jobs run rather than after them.
    pruning: Option<JoinHandle<()>>,
    secrets: SecretSet,
    root: PathBuf,
}

/// What the run did, for [`Insight::finish`].
pub struct Finished<'a> {
    pub run_dir: &'a RunDir,
    pub plan: &'a Plan,
    pub summary: &'a RunSummary,
    pub logs: &'a [PathBuf],
    pub invocation: Invocation,
    /// Services' start, ready and stop times, when services ran.
    pub services: Vec<ServiceTiming>,
    /// `--junit FILE`.
    pub junit: Option<&'a Path>,
}

/// A file the user asked for that could not be written.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[error("cannot write the JUnit report to {}", path.display())]
#[diagnostic(
    code(parity::junit),
    help("check that the directory is writable; the run's own copy is in its run directory")
)]
pub struct JunitError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl Insight {
    /// Starts recording. `console` keeps receiving every event; the
    /// fingerprint is taken from `inputs` while the jobs run.
    pub fn start(
        pipeline: &Pipeline,
        run_dir: &RunDir,
        inputs: fingerprint::Inputs,
        secrets: &SecretSet,
        console: Arc<dyn Observer>,
        jobs: usize,
    ) -> Insight {
        let under_way = Arc::new(UnderWay::default());
        let waiting = Arc::clone(&under_way);
        let fingerprint = std::thread::Builder::new()
            .name("parity-fingerprint".into())
            .spawn(move || {
                give_way(GiveWay::Always);
                waiting.wait();
                Fingerprint::collect(&inputs)
            })
            .ok();
        let keep = runs::keep_from_env().unwrap_or_else(|message| {
            console.warn(&message);
            runs::DEFAULT_KEEP
        });
        let (root, current) = (pipeline.root.clone(), run_dir.path.clone());
        let waiting = Arc::clone(&under_way);
        let pruning = std::thread::Builder::new()
            .name("parity-prune".into())
            .spawn(move || {
                give_way(GiveWay::Always);
                waiting.wait();
                runs::prune(&root, keep, &current);
            })
            .ok();
        Insight {
            recorder: Arc::new(Recorder::new(console, jobs, Arc::clone(&under_way))),
            under_way,
            fingerprint,
            pruning,
            secrets: secrets.clone(),
            root: pipeline.root.clone(),
        }
    }

    /// The observer to hand the scheduler.
    pub fn observer(&self) -> Arc<dyn Observer> {
        self.recorder.clone()
    }

    /// Writes what the run leaves behind while `meanwhile` (the summary)
    /// runs on the calling thread: for 200 jobs the files take a few
    /// milliseconds, all of them between the last job's end and parity's.
    /// Problems writing the run directory's files are warnings, given after
    /// `meanwhile` (the run's verdict stands); a `--junit` file that cannot
    /// be written is an error, since CI would otherwise report on nothing.
    pub fn finish(
        self,
        run: Finished<'_>,
        warn: &dyn Observer,
        meanwhile: impl FnOnce(),
    ) -> Result<(), JunitError> {
        let Insight {
            recorder,
            under_way,
            fingerprint,
            pruning,
            secrets,
            root,
        } = self;
        // A run whose jobs all were skipped, or ended before a step.
        under_way.open();
        let (report, warnings) = std::thread::scope(|scope| {
            let write = || write_files(&run, &recorder, fingerprint, &secrets, &root);
            let writing = std::thread::Builder::new()
                .name("parity-report".into())
                .spawn_scoped(scope, write);
            meanwhile();
            match writing {
                Ok(thread) => thread
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
                Err(_) => write_files(&run, &recorder, None, &secrets, &root),
            }
        });
        for warning in &warnings {
            warn.warn(warning);
        }
        if let Some(pruning) = pruning {
            let _ = pruning.join();
        }
        if let Some(path) = run.junit {
            junit::write(&report, path).map_err(|source| JunitError {
                path: path.to_owned(),
                source,
            })?;
        }
        Ok(())
    }
}

/// Writes `run.json`, `junit.xml` and, in CI, `report.html` into the run
/// directory: the JUnit report for `--junit`, and what could not be written.
fn write_files(
    run: &Finished<'_>,
    recorder: &Recorder,
    fingerprint: Option<JoinHandle<Fingerprint>>,
    secrets: &SecretSet,
    root: &Path,
) -> (Report, Vec<String>) {
    let fingerprint = fingerprint
        .and_then(|handle| handle.join().ok())
        .unwrap_or_default();
    let timings = recorder.timings();
    let record = RunRecord::build(RecordInputs {
        id: &run.run_dir.id,
        run_dir: &run.run_dir.path,
        root,
        started_at: recorder.started_at(),
        plan: run.plan,
        summary: run.summary,
        timings: &timings,
        logs: run.logs,
        invocation: run.invocation.clone(),
        services: run
            .services
            .iter()
            .map(|s| s.record(recorder.started(), &run.run_dir.path))
            .collect(),
        fingerprint,
        secrets,
    });
    let mut warnings = Vec::new();
    // The files are independent: `run.json` is written beside the others
    // (a millisecond or two for 200 jobs).
    let report = std::thread::scope(|scope| {
        let beside = std::thread::Builder::new()
            .name("parity-record".into())
            .spawn_scoped(scope, || record.write(&run.run_dir.path));
        let report = junit::build(&record, recorder.started_at(), &timings);
        let in_dir = run.run_dir.path.join(junit::FILE_NAME);
        if let Err(e) = junit::write(&report, &in_dir) {
            warnings.push(format!("cannot write {}: {e}", in_dir.display()));
        }
        if is_ci::cached() {
            let page = run.run_dir.path.join(html::FILE_NAME);
            if let Err(e) = html::write(&record, &run.run_dir.path, &page) {
                warnings.push(format!("cannot write {}: {e}", page.display()));
            }
        }
        let written = match beside {
            Ok(thread) => thread
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            Err(_) => record.write(&run.run_dir.path),
        };
        if let Err(e) = written {
            warnings.push(format!("{e}: {}", source_text(&e)));
        }
        report
    });
    (report, warnings)
}

fn source_text(error: &dyn std::error::Error) -> String {
    error.source().map(|s| s.to_string()).unwrap_or_default()
}

/// Errors of the commands that read runs back (`report`, `diff`, `runs`)
/// and of the files `run` writes on request.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum InsightError {
    #[error(transparent)]
    #[diagnostic(transparent)]
    Lookup(#[from] runs::RunLookupError),
    #[error(transparent)]
    #[diagnostic(transparent)]
    Junit(#[from] JunitError),
    #[error("cannot write {}", path.display())]
    #[diagnostic(
        code(parity::write),
        help("check that the directory exists and is writable")
    )]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot open {} in a browser", path.display())]
    #[diagnostic(code(parity::open), help("the report is written; open it by hand"))]
    Open {
        path: PathBuf,
        #[source]
        source: opener::OpenError,
    },
}

impl InsightError {
    pub fn exit_code(&self) -> i32 {
        match self {
            InsightError::Lookup(_) => crate::exit_code::USAGE,
            InsightError::Junit(_) | InsightError::Write { .. } | InsightError::Open { .. } => {
                crate::exit_code::FAILED
            }
        }
    }
}

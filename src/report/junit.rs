//! JUnit XML for CI test reporters: one `<testsuite>` per job, one
//! `<testcase>` per step, a failing step's (masked) output captured in its
//! failure. Written into every run directory, and to `--junit FILE`.

use super::record::{JobRecord, RunRecord, StepRecord};
use super::recorder::JobTiming;
use chrono::{DateTime, FixedOffset, Utc};
use quick_junit::{
    NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite, XmlString,
};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// The file name inside a run directory.
pub const FILE_NAME: &str = "junit.xml";

/// Builds the report. `timings` carries each step's output tail; without it
/// (a record read back later) failures have no captured output.
pub(crate) fn build(record: &RunRecord, started_at: SystemTime, timings: &[JobTiming]) -> Report {
    let mut report = Report::new("parity");
    let start: DateTime<FixedOffset> = DateTime::<Utc>::from(started_at).fixed_offset();
    report.set_timestamp(start);
    report.set_time(Duration::from_millis(record.duration_ms));
    let mut results = Results::default();
    for (index, job) in record.jobs.iter().enumerate() {
        report.add_test_suite(suite(job, start, timings.get(index), &mut results));
    }
    report
}

/// The `result` property's name and values, converted once: quick-junit
/// scans every string it is given for terminal escapes, which made up a
/// quarter of a 200-job report's cost, and most of these repeat.
#[derive(Default)]
struct Results {
    key: Option<XmlString>,
    values: Vec<(String, XmlString)>,
}

impl Results {
    fn property(&mut self, result: &str) -> Property {
        let key = self.key.get_or_insert_with(|| XmlString::new("result"));
        let value = match self.values.iter().find(|(text, _)| text == result) {
            Some((_, value)) => value.clone(),
            None => {
                let value = XmlString::new(result);
                self.values.push((result.to_owned(), value.clone()));
                value
            }
        };
        Property::new(key.clone(), value)
    }
}

/// Writes the report to `path`.
pub fn write(report: &Report, path: &Path) -> std::io::Result<()> {
    let text = report.to_string().map_err(std::io::Error::other)?;
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)
}

fn suite(
    job: &JobRecord,
    run_start: DateTime<FixedOffset>,
    timing: Option<&JobTiming>,
    results: &mut Results,
) -> TestSuite {
    let name = XmlString::new(&job.name);
    let mut suite = TestSuite::new(name.clone());
    if let Some(start) = job.start_ms {
        suite.set_timestamp(
            run_start + chrono::Duration::milliseconds(i64::try_from(start).unwrap_or(0)),
        );
    }
    suite.set_time(Duration::from_millis(job.duration_ms));
    suite.add_property(results.property(&job.result));
    if job.cache_hit {
        suite.add_property(Property::new("cache", "hit"));
    }
    for (key, value) in &job.matrix {
        suite.add_property(Property::new(format!("matrix.{key}"), value.as_str()));
    }
    for step in &job.steps {
        let output = timing
            .and_then(|t| t.steps.iter().rev().find(|s| s.index == step.index))
            .map(|s| (s.output.as_slice(), s.truncated));
        suite.add_test_case(case(job, &name, step, output));
    }
    suite
}

fn case(
    job: &JobRecord,
    classname: &XmlString,
    step: &StepRecord,
    output: Option<(&[u8], bool)>,
) -> TestCase {
    let status = match step.result.as_str() {
        "passed" => TestCaseStatus::success(),
        "failed" | "timed_out" => {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let message = match (job.result.as_str(), &job.detail) {
                ("failed", Some(detail)) => detail.clone(),
                (_, Some(detail)) => format!("{} ({detail})", ending(step)),
                (_, None) => ending(step),
            };
            status.set_message(message);
            status.set_type(ending(step));
            if let Some((bytes, truncated)) = output {
                let mut text = String::new();
                if truncated {
                    text.push_str("[… earlier output is in the job's log]\n");
                }
                text.push_str(&String::from_utf8_lossy(bytes));
                status.set_description(text);
            }
            status
        }
        _ => {
            let mut status = TestCaseStatus::skipped();
            let why = match job.result.as_str() {
                "cached" => "the job's result came from the cache".to_owned(),
                _ if step.result == "cancelled" => {
                    format!(
                        "stopped while running: {}",
                        job.detail.as_deref().unwrap_or("cancelled")
                    )
                }
                _ => match &job.detail {
                    Some(detail) if job.result == "skipped" => format!("job skipped: {detail}"),
                    Some(detail) => format!("not run: {detail}"),
                    None => "not run".to_owned(),
                },
            };
            status.set_message(why);
            status
        }
    };
    let mut case = TestCase::new(name(step), status);
    case.set_classname(classname.clone());
    if let (Some(start), Some(end)) = (step.start_ms, step.end_ms) {
        case.set_time(Duration::from_millis(end.saturating_sub(start)));
    }
    if matches!(step.result.as_str(), "failed" | "timed_out") {
        if let Some((bytes, _)) = output {
            case.set_system_out_lossy(bytes);
        }
    }
    case
}

/// `step 2: cargo test --all`, with the first line of a multi-line step.
fn name(step: &StepRecord) -> String {
    let first = step.command.trim().lines().next().unwrap_or_default();
    let more = step.command.trim().lines().count().saturating_sub(1);
    match more {
        0 => format!("step {}: {first}", step.index + 1),
        _ => format!("step {}: {first} (+{more} lines)", step.index + 1),
    }
}

fn ending(step: &StepRecord) -> String {
    match (&step.exit_code, &step.signal, &step.error) {
        (Some(code), _, _) => format!("exit code {code}"),
        (_, Some(signal), _) => format!("killed by {signal}"),
        (_, _, Some(error)) => format!("could not start: {error}"),
        _ => "failed".to_owned(),
    }
}

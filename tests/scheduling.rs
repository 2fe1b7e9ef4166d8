//! The scheduler against random pipelines: a DAG of jobs that pass or
//! fail, run with `--keep-going` or fail-fast, `--jobs 3`. Whatever the
//! shape, a job runs only after everything it needs has passed, never
//! more than three at once, and the summary and the exit code say what
//! happened.

use crate::harness::Test;
use proptest::prelude::*;
use std::collections::HashMap;

/// One job: the earlier jobs it needs, whether its step fails, and
/// whether it sleeps a moment (so that jobs overlap).
#[derive(Debug, Clone)]
struct Job {
    needs: Vec<usize>,
    fails: bool,
    sleeps: bool,
}

fn jobs() -> impl Strategy<Value = Vec<Job>> {
    (2..8usize).prop_flat_map(|count| {
        (0..count)
            .map(|index| {
                (
                    // Only earlier jobs, so that the pipeline has no cycle
                    // (the first job's range is never drawn from: size 0).
                    prop::collection::btree_set(0..index.max(1), 0..=index.min(3)),
                    prop::bool::weighted(0.25),
                    any::<bool>(),
                )
                    .prop_map(|(needs, fails, sleeps)| Job {
                        needs: needs.into_iter().collect(),
                        fails,
                        sleeps,
                    })
            })
            .collect::<Vec<_>>()
    })
}

/// Each job records its start and end (nanoseconds) in `jN.start`/`jN.end`.
fn pipeline(jobs: &[Job]) -> String {
    let mut text = String::from("version = 1\n");
    for (index, job) in jobs.iter().enumerate() {
        let needs: Vec<String> = job.needs.iter().map(|n| format!("\"j{n}\"")).collect();
        text.push_str(&format!(
            "[jobs.j{index}]\nneeds = [{}]\nrun = \"date +%s%N > j{index}.start; sleep {}; date +%s%N > j{index}.end; exit {}\"\n",
            needs.join(", "),
            if job.sleeps { "0.05" } else { "0" },
            u8::from(job.fails),
        ));
    }
    text
}

/// What `--keep-going` must report for each job: its own result when
/// everything it needs passed, else skipped.
fn expected(jobs: &[Job]) -> Vec<&'static str> {
    let mut results: Vec<&'static str> = Vec::new();
    for job in jobs {
        let result = if job.needs.iter().any(|&n| results[n] != "passed") {
            "skipped"
        } else if job.fails {
            "failed"
        } else {
            "passed"
        };
        results.push(result);
    }
    results
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    #[test]
    fn jobs_run_after_their_needs_and_report_what_happened(
        jobs in jobs(),
        keep_going in any::<bool>(),
    ) {
        let mut args = vec!["run", "--jobs", "3"];
        if keep_going {
            args.push("--keep-going");
        }
        let out = Test::new().pipeline(&pipeline(&jobs)).args(args).run();
        let results: HashMap<String, String> =
            out.summary().into_iter().map(|row| (row.job, row.result)).collect();
        let stamp = |name: String| -> Option<u128> {
            out.exists(&name).then(|| out.read(&name)).and_then(|t| t.trim().parse().ok())
        };
        let mut spans = Vec::new();
        for (index, job) in jobs.iter().enumerate() {
            let name = format!("j{index}");
            let result = results.get(&name).map(String::as_str);
            let ran = out.exists(&format!("{name}.start"));
            if ran {
                let (start, end) = (stamp(format!("{name}.start")), stamp(format!("{name}.end")));
                // A job cancelled by a failure elsewhere may be stopped
                // before it writes a time, or while it does.
                prop_assert!(
                    (start.is_some() && end.is_some()) || result == Some("cancelled"),
                    "{name} left no times\n{out}"
                );
                for &need in &job.needs {
                    prop_assert_eq!(results.get(&format!("j{need}")).map(String::as_str), Some("passed"));
                    let need_end = stamp(format!("j{need}.end"));
                    prop_assert!(need_end.is_some(), "j{need} passed without an end\n{out}");
                    prop_assert!(start.is_none() || need_end < start, "{name} started before j{need} ended\n{out}");
                }
                if let (Some(start), Some(end)) = (start, end) {
                    spans.push((start, end));
                }
            } else {
                prop_assert!(
                    matches!(result, Some("skipped" | "cancelled")),
                    "{name} did not run, yet is {result:?}\n{out}"
                );
            }
        }
        for &(start, _) in &spans {
            let running = spans.iter().filter(|&&(s, e)| s <= start && start < e).count();
            prop_assert!(running <= 3, "{running} jobs at once\n{out}");
        }
        let any_failed = results.values().any(|r| r == "failed");
        out.status(if any_failed { 1 } else { 0 });
        if keep_going {
            for (index, want) in expected(&jobs).into_iter().enumerate() {
                prop_assert_eq!(results.get(&format!("j{index}")).map(String::as_str), Some(want));
            }
        } else {
            let first_failure = jobs.iter().any(|j| j.fails && j.needs.is_empty());
            prop_assert!(!first_failure || any_failed, "a job without needs failed, unreported\n{out}");
        }
    }
}

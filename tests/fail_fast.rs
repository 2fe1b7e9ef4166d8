//! The first failure stops the run; `--keep-going` runs everything whose
//! needs passed.

use crate::harness::{assert_no_process, Test, Unique};
use std::time::Duration;

#[test]
fn a_failure_cancels_running_jobs_and_skips_the_rest() {
    let long = Unique::duration(30);
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            [jobs.bad]
            run = "sleep 0.3; echo bad-failing; exit 1"
            [jobs.long]
            run = "sleep {long}"
            [jobs.after]
            needs = ["long"]
            run = "touch after-ran"
            [jobs.dependent]
            needs = ["bad"]
            run = "touch dependent-ran"
            "#
        ))
        .args(["run", "--jobs", "2"])
        .run();
    out.status(1)
        .result("bad", "failed")
        .detail("bad", "exited with code 1")
        .result("long", "cancelled")
        .detail("long", "stopped because another job failed")
        // `--keep-going` would run `after`, never `dependent`: each says so.
        .result("after", "skipped")
        .detail("after", "stopped after a failure (--keep-going runs it)")
        .result("dependent", "skipped")
        .detail("dependent", "needs `bad`, which did not pass")
        .stdout_contains("bad-failing");
    assert!(
        !out.exists("after-ran"),
        "a job after the failure ran\n{out}"
    );
    assert!(
        out.elapsed < Duration::from_secs(10),
        "fail-fast took {:?}\n{out}",
        out.elapsed
    );
    assert_no_process(&long);
}

#[test]
fn a_cancelled_jobs_processes_on_their_way_out_are_no_warning() {
    let slow = Unique::duration(1);
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            [jobs.bad]
            run = "sleep 0.3; exit 1"
            [jobs.long]
            run = "(trap 'sleep {slow}; exit 0' TERM; while :; do sleep 0.05; done) & sleep 30"
            "#
        ))
        .args(["run", "--jobs", "2"])
        .run();
    out.status(1)
        .result("bad", "failed")
        .result("long", "cancelled");
    // The subshell outlives its shell by a second, stopping: the job's log
    // says so, the console does not call it a process left running.
    assert!(!out.stderr.contains("left running"), "{out}");
    assert!(
        out.log("long").contains("left running"),
        "{}",
        out.log("long")
    );
    assert_no_process(&slow);
}

#[test]
fn keep_going_runs_independent_jobs_and_skips_dependents_of_the_failure() {
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.bad]
            run = "exit 1"
            [jobs.independent]
            run = "sleep 0.5; touch independent-ran"
            [jobs.next]
            needs = ["independent"]
            run = "touch next-ran"
            [jobs.dependent]
            needs = ["bad"]
            run = "touch dependent-ran"
            "#,
        )
        .args(["run", "--keep-going", "--jobs", "2"])
        .run();
    out.status(1)
        .result("bad", "failed")
        .result("independent", "passed")
        .result("next", "passed")
        .result("dependent", "skipped")
        .detail("dependent", "needs `bad`, which did not pass");
    assert!(
        out.exists("independent-ran") && out.exists("next-ran"),
        "{out}"
    );
    assert!(
        !out.exists("dependent-ran"),
        "a dependent of the failure ran\n{out}"
    );
}

#[test]
fn a_failure_skips_what_needs_it_down_the_chain_wherever_the_file_puts_it() {
    // Dependents before their needs in the file, a job with two needs, and
    // a chain of two below the failure.
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.deploy]
            needs = ["package"]
            run = "touch deploy-ran"
            [jobs.package]
            needs = ["test", "lint"]
            run = "touch package-ran"
            [jobs.test]
            needs = ["build"]
            run = "exit 1"
            [jobs.lint]
            run = "sleep 0.3; touch lint-ran"
            [jobs.docs]
            needs = ["build", "lint"]
            run = "test -e lint-ran && touch docs-ran"
            [jobs.build]
            run = "true"
            "#,
        )
        .args(["run", "--keep-going", "--jobs", "2"])
        .run();
    out.status(1)
        .result("build", "passed")
        .result("test", "failed")
        .result("lint", "passed")
        .result("docs", "passed")
        .result("package", "skipped")
        .detail("package", "needs `test`, which did not pass")
        .result("deploy", "skipped")
        .detail("deploy", "needs `package`, which did not pass");
    assert!(out.exists("docs-ran"), "{out}");
    assert!(
        !out.exists("package-ran") && !out.exists("deploy-ran"),
        "a dependent of the failure ran\n{out}"
    );
}

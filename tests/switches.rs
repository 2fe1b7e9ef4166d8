//! Switches turn jobs on from the environment or `--enable`; publish jobs
//! run dry unless `--publish`.

use crate::harness::{Output, Test};

/// `integration` is behind the switch RUN_X; `after` needs it.
fn switched(configure: impl FnOnce(Test) -> Test) -> Output {
    let test = Test::new().pipeline(
        r#"
        version = 1
        [jobs.integration]
        switch = "RUN_X"
        run = "touch integration-ran"
        [jobs.after]
        needs = ["integration"]
        run = "touch after-ran"
        "#,
    );
    let out = configure(test).run();
    out.status(0).result("after", "passed");
    assert!(
        out.exists("after-ran"),
        "a job needing a switched-off job must still run\n{out}"
    );
    out
}

#[track_caller]
fn assert_switched_off(out: &Output) {
    out.result("integration", "skipped").detail(
        "integration",
        "switch RUN_X is off (--enable RUN_X to run it)",
    );
    assert!(!out.exists("integration-ran"), "{out}");
}

#[track_caller]
fn assert_switched_on(out: &Output) {
    out.result("integration", "passed");
    assert!(out.exists("integration-ran"), "{out}");
}

#[test]
fn a_switched_job_is_skipped_by_default() {
    assert_switched_off(&switched(|t| t.args(["run"])));
}

#[test]
fn a_falsy_switch_value_keeps_the_job_off() {
    for value in ["0", "false", ""] {
        assert_switched_off(&switched(|t| t.env("RUN_X", value).args(["run"])));
    }
}

#[test]
fn the_environment_turns_a_switch_on() {
    assert_switched_on(&switched(|t| t.env("RUN_X", "1").args(["run"])));
}

#[test]
fn enable_turns_a_switch_on() {
    assert_switched_on(&switched(|t| t.args(["run", "--enable", "RUN_X"])));
}

#[test]
fn enabling_a_switch_no_job_has_is_refused_with_the_likely_one() {
    let out = Test::new()
        .pipeline("version = 1\n[jobs.integration]\nswitch = \"RUN_X\"\nrun = \"touch integration-ran\"\n")
        .args(["run", "--enable", "RUN_Y"])
        .run();
    out.status(2)
        .stderr_contains("`--enable RUN_Y`: no job has `switch = \"RUN_Y\"`")
        .stderr_contains("did you mean `RUN_X`?");
    assert!(!out.exists("integration-ran"), "{out}");
}

#[test]
fn a_profile_enabling_a_switch_no_job_has_is_a_pipeline_error() {
    Test::new()
        .pipeline(
            "version = 1\n[profiles.ci]\nenable = [\"RUN_Y\"]\n[jobs.integration]\nswitch = \"RUN_X\"\nrun = \"true\"\n",
        )
        .args(["list"])
        .run()
        .status(2)
        .stderr_contains("unknown switch `RUN_Y` in `enable`")
        .stderr_contains("did you mean `RUN_X`?");
}

#[test]
fn naming_a_switched_job_runs_it() {
    assert_switched_on(&switched(|t| t.args(["run", "integration", "after"])));
}

fn publishing(args: &[&str]) -> Output {
    let record = |file: &str| format!(r#"echo "DRY_RUN=${{DRY_RUN:-unset}}" > {file}"#);
    let out = Test::new()
        .pipeline(&format!(
            "version = 1\n[jobs.build]\nrun = '{}'\n[jobs.publish]\nneeds = [\"build\"]\npublish = true\nrun = '{}'\n",
            record("build.txt"),
            record("publish.txt")
        ))
        .args(args.iter().copied())
        .run();
    out.status(0)
        .result("build", "passed")
        .result("publish", "passed");
    out
}

#[test]
fn a_publish_job_runs_dry_by_default() {
    let out = publishing(&["run"]);
    // Its pass says that it published nothing, live and in the summary.
    out.detail("publish", "dry run: DRY_RUN=1 (`--publish` publishes)")
        .stdout_contains("✔ publish passed in ");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("✔ publish passed in ")
                && l.ends_with("dry run: DRY_RUN=1 (`--publish` publishes)")),
        "{out}"
    );
    assert_eq!(out.read("publish.txt"), "DRY_RUN=1\n");
    assert_eq!(
        out.read("build.txt"),
        "DRY_RUN=unset\n",
        "only publish jobs run dry"
    );
}

#[test]
fn publish_flag_runs_it_for_real() {
    let out = publishing(&["run", "--publish"]);
    assert_eq!(out.read("publish.txt"), "DRY_RUN=unset\n");
    assert!(!out.stdout.contains("dry run"), "{out}");
}

/// `slow` is skipped by the profile `fast`, which also turns on RUN_X.
fn profiled(args: &[&str]) -> Output {
    Test::new()
        .pipeline(
            r#"
            version = 1
            [profiles.fast]
            skip = ["slow"]
            enable = ["RUN_X"]
            [jobs.slow]
            run = "touch slow-ran"
            [jobs.integration]
            switch = "RUN_X"
            run = "touch integration-ran"
            "#,
        )
        .args(args.iter().copied())
        .run()
}

#[test]
fn a_profile_skips_jobs_and_turns_switches_on() {
    let out = profiled(&["run", "--profile", "fast"]);
    out.status(0)
        .result("slow", "skipped")
        .detail("slow", "profile `fast` skips it")
        .result("integration", "passed");
    assert!(
        !out.exists("slow-ran") && out.exists("integration-ran"),
        "{out}"
    );
}

#[test]
fn an_unknown_profile_is_a_usage_error() {
    let out = profiled(&["run", "--profile", "fsat"]);
    out.status(2)
        .stderr_contains("no profile named `fsat`")
        .stderr_contains("did you mean `fast`?");
    assert!(!out.exists("slow-ran"), "{out}");
}

#[test]
fn a_profile_name_far_from_any_lists_the_profiles() {
    let out = profiled(&["run", "--profile", "nightly"]);
    out.status(2)
        .stderr_contains("no profile named `nightly`")
        .stderr_contains("profiles here: `fast`");
    assert!(!out.exists("slow-ran"), "{out}");
}

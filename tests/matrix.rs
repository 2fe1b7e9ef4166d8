//! Matrix jobs: expanded like GitHub's `strategy.matrix`, filtered with
//! `--matrix`, values substituted into `run` and `env`.

use crate::harness::{Output, Test};

/// Each instance writes what it saw into `out-FEATURES.txt`.
const FEATURES: &str = r#"
    version = 1
    [jobs.test]
    run = 'echo "run={{matrix.features}} env=$FEATURE_ENV" > out-{{matrix.features}}.txt'
    matrix = { features = ["default", "full"] }
    env = { FEATURE_ENV = "env-{{matrix.features}}" }
    [jobs.package]
    needs = ["test"]
    run = "touch packaged"
"#;

fn features(args: &[&str]) -> Output {
    Test::new()
        .pipeline(FEATURES)
        .args(args.iter().copied())
        .run()
}

#[test]
fn list_shows_every_instance() {
    let out = features(&["list"]);
    out.status(0)
        .stdout_contains("test     matrix: 2 instances\n")
        .stdout_contains("  test (features=default)\n")
        .stdout_contains("  test (features=full)\n")
        .stdout_contains("package  needs test\n");
}

#[test]
fn list_counts_one_instance_as_one() {
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.test]
            run = "echo {{matrix.v}}"
            matrix = { v = ["only"] }
            "#,
        )
        .args(["list"])
        .run();
    out.status(0)
        .stdout_contains("test  matrix: 1 instance\n")
        .stdout_contains("  test (v=only)\n");
}

#[test]
fn every_instance_runs_with_its_values_in_run_and_env() {
    let out = features(&["run", "--jobs", "2"]);
    out.status(0)
        .result("test (features=default)", "passed")
        .result("test (features=full)", "passed")
        .result("package", "passed");
    assert_eq!(out.read("out-default.txt"), "run=default env=env-default\n");
    assert_eq!(out.read("out-full.txt"), "run=full env=env-full\n");
    let log = out.log("test-features=full");
    assert!(
        log.contains("out-full.txt"),
        "the log holds the substituted step:\n{log}"
    );
}

#[test]
fn four_braces_reach_the_shell_as_two_beside_matrix_values() {
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.tpl]
            matrix = { v = ["a"] }
            run = ["printf '%s\\n' '{{{{.Names}}-{{matrix.v}}' > tpl.txt", 'echo "$FORMAT" >> tpl.txt']
            env = { FORMAT = "{{{{json .}}-{{matrix.v}}" }
            [jobs.env]
            needs = ["tpl"]
            run = 'echo "$FORMAT" >> tpl.txt'
            env = { FORMAT = "{{{{ .State }}" }
            "#,
        )
        .args(["run"])
        .run();
    out.status(0);
    assert_eq!(
        out.read("tpl.txt"),
        "{{.Names}}-a\n{{json .}}-a\n{{ .State }}\n"
    );
    let log = out.log("tpl-v=a");
    assert!(log.contains("$ printf '%s\\n' '{{.Names}}-a'"), "{log}");
}

#[test]
fn matrix_filter_runs_only_that_instance() {
    let out = features(&["run", "--matrix", "features=full"]);
    out.status(0)
        .result("test (features=full)", "passed")
        .result("package", "passed");
    let jobs: Vec<String> = out.summary().into_iter().map(|r| r.job).collect();
    assert_eq!(jobs, ["test (features=full)", "package"], "{out}");
    assert!(
        out.exists("out-full.txt") && !out.exists("out-default.txt"),
        "{out}"
    );
}

#[test]
fn matrix_filter_matching_nothing_is_an_error() {
    let out = features(&["run", "--matrix", "features=nope"]);
    out.status(2)
        .stderr_contains("`--matrix features=nope` matches no job instance")
        .stderr_contains("`features` takes `default`, `full`");
    assert!(!out.exists("packaged"), "{out}");
    features(&["run", "--matrix", "feature=full"])
        .status(2)
        .stderr_contains("no matrix has `feature`; the keys are `features`");
}

const INCLUDE_EXCLUDE: &str = r#"
    version = 1
    [jobs.test]
    run = "touch {{matrix.features}}-{{matrix.os}}"
    [jobs.test.matrix]
    features = ["default", "full"]
    os = ["linux", "mac"]
    exclude = [{ features = "full", os = "mac" }]
    include = [{ features = "nightly", os = "linux" }]
"#;

#[test]
fn include_and_exclude_as_github_does() {
    let out = Test::new().pipeline(INCLUDE_EXCLUDE).args(["list"]).run();
    out.status(0);
    let instances: Vec<&str> = out
        .stdout
        .lines()
        .filter_map(|l| l.strip_prefix("  "))
        .collect();
    assert_eq!(
        instances,
        [
            "test (features=default, os=linux)",
            "test (features=default, os=mac)",
            "test (features=full, os=linux)",
            "test (features=nightly, os=linux)",
        ],
        "{out}"
    );
}

#[test]
fn included_instances_run_and_excluded_ones_do_not() {
    let out = Test::new()
        .pipeline(INCLUDE_EXCLUDE)
        .args(["run", "--jobs", "2"])
        .run();
    out.status(0)
        .result("test (features=nightly, os=linux)", "passed");
    for ran in [
        "default-linux",
        "default-mac",
        "full-linux",
        "nightly-linux",
    ] {
        assert!(out.exists(ran), "{ran} did not run\n{out}");
    }
    assert!(!out.exists("full-mac"), "an excluded instance ran\n{out}");
}

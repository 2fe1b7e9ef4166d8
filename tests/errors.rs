//! Mistakes in `parity.toml` and on the command line: exit code 2, nothing
//! runs, and the message says what is wrong, where, and what to do.
//! Pipeline errors are compared as rendered, in snapshots.

use crate::harness::{Output, Test};

/// Runs a pipeline that must be rejected; returns its rendered error with
/// the temporary directory replaced by `[TEMP]`. Every job in these
/// pipelines would `touch ran`, so nothing may have run.
#[track_caller]
fn rejected(pipeline: &str) -> String {
    let out = Test::new()
        .pipeline(pipeline)
        .env("NO_COLOR", "1")
        .args(["run"])
        .run();
    out.status(2);
    assert!(
        !out.exists("ran") && !out.exists(".parity"),
        "a rejected pipeline ran\n{out}"
    );
    redact(&out)
}

/// [`rejected`], saying each of `says`, and rendered as the snapshot
/// `snapshot` has it.
#[track_caller]
fn rejected_saying(snapshot: &str, pipeline: &str, says: &[&str]) {
    let error = rejected(pipeline);
    for text in says {
        assert!(error.contains(text), "{text:?} is missing from\n{error}");
    }
    insta::assert_snapshot!(snapshot, error);
}

fn redact(out: &Output) -> String {
    let mut text = out.stderr.clone();
    if let Ok(real) = std::fs::canonicalize(out.path()) {
        text = text.replace(&real.display().to_string(), "[TEMP]");
    }
    text.replace(&out.path().display().to_string(), "[TEMP]")
}

#[test]
fn unknown_key_suggests_the_right_one() {
    rejected_saying(
        "unknown_key",
        r#"
        version = 1
        [jobs.build]
        run = "touch ran"
        [jobs.lint]
        neds = ["build"]
        run = "touch ran"
        "#,
        &["did you mean `needs`?"],
    );
}

#[test]
fn unknown_job_in_needs() {
    rejected_saying(
        "unknown_job_in_needs",
        r#"
        version = 1
        [jobs.build]
        run = "touch ran"
        [jobs.test]
        needs = ["biuld"]
        run = "touch ran"
        "#,
        &["unknown job `biuld`", "did you mean `build`?"],
    );
}

#[test]
fn a_cycle_is_named_whole() {
    rejected_saying(
        "cycle",
        r#"
        version = 1
        [jobs.a]
        needs = ["b"]
        run = "touch ran"
        [jobs.b]
        needs = ["c"]
        run = "touch ran"
        [jobs.c]
        needs = ["a"]
        run = "touch ran"
        "#,
        &["a → b → c → a"],
    );
}

#[test]
fn bad_duration() {
    rejected_saying(
        "bad_duration",
        r#"
        version = 1
        [jobs.slow]
        run = "touch ran"
        timeout = "5 parsecs"
        "#,
        &["bad duration `5 parsecs`"],
    );
}

#[test]
fn a_log_probe_that_is_not_a_regex() {
    rejected_saying(
        "log_probe_not_a_regex",
        r#"
        version = 1
        [services.api]
        command = "python3 -m http.server {{port}}"
        ready = { log = "Serving HTTP on .* port {{port}} (" }
        [jobs.call]
        services = ["api"]
        run = "touch ran"
        "#,
        &["is not a regular expression", "unclosed group"],
    );
}

#[test]
fn empty_run() {
    rejected_saying(
        "empty_run",
        r#"
        version = 1
        [jobs.ok]
        run = "touch ran"
        [jobs.nothing]
        run = []
        "#,
        &["empty `run`"],
    );
}

#[test]
fn an_empty_step_among_others_is_named() {
    let error = rejected(
        r#"
        version = 1
        [jobs.build]
        run = ["touch ran", "   "]
        "#,
    );
    assert!(
        error.contains("an empty step in `run`") && error.contains("step 2 has nothing to run"),
        "{error}"
    );
}

#[test]
fn a_job_needed_twice() {
    rejected_saying(
        "needs_twice",
        r#"
        version = 1
        [jobs.build]
        run = "touch ran"
        [jobs.test]
        needs = ["build", "build"]
        run = "touch ran"
        "#,
        &["`needs` lists `build` twice"],
    );
}

#[test]
fn unknown_matrix_placeholder() {
    rejected_saying(
        "unknown_placeholder",
        r#"
        version = 1
        [jobs.test]
        run = "touch ran --features {{matrix.nope}}"
        matrix = { features = ["default", "full"] }
        "#,
        &["{{matrix.nope}}", "matrix.features"],
    );
}

#[test]
fn two_services_named_alike() {
    rejected_saying(
        "services_named_alike",
        r#"
        version = 1
        [services."api-db"]
        command = "touch ran"
        [services.api_db]
        command = "touch ran"
        [jobs.test]
        services = ["api-db", "api_db"]
        run = "touch ran"
        "#,
        &["services `api-db` and `api_db` would both set API_DB_HOST"],
    );
}

#[test]
fn variables_no_program_can_be_given() {
    rejected_saying(
        "env_names",
        r#"
        version = 1
        [env]
        "A=B" = "x"
        [jobs.test]
        env = { "" = "y", OK = "a\u0000b" }
        run = "touch ran"
        "#,
        &[
            "a name cannot hold `=`",
            "an empty name",
            "the value of `OK` holds a NUL byte",
        ],
    );
}

/// Matrices that would run one instance twice under one name, or none.
#[test]
fn matrices_that_cannot_run_as_written() {
    for (snapshot, matrix, says) in [
        (
            "matrix_value_twice",
            r#"{ features = ["default", "full", "default"] }"#,
            "matrix axis `features` lists `default` twice",
        ),
        (
            "matrix_instance_twice",
            r#"{ features = ["default"], include = [{ features = "full" }, { features = "full" }] }"#,
            "two instances named `test (features=full)`",
        ),
        (
            "matrix_no_instance",
            r#"{ features = ["full"], exclude = [{ features = "full" }] }"#,
            "the matrix of `test` has no instance left",
        ),
    ] {
        let error = rejected(&format!(
            r#"
            version = 1
            [jobs.test]
            run = "touch ran --features {{{{matrix.features}}}}"
            matrix = {matrix}
            [jobs.after]
            needs = ["test"]
            run = "touch ran"
            "#
        ));
        assert!(
            error.contains(says) && !error.contains("placeholder"),
            "{error}"
        );
        insta::assert_snapshot!(snapshot, error);
    }
}

#[test]
fn a_shell_that_ends_with_dash_c() {
    rejected_saying(
        "shell_dash_c",
        r#"
        version = 1
        [jobs.py]
        shell = "python3 -c"
        run = "open('ran', 'w')"
        "#,
        &["`shell` ends with `-c`", r#"write shell = "python3""#],
    );
}

fn run_job(name: &str) -> Output {
    Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.lint]
            run = "touch ran"
            "#,
        )
        .env("NO_COLOR", "1")
        .args(["run", name])
        .run()
}

#[test]
fn unknown_job_on_the_command_line_suggests_a_close_name() {
    let out = run_job("lnit");
    out.status(2)
        .stderr_contains("no job named `lnit`")
        .stderr_contains("did you mean `lint`?");
    assert!(!out.exists("ran"), "{out}");
}

#[test]
fn unknown_job_on_the_command_line_always_has_a_hint() {
    let out = run_job("nope");
    out.status(2)
        .stderr_contains("no job named `nope`")
        .stderr_contains("help:");
    assert!(!out.exists("ran"), "{out}");
}

#[test]
fn a_value_of_the_wrong_type_says_how_to_write_it() {
    let error = rejected(
        r#"
        version = 1
        [jobs.lint]
        run = "touch ran"
        [jobs.test]
        run = "touch ran"
        needs = "lint"
        "#,
    );
    assert!(
        error.contains("expected a sequence")
            && error.contains("`needs` takes a list: needs = [\"…\", \"…\"]"),
        "{error}"
    );
}

#[test]
fn a_missing_version_or_run_says_what_to_add() {
    let error = rejected("[jobs.a]\nrun = \"touch ran\"\n");
    assert!(
        error.contains("missing field `version`")
            && error.contains("start the file with `version = 1`"),
        "{error}"
    );
    let error = rejected("version = 1\n[jobs.a]\nneeds = []\n");
    assert!(
        error.contains("missing field `run`") && error.contains("this table needs `run = …`"),
        "{error}"
    );
}

/// A pipeline of services alone suits `services up`, but a run of nothing
/// is a mistake, as make and just say; `list` says so too.
#[test]
fn a_run_with_no_jobs_says_how_to_add_one() {
    let services_only = r#"
        version = 1
        [services.cache]
        preset = "redis"
        "#;
    rejected_saying("no_jobs", services_only, &["has no jobs", "[jobs.build]"]);
    Test::new()
        .pipeline(services_only)
        .args(["list"])
        .run()
        .status(0)
        .stdout_contains("has no jobs: add a [jobs.NAME] table");
}

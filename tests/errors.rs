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

fn redact(out: &Output) -> String {
    let mut text = out.stderr.clone();
    if let Ok(real) = std::fs::canonicalize(out.path()) {
        text = text.replace(&real.display().to_string(), "[TEMP]");
    }
    text.replace(&out.path().display().to_string(), "[TEMP]")
}

#[test]
fn unknown_key_suggests_the_right_one() {
    let error = rejected(
        r#"
        version = 1
        [jobs.build]
        run = "touch ran"
        [jobs.lint]
        neds = ["build"]
        run = "touch ran"
        "#,
    );
    assert!(error.contains("did you mean `needs`?"), "{error}");
    insta::assert_snapshot!("unknown_key", error);
}

#[test]
fn unknown_job_in_needs() {
    let error = rejected(
        r#"
        version = 1
        [jobs.build]
        run = "touch ran"
        [jobs.test]
        needs = ["biuld"]
        run = "touch ran"
        "#,
    );
    assert!(
        error.contains("unknown job `biuld`") && error.contains("did you mean `build`?"),
        "{error}"
    );
    insta::assert_snapshot!("unknown_job_in_needs", error);
}

#[test]
fn a_cycle_is_named_whole() {
    let error = rejected(
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
    );
    assert!(error.contains("a → b → c → a"), "{error}");
    insta::assert_snapshot!("cycle", error);
}

#[test]
fn bad_duration() {
    let error = rejected(
        r#"
        version = 1
        [jobs.slow]
        run = "touch ran"
        timeout = "5 parsecs"
        "#,
    );
    assert!(error.contains("bad duration `5 parsecs`"), "{error}");
    insta::assert_snapshot!("bad_duration", error);
}

#[test]
fn a_log_probe_that_is_not_a_regex() {
    let error = rejected(
        r#"
        version = 1
        [services.api]
        command = "python3 -m http.server {{port}}"
        ready = { log = "Serving HTTP on .* port {{port}} (" }
        [jobs.call]
        services = ["api"]
        run = "touch ran"
        "#,
    );
    assert!(error.contains("is not a regular expression"), "{error}");
    assert!(error.contains("unclosed group"), "{error}");
    insta::assert_snapshot!("log_probe_not_a_regex", error);
}

#[test]
fn empty_run() {
    let error = rejected(
        r#"
        version = 1
        [jobs.ok]
        run = "touch ran"
        [jobs.nothing]
        run = []
        "#,
    );
    assert!(error.contains("empty `run`"), "{error}");
    insta::assert_snapshot!("empty_run", error);
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
    let error = rejected(
        r#"
        version = 1
        [jobs.build]
        run = "touch ran"
        [jobs.test]
        needs = ["build", "build"]
        run = "touch ran"
        "#,
    );
    assert!(error.contains("`needs` lists `build` twice"), "{error}");
    insta::assert_snapshot!("needs_twice", error);
}

#[test]
fn unknown_matrix_placeholder() {
    let error = rejected(
        r#"
        version = 1
        [jobs.test]
        run = "touch ran --features {{matrix.nope}}"
        matrix = { features = ["default", "full"] }
        "#,
    );
    assert!(
        error.contains("{{matrix.nope}}") && error.contains("matrix.features"),
        "{error}"
    );
    insta::assert_snapshot!("unknown_placeholder", error);
}

#[test]
fn two_services_named_alike() {
    let error = rejected(
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
    );
    assert!(
        error.contains("services `api-db` and `api_db` would both set API_DB_HOST"),
        "{error}"
    );
    insta::assert_snapshot!("services_named_alike", error);
}

#[test]
fn variables_no_program_can_be_given() {
    let error = rejected(
        r#"
        version = 1
        [env]
        "A=B" = "x"
        [jobs.test]
        env = { "" = "y", OK = "a\u0000b" }
        run = "touch ran"
        "#,
    );
    for expected in [
        "a name cannot hold `=`",
        "an empty name",
        "the value of `OK` holds a NUL byte",
    ] {
        assert!(error.contains(expected), "{expected}\n{error}");
    }
    insta::assert_snapshot!("env_names", error);
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
    let error = rejected(
        r#"
        version = 1
        [jobs.py]
        shell = "python3 -c"
        run = "open('ran', 'w')"
        "#,
    );
    assert!(
        error.contains("`shell` ends with `-c`") && error.contains(r#"write shell = "python3""#),
        "{error}"
    );
    insta::assert_snapshot!("shell_dash_c", error);
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

//! `.env.ci.local` and `--env-file` reach the steps; values whose names say
//! they are credentials are masked everywhere parity writes.

use crate::harness::{assert_no_process, Output, Test, Unique};

const TOKEN: &str = "tok-5ecret-9f8e7d6c";

/// A job that prints the env file's values, checks it got the real token,
/// and leaves a process behind whose command line holds the token (parity
/// names leftovers in a warning).
fn with_env_file(args: &[&str]) -> (Output, Unique) {
    let sleep = Unique::duration(1000);
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            [jobs.show]
            run = [
                'echo "greeting=$GREETING token=$API_TOKEN"',
                'test "$API_TOKEN" = {TOKEN} && echo token-reached-the-step',
                'bash -c "sleep {sleep}; : $API_TOKEN" &',
                'echo "$API_TOKEN" >&2; exit 4',
            ]
            "#
        ))
        .file(
            ".env.ci.local",
            &format!("API_TOKEN={TOKEN}\nGREETING=hello-from-env-file\n"),
        )
        .file("extra.env", "GREETING=hello-from-extra\n")
        .args(args.iter().copied())
        .run();
    (out, sleep)
}

#[test]
fn env_file_values_reach_steps() {
    let (out, _) = with_env_file(&["run"]);
    out.status(1)
        .stdout_contains("[show] greeting=hello-from-env-file token=***")
        .stdout_contains("[show] token-reached-the-step");
}

#[test]
fn env_file_flag_overrides_the_local_file() {
    let (out, _) = with_env_file(&["run", "--env-file", "extra.env"]);
    out.status(1)
        .stdout_contains("[show] greeting=hello-from-extra token=***");
}

#[test]
fn a_secret_never_appears_in_output_or_state_files() {
    let (out, sleep) = with_env_file(&["run"]);
    out.status(1)
        .detail("show", "exited with code 4")
        .stderr_contains(&format!("bash -c sleep {sleep}; : ***"));
    assert!(!out.stdout.contains(TOKEN), "token on stdout\n{out}");
    assert!(!out.stderr.contains(TOKEN), "token on stderr\n{out}");
    let files = out.state_files();
    assert!(!files.is_empty(), "no files under .parity\n{out}");
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(TOKEN.len()).any(|w| w == TOKEN.as_bytes()),
            "token in {}\n{out}",
            file.display()
        );
    }
    assert!(
        out.log("show").contains("token=***"),
        "the log is masked, not empty\n{out}"
    );
    assert_no_process(&sleep);
}

#[test]
fn a_missing_env_file_is_a_usage_error() {
    let (out, _) = with_env_file(&["run", "--env-file", "missing.env"]);
    out.status(2).stderr_contains("missing.env not found");
    assert!(!out.exists(".parity"), "nothing may run\n{out}");
}

#[test]
fn a_malformed_line_is_located_without_its_value() {
    for (line, said, at) in [
        (
            "TOKEN={secret} and more",
            "not a `KEY=value` line",
            ".env.ci.local:3:",
        ),
        // A quote left open reads on to the end of the file: the line where
        // it opened is the one to fix.
        (
            "TOKEN=\"{secret}\nB=2",
            "is never closed",
            ".env.ci.local:3: ",
        ),
    ] {
        let secret = format!("s3cr3t-{}", std::process::id());
        let out = Test::new()
            .pipeline("version = 1\n[jobs.a]\nrun = \"true\"\n")
            .file(
                ".env.ci.local",
                &format!("# local\nA=1\n{}\n", line.replace("{secret}", &secret)),
            )
            .args(["run"])
            .run();
        out.status(2).stderr_contains(at).stderr_contains(said);
        assert!(
            !out.stdout.contains(&secret) && !out.stderr.contains(&secret),
            "the value was shown\n{out}"
        );
        assert!(!out.exists(".parity"), "nothing may run\n{out}");
    }
}

/// A pipeline declaring NPM_TOKEN_T as a required secret, which it prints.
fn declared_secret() -> Test {
    Test::new().pipeline(
        r#"
        version = 1
        [secrets]
        required = ["NPM_TOKEN_T"]
        [jobs.publish]
        run = "echo token=$NPM_TOKEN_T > seen.txt; cat seen.txt"
        "#,
    )
}

#[test]
fn a_declared_secret_from_the_environment_is_masked() {
    let secret = "npm-secret-value-1234";
    let out = declared_secret()
        .env("NPM_TOKEN_T", secret)
        .args(["run"])
        .run();
    out.status(0).stdout_contains("[publish] token=***");
    assert_eq!(
        out.read("seen.txt"),
        format!("token={secret}\n"),
        "the step gets the real value"
    );
    assert!(
        !out.stdout.contains(secret) && !out.log("publish").contains(secret),
        "{out}"
    );
}

#[test]
fn a_missing_required_secret_stops_the_run_before_any_job() {
    let out = declared_secret().args(["run"]).run();
    out.status(2).stderr_contains("NPM_TOKEN_T");
    assert!(
        !out.exists("seen.txt"),
        "a job ran without its required secret\n{out}"
    );
}

//! Required secrets: a missing one stops the run before any job starts,
//! naming it and where to put it, unless no job that runs for real needs it.

use super::{parity, parity_env, tempdir, write};

const PIPELINE: &str = r#"
version = 1
[secrets]
required = ["NPM_TOKEN", "DB_PASSWORD"]
[profiles.fast]
skip = ["publish"]
[jobs.build]
run = "touch built"
[jobs.migrate]
needs = ["build"]
switch = "RUN_MIGRATE"
run = "echo migrating with ${DB_PASSWORD:+a password}"
[jobs.publish]
needs = ["build"]
publish = true
secrets = ["NPM_TOKEN"]
run = "echo publishing"
"#;

fn pipeline() -> tempfile::TempDir {
    let dir = tempdir();
    write(dir.path(), "parity.toml", PIPELINE);
    dir
}

#[test]
fn skipped_jobs_and_dry_runs_need_no_secrets() {
    let dir = pipeline();
    // migrate's switch is off and publish dry-runs: nothing needs a secret.
    parity(dir.path(), &["run"]).status(0);
    // The fast profile skips publish, so --publish needs no token either.
    parity(dir.path(), &["run", "--profile", "fast", "--publish"]).status(0);
}

#[test]
fn a_missing_secret_fails_before_anything_starts() {
    let dir = pipeline();
    let ran = parity(dir.path(), &["run", "--publish"]);
    ran.status(2)
        .stderr_has("required secret `NPM_TOKEN` is not set")
        .stderr_has("`NPM_TOKEN` is needed by `publish`")
        .stderr_has("export NPM_TOKEN=")
        .stderr_has(".env.ci.local");
    assert!(
        !dir.path().join("built").exists(),
        "no job may start\n{ran}"
    );
    assert!(
        !dir.path().join(".parity/runs").exists(),
        "no run may start\n{ran}"
    );

    // A job that names `$DB_PASSWORD` needs it once its switch is on.
    parity(dir.path(), &["run", "--enable", "RUN_MIGRATE"])
        .status(2)
        .stderr_has("`DB_PASSWORD` is needed by `migrate`");
}

#[test]
fn secrets_come_from_the_environment_or_the_local_env_file() {
    let dir = pipeline();
    parity_env(
        dir.path(),
        &["run", "--publish"],
        &[("NPM_TOKEN", "token-from-env")],
    )
    .status(0);
    write(dir.path(), ".env.ci.local", "NPM_TOKEN=token-from-file\n");
    parity(dir.path(), &["run", "--publish"]).status(0);
}

#[test]
fn in_ci_the_hint_says_where_ci_keeps_secrets() {
    let dir = pipeline();
    parity_env(
        dir.path(),
        &["run", "--publish"],
        &[("GITHUB_ACTIONS", "true")],
    )
    .status(2)
    .stderr_has("repository secret")
    .stdout_has("::error title=parity::required secret `NPM_TOKEN` is not set");
}

#[test]
fn too_short_secrets_are_masked_with_a_warning() {
    let dir = pipeline();
    let ran = parity_env(
        dir.path(),
        &["run", "--publish", "--jobs", "1"],
        &[("NPM_TOKEN", "ab7"), ("DB_PASSWORD", "long-enough-1")],
    );
    ran.status(0)
        .stderr_has("secret `NPM_TOKEN` is 3 characters long, too short to mask safely");
}

#[test]
fn a_job_may_only_name_declared_secrets() {
    let dir = tempdir();
    write(
        dir.path(),
        "parity.toml",
        r#"
        version = 1
        [secrets]
        required = ["NPM_TOKEN"]
        [jobs.publish]
        run = "true"
        secrets = ["NPM_TOKNE"]
        "#,
    );
    parity(dir.path(), &["list"])
        .status(2)
        .stderr_has("unknown secret `NPM_TOKNE` in `secrets`")
        .stderr_has("did you mean `NPM_TOKEN`?");
}

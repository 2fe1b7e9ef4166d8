//! Under GitHub or Gitea Actions, each job's output is folded into a
//! `::group::` and failures become `::error` annotations.

use crate::harness::{Output, Test};

fn under_actions(var: &str, jobs: &str) -> Output {
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.good]
            run = "echo good-output"
            [jobs.bad]
            run = "echo bad-output; exit 3"
            "#,
        )
        .env(var, "true")
        .args(["run", "--keep-going", "--jobs", jobs])
        .run();
    out.status(1);
    out
}

/// The text between `::group::JOB` and the next `::endgroup::`.
#[track_caller]
fn group<'a>(out: &'a Output, job: &str) -> &'a str {
    let open = format!("::group::{job}\n");
    let start = out
        .stdout
        .find(&open)
        .unwrap_or_else(|| panic!("no {open:?}\n{out}"))
        + open.len();
    let len = out.stdout[start..]
        .find("::endgroup::\n")
        .unwrap_or_else(|| panic!("group {job} never ends\n{out}"));
    &out.stdout[start..start + len]
}

#[track_caller]
fn assert_folded(out: &Output) {
    let good = group(out, "good");
    assert!(
        good.contains("good-output") && !good.contains("bad-output"),
        "group good:\n{good}\n{out}"
    );
    let bad = group(out, "bad");
    assert!(
        bad.contains("bad-output") && !bad.contains("good-output"),
        "group bad:\n{bad}\n{out}"
    );
    out.stdout_contains(
        "::error title=bad failed::step 1 `echo bad-output; exit 3` exited with code 3",
    )
    .stdout_lacks("::error title=good")
    .stdout_lacks("[good] ");
}

#[test]
fn github_actions_folds_parallel_jobs_into_groups() {
    assert_folded(&under_actions("GITHUB_ACTIONS", "2"));
}

#[test]
fn github_actions_streams_groups_one_job_at_a_time() {
    assert_folded(&under_actions("GITHUB_ACTIONS", "1"));
}

#[test]
fn gitea_actions_folds_the_same_way() {
    assert_folded(&under_actions("GITEA_ACTIONS", "2"));
}

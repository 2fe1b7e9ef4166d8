//! What parity tells the CI runner: annotations for its own errors, the
//! step summary and outputs under Actions, collapsible sections on GitLab,
//! and `--no-deps`, which each generated CI job runs with.

use super::{parity, parity_env, tempdir, write};

#[test]
fn pipeline_errors_are_annotated_on_their_line() {
    let dir = tempdir();
    write(
        dir.path(),
        "parity.toml",
        "version = 1\n[jobs.lint]\nrun = \"true\"\nneds = [\"x\"]\n",
    );
    parity_env(dir.path(), &["run"], &[("GITHUB_ACTIONS", "true")])
        .status(2)
        .stdout_has("::error file=parity.toml,line=4,col=1,title=parity.toml::unknown key `neds`%0Adid you mean `needs`?\n");
    // Outside CI nothing of the sort is printed.
    let ran = parity(dir.path(), &["run"]);
    ran.status(2);
    assert!(!ran.stdout.contains("::error"), "{ran}");
}

#[test]
fn step_summary_and_outputs() {
    let dir = tempdir();
    write(
        dir.path(),
        "parity.toml",
        r#"
        version = 1
        [jobs.lint]
        run = "echo lint"
        [jobs.slow]
        switch = "RUN_SLOW"
        run = "echo slow"
        "#,
    );
    let summary = dir.path().join("summary.md");
    let outputs = dir.path().join("outputs.txt");
    std::fs::write(&summary, "earlier step\n").unwrap();
    let ran = parity_env(
        dir.path(),
        &["run"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_STEP_SUMMARY", &summary.to_string_lossy()),
            ("GITHUB_OUTPUT", &outputs.to_string_lossy()),
        ],
    );
    ran.status(0);
    // The skip is announced before any job's group opens, not inside one.
    let skipped = ran
        .stdout
        .find("– slow skipped")
        .expect("the skip is announced");
    let group = ran.stdout.find("::group::lint").expect("lint's group");
    assert!(skipped < group, "{ran}");
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.starts_with("earlier step\n### parity: passed in "),
        "appended, not replaced:\n{summary}"
    );
    assert!(
        summary.contains("| job | result | time | details |\n| :-- | :-- | --: | :-- |\n"),
        "{summary}"
    );
    assert!(summary.contains("| lint | ✅ passed | "), "{summary}");
    assert!(
        summary.contains("| slow | ⏭️ skipped | – | switch RUN_SLOW is off"),
        "{summary}"
    );
    let outputs = std::fs::read_to_string(&outputs).unwrap();
    assert_eq!(
        outputs,
        "result=passed\nresults={\"lint\":\"passed\",\"slow\":\"skipped\"}\n"
    );
}

#[test]
fn gitlab_gets_collapsible_sections() {
    let dir = tempdir();
    write(
        dir.path(),
        "parity.toml",
        r#"
        version = 1
        [jobs.one]
        run = "echo from-one"
        [jobs.two]
        run = "echo from-two; exit 1"
        "#,
    );
    for jobs in ["1", "2"] {
        let ran = parity_env(
            dir.path(),
            &["run", "--keep-going", "--jobs", jobs],
            &[("GITLAB_CI", "true")],
        );
        ran.status(1);
        for (job, index) in [("one", 0), ("two", 1)] {
            let start = ran
                .stdout
                .find(&format!(":parity_job_{index}"))
                .unwrap_or_else(|| panic!("no section for {job}\n{ran}"));
            assert!(
                ran.stdout[..start].ends_with(|c: char| c.is_ascii_digit()),
                "{ran}"
            );
            assert!(ran.stdout.contains("\x1b[0Ksection_end:"), "{ran}");
            let end = ran.stdout[start..]
                .find("section_end:")
                .map(|e| start + e)
                .unwrap_or(0);
            assert!(
                ran.stdout[start..end].contains(&format!("from-{job}")),
                "{job}'s output is in its section\n{ran}"
            );
        }
        assert!(!ran.stdout.contains("::group::"), "{ran}");
        assert!(!ran.stdout.contains("[one] "), "{ran}");
    }
}

#[test]
fn no_deps_runs_the_named_job_alone() {
    let dir = tempdir();
    write(
        dir.path(),
        "parity.toml",
        r#"
        version = 1
        [jobs.build]
        run = "touch built"
        [jobs.test]
        needs = ["build"]
        run = "echo testing"
        "#,
    );
    parity(dir.path(), &["run", "--job", "test", "--no-deps"])
        .status(0)
        .stdout_has("1 job to run");
    assert!(!dir.path().join("built").exists(), "build must not run");
    parity(dir.path(), &["run", "--job", "test"])
        .status(0)
        .stdout_has("2 jobs to run");
    assert!(dir.path().join("built").exists());
}

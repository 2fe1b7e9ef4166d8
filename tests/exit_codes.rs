//! The exit codes parity promises: 0 passed, 1 a step failed, 2 bad usage or
//! a bad pipeline file. (130, interrupted, is tested with Ctrl-C in
//! `process`; bad pipeline files in `errors`.)

use crate::harness::{assert_no_process, Output, Test, Unique, PARITY};

fn run(step: &str, args: &[&str]) -> Output {
    Test::new()
        .pipeline(&format!("version = 1\n[jobs.only]\nrun = '{step}'\n"))
        .args(args.iter().copied())
        .run()
}

#[test]
fn zero_when_every_job_passes() {
    let out = run("touch ran", &["run"]);
    out.status(0)
        .result("only", "passed")
        .stdout_contains("\npassed in ");
    assert!(out.exists("ran"), "{out}");
}

#[test]
fn one_when_a_step_fails() {
    let out = run("touch ran; exit 7", &["run"]);
    out.status(1)
        .result("only", "failed")
        .detail("only", "exited with code 7")
        .stdout_contains("\nfailed in ");
    assert!(out.exists("ran"), "{out}");
}

#[test]
fn one_when_a_step_is_killed_by_a_signal() {
    let out = run("touch ran; kill -KILL $$", &["run"]);
    out.status(1)
        .result("only", "failed")
        .detail("only", "was killed by SIGKILL");
}

#[test]
fn two_for_bad_arguments() {
    for args in [
        &["run", "--jobs", "many"][..],
        &["run", "--jobs", "0"],
        &["frobnicate"],
        &["run", "--matrix", "novalue"],
    ] {
        let out = run("touch ran", args);
        out.status(2);
        assert!(
            out.stderr.contains("error:"),
            "{args:?}: no error message\n{out}"
        );
        assert!(
            !out.exists("ran") && !out.exists(".parity"),
            "{args:?} ran something\n{out}"
        );
    }
}

#[test]
fn zero_jobs_at_a_time_says_why_it_is_refused() {
    run("true", &["run", "-j", "0"])
        .status(2)
        .stderr_contains("invalid value '0' for '--jobs <N>': at least 1 job must be able to run");
}

#[test]
fn a_reader_that_went_away_ends_the_output_not_in_a_panic() {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(
        dir.path().join("parity.toml"),
        "version = 1\n[services.cache]\npreset = \"redis\"\n[jobs.a]\nrun = \"true\"\n",
    )
    .expect("write parity.toml");
    for args in [
        &["list"][..],
        &["services", "status"],
        &["cache", "stats"],
        &["runs"],
        &["gen", "github", "--stdout"],
        &["doctor"],
    ] {
        // stdout is a pipe whose reader is gone: every write fails (EPIPE).
        let (reader, writer) = std::io::pipe().expect("pipe");
        drop(reader);
        let out = std::process::Command::new(PARITY)
            .args(args)
            .current_dir(dir.path())
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .stdout(writer)
            .output()
            .expect("run parity");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !stderr.contains("panicked") && out.status.code() != Some(101),
            "parity {args:?} panicked on a closed stdout: {:?}\n{stderr}",
            out.status
        );
    }
    // `parity run 2>&1 | head -1`: warnings go to the same closed pipe, and
    // the run still ends as its jobs did, leaving nothing behind.
    let sleep = Unique::duration(30);
    std::fs::write(
        dir.path().join("parity.toml"),
        format!("version = 1\n[jobs.a]\nrun = \"(sleep {sleep} &); echo started\"\n"),
    )
    .expect("write parity.toml");
    let (reader, writer) = std::io::pipe().expect("pipe");
    drop(reader);
    let status = std::process::Command::new(PARITY)
        .arg("run")
        .current_dir(dir.path())
        .stdout(writer.try_clone().expect("clone the pipe"))
        .stderr(writer)
        .status()
        .expect("run parity");
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert_no_process(&sleep);
}

#[test]
fn two_without_a_pipeline_file() {
    let out = Test::new().args(["run"]).run();
    out.status(2)
        .stderr_contains("no parity.toml in")
        .stderr_contains("parity init");
}

#[test]
fn two_when_the_pipeline_file_is_a_directory() {
    let out = Test::new()
        .file("parity.toml/notes", "")
        .args(["run"])
        .run();
    out.status(2)
        .stderr_contains("cannot read ")
        .stderr_contains("parity.toml")
        .stderr_contains("Is a directory");
}

#[test]
fn help_and_version_succeed() {
    run("true", &["--help"]).status(0).stdout_contains("Usage:");
    run("true", &["--version"])
        .status(0)
        .stdout_contains("parity ");
}

//! The scheduler seen from outside: jobs run in parallel up to `--jobs`,
//! `needs` orders them, every job's output lands in its log and the summary.

use crate::harness::{Output, Test};

/// A step that records when it ran: `NAME.start` and `NAME.end` hold
/// `date +%s.%N` taken before and after sleeping.
fn timed(name: &str, seconds: f64) -> String {
    format!("date +%s.%N > {name}.start; sleep {seconds}; date +%s.%N > {name}.end")
}

/// When the step written by `timed(name, …)` ran, in seconds since the epoch.
#[track_caller]
fn interval(out: &Output, name: &str) -> (f64, f64) {
    let stamp = |suffix: &str| -> f64 {
        let text = out.read(&format!("{name}.{suffix}"));
        text.trim()
            .parse()
            .unwrap_or_else(|e| panic!("bad stamp {text:?}: {e}"))
    };
    (stamp("start"), stamp("end"))
}

fn overlap(a: (f64, f64), b: (f64, f64)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn two_sleepers(jobs: &str) -> Output {
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            [jobs.a]
            run = "{}"
            [jobs.b]
            run = "{}"
            "#,
            timed("a", 1.0),
            timed("b", 1.0)
        ))
        .args(["run", "--jobs", jobs])
        .run();
    out.status(0).result("a", "passed").result("b", "passed");
    out
}

#[test]
fn jobs_run_in_parallel() {
    let out = two_sleepers("2");
    let (a, b) = (interval(&out, "a"), interval(&out, "b"));
    assert!(
        overlap(a, b),
        "with --jobs 2, a {a:?} and b {b:?} should overlap\n{out}"
    );
}

#[test]
fn jobs_1_runs_one_job_at_a_time() {
    let out = two_sleepers("1");
    let (a, b) = (interval(&out, "a"), interval(&out, "b"));
    assert!(
        !overlap(a, b),
        "with --jobs 1, a {a:?} and b {b:?} must not overlap\n{out}"
    );
}

#[test]
fn a_job_starts_after_what_it_needs_finished() {
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            [jobs.build]
            run = "{}"
            [jobs.test]
            needs = ["build"]
            run = "{}"
            [jobs.other]
            run = "{}"
            "#,
            timed("build", 0.5),
            timed("test", 0.0),
            timed("other", 0.5)
        ))
        .args(["run", "--jobs", "3"])
        .run();
    out.status(0);
    let (build, test, other) = (
        interval(&out, "build"),
        interval(&out, "test"),
        interval(&out, "other"),
    );
    assert!(
        test.0 >= build.1,
        "test {test:?} started before build {build:?} ended\n{out}"
    );
    // Free slots were used: the ordering comes from `needs`, not from
    // running one job at a time.
    assert!(
        overlap(build, other),
        "build {build:?} and other {other:?} should overlap\n{out}"
    );
}

#[test]
fn logs_hold_each_jobs_output_and_the_summary_lists_every_job() {
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.hello]
            run = ["echo hello-out", "echo hello-err >&2"]
            [jobs.broken]
            run = ["echo about-to-fail", "exit 3", "echo never-printed"]
            [jobs.after]
            needs = ["broken"]
            run = "echo after-ran"
            "#,
        )
        .args(["run", "--keep-going", "--jobs", "2"])
        .run();
    out.status(1);

    let hello = out.log("hello");
    let (stdout_at, stderr_at) = (hello.find("hello-out\n"), hello.find("hello-err\n"));
    assert!(
        stdout_at.is_some() && stderr_at.is_some() && stdout_at < stderr_at,
        "hello.log should hold stdout then stderr in order:\n{hello}"
    );
    assert!(
        !hello.contains("about-to-fail"),
        "another job's output in hello.log:\n{hello}"
    );
    let broken = out.log("broken");
    assert!(broken.contains("about-to-fail\n"), "broken.log:\n{broken}");
    assert!(
        !broken.contains("never-printed"),
        "a step after the failing one ran:\n{broken}"
    );
    out.stdout_lacks("after-ran");

    let jobs: Vec<String> = out.summary().into_iter().map(|r| r.job).collect();
    assert_eq!(jobs, ["hello", "broken", "after"], "summary rows\n{out}");
    out.result("hello", "passed")
        .result("broken", "failed")
        .detail("broken", "step 2 `exit 3` exited with code 3")
        .result("after", "skipped")
        .detail("after", "needs `broken`, which did not pass");
    // The run directory named at the end is the one `latest` points at.
    let id = std::fs::read_link(out.run_dir()).expect("latest is a link to the run");
    let last = out.stdout.lines().last().unwrap_or_default();
    assert!(
        last.contains("logs: ") && last.trim_end().ends_with(&*id.to_string_lossy()),
        "the last line should name the run directory {id:?}\n{out}"
    );
}

/// Two jobs print long lines as fast as they can at the same time: every
/// line of parity's output is either its own or one whole line of one job,
/// with that job's prefix, and each job's lines arrive complete and in order.
#[test]
fn parallel_output_never_interleaves_mid_line() {
    const LINES: usize = 2000;
    let printer = |name: &str| {
        format!(
            r#"fill=$(printf '%0300d' 0); for i in $(seq -w {LINES}); do echo "{name}-$i-$fill-end"; done"#
        )
    };
    let out = Test::new()
        .pipeline(&format!(
            "version = 1\n[jobs.alpha]\nrun = '''{}'''\n[jobs.beta]\nrun = '''{}'''\n",
            printer("alpha"),
            printer("beta")
        ))
        .args(["run", "--jobs", "2"])
        .run();
    out.status(0);

    let fill = "0".repeat(300);
    let mut seen = [0usize; 2];
    for line in out.stdout.lines() {
        if line.starts_with("[alpha] $ ") || line.starts_with("[beta] $ ") {
            continue; // the step header
        }
        if !(line.contains("alpha-")
            || line.contains("beta-")
            || line.contains("0000")
            || line.contains("-end"))
        {
            continue; // parity's own lines
        }
        let (index, job) = match line {
            l if l.starts_with("[alpha] ") => (0, "alpha"),
            l if l.starts_with("[beta] ") => (1, "beta"),
            _ => panic!("a line without its job prefix: {line:?}"),
        };
        seen[index] += 1;
        let expected = format!("[{job}] {job}-{:04}-{fill}-end", seen[index]);
        assert_eq!(line, expected, "torn or out-of-order line");
    }
    assert_eq!(seen, [LINES, LINES], "lines per job on stdout");
    let log = out.log("alpha");
    assert_eq!(
        log.lines().filter(|l| l.starts_with("alpha-")).count(),
        LINES,
        "lines in alpha.log"
    );
}

/// `lint ← test`, and `docs` on its own; each job touches a file named after it.
const CHAIN: &str = r#"
    version = 1
    [jobs.lint]
    run = "touch lint"
    [jobs.test]
    needs = ["lint"]
    run = "touch test"
    [jobs.docs]
    run = "touch docs"
"#;

#[test]
fn named_jobs_run_with_what_they_need_and_nothing_else() {
    for args in [&["run", "test"][..], &["run", "--job", "test"]] {
        let out = Test::new().pipeline(CHAIN).args(args.iter().copied()).run();
        out.status(0)
            .result("lint", "passed")
            .result("test", "passed");
        let jobs: Vec<String> = out.summary().into_iter().map(|r| r.job).collect();
        assert_eq!(jobs, ["lint", "test"], "{args:?}\n{out}");
        assert!(
            out.exists("lint") && out.exists("test") && !out.exists("docs"),
            "{args:?}\n{out}"
        );
    }
}

#[test]
fn a_log_keeps_the_letters_of_its_job_name() {
    let out = Test::new()
        .pipeline("version = 1\n[jobs.\"prüfung 日本\"]\nrun = \"echo geprüft\"\n")
        .args(["run"])
        .run();
    out.status(0);
    assert!(out.log("prüfung-日本").contains("geprüft"), "{out}");
}

#[test]
fn jobs_whose_names_are_too_long_for_a_file_name_keep_their_logs() {
    let long = "x".repeat(300);
    let out = Test::new()
        .pipeline(&format!(
            "version = 1\n[jobs.{long}a]\nrun = \"echo first\"\n[jobs.{long}b]\nrun = \"echo second\"\n"
        ))
        .args(["run"])
        .run();
    out.status(0);
    assert!(!out.stderr.contains("cannot write"), "{out}");
    let logs = std::fs::read_dir(out.path().join(".parity/runs/latest"))
        .expect("the run directory")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .filter(|text| text.starts_with("$ echo"))
        .collect::<Vec<_>>()
        .join("");
    assert!(
        logs.contains("\nfirst\n") && logs.contains("\nsecond\n"),
        "{logs}"
    );
}

#[test]
fn a_last_line_without_newline_stays_its_own_line_in_the_log() {
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.partial]
            run = ["printf no-newline", "echo next"]
            "#,
        )
        .args(["run"])
        .run();
    out.status(0).stdout_contains("[partial] no-newline\n");
    let log = out.log("partial");
    assert!(
        log.lines().any(|l| l == "no-newline"),
        "partial.log:\n{log}"
    );
}

/// How a step's shell is found and started: on parity's PATH, on the job's
/// own PATH (relative entries against the working directory), and what a
/// missing shell or working directory says.
#[test]
fn a_step_starts_with_the_job_shell_found_on_the_job_path_in_its_directory() {
    let out = Test::new()
        .file(
            "tools/myshell",
            "#!/bin/sh\necho \"myshell $*\" > \"$OLDPWD_MARK\"\nexec sh \"$@\"\n",
        )
        .file("sub/.keep", "")
        .pipeline(
            r#"
            version = 1
            [jobs.setup]
            run = "chmod +x tools/myshell"
            [jobs.custom]
            needs = ["setup"]
            shell = "myshell -e"
            env = { PATH = "../tools:/usr/bin:/bin", OLDPWD_MARK = "shell.out", GREETING = "hi" }
            working_directory = "sub"
            run = ["pwd > here; echo \"$GREETING\" > greeting", "test -t 0 || echo closed > stdin"]
            [jobs.missing]
            needs = ["custom"]
            shell = "parity-no-such-shell"
            run = "touch ran"
            "#,
        )
        .args(["run", "--keep-going"])
        .run();
    out.status(1)
        .result("custom", "passed")
        .result("missing", "failed")
        .detail("missing", "`parity-no-such-shell` was not found on PATH");
    assert_eq!(
        out.read("sub/shell.out").trim(),
        "myshell -e -c test -t 0 || echo closed > stdin",
        "{out}"
    );
    let here = out.read("sub/here");
    assert!(here.trim_end().ends_with("/sub"), "pwd: {here}\n{out}");
    assert_eq!(out.read("sub/greeting").trim(), "hi");
    assert_eq!(out.read("sub/stdin").trim(), "closed");
    assert!(!out.exists("ran"), "{out}");
}

#[test]
fn steps_read_nothing_even_when_parity_has_input() {
    // One after another on the same worker, each step's stdin is
    // /dev/null: parity's own input reaches none of them.
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.first]
            run = ["cat > first-read; readlink /proc/$$/fd/0 > first-stdin", "cat >> first-read"]
            [jobs.second]
            needs = ["first"]
            run = "cat > second-read; readlink /proc/$$/fd/0 > second-stdin"
            "#,
        )
        .input(b"typed at parity\n")
        .args(["run", "--jobs", "1"])
        .run();
    out.status(0);
    for job in ["first", "second"] {
        assert_eq!(out.read(&format!("{job}-read")), "", "{out}");
        assert_eq!(
            out.read(&format!("{job}-stdin")).trim(),
            "/dev/null",
            "{out}"
        );
    }
}

#[test]
fn a_working_directory_that_is_gone_fails_the_job_and_says_so() {
    let out = Test::new()
        .file("sub/.keep", "")
        .pipeline(
            r#"
            version = 1
            [jobs.remove]
            run = "rm -r sub"
            [jobs.inside]
            needs = ["remove"]
            working_directory = "sub"
            run = "touch ran"
            "#,
        )
        .args(["run"])
        .run();
    out.status(1)
        .result("inside", "failed")
        .detail("inside", "working directory")
        .detail("inside", "does not exist");
}

#[test]
fn a_log_that_cannot_be_written_is_a_warning_and_the_output_still_shows() {
    // The step removes its own run directory, so its log has nowhere to go.
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.vanish]
            run = "echo still-shown; rm -r .parity/runs/$PARITY_RUN_ID"
            "#,
        )
        .args(["run"])
        .run();
    out.status(0)
        .result("vanish", "passed")
        .stdout_contains("[vanish] still-shown")
        .stderr_contains("cannot write")
        .stderr_contains("vanish.log");
}

/// One worker runs job after job through the same pipe when nothing else
/// holds it: each job's log and lines still hold its own output only, the
/// last line of each, without a newline, included.
#[test]
fn jobs_run_one_after_another_keep_their_output_apart() {
    let mut pipeline = String::from("version = 1\n");
    for n in 0..12 {
        pipeline.push_str(&format!(
            "[jobs.j{n:02}]\nrun = [\"echo out-{n}; echo err-{n} >&2\", \"printf last-{n}\"]\n"
        ));
    }
    let out = Test::new()
        .pipeline(&pipeline)
        .args(["run", "--jobs", "1"])
        .run();
    out.status(0);
    for n in 0..12 {
        let log = out.log(&format!("j{n:02}"));
        let own: Vec<&str> = log.lines().filter(|l| !l.starts_with("$ ")).collect();
        assert_eq!(
            own,
            [format!("out-{n}"), format!("err-{n}"), format!("last-{n}")],
            "j{n:02}.log:\n{log}"
        );
        assert!(
            out.stdout.contains(&format!("[j{n:02}] last-{n}\n")),
            "{out}"
        );
    }
}

/// `.parity` in the way (a file of that name) stops the run before any job,
/// saying where the run directory goes.
#[test]
fn a_file_where_the_run_directory_goes_is_reported() {
    let out = Test::new()
        .pipeline("version = 1\n[jobs.a]\nrun = \"touch ran\"\n")
        .file(".parity", "not a directory")
        .args(["run"])
        .run();
    out.status(1)
        .stderr_contains("cannot create the run directory")
        .stderr_contains("Not a directory")
        .stderr_contains(".parity/runs/");
    assert!(!out.exists("ran"), "{out}");
}

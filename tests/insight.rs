//! What a run leaves behind: `run.json` (checked against its published
//! schema), the JUnit file (read by a real consumer), secrets kept out of
//! all of it, `parity runs` and pruning, and `parity diff` naming what
//! changed between two runs.

use crate::ci::{git, git_init};
use crate::harness::{Output, Test, PARITY};
use std::path::Path;
use std::process::Command;

/// Runs parity again in a directory an earlier run left, with `env` set.
pub(crate) fn again(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut command = Command::new(PARITY);
    command.current_dir(dir).args(args);
    for var in [
        "GITHUB_ACTIONS",
        "GITEA_ACTIONS",
        "PARITY_FILE",
        "PARITY_KEEP_RUNS",
    ] {
        command.env_remove(var);
    }
    command.envs(env.iter().copied());
    command.output().expect("run parity")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[track_caller]
fn record(out: &Output) -> serde_json::Value {
    let text = out.read(".parity/runs/latest/run.json");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("run.json is not JSON: {e}\n{text}"))
}

fn schema() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/run.schema.json");
    let text = std::fs::read_to_string(&path).expect("read docs/run.schema.json");
    serde_json::from_str(&text).expect("the schema is JSON")
}

#[track_caller]
fn assert_valid(instance: &serde_json::Value) {
    let validator = jsonschema::validator_for(&schema()).expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "run.json does not match docs/run.schema.json:\n{}",
        errors.join("\n")
    );
}

const MIXED: &str = r#"
    version = 1
    [tools]
    rust = "1.0"
    [env]
    GREETING = "hello"
    [jobs.lint]
    run = ["echo linting", "sleep 0.2"]
    [jobs.test]
    needs = ["lint"]
    run = "echo testing {{matrix.flavor}}"
    matrix = { flavor = ["plain", "full"] }
    [jobs.broken]
    needs = ["lint"]
    run = ["echo about to break", "echo broken >&2; exit 7", "echo never"]
    [jobs.after]
    needs = ["broken"]
    run = "echo never"
    [jobs.optional]
    switch = "RUN_OPTIONAL"
    run = "echo optional"
"#;

#[test]
fn run_json_matches_its_schema_and_times_every_step() {
    let out = Test::new()
        .pipeline(MIXED)
        .args(["run", "--keep-going"])
        .run();
    out.status(1);
    let record = record(&out);
    assert_valid(&record);

    assert_eq!(record["result"], "failed");
    assert_eq!(record["exit_code"], 1);
    let jobs = record["jobs"].as_array().expect("jobs");
    let job = |name: &str| {
        jobs.iter()
            .find(|j| j["name"] == name)
            .unwrap_or_else(|| panic!("no job {name} in {record}"))
    };
    assert_eq!(job("lint")["result"], "passed");
    assert_eq!(job("test (flavor=full)")["matrix"]["flavor"], "full");
    assert_eq!(job("test (flavor=full)")["needs"][0], "lint");
    assert_eq!(job("after")["result"], "skipped");
    assert_eq!(job("optional")["result"], "skipped");

    let broken = job("broken");
    assert_eq!(broken["result"], "failed");
    assert_eq!(broken["exit_code"], 7);
    let steps = broken["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["result"], "passed");
    assert_eq!(steps[1]["result"], "failed");
    assert_eq!(steps[1]["exit_code"], 7);
    assert_eq!(steps[2]["result"], "not_run");
    assert!(out
        .run_dir()
        .join(broken["log"].as_str().expect("log"))
        .is_file());

    // Steps run in order inside their job, and the job waits for its need.
    let lint = job("lint");
    let lint_steps = lint["steps"].as_array().expect("steps");
    let ms = |v: &serde_json::Value| v.as_u64().unwrap_or_else(|| panic!("not a time: {v}"));
    assert!(ms(&lint_steps[0]["end_ms"]) <= ms(&lint_steps[1]["start_ms"]));
    assert!(
        ms(&lint_steps[1]["end_ms"]) - ms(&lint_steps[1]["start_ms"]) >= 150,
        "sleep 0.2 took {lint_steps:?}"
    );
    assert!(ms(&lint["end_ms"]) <= ms(&broken["start_ms"]));

    let fingerprint = &record["fingerprint"];
    assert_eq!(fingerprint["tools"]["rust"]["pinned"], "1.0");
    assert!(
        fingerprint["tools"]["rust"]["version"].is_string(),
        "{fingerprint}"
    );
    assert_eq!(fingerprint["env"]["values"]["GREETING"], "hello");
    assert!(fingerprint["env"]["values"]["RUN_OPTIONAL"].is_null());
    assert!(fingerprint["machine"]["cpus"].as_u64().unwrap_or(0) >= 1);
    assert!(fingerprint["os"]["arch"].is_string());
}

#[test]
fn a_secret_appears_nowhere_in_the_run_dir() {
    const DECLARED: &str = "s3cr3t-declared-value";
    const FROM_FILE: &str = "pa55-from-env-file";
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [secrets]
            required = ["API_TOKEN"]
            [jobs.leak]
            cache_env = ["DB_PASSWORD", "REGION"]
            run = [
              "echo token=$API_TOKEN password=$DB_PASSWORD region=$REGION",
              "echo \"again: $API_TOKEN\" >&2; exit 1",
            ]
            "#,
        )
        .file(
            ".env.ci.local",
            &format!("DB_PASSWORD={FROM_FILE}\nREGION=eu-west\n"),
        )
        .env("API_TOKEN", DECLARED)
        .args(["run", "--junit", "reports/junit.xml"])
        .run();
    out.status(1);
    let report = again(out.path(), &["report"], &[]);
    assert!(
        report.status.success(),
        "parity report failed: {}",
        text(&report.stderr)
    );

    let files = out.state_files();
    for name in ["run.json", "junit.xml", "report.html", "leak.log"] {
        assert!(
            files.iter().any(|f| f.ends_with(name)),
            "no {name} in {files:?}"
        );
    }
    for file in files.iter().chain([&out.path().join("reports/junit.xml")]) {
        let content = String::from_utf8_lossy(&std::fs::read(file).expect("read")).into_owned();
        for secret in [DECLARED, FROM_FILE] {
            assert!(
                !content.contains(secret),
                "{} holds a secret:\n{content}",
                file.display()
            );
        }
    }
    let record = record(&out);
    assert_valid(&record);
    let env = &record["fingerprint"]["env"];
    let withheld: Vec<&str> = env["withheld"]
        .as_array()
        .expect("withheld")
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert!(
        withheld.contains(&"API_TOKEN")
            && withheld.contains(&"DB_PASSWORD")
            && withheld.contains(&"REGION"),
        "{env}"
    );
    assert!(
        env["names"]
            .as_array()
            .expect("names")
            .iter()
            .any(|n| n == "API_TOKEN"),
        "names are recorded: {env}"
    );
    assert!(out.log("leak").contains("token=***"), "{}", out.log("leak"));
}

/// Whether a Python with `junitparser` is here; CI installs it.
fn junitparser() -> bool {
    let found = Command::new("python3")
        .args(["-c", "import junitparser"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIPPED: python3 with junitparser is not installed (pip install junitparser)");
    }
    found
}

#[test]
fn junit_is_read_by_junitparser() {
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.lint]
            run = ["echo ok", "true"]
            [jobs.test]
            needs = ["lint"]
            run = ["echo before", "echo 'assertion failed: 1 == 2' >&2; exit 101", "echo never"]
            [jobs.package]
            needs = ["test"]
            run = "echo package"
            "#,
        )
        .args(["run", "--keep-going", "--junit", "out/junit.xml"])
        .run();
    out.status(1);
    assert_eq!(
        out.read("out/junit.xml"),
        out.read(".parity/runs/latest/junit.xml")
    );
    if !junitparser() {
        return;
    }
    let script = r#"
import sys
from junitparser import JUnitXml, Failure, Skipped
xml = JUnitXml.fromfile(sys.argv[1])
for suite in xml:
    cases = []
    for case in suite:
        kinds = [type(r).__name__ for r in case.result]
        message = case.result[0].message if case.result else ""
        text = (case.result[0].text or "") if case.result else ""
        cases.append(f"{case.name}|{case.classname}|{','.join(kinds)}|{message}|{text.strip()}")
    print(f"suite {suite.name} tests={suite.tests} failures={suite.failures} skipped={suite.skipped}")
    for c in cases:
        print("  " + c)
"#;
    let parsed = Command::new("python3")
        .args(["-c", script])
        .arg(out.path().join("out/junit.xml"))
        .output()
        .expect("run python3");
    let report = text(&parsed.stdout);
    assert!(
        parsed.status.success(),
        "junitparser failed: {}\n{report}",
        text(&parsed.stderr)
    );
    for expected in [
        "suite lint tests=2 failures=0 skipped=0",
        "suite test tests=3 failures=1 skipped=1",
        "suite package tests=1 failures=0 skipped=1",
        "step 2: echo 'assertion failed: 1 == 2' >&2; exit 101|test|Failure|step 2 `echo 'assertion failed: 1 == 2' >&2; exit 101` exited with code 101|",
        "assertion failed: 1 == 2",
        "step 1: echo package|package|Skipped|job skipped: needs `test`, which did not pass|",
    ] {
        assert!(report.contains(expected), "junitparser read no {expected:?}:\n{report}");
    }
}

/// A run started while a long one goes on (in a second terminal, by a file
/// watcher) prunes around it: the long run keeps its logs and its record,
/// and goes once it has ended.
#[test]
fn pruning_leaves_a_run_in_progress_alone() {
    let keep = [("PARITY_KEEP_RUNS", "1")];
    let long = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.long]
            run = ["touch started", "while [ ! -e go ]; do sleep 0.05; done", "echo finished"]
            [jobs.quick]
            run = "true"
            "#,
        )
        .env(keep[0].0, keep[0].1)
        .args(["run", "long"])
        .spawn();
    let dir = long.path().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !dir.join("started").exists() {
        assert!(
            std::time::Instant::now() < deadline,
            "the long run never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let runs = dir.join(".parity/runs");
    let long_run = runs.join(std::fs::read_link(runs.join("latest")).expect("latest"));
    for _ in 0..2 {
        let quick = again(&dir, &["run", "quick"], &keep);
        assert!(quick.status.success(), "{}", text(&quick.stderr));
    }
    std::fs::write(dir.join("go"), "").expect("let the long run end");
    let out = long.finish(std::time::Duration::from_secs(30));
    out.status(0).stdout_lacks("cannot write");
    let log = std::fs::read_to_string(long_run.join("long.log")).unwrap_or_default();
    assert!(
        log.contains("finished"),
        "the long run's log: {log:?}\n{out}"
    );
    assert!(long_run.join("run.json").is_file(), "{out}");

    let next = again(&dir, &["run", "quick"], &keep);
    assert!(next.status.success(), "{}", text(&next.stderr));
    assert!(
        !long_run.exists(),
        "ended, the long run is pruned like any other"
    );
}

#[test]
fn runs_lists_recent_runs_and_prunes_old_ones() {
    let out = Test::new()
        .pipeline("version = 1\n[jobs.one]\nrun = 'true'\n")
        .args(["run"])
        .run();
    out.status(0);
    let latest = || {
        let link = std::fs::read_link(out.path().join(".parity/runs/latest")).expect("latest");
        link.to_string_lossy().into_owned()
    };
    let mut ids = vec![latest()];
    for _ in 0..3 {
        let next = again(out.path(), &["run"], &[("PARITY_KEEP_RUNS", "2")]);
        assert!(next.status.success(), "{}", text(&next.stderr));
        ids.push(latest());
    }
    let listed = again(out.path(), &["runs", "--json"], &[]);
    let runs: serde_json::Value =
        serde_json::from_slice(&listed.stdout).expect("runs --json is JSON");
    let runs = runs.as_array().expect("a list");
    assert_eq!(runs.len(), 2, "PARITY_KEEP_RUNS=2 keeps two runs: {runs:?}");
    let kept: Vec<&str> = runs.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(kept, [&ids[3], &ids[2]], "the newest two, newest first");
    assert!(runs.iter().all(|r| r["result"] == "passed"));
    let human = text(&again(out.path(), &["runs"], &[]).stdout);
    assert!(
        human.starts_with("run ") && human.contains("1 passed"),
        "{human}"
    );

    let bad = again(out.path(), &["report", "nosuchrun"], &[]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad.stderr));
    assert!(
        text(&bad.stderr).contains("no run `nosuchrun`"),
        "{}",
        text(&bad.stderr)
    );
}

#[test]
fn the_record_names_the_commit_branch_and_a_dirty_tree() {
    let out = Test::new()
        .pipeline("version = 1\n[jobs.one]\nrun = 'true'\n")
        .args(["run"])
        .run();
    out.status(0);
    git_init(out.path());
    git(out.path(), &["checkout", "-q", "-b", "trunk"]);
    git(out.path(), &["add", "parity.toml"]);
    git(out.path(), &["commit", "-q", "-m", "pipeline"]);
    let head = git(out.path(), &["rev-parse", "HEAD"])
        .stdout
        .trim()
        .to_owned();

    let clean = again(out.path(), &["run"], &[]);
    assert!(clean.status.success(), "{}", text(&clean.stderr));
    let clean = record(&out);
    assert_eq!(clean["fingerprint"]["git"]["commit"], head.as_str());
    assert_eq!(clean["fingerprint"]["git"]["branch"], "trunk");
    assert_eq!(clean["fingerprint"]["git"]["dirty"], false, "{clean}");

    std::fs::write(out.path().join("new.txt"), "untracked\n").expect("write");
    let dirty = again(out.path(), &["run"], &[]);
    assert!(dirty.status.success(), "{}", text(&dirty.stderr));
    assert_eq!(record(&out)["fingerprint"]["git"]["dirty"], true);
}

#[test]
fn diff_names_the_changed_tool_version_and_env_value() {
    // A tool whose version the test changes between runs, on PATH first.
    let tool = "#!/bin/sh\necho \"mytool version $(cat \"$(dirname \"$0\")/version\")\"\n";
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [tools]
            mytool = "1.0"
            [jobs.check]
            cache_env = ["FEATURE_MODE"]
            run = "test \"$FEATURE_MODE\" = on"
            [jobs.steady]
            run = "true"
            "#,
        )
        .file("bin/mytool", tool)
        .file("bin/version", "1.0.0\n")
        .run_setup();
    let bin = out.path().join("bin");
    std::fs::set_permissions(
        bin.join("mytool"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );

    let first = again(
        out.path(),
        &["run", "--keep-going"],
        &[("PATH", &path), ("FEATURE_MODE", "on")],
    );
    assert!(
        first.status.success(),
        "{}{}",
        text(&first.stdout),
        text(&first.stderr)
    );
    std::fs::write(bin.join("version"), "1.1.0\n").expect("bump the version");
    let second = again(
        out.path(),
        &["run", "--keep-going"],
        &[("PATH", &path), ("FEATURE_MODE", "off")],
    );
    assert_eq!(second.status.code(), Some(1), "{}", text(&second.stdout));

    let diff = again(out.path(), &["diff"], &[]);
    let human = text(&diff.stdout);
    assert!(diff.status.success(), "{}", text(&diff.stderr));
    let line = |start: &str| {
        human
            .lines()
            .find(|l| l.trim_start().starts_with(start))
            .unwrap_or_default()
    };
    assert!(
        line("check ")
            .ends_with("passed → failed  step 1 `test \"$FEATURE_MODE\" = on` exited with code 1"),
        "{human}"
    );
    assert!(line("tool.mytool ").ends_with(" 1.0.0 → 1.1.0"), "{human}");
    assert!(line("env.FEATURE_MODE ").ends_with(" on → off"), "{human}");
    assert!(
        !human.contains("steady"),
        "unchanged jobs are not listed:\n{human}"
    );

    let json = again(out.path(), &["diff", "latest~1", "latest", "--json"], &[]);
    let json: serde_json::Value =
        serde_json::from_slice(&json.stdout).expect("diff --json is JSON");
    let keys: Vec<&str> = json["fingerprint"]
        .as_array()
        .expect("fingerprint changes")
        .iter()
        .filter_map(|c| c["key"].as_str())
        .collect();
    let at = |key: &str| {
        keys.iter()
            .position(|k| *k == key)
            .unwrap_or_else(|| panic!("no {key} in {keys:?}"))
    };
    assert!(
        at("tool.mytool") < at("env.FEATURE_MODE"),
        "a pinned tool ranks first: {keys:?}"
    );
    assert_eq!(json["jobs"][0]["name"], "check");
    assert_eq!(json["jobs"][0]["b"], "failed");

    // Runs can be named by path too, as a downloaded CI artifact would be.
    let listed = again(out.path(), &["runs", "--json"], &[]);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("runs --json");
    let dir = |n: usize| {
        let id = listed[n]["id"].as_str().expect("an id");
        out.path().join(".parity/runs").join(id)
    };
    let (older, newer) = (dir(1), dir(0));
    let by_path = again(
        out.path(),
        &[
            "diff",
            &older.join("run.json").display().to_string(),
            &newer.display().to_string(),
        ],
        &[],
    );
    assert!(
        text(&by_path.stdout).contains("1.0.0 → 1.1.0"),
        "{}",
        text(&by_path.stderr)
    );
}

trait Setup {
    /// Writes the files without running parity.
    fn run_setup(self) -> Output;
}

impl Setup for Test {
    fn run_setup(self) -> Output {
        self.args(["--version"]).run()
    }
}

#[test]
fn completions_and_man_page_come_from_the_cli() {
    let out = Test::new().args(["completions", "bash"]).run();
    out.status(0)
        .stdout_contains("_parity()")
        .stdout_contains("doctor");
    let script = out.path().join("parity.bash");
    std::fs::write(&script, &out.stdout).expect("write");
    let syntax = Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .expect("bash -n");
    assert!(
        syntax.status.success(),
        "bash rejects the completions: {}",
        text(&syntax.stderr)
    );
    for shell in ["zsh", "fish"] {
        Test::new()
            .args(["completions", shell])
            .run()
            .status(0)
            .stdout_contains("diff");
    }
    Test::new()
        .args(["man"])
        .run()
        .status(0)
        .stdout_contains(".TH parity 1")
        .stdout_contains("report");
    Test::new().args(["completions", "tcsh"]).run().status(2);
}

#[test]
fn services_are_on_the_record_and_the_timeline() {
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [services.cache]
            preset = "redis"
            [jobs.ping]
            services = ["cache"]
            run = "redis-cli -p \"$CACHE_PORT\" ping | grep PONG"
            "#,
        )
        .args(["run"])
        .run();
    out.status(0);
    let record = record(&out);
    assert_valid(&record);
    let service = &record["services"][0];
    assert_eq!(service["name"], "cache", "{record}");
    assert_eq!(service["kind"], "redis");
    assert_eq!(service["result"], "ready");
    let ms = |key: &str| {
        service[key]
            .as_u64()
            .unwrap_or_else(|| panic!("no {key}: {service}"))
    };
    assert!(
        ms("start_ms") <= ms("ready_ms") && ms("ready_ms") <= ms("end_ms"),
        "{service}"
    );
    let job_start = record["jobs"][0]["start_ms"].as_u64().unwrap_or_default();
    assert!(
        ms("end_ms") >= job_start,
        "the service outlives the start of the job using it: {record}"
    );
    let page = again(out.path(), &["report", "-o", "page.html"], &[]);
    assert!(page.status.success(), "{}", text(&page.stderr));
    assert!(out.read("page.html").contains("data-service=\"cache\""));
}

#[test]
fn a_junit_file_that_cannot_be_written_fails_the_run_after_the_summary() {
    let out = Test::new()
        .pipeline("version = 1\n[jobs.a]\nrun = 'true'\n")
        .args(["run", "--junit", "parity.toml/junit.xml"])
        .run();
    out.status(1)
        .stdout_contains("passed in")
        .stderr_contains("cannot write the JUnit report to parity.toml/junit.xml");
    assert!(
        out.exists(".parity/runs/latest/junit.xml"),
        "the run's own copy is written"
    );
}

#[test]
fn stopped_steps_carry_the_jobs_reason() {
    let timed_out = Test::new()
        .pipeline("version = 1\n[jobs.slow]\ntimeout = \"1s\"\nrun = [\"echo start\", \"sleep 30\", \"echo never\"]\n")
        .args(["run"])
        .run();
    timed_out.status(1);
    let first = record(&timed_out);
    assert_valid(&first);
    let steps = &first["jobs"][0]["steps"];
    assert_eq!(first["jobs"][0]["result"], "timed_out");
    assert_eq!(steps[0]["result"], "passed");
    assert_eq!(steps[1]["result"], "timed_out", "{steps}");
    assert_eq!(steps[1]["signal"], "SIGTERM", "{steps}");
    assert_eq!(steps[2]["result"], "not_run");
    let junit = timed_out.read(".parity/runs/latest/junit.xml");
    assert!(
        junit.contains("failures=\"1\""),
        "a timeout is a failure:\n{junit}"
    );

    let cancelled = Test::new()
        .pipeline("version = 1\n[jobs.fails]\nrun = \"sleep 0.5; exit 1\"\n[jobs.victim]\nrun = \"sleep 30\"\n")
        .args(["run", "--jobs", "2"])
        .run();
    cancelled.status(1);
    let second = record(&cancelled);
    assert_valid(&second);
    let victim = second["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .find(|j| j["name"] == "victim")
        .expect("victim");
    assert_eq!(victim["result"], "cancelled");
    assert_eq!(victim["steps"][0]["result"], "cancelled", "{victim}");
    let junit = cancelled.read(".parity/runs/latest/junit.xml");
    assert!(
        junit.contains("failures=\"1\"") && junit.contains("stopped while running"),
        "only `fails` failed:\n{junit}"
    );
}

//! `parity deploy` against real git: a bare repository on disk is the remote,
//! and several clones of it play the laptops and CI runners that deploy.
//!
//! Deploy steps append `start`/`end` lines with nanosecond timestamps to a
//! shared timeline file, which is how the tests prove that two deploys of one
//! environment never overlapped.

use crate::harness::{unindent, PARITY};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// A deploy step that records when it ran, sleeps `$SLEEP` seconds, and
/// fails when it deploys `$FAIL_COMMIT`.
const STEP: &str = r#"
    echo "start $(date +%s%N) $PARITY_DEPLOY_ENVIRONMENT $PARITY_DEPLOY_ID $PARITY_DEPLOY_COMMIT $$" >> "$TIMELINE"
    trap 'echo "end $(date +%s%N) $PARITY_DEPLOY_ENVIRONMENT $PARITY_DEPLOY_ID $PARITY_DEPLOY_COMMIT $$" >> "$TIMELINE"' EXIT
    sleep "${SLEEP:-0.2}"
    test "$PARITY_DEPLOY_COMMIT" != "${FAIL_COMMIT:-none}"
"#;

/// Two environments; production only takes commits on `main`.
pub(crate) fn pipeline() -> String {
    format!(
        "version = 1\n\
         [deploy.production]\nbranch = \"main\"\nrun = '''{STEP}'''\n\
         [deploy.staging]\nrun = '''{STEP}'''\n"
    )
}

/// A bare repository (the remote) and the clones made of it.
pub(crate) struct Origin {
    dir: TempDir,
}

impl Origin {
    /// The remote, holding one commit with the given pipeline on `main`.
    pub(crate) fn new(pipeline: &str) -> Origin {
        let dir = tempfile::Builder::new()
            .prefix("parity-deploy-")
            .tempdir()
            .expect("temp dir");
        let origin = Origin { dir };
        git(
            origin.dir.path(),
            &[
                "init",
                "--quiet",
                "--bare",
                "--initial-branch=main",
                "remote.git",
            ],
        );
        let seed = origin.clone_as("seed");
        std::fs::write(seed.path.join("parity.toml"), unindent(pipeline)).expect("write pipeline");
        seed.git(&["add", "parity.toml"]);
        seed.git(&["commit", "--quiet", "-m", "pipeline"]);
        seed.git(&["push", "--quiet", "origin", "main"]);
        origin
    }

    pub(crate) fn url(&self) -> PathBuf {
        self.dir.path().join("remote.git")
    }

    pub(crate) fn timeline(&self) -> PathBuf {
        self.dir.path().join("timeline.log")
    }

    /// A fresh clone with its own identity, like another person's machine.
    pub(crate) fn clone_as(&self, name: &str) -> Repo {
        let path = self.dir.path().join(name);
        git(
            self.dir.path(),
            &["clone", "--quiet", &self.url().to_string_lossy(), name],
        );
        let repo = Repo {
            path,
            timeline: self.timeline(),
        };
        repo.git(&["config", "user.name", name]);
        repo.git(&["config", "user.email", &format!("{name}@example.com")]);
        repo
    }

    /// Deploy intervals from the timeline, per environment, by start time.
    pub(crate) fn intervals(&self) -> HashMap<String, Vec<Interval>> {
        let text = std::fs::read_to_string(self.timeline()).unwrap_or_default();
        let mut open: HashMap<String, Interval> = HashMap::new();
        let mut done: HashMap<String, Vec<Interval>> = HashMap::new();
        for line in text.lines() {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let [kind, ns, env, id, commit, ..] = fields[..] else {
                panic!("bad timeline line {line:?}")
            };
            let ns: u128 = ns.parse().expect("nanoseconds");
            match kind {
                "start" => {
                    let interval = Interval {
                        env: env.to_owned(),
                        id: id.to_owned(),
                        commit: commit.to_owned(),
                        start: ns,
                        end: None,
                    };
                    open.insert(id.to_owned(), interval);
                }
                _ => {
                    let mut interval = open.remove(id).expect("end without start");
                    interval.end = Some(ns);
                    done.entry(env.to_owned()).or_default().push(interval);
                }
            }
        }
        for interval in open.into_values() {
            done.entry(interval.env.clone()).or_default().push(interval);
        }
        for list in done.values_mut() {
            list.sort_by_key(|i| i.start);
        }
        done
    }
}

/// One run of a deploy's steps, from the timeline.
#[derive(Debug, Clone)]
pub(crate) struct Interval {
    pub(crate) env: String,
    pub(crate) id: String,
    pub(crate) commit: String,
    pub(crate) start: u128,
    /// `None` when the steps were killed.
    pub(crate) end: Option<u128>,
}

/// Fails when two intervals of one environment overlap.
pub(crate) fn assert_serial(intervals: &[Interval]) {
    for pair in intervals.windows(2) {
        let end = pair[0]
            .end
            .unwrap_or_else(|| panic!("{:?} never ended", pair[0]));
        assert!(
            end <= pair[1].start,
            "deploys overlapped: {:?} ended {}ms after {:?} started",
            pair[0].id,
            (end - pair[1].start) / 1_000_000,
            pair[1].id
        );
    }
}

/// A clone: a working copy with `origin` pointing at the bare remote.
pub(crate) struct Repo {
    pub(crate) path: PathBuf,
    timeline: PathBuf,
}

impl Repo {
    pub(crate) fn git(&self, args: &[&str]) -> String {
        git(&self.path, args)
    }

    /// A new commit on the current branch, pushed; returns its SHA.
    pub(crate) fn commit(&self, message: &str) -> String {
        self.git(&["commit", "--quiet", "--allow-empty", "-m", message]);
        self.git(&["push", "--quiet", "origin", "HEAD"]);
        self.git(&["rev-parse", "HEAD"])
    }

    /// `parity ARGS` in this clone, as a person at a terminal runs it (not
    /// CI, whatever runs the tests), with a short step and the timeline.
    pub(crate) fn parity(&self, args: &[&str]) -> Command {
        let mut command = Command::new(PARITY);
        command
            .current_dir(&self.path)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("TIMELINE", &self.timeline)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null");
        for var in [
            "CI",
            "GITHUB_ACTIONS",
            "GITEA_ACTIONS",
            "GITHUB_SERVER_URL",
            "GITHUB_REPOSITORY",
            "GITHUB_RUN_ID",
            "PARITY_FILE",
            "PARITY_DEPLOY_LEASE",
            "PARITY_DEPLOY_REMOTE",
            "SLEEP",
            "FAIL_COMMIT",
        ] {
            command.env_remove(var);
        }
        command
    }

    pub(crate) fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Done {
        let child = self
            .parity(args)
            .envs(env.iter().copied())
            .spawn()
            .expect("start parity");
        Done::wait(child, Duration::from_secs(120))
    }

    pub(crate) fn spawn(&self, args: &[&str], env: &[(&str, &str)]) -> Child {
        self.parity(args)
            .envs(env.iter().copied())
            .spawn()
            .expect("start parity")
    }

    /// `parity deploy log ENV --json`.
    pub(crate) fn log(&self, env: &str) -> Vec<Value> {
        let done = self.run(&["deploy", "log", env, "--json"], &[]);
        done.status(0);
        serde_json::from_str(&done.stdout).unwrap_or_else(|e| panic!("{e}: {}", done.stdout))
    }

    /// `parity deploy status --json`, by environment.
    pub(crate) fn status(&self) -> HashMap<String, Value> {
        let done = self.run(&["deploy", "status", "--json"], &[]);
        done.status(0);
        let rows: Vec<Value> = serde_json::from_str(&done.stdout).expect("status JSON");
        rows.into_iter()
            .map(|row| {
                (
                    row["environment"].as_str().unwrap_or_default().to_owned(),
                    row,
                )
            })
            .collect()
    }

    pub(crate) fn live(&self, env: &str) -> Option<String> {
        self.status()[env]["live"]["commit"]
            .as_str()
            .map(str::to_owned)
    }
}

/// A finished parity.
pub(crate) struct Done {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Done {
    pub(crate) fn wait(child: Child, limit: Duration) -> Done {
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let output: Output = match rx.recv_timeout(limit) {
            Ok(output) => output.expect("wait for parity"),
            Err(_) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                panic!("parity (pid {pid}) ran longer than {limit:?}");
            }
        };
        Done {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub(crate) fn status(&self, code: i32) -> &Done {
        assert_eq!(
            self.code,
            Some(code),
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub(crate) fn says(&self, text: &str) -> &Done {
        assert!(
            self.stdout.contains(text) || self.stderr.contains(text),
            "expected {text:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

#[track_caller]
fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("run git");
    assert!(
        output.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

fn statuses(log: &[Value]) -> Vec<&str> {
    log.iter()
        .map(|r| r["status"].as_str().unwrap_or_default())
        .collect()
}

/// Waits until the timeline shows `count` deploys of `env` started.
fn wait_for_start(origin: &Origin, env: &str, count: usize) -> Interval {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(list) = origin.intervals().get(env) {
            if list.len() >= count {
                return list[count - 1].clone();
            }
        }
        assert!(Instant::now() < deadline, "no deploy of {env} started");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILLs the process group of the deploy step that logged `running`
/// (its shell's `$$`, the last field of its timeline line).
///
/// Not with the `kill` command: procps `kill -KILL -PGID` can signal pid -1,
/// every process the user may signal, instead of the group.
fn kill_step_group(origin: &Origin, running: &Interval) {
    let pgid: i32 = std::fs::read_to_string(origin.timeline())
        .unwrap_or_default()
        .lines()
        .find(|l| l.contains(&running.id))
        .and_then(|l| l.split_whitespace().last()?.parse().ok())
        .expect("the step's pid in the timeline");
    assert!(pgid > 1, "not a step's process group: {pgid}");
    let _ = nix::sys::signal::killpg(
        nix::unistd::Pid::from_raw(pgid),
        nix::sys::signal::Signal::SIGKILL,
    );
}

fn now_ns() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[test]
fn two_clones_take_turns_and_both_are_recorded() {
    let origin = Origin::new(&pipeline());
    let (alice, bob) = (origin.clone_as("alice"), origin.clone_as("bob"));
    let env = [("SLEEP", "1")];
    let first = alice.spawn(&["deploy", "production"], &env);
    let second = bob.spawn(&["deploy", "production"], &env);
    let first = Done::wait(first, Duration::from_secs(60));
    let second = Done::wait(second, Duration::from_secs(60));
    first.status(0);
    second.status(0);
    // Exactly one of them found the lock held and waited.
    let waited = [&first, &second]
        .iter()
        .filter(|d| d.stdout.contains("is locked"))
        .count();
    assert_eq!(waited, 1, "{}\n{}", first.stdout, second.stdout);

    let intervals = &origin.intervals()["production"];
    assert_eq!(intervals.len(), 2);
    assert_serial(intervals);
    let log = alice.log("production");
    assert_eq!(statuses(&log), ["succeeded", "succeeded"]);
    let by: Vec<&str> = log
        .iter()
        .map(|r| r["by"].as_str().unwrap_or_default())
        .collect();
    assert!(
        by.contains(&"alice <alice@example.com>") && by.contains(&"bob <bob@example.com>"),
        "{by:?}"
    );
    assert!(log.iter().all(|r| r["trigger"] == "manual"));
}

#[test]
fn a_stale_commit_is_refused_and_rollback_is_explicit() {
    let origin = Origin::new(&pipeline());
    let dev = origin.clone_as("dev");
    let old = dev.git(&["rev-parse", "HEAD"]);
    let new = dev.commit("newer");
    dev.run(&["deploy", "production"], &[]).status(0);
    assert_eq!(dev.live("production").as_deref(), Some(new.as_str()));

    let refused = dev.run(&["deploy", "production", "--commit", &old], &[]);
    refused
        .status(2)
        .says(&format!("{} is older than live {}", &old[..8], &new[..8]))
        .says("use --rollback to deploy an older commit on purpose");
    assert_eq!(
        dev.live("production").as_deref(),
        Some(new.as_str()),
        "a refusal changes nothing"
    );

    dev.run(
        &["deploy", "production", "--commit", &old, "--rollback"],
        &[],
    )
    .status(0)
    .says("rolling back on purpose");
    assert_eq!(dev.live("production").as_deref(), Some(old.as_str()));
    let log = dev.log("production");
    assert_eq!(statuses(&log), ["succeeded", "succeeded"]);
    assert_eq!(log[0]["rollback"], true);
    assert_eq!(log[1]["rollback"], false);

    // The newer commit contains the live one again: no flag needed.
    dev.run(&["deploy", "production"], &[]).status(0);
    assert_eq!(dev.live("production").as_deref(), Some(new.as_str()));
}

#[test]
fn a_killed_holder_keeps_the_lock_until_its_lease_expires() {
    let origin = Origin::new(&pipeline());
    let (crashing, next) = (origin.clone_as("crashing"), origin.clone_as("next"));
    let lease = [("PARITY_DEPLOY_LEASE", "3s"), ("SLEEP", "60")];
    let mut holder = crashing.spawn(&["deploy", "staging"], &lease);
    let running = wait_for_start(&origin, "staging", 1);
    // The machine dies: parity and its step, at once, with no cleanup.
    let _ = holder.kill();
    kill_step_group(&origin, &running);
    let _ = holder.wait();
    let killed_at = now_ns();

    // Failing fast shows who holds the lock.
    next.run(
        &["deploy", "staging", "--no-wait"],
        &[("PARITY_DEPLOY_LEASE", "3s")],
    )
    .status(1)
    .says("`staging` is locked")
    .says("crashing <crashing@example.com>");

    next.run(
        &["deploy", "staging"],
        &[("PARITY_DEPLOY_LEASE", "3s"), ("SLEEP", "0")],
    )
    .status(0)
    .says("outlived its lease");
    let intervals = &origin.intervals()["staging"];
    assert_eq!(intervals.len(), 2);
    let waited =
        Duration::from_nanos(u64::try_from(intervals[1].start - killed_at).unwrap_or(u64::MAX));
    assert!(
        waited >= Duration::from_millis(2900),
        "lock broken after only {waited:?}"
    );

    let log = next.log("staging");
    assert_eq!(statuses(&log), ["succeeded", "abandoned"]);
    assert!(
        log[1]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("lease expired"),
        "{log:?}"
    );
}

#[test]
fn unlock_needs_force_and_is_recorded() {
    let origin = Origin::new(&pipeline());
    let (crashing, admin) = (origin.clone_as("crashing"), origin.clone_as("admin"));
    let mut holder = crashing.spawn(&["deploy", "staging"], &[("SLEEP", "60")]);
    let running = wait_for_start(&origin, "staging", 1);
    let _ = holder.kill();
    let _ = holder.wait();
    kill_step_group(&origin, &running);

    admin
        .run(&["deploy", "unlock", "staging"], &[])
        .status(2)
        .says("--force");
    let status = admin.status();
    assert_eq!(
        status["staging"]["lock"]["actor"]["by"],
        "crashing <crashing@example.com>"
    );
    admin
        .run(&["deploy", "unlock", "staging", "--force"], &[])
        .status(0)
        .says("unlocked staging");
    // With the default two-minute lease, only the unlock lets this through.
    let started = Instant::now();
    admin
        .run(&["deploy", "staging", "--no-wait"], &[("SLEEP", "0")])
        .status(0);
    assert!(started.elapsed() < Duration::from_secs(20));
    let log = admin.log("staging");
    assert_eq!(statuses(&log), ["succeeded", "unlocked", "abandoned"]);
    assert_eq!(log[1]["by"], "admin <admin@example.com>");
}

#[test]
fn a_failed_deploy_is_recorded_and_live_stays() {
    let origin = Origin::new(&pipeline());
    let dev = origin.clone_as("dev");
    let good = dev.git(&["rev-parse", "HEAD"]);
    dev.run(&["deploy", "production"], &[]).status(0);
    let bad = dev.commit("broken");
    dev.run(&["deploy", "production"], &[("FAIL_COMMIT", &bad)])
        .status(1)
        .says("failed")
        .says(&format!("production stays at {}", &good[..8]));
    assert_eq!(dev.live("production").as_deref(), Some(good.as_str()));
    assert!(
        dev.status()["production"]["lock"].is_null(),
        "the lock is released"
    );
    let log = dev.log("production");
    assert_eq!(statuses(&log), ["failed", "succeeded"]);
    assert_eq!(log[0]["commit"], bad.as_str());
    assert!(
        log[0]["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("exited with code 1"),
        "{log:?}"
    );
    // A failed deploy does not count as live for the guard: redeploying the
    // good commit is not a rollback.
    dev.run(&["deploy", "production", "--commit", &good], &[])
        .status(0);
}

#[test]
fn different_environments_deploy_in_parallel() {
    let origin = Origin::new(&pipeline());
    let (one, two) = (origin.clone_as("one"), origin.clone_as("two"));
    let env = [("SLEEP", "3")];
    let production = one.spawn(&["deploy", "production"], &env);
    // From the same clone too: the file lock is per environment.
    let staging = one.spawn(&["deploy", "staging"], &env);
    let production = Done::wait(production, Duration::from_secs(60));
    let staging = Done::wait(staging, Duration::from_secs(60));
    production.status(0);
    staging.status(0);
    assert!(!production.stdout.contains("is locked") && !staging.stdout.contains("waiting for"));
    let intervals = origin.intervals();
    let (p, s) = (&intervals["production"][0], &intervals["staging"][0]);
    let overlap = p
        .end
        .unwrap_or(0)
        .min(s.end.unwrap_or(0))
        .saturating_sub(p.start.max(s.start));
    // Serialized deploys could not overlap at all; a generous margin for a
    // loaded machine, where the two may start a second apart.
    assert!(
        overlap > 500_000_000,
        "production and staging should run at the same time"
    );
    assert_eq!(statuses(&two.log("staging")), ["succeeded"]);
}

#[test]
fn the_ledger_survives_a_fresh_clone() {
    let origin = Origin::new(&pipeline());
    let dev = origin.clone_as("dev");
    dev.run(&["deploy", "production"], &[]).status(0);
    dev.run(&["deploy", "staging"], &[]).status(0);
    let live = dev.git(&["rev-parse", "HEAD"]);

    // A new machine: clone, fetch parity's refs, and read them offline.
    let fresh = origin.clone_as("fresh");
    fresh.git(&["fetch", "--quiet", "origin", "refs/parity/*:refs/parity/*"]);
    fresh.git(&["remote", "remove", "origin"]);
    let log = fresh.log("production");
    assert_eq!(statuses(&log), ["succeeded"]);
    assert_eq!(log[0]["by"], "dev <dev@example.com>");
    assert_eq!(fresh.live("staging").as_deref(), Some(live.as_str()));
    // Anyone can read it with git alone.
    let oneline = fresh.git(&[
        "log",
        "--first-parent",
        "--format=%s",
        "refs/parity/deploys/production",
    ]);
    let short = &live[..8];
    assert_eq!(
        oneline.lines().collect::<Vec<_>>(),
        [
            format!("production: deployed {short}").as_str(),
            &format!("production: deploying {short} (manual)"),
            "production: ledger created",
        ]
    );
}

#[test]
fn without_a_remote_a_file_lock_serializes_one_machine() {
    let origin = Origin::new(&pipeline());
    let solo = origin.clone_as("solo");
    solo.git(&["remote", "remove", "origin"]);
    let env = [("SLEEP", "1")];
    let first = solo.spawn(&["deploy", "staging"], &env);
    wait_for_start(&origin, "staging", 1);
    solo.run(&["deploy", "staging", "--no-wait"], &[])
        .status(1)
        .says("another parity on this machine");
    let second = solo.spawn(&["deploy", "staging"], &env);
    Done::wait(first, Duration::from_secs(60)).status(0);
    Done::wait(second, Duration::from_secs(60))
        .status(0)
        .says("(no remote: this clone only)");
    let intervals = &origin.intervals()["staging"];
    assert_eq!(intervals.len(), 2);
    assert_serial(intervals);
    assert_eq!(statuses(&solo.log("staging")), ["succeeded", "succeeded"]);
}

#[test]
fn commits_off_the_branch_and_dirty_trees_are_refused() {
    let origin = Origin::new(&pipeline());
    let dev = origin.clone_as("dev");
    dev.git(&["checkout", "--quiet", "-b", "feature"]);
    let feature = dev.commit("feature work");
    dev.run(&["deploy", "production"], &[])
        .status(2)
        .says(&format!(
            "{} is not on branch `main` of remote `origin`",
            &feature[..8]
        ));
    // staging has no branch rule.
    dev.run(&["deploy", "staging"], &[]).status(0);
    // A file the commit lacks, which a deploy script may read: a warning.
    std::fs::write(dev.path.join("notes.txt"), "draft").expect("write");
    dev.run(&["deploy", "staging"], &[])
        .status(0)
        .says("this untracked file is not in the commit: notes.txt");
    std::fs::remove_file(dev.path.join("notes.txt")).expect("remove");

    std::fs::write(
        dev.path.join("parity.toml"),
        format!("{}\n# edited\n", pipeline()),
    )
    .expect("edit");
    dev.run(&["deploy", "staging"], &[])
        .status(2)
        .says("uncommitted changes: parity.toml");
    // Naming the commit deploys it from a clean checkout instead.
    dev.run(&["deploy", "staging", "--commit", "HEAD"], &[])
        .status(0)
        .says("from a clean checkout");
    assert!(
        dev.git(&["worktree", "list"]).lines().count() == 1,
        "the checkout is removed"
    );

    dev.run(&["deploy", "nowhere"], &[])
        .status(2)
        .says("no deploy environment named `nowhere`");
}

#[test]
fn ci_deploys_are_recorded_with_their_run() {
    let origin = Origin::new(&pipeline());
    let runner = origin.clone_as("runner");
    let ci = [
        ("CI", "true"),
        ("GITHUB_SERVER_URL", "https://github.example"),
        ("GITHUB_REPOSITORY", "team/app"),
        ("GITHUB_RUN_ID", "42"),
    ];
    runner.run(&["deploy", "staging"], &ci).status(0);
    let log = runner.log("staging");
    assert_eq!(log[0]["trigger"], "ci");
    assert_eq!(
        log[0]["ci_url"],
        "https://github.example/team/app/actions/runs/42"
    );
    assert!(log[0]["host"].as_str().is_some_and(|h| !h.is_empty()));
}

#[test]
fn needs_run_first_and_a_failing_need_stops_the_deploy() {
    let origin = Origin::new(
        r#"
        version = 1
        [services.svc]
        command = "sleep 600"
        ready = { exec = "true" }
        [jobs.check]
        run = 'test -z "$BREAK_CHECK" && echo "check ran"'
        [deploy.production]
        needs = ["check"]
        services = ["svc"]
        run = 'echo "service at $SVC_URL"'
        "#,
    );
    let dev = origin.clone_as("dev");
    dev.run(&["deploy", "production"], &[("BREAK_CHECK", "1")])
        .status(1)
        .says("not deploying to production: a job it needs did not pass");
    let log = dev.log("production");
    assert!(
        log.is_empty(),
        "a deploy that never took the lock is not recorded: {log:?}"
    );

    let done = dev.run(&["deploy", "production"], &[]);
    done.status(0)
        .says("check ran")
        .says("service at http://127.0.0.1:");
    assert_eq!(statuses(&dev.log("production")), ["succeeded"]);
}

#[test]
fn ctrl_c_while_waiting_leaves_nothing_behind() {
    let origin = Origin::new(&pipeline());
    let (holder, waiter) = (origin.clone_as("holder"), origin.clone_as("waiter"));
    let first = holder.spawn(&["deploy", "staging"], &[("SLEEP", "3")]);
    wait_for_start(&origin, "staging", 1);
    let mut second = waiter.spawn(&["deploy", "staging", "--commit", "HEAD"], &[]);
    // It is waiting once it said so; give it a moment to get there.
    std::thread::sleep(Duration::from_millis(1500));
    let _ = Command::new("kill")
        .args(["-INT", &second.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let code = loop {
        if let Some(status) = second.try_wait().expect("wait") {
            break status.code();
        }
        assert!(Instant::now() < deadline, "parity did not stop waiting");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(130));
    assert_eq!(
        waiter.git(&["worktree", "list"]).lines().count(),
        1,
        "the temporary checkout is removed"
    );
    Done::wait(first, Duration::from_secs(60)).status(0);
    assert_eq!(statuses(&waiter.log("staging")), ["succeeded"]);
}

#[test]
fn a_bad_lease_fails_the_deploy_but_not_the_log() {
    let origin = Origin::new(&pipeline());
    let dev = origin.clone_as("dev");
    let bad = [("PARITY_DEPLOY_LEASE", "soon")];
    dev.run(&["deploy", "staging"], &bad)
        .status(2)
        .says("bad lease `soon`")
        .says("PARITY_DEPLOY_LEASE");
    dev.run(&["deploy", "staging", "--lease", "0s"], &[])
        .status(2)
        .says("bad lease `0s`");
    dev.run(&["deploy", "log", "staging"], &bad).status(0);
    dev.run(&["deploy", "status"], &bad).status(0);
}

#[test]
fn log_and_status_read_the_local_copy_when_the_remote_is_down() {
    let origin = Origin::new(&pipeline());
    let dev = origin.clone_as("dev");
    dev.run(&["deploy", "staging"], &[]).status(0);
    let moved = origin.url().with_extension("away");
    std::fs::rename(origin.url(), &moved).expect("take the remote away");
    let done = dev.run(&["deploy", "log", "staging"], &[]);
    done.status(0)
        .says("cannot read the ledger of staging on remote `origin`")
        .says("succeeded");
    // Deploying needs the remote: no silent fallback.
    dev.run(&["deploy", "staging"], &[])
        .status(1)
        .says("the deploy ledger and lock live on remote");
    std::fs::rename(&moved, origin.url()).expect("bring the remote back");
}

#[test]
fn a_holder_whose_lock_is_taken_over_stops_and_leaves_live_alone() {
    let origin = Origin::new(&pipeline());
    let (slow, admin) = (origin.clone_as("slow"), origin.clone_as("admin"));
    let env = [("PARITY_DEPLOY_LEASE", "1500ms"), ("SLEEP", "30")];
    let holder = slow.spawn(&["deploy", "staging"], &env);
    wait_for_start(&origin, "staging", 1);
    admin
        .run(&["deploy", "unlock", "staging", "--force"], &[])
        .status(0);
    // The holder notices at its next renewal (a third of the lease) and
    // stops its steps instead of deploying without the lock.
    let done = Done::wait(holder, Duration::from_secs(20));
    done.status(1).says("was taken over");
    let intervals = &origin.intervals()["staging"];
    // No end stamp at all means the steps were stopped before they finished.
    if let Some(end) = intervals[0].end {
        let ran = end.saturating_sub(intervals[0].start);
        assert!(ran < 15_000_000_000, "the steps were stopped early");
    }
    let log = admin.log("staging");
    assert_eq!(statuses(&log), ["unlocked", "failed"]);
    assert!(
        admin.live("staging").is_none(),
        "a stopped deploy is not live"
    );
}

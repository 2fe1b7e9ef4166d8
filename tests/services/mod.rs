//! Services against the real servers: PostgreSQL and Redis from the
//! machine's packages, and small commands, started by the built `parity`.
//!
//! Each test keeps its servers' data in a directory of its own and looks
//! for leftovers only by that directory, since tests run in parallel.

use crate::harness::{assert_no_process, processes_with, wait_for_sleeps, Test, Unique};
use crate::insight::again;
use nix::sys::signal::Signal;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Template clusters shared by every test of this run (made once, under a
/// lock, by whichever test gets there first).
fn cache_home() -> String {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("services-cache");
    std::fs::create_dir_all(&dir).expect("create the cache dir");
    dir.display().to_string()
}

fn test() -> Test {
    Test::new().env("XDG_CACHE_HOME", &cache_home())
}

/// A directory outside the pipeline for servers' data, so the process table
/// can be searched for it even while parity runs.
fn data_root() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::Builder::new()
        .prefix("parity-svc-")
        .tempdir()
        .expect("create a data directory");
    // Under root, PostgreSQL runs as an unprivileged account that must be
    // able to reach its data directory.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn path(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

#[test]
fn a_job_talks_to_postgres_and_redis_that_parity_started() {
    let out = test()
        .pipeline(
            r#"
            version = 1
            [services.db]
            preset = "postgres"
            [services.db.env]
            POSTGRES_DB = "app"
            POSTGRES_PASSWORD = "s3cret-pw"
            [services.cache]
            preset = "redis"
            [jobs.check]
            services = ["db", "cache"]
            run = [
              "psql \"$DB_URL\" -tAc 'select 40 + 2'",
              "redis-cli -u \"$CACHE_URL\" ping",
              "psql '{{services.db.url}}' -tAc 'select current_database()'",
              "echo port=$DB_PORT host=$CACHE_HOST",
            ]
            "#,
        )
        .args(["run"])
        .run();
    out.status(0).result("check", "passed");
    let log = out.log("check");
    assert!(log.contains("\n42\n"), "{log}");
    assert!(log.contains("PONG"), "{log}");
    assert!(log.contains("\napp\n"), "{log}");
    assert!(log.contains("host=127.0.0.1"), "{log}");
    let ready = out
        .stdout
        .lines()
        .find(|l| l.contains("service db ready at"))
        .unwrap_or_default();
    assert!(
        ready.contains("postgres:***@127.0.0.1"),
        "parity's own lines hide the password\n{out}"
    );
    assert!(out.exists(".parity/runs/latest/services/db.log"));
    assert!(out.exists(".parity/runs/latest/services/cache.log"));
}

#[test]
fn a_server_that_never_gets_ready_fails_the_job_with_the_reason() {
    let sleep = Unique::duration(600);
    let out = test()
        .pipeline(&format!(
            r#"
            version = 1
            [services.api]
            command = "echo api booting; sleep {sleep}"
            ready = {{ http = "http://127.0.0.1:{{{{port}}}}/health", timeout = "1s" }}
            [jobs.t]
            services = ["api"]
            run = "echo never runs"
            "#
        ))
        .args(["run"])
        .run();
    out.status(1)
        .result("t", "failed")
        .detail("t", "api not ready after 1s: GET /health →");
    let log = out.log("t");
    assert!(
        log.contains("api booting"),
        "the service log's tail is shown\n{log}"
    );
    assert!(!log.contains("never runs\n"), "{log}");
    assert_no_process(&sleep);
}

#[test]
fn a_crashing_service_fails_the_job_and_shows_its_log() {
    let out = test()
        .pipeline(
            r#"
            version = 1
            [services.db]
            command = "echo fatal: bad config >&2; exit 3"
            ready = { tcp = "127.0.0.1:{{port}}" }
            [jobs.t]
            services = ["db"]
            run = "true"
            "#,
        )
        .args(["run"])
        .run();
    out.status(1)
        .detail("t", "db exited with code 3 before it was ready");
    assert!(
        out.log("t").contains("fatal: bad config"),
        "{}",
        out.log("t")
    );
}

#[test]
fn a_free_port_is_picked_when_5432_is_taken_and_a_fixed_taken_port_is_an_error() {
    // Hold 5432 if nobody does; if someone does, it is taken all the same.
    let _held = TcpListener::bind("127.0.0.1:5432").ok();
    let out = test()
        .pipeline(
            r#"
            version = 1
            [services.db]
            preset = "postgres"
            [jobs.t]
            services = ["db"]
            run = "test \"$DB_PORT\" != 5432 && psql \"$DB_URL\" -tAc 'select 1'"
            "#,
        )
        .args(["run"])
        .run();
    out.status(0);

    let out = test()
        .pipeline(
            r#"
            version = 1
            [services.db]
            preset = "postgres"
            port = 5432
            [jobs.t]
            services = ["db"]
            run = "true"
            "#,
        )
        .args(["run"])
        .run();
    out.status(1)
        .detail("t", "port 5432 for `db` is already in use");
}

#[test]
fn two_pipelines_at_once_do_not_collide() {
    let pipeline = r#"
        version = 1
        [services.db]
        preset = "postgres"
        [services.cache]
        preset = "redis"
        [jobs.t]
        services = ["db", "cache"]
        run = ["psql \"$DB_URL\" -tAc 'create table t (x int)'", "redis-cli -u \"$CACHE_URL\" set k v", "echo ports $DB_PORT $CACHE_PORT"]
    "#;
    let first = test().pipeline(pipeline).args(["run"]).spawn();
    let second = test().pipeline(pipeline).args(["run"]).spawn();
    let (a, b) = (
        first.finish(Duration::from_secs(90)),
        second.finish(Duration::from_secs(90)),
    );
    a.status(0);
    b.status(0);
    let ports = |log: String| {
        log.lines()
            .find(|l| l.starts_with("ports "))
            .map(str::to_owned)
    };
    assert_ne!(ports(a.log("t")), ports(b.log("t")));
}

/// A pipeline whose job sleeps with postgres and redis up, their data in `data`.
fn sleeping(data: &tempfile::TempDir, sleep: &Unique) -> Test {
    test().pipeline(&format!(
        r#"
        version = 1
        [services.db]
        preset = "postgres"
        data_dir = "{}"
        [services.cache]
        preset = "redis"
        data_dir = "{}"
        [jobs.wait]
        services = ["db", "cache"]
        run = "sleep {sleep}"
        "#,
        path(data, "pg").display(),
        path(data, "redis").display()
    ))
}

#[test]
fn ctrl_c_stops_the_services() {
    let data = data_root();
    let sleep = Unique::duration(300);
    let running = sleeping(&data, &sleep).args(["run"]).spawn();
    wait_for_sleeps(&sleep, 1, Duration::from_secs(60));
    assert!(
        !processes_with(&path(&data, "pg").display().to_string()).is_empty(),
        "postgres runs"
    );
    running.signal(Signal::SIGINT);
    let out = running.finish(Duration::from_secs(30));
    out.status(130);
    assert_no_process(&data.path().display().to_string());
    assert_no_process(&sleep);
}

#[test]
fn a_signal_while_services_up_waits_stops_the_service_not_yet_ready() {
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let (ready, waiting) = (Unique::duration(300), Unique::duration(300));
        let running = test()
            .pipeline(&format!(
                r#"
                version = 1
                [services.first]
                command = "exec sleep {ready}"
                [services.second]
                needs = ["first"]
                command = "exec sleep {waiting}"
                ready = {{ log = "never printed", timeout = "60s" }}
                [jobs.t]
                run = "true"
                "#
            ))
            .args(["services", "up"])
            .spawn();
        wait_for_sleeps(&waiting, 1, Duration::from_secs(30));
        running.signal(signal);
        let out = running.finish(Duration::from_secs(30));
        out.status(130)
            .stdout_contains("first: ready in")
            .stderr_contains("starting second was interrupted");
        // Unrecorded, nothing could have stopped it later.
        assert_no_process(&waiting);
        assert_eq!(processes_with(&ready).len(), 1, "{signal}: first stays up");
        let cache = cache_home();
        let down = again(
            out.path(),
            &["services", "down"],
            &[("XDG_CACHE_HOME", &cache)],
        );
        assert!(
            String::from_utf8_lossy(&down.stdout).contains("first: stopped"),
            "{signal}: {down:?}"
        );
        assert_no_process(&ready);
    }
}

#[test]
fn after_parity_is_killed_the_next_command_stops_what_it_left() {
    let data = data_root();
    let sleep = Unique::duration(300);
    let running = sleeping(&data, &sleep).args(["run"]).spawn();
    wait_for_sleeps(&sleep, 1, Duration::from_secs(60));
    running.signal(Signal::SIGKILL);
    let out = running.finish(Duration::from_secs(10));
    assert!(
        !processes_with(&data.path().display().to_string()).is_empty(),
        "the servers outlive a SIGKILLed parity"
    );
    let dir = out.path().to_owned();
    let status = std::process::Command::new(crate::harness::PARITY)
        .args(["services", "status"])
        .current_dir(&dir)
        .output()
        .expect("run parity services status");
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(stderr.contains("parity was killed"), "{stderr}");
    assert_no_process(&data.path().display().to_string());
    assert_no_process(&sleep);
}

#[test]
fn services_up_status_logs_down() {
    let data = data_root();
    let pipeline = format!(
        r#"
        version = 1
        [services.db]
        preset = "postgres"
        data_dir = "{}"
        [services.web]
        command = "python3 -m http.server {{{{port}}}} --bind 127.0.0.1 --directory {}"
        needs = ["db"]
        ready = {{ http = "http://127.0.0.1:{{{{port}}}}/" }}
        [jobs.t]
        run = "true"
        "#,
        path(&data, "pg").display(),
        data.path().display()
    );
    let up = test().pipeline(&pipeline).args(["services", "up"]).run();
    up.status(0)
        .stdout_contains("db: ready in")
        .stdout_contains("web: ready in");
    let dir = up.path().to_owned();
    let parity = |args: &[&str]| {
        std::process::Command::new(crate::harness::PARITY)
            .args(args)
            .current_dir(&dir)
            .env("XDG_CACHE_HOME", cache_home())
            .output()
            .expect("run parity")
    };
    let status = parity(&["services", "status"]);
    let text = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.starts_with("db ") && l.contains("ready")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("web ") && l.contains("ready")),
        "{text}"
    );
    let logs = parity(&["services", "logs", "db"]);
    assert!(String::from_utf8_lossy(&logs.stdout).contains("ready to accept connections"));
    let again = parity(&["services", "up", "db"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("db: already running"));

    let down = parity(&["services", "down"]);
    let text = String::from_utf8_lossy(&down.stdout).into_owned();
    assert_eq!(down.status.code(), Some(0), "{text}");
    let web = text.find("web: stopped").expect("web stopped");
    let db = text.find("db: stopped").expect("db stopped");
    assert!(web < db, "dependents stop first: {text}");
    assert_no_process(&data.path().display().to_string());
    let again = parity(&["services", "down"]);
    let text = String::from_utf8_lossy(&again.stdout).into_owned();
    assert_eq!(again.status.code(), Some(0), "{text}");
    assert_eq!(text, "nothing to stop: no service is up\n");
    let named = parity(&["services", "down", "db"]);
    let text = String::from_utf8_lossy(&named.stdout).into_owned();
    assert_eq!(text, "nothing to stop: db is not up\n");
}

#[test]
fn services_up_masks_credentials_in_their_logs_after_parity_has_exited() {
    let token = format!("tok-{}-secret", std::process::id());
    let sleep = Unique::duration(120);
    let up = test()
        .pipeline(&format!(
            r#"
            version = 1
            [services.api]
            command = "echo token=$API_TOKEN; sleep 0.3; echo later=$API_TOKEN; exec sleep {sleep}"
            ready = {{ log = "token=" }}
            [jobs.t]
            run = "true"
            "#
        ))
        .file(".env.ci.local", &format!("API_TOKEN={token}\n"))
        .args(["services", "up"])
        .run();
    up.status(0).stdout_contains("api: ready in");
    let cache = cache_home();
    let parity = |args: &[&str]| again(up.path(), args, &[("XDG_CACHE_HOME", &cache)]);
    // The second line comes after `services up` has exited: its relay
    // writes the log, masked, on disk.
    let log = up.path().join(".parity/services/api.log");
    let on_disk = || std::fs::read_to_string(&log).unwrap_or_default();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !on_disk().contains("later=") && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let written = on_disk();
    assert!(
        written.contains("token=***\n") && written.contains("later=***\n"),
        "{written}"
    );
    assert!(!written.contains(&token), "{written}");
    let shown = String::from_utf8_lossy(&parity(&["services", "logs", "api"]).stdout).into_owned();
    assert_eq!(shown, written);

    let state: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(up.path().join(".parity/services/api.json")).expect("state"),
    )
    .expect("state is JSON");
    let relay = state["relay"]["pid"]
        .as_i64()
        .expect("the relay is recorded");
    let cmdline = std::fs::read(format!("/proc/{relay}/cmdline")).expect("the relay runs");
    assert_eq!(cmdline, b"parity\0service-log\0api\0");
    let environ = std::fs::read(format!("/proc/{relay}/environ")).expect("the relay's environment");
    assert!(
        !String::from_utf8_lossy(&environ).contains("XDG_CACHE_HOME="),
        "the relay holds none of parity's variables"
    );
    assert_eq!(parity(&["services", "down"]).status.code(), Some(0));
    // Gone, or a zombie where nothing reaps orphans (PID 1 in a container).
    let stat = std::fs::read_to_string(format!("/proc/{relay}/stat")).unwrap_or_default();
    assert!(
        stat.is_empty() || stat.contains(") Z "),
        "the relay ended with its service: {stat}"
    );
    assert_no_process(&sleep);
}

#[test]
fn a_stale_state_whose_pid_now_belongs_to_another_program_is_not_killed() {
    let sleep = Unique::duration(120);
    let mut stranger = std::process::Command::new("sleep")
        .arg(&*sleep)
        .spawn()
        .expect("start sleep");
    let out = test()
        .pipeline(
            r#"
            version = 1
            [services.db]
            preset = "redis"
            [jobs.t]
            run = "true"
            "#,
        )
        .file(
            ".parity/services/db.json",
            &format!(
                r#"{{"name":"db","identity":{{"pid":{},"start_time":1,"boot_id":"old"}},"marker":"x/services/db",
                "values":{{"host":"127.0.0.1","port":1,"url":"redis://127.0.0.1:1","data_dir":"/nonexistent"}},
                "log":"/nonexistent.log","temp_dir":null,"started":0,"check":"Started","probe_env":[],"probe_cwd":"/"}}"#,
                stranger.id()
            ),
        )
        .args(["services", "down"])
        .run();
    out.status(0)
        .stdout_contains("now belongs to another program");
    assert!(
        stranger.try_wait().expect("poll sleep").is_none(),
        "the stranger still runs"
    );
    let _ = stranger.kill();
    let _ = stranger.wait();
}

/// Ready once it said so: a job that ended first would have the service
/// stopped before it could write its line.
#[test]
fn a_service_whose_name_is_too_long_for_a_file_name_starts() {
    let name = "s".repeat(300);
    let sleep = Unique::duration(120);
    let out = test()
        .pipeline(&format!(
            r#"
            version = 1
            [services.{name}]
            command = "echo serving; exec sleep {sleep}"
            ready = {{ log = "serving" }}
            [jobs.t]
            services = ["{name}"]
            run = "echo host=${prefix}_HOST"
            "#,
            prefix = name.to_uppercase()
        ))
        .args(["run"])
        .run();
    out.status(0);
    assert!(out.log("t").contains("host=127.0.0.1"), "{out}");
    let logs: Vec<String> = std::fs::read_dir(out.run_dir().join("services"))
        .expect("the services' logs")
        .map(|entry| std::fs::read_to_string(entry.expect("entry").path()).expect("read"))
        .collect();
    assert_eq!(logs, ["serving\n"]);
    assert_no_process(&sleep);
}

#[test]
fn unknown_service_names_are_usage_errors() {
    test()
        .pipeline(
            r#"
            version = 1
            [services.db]
            preset = "redis"
            [jobs.t]
            run = "true"
            "#,
        )
        .args(["services", "up", "dv"])
        .run()
        .status(2)
        .stderr_contains("no service named `dv`");
}

#[test]
fn a_pipeline_without_services_says_so() {
    for command in ["up", "down", "status"] {
        test()
            .pipeline("version = 1\n[jobs.t]\nrun = \"true\"\n")
            .args(["services", command])
            .run()
            .status(0)
            .stdout_contains("has no [services.NAME]: nothing to start, stop or show");
    }
    test()
        .pipeline("version = 1\n[jobs.t]\nrun = \"true\"\n")
        .args(["services", "logs", "db"])
        .run()
        .status(2)
        .stderr_contains("no service named `db`")
        .stderr_contains("the pipeline has no `[services.NAME]`");
}

#[test]
fn the_postgres_server_runs_unprivileged_under_root() {
    if !nix::unistd::Uid::effective().is_root() {
        return;
    }
    let data = data_root();
    let sleep = Unique::duration(200);
    let running = sleeping(&data, &sleep).args(["run"]).spawn();
    wait_for_sleeps(&sleep, 1, Duration::from_secs(60));
    let pg = path(&data, "pg").display().to_string();
    let (pid, _) = processes_with(&pg)
        .into_iter()
        .find(|(_, c)| c.contains("postgres"))
        .expect("postmaster");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("read status");
    let uid = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .unwrap_or_default()
        .to_owned();
    assert!(
        uid.split_whitespace().nth(1).is_none_or(|u| u != "0"),
        "postgres must not run as root: {uid}"
    );
    running.signal(Signal::SIGINT);
    running.finish(Duration::from_secs(30)).status(130);
    assert_no_process(&pg);
}

/// The relay's hidden command, tried by hand from a terminal, says what it
/// is for rather than waiting for a header no one will type.
#[test]
fn the_relay_tried_by_hand_says_it_is_not_for_that() {
    let pty = nix::pty::openpty(None, None).expect("a pseudo-terminal");
    let mut relay = std::process::Command::new(crate::harness::PARITY)
        .args(["service-log", "api"])
        .stdin(std::process::Stdio::from(pty.slave))
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start parity");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while relay.try_wait().expect("wait for parity").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = relay.kill();
            panic!("`parity service-log` waits on a terminal for a header no one types");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = relay.wait_with_output().expect("parity's output");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("is not run by hand"), "{stderr}");
    assert!(stderr.contains("parity services logs NAME"), "{stderr}");
}

/// Started from a terminal, a service and its readiness probe have none, as
/// a step has none: one that would prompt on /dev/tty (psql asking for a
/// password) fails at once with its own message, instead of stopping until
/// the readiness timeout without a word.
#[test]
fn a_service_and_its_probe_have_no_terminal_to_prompt_on() {
    let run = |service: &str, probe: &str| {
        test()
            .pipeline(&format!(
                r#"
                version = 1
                [services.api]
                command = "{service}"
                ready = {{ exec = "{probe}", timeout = "3s" }}
                [jobs.t]
                services = ["api"]
                run = "true"
                "#
            ))
            .env("NO_COLOR", "1")
            .in_terminal()
            .args(["run"])
            .run()
    };
    let sleep = Unique::duration(60);
    let out = run(
        &format!("read -r answer < /dev/tty && touch answered && exec sleep {sleep}"),
        "test -e answered",
    );
    out.status(1)
        .stdout_contains("/dev/tty: No such device or address");
    let out = run(&format!("exec sleep {sleep}"), "read -r answer < /dev/tty");
    out.status(1)
        .stdout_contains("`read -r answer < /dev/tty` exited with code 1");
    assert_no_process(&sleep);
}

//! A step's processes: timeouts, Ctrl-C, and everything a job started in the
//! background is stopped when the job ends, however it detached.

use crate::harness::{assert_no_process, wait_for_sleeps, Running, Test, Unique};
use nix::sys::signal::Signal;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

#[test]
fn a_step_that_ignores_sigterm_is_killed_after_its_timeout() {
    let sleep = Unique::duration(100);
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            [jobs.stuck]
            run = "trap '' TERM; sleep {sleep}"
            timeout = "1s"
            "#
        ))
        .args(["run"])
        .run();
    out.status(1)
        .result("stuck", "timed out")
        .detail("stuck", "timed out after 1s");
    // 1s timeout, SIGTERM ignored, SIGKILL after the 5s grace period.
    assert!(
        out.elapsed >= Duration::from_secs(5) && out.elapsed < Duration::from_secs(20),
        "took {:?}\n{out}",
        out.elapsed
    );
    assert_no_process(&sleep);
}

/// A run whose first job waits on two `sleep DURATION` (one in the
/// background) after `prelude`, and a second job that needs it.
fn interruptible(prelude: &str, sleep: &str) -> Running {
    Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            [jobs.wait]
            run = "{prelude}sleep {sleep} & sleep {sleep}"
            [jobs.later]
            needs = ["wait"]
            run = "touch later-ran"
            "#
        ))
        .args(["run", "--jobs", "1"])
        .spawn()
}

/// Ctrl-C (or SIGTERM, from a CI runner cancelling the job) stops the
/// running step and everything it started, skips what has not started, and
/// exits 130.
#[track_caller]
fn interrupted_by(signal: Signal) {
    let sleep = Unique::duration(200);
    let running = interruptible("", &sleep);
    wait_for_sleeps(&sleep, 2, Duration::from_secs(10));
    running.signal(signal);
    let out = running.finish(Duration::from_secs(4));
    out.status(130)
        .result("wait", "cancelled")
        .detail("wait", "interrupted")
        .result("later", "skipped")
        .detail("later", "interrupted")
        .stdout_contains("interrupted in");
    assert!(!out.exists("later-ran"), "{out}");
    assert_no_process(&sleep);
}

#[test]
fn ctrl_c_stops_the_run_with_exit_130() {
    interrupted_by(Signal::SIGINT);
}

#[test]
fn sigterm_stops_the_run_with_exit_130() {
    interrupted_by(Signal::SIGTERM);
}

#[test]
fn a_second_ctrl_c_kills_without_waiting_for_the_grace_period() {
    let sleep = Unique::duration(200);
    let running = interruptible("trap '' TERM; ", &sleep);
    wait_for_sleeps(&sleep, 2, Duration::from_secs(10));
    running.signal(Signal::SIGINT);
    // Two signals sent at once may be delivered as one.
    std::thread::sleep(Duration::from_millis(300));
    let second = Instant::now();
    running.signal(Signal::SIGINT);
    let out = running.finish(Duration::from_secs(10));
    out.status(130).result("wait", "cancelled");
    // The steps ignore SIGTERM: only the kill ends them before the 5s grace.
    assert!(
        second.elapsed() < Duration::from_secs(3),
        "took {:?} after the second Ctrl-C\n{out}",
        second.elapsed()
    );
    assert_no_process(&sleep);
}

/// Runs a job whose first step leaves `sleep DURATION` behind in the way
/// `launch` (a shell fragment taking the command) does, and whose second step
/// sees it still running: the job's steps share its processes.
#[track_caller]
fn leftover_is_stopped_when_the_job_ends(launch: &str) {
    let sleep = Unique::duration(1000);
    let start = launch.replace("CMD", &format!("sleep {sleep}"));
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            [jobs.bg]
            run = ['{start}', 'sleep 0.2; pgrep -fx "sleep {sleep}" >/dev/null && echo still-running']
            "#
        ))
        .args(["run"])
        .run();
    out.status(0)
        .result("bg", "passed")
        .stdout_contains("[bg] still-running")
        .stderr_contains("bg: stopping")
        .stderr_contains(&format!("left running: sleep {sleep}"));
    assert!(
        out.log("bg").contains(&format!("sleep {sleep}")),
        "the log should name it too\n{out}"
    );
    assert_no_process(&sleep);
}

#[test]
fn a_background_process_is_stopped_when_the_job_ends() {
    leftover_is_stopped_when_the_job_ends("CMD &");
}

#[test]
fn a_setsid_process_is_stopped_when_the_job_ends() {
    leftover_is_stopped_when_the_job_ends("setsid CMD &");
}

#[test]
fn a_double_forked_process_is_stopped_when_the_job_ends() {
    leftover_is_stopped_when_the_job_ends("( CMD & ) &");
}

#[test]
fn a_process_that_cleared_its_environment_is_stopped_when_the_job_ends() {
    leftover_is_stopped_when_the_job_ends("env -i CMD &");
}

#[test]
fn a_process_no_job_can_claim_is_stopped_when_the_run_ends() {
    // Out of the job's group and without its marker, it is still parity's
    // child (parity is a subreaper), found when the last job has ended.
    let sleep = Unique::duration(1000);
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            [jobs.bg]
            run = ["( setsid env -i sleep {sleep} & )", "sleep 0.3"]
            "#
        ))
        .args(["run"])
        .run();
    out.status(0)
        .result("bg", "passed")
        .stderr_contains("stopping processes left running by the run")
        .stderr_contains(&format!("sleep {sleep}"));
    assert_no_process(&sleep);
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

#[test]
fn a_server_started_in_one_step_serves_the_next_and_is_gone_after() {
    let port = free_port();
    let server = Unique::text(format!("http.server {port}"));
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            [jobs.web]
            run = [
                "python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 &",
                "for i in $(seq 100); do curl -sf -o /dev/null http://127.0.0.1:{port}/ && echo served && exit 0; sleep 0.1; done; exit 1",
            ]
            "#
        ))
        .args(["run"])
        .run();
    out.status(0)
        .result("web", "passed")
        .stdout_contains("[web] served")
        .stderr_contains(&server);
    assert!(
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err(),
        "the server still answers on {port} after the job\n{out}"
    );
    assert_no_process(&server);
}

/// parity blocks SIGCHLD for itself during a run; a step must not inherit
/// that, nor the SIGPIPE that Rust ignores: a `yes | head` pipeline and a
/// shell's `wait` depend on both. A signal parity was started with ignored
/// (by `nohup`) stays ignored in the step, as any program passes it on.
/// The job's shell is `grep`, which reports its masks as it was started
/// (bash would mend them for its commands); the `-c` parity puts before the
/// step is its second pattern, which matches nothing there.
#[test]
fn a_step_starts_with_no_signal_blocked_or_ignored_but_those_parity_was_given() {
    let masks = |test: Test| {
        let out = test
            .pipeline(
                r#"
                version = 1
                [jobs.masks]
                shell = "grep -h -e ^Sig -e"
                run = "/proc/self/status"
                "#,
            )
            .args(["run"])
            .run();
        out.status(0);
        let log = out.log("masks");
        let mask = |name: &str| {
            log.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
                .unwrap_or_else(|| panic!("no {name} in {log}\n{out}"))
        };
        // The standard signals: glibc's `posix_spawn`, which started
        // parity here, ignores its own real-time ones above them.
        (mask("SigBlk:"), mask("SigIgn:") & 0x7fff_ffff)
    };
    assert_eq!(masks(Test::new()), (0, 0), "blocked and ignored signals");
    let (blocked, ignored) = masks(Test::new().ignoring("QUIT").ignoring("PIPE"));
    assert_eq!(blocked, 0, "blocked signals");
    // Signal N is bit N - 1.
    assert_eq!(ignored, 1 << (libc::SIGQUIT - 1), "ignored signals");
}

/// As in CI, a step has no terminal, even when parity has one: a program
/// that would prompt on /dev/tty (ssh's host key question, sudo's password)
/// fails at once with its own message. In the terminal's session, such a
/// prompt stopped the job, without a word, until its timeout.
#[test]
fn a_step_has_no_terminal_to_prompt_on_even_when_parity_has_one() {
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.ask]
            timeout = "30s"
            run = "read -r answer < /dev/tty"
            "#,
        )
        .env("NO_COLOR", "1")
        .in_terminal()
        .args(["run"])
        .run();
    out.status(1);
    let log = out.log("ask");
    assert!(
        log.contains("/dev/tty: No such device or address"),
        "{log}\n{out}"
    );
    assert!(
        out.elapsed < Duration::from_secs(20),
        "the prompt waited\n{out}"
    );
}

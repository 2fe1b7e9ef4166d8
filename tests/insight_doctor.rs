//! `parity doctor`: tool pins against what is installed, the binaries the
//! presets need, fixed ports, and local secrets kept out of git.

use crate::harness::Test;
use std::net::TcpListener;
use std::process::Command;

#[test]
fn drift_is_a_warning_with_its_fix() {
    let out = Test::new()
        .pipeline("version = 1\n[tools]\nrust = \"1.0\"\n[jobs.a]\nrun = 'true'\n")
        .args(["doctor"])
        .run();
    out.status(0)
        .stdout_contains("warn  tools")
        .stdout_contains("drifts from [tools] rust = \"1.0\"")
        .stdout_contains("fix: rustup toolchain install 1.0 && rustup override set 1.0");
}

#[test]
fn a_missing_tool_fails() {
    let out = Test::new()
        .pipeline("version = 1\n[tools]\nno-such-tool-here = \"2.1\"\n[jobs.a]\nrun = 'true'\n")
        .args(["doctor", "--json"])
        .run();
    out.status(1);
    let checks: serde_json::Value =
        serde_json::from_str(&out.stdout).expect("doctor --json is JSON");
    let tool = checks
        .as_array()
        .expect("a list")
        .iter()
        .find(|c| c["area"] == "tools")
        .expect("a tools check");
    assert_eq!(tool["level"], "fail", "{tool}");
    assert!(
        tool["message"]
            .as_str()
            .unwrap_or_default()
            .contains("not on PATH"),
        "{tool}"
    );
}

#[test]
fn a_taken_port_and_preset_binaries() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("address").port();
    let out = Test::new()
        .pipeline(&format!(
            "version = 1\n[services.cache]\npreset = \"redis\"\nport = {port}\n[jobs.a]\nservices = [\"cache\"]\nrun = 'true'\n"
        ))
        .args(["doctor"])
        .run();
    out.status(1).stdout_contains(&format!(
        "fail  ports     {port} is taken (service `cache`)"
    ));
    let redis = ["/usr/bin/redis-server", "/usr/local/bin/redis-server"]
        .iter()
        .any(|p| std::path::Path::new(p).exists());
    if redis {
        out.stdout_contains("ok    services  redis preset (cache)");
    } else {
        out.stdout_contains("fail  services  redis preset (cache): redis-server not found");
    }
    drop(taken);
}

#[test]
fn a_local_env_file_that_git_would_commit_fails() {
    let out = Test::new()
        .pipeline("version = 1\n[jobs.a]\nrun = 'true'\n")
        .file(".env.ci.local", "TOKEN=x\n")
        .args(["--version"])
        .run();
    let git = |args: &[&str]| {
        let status = Command::new("git")
            .current_dir(out.path())
            .args(args)
            .output()
            .expect("git");
        assert!(
            status.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&status.stderr)
        );
    };
    git(&["init", "-q"]);
    let doctor = |dir: &std::path::Path| {
        Command::new(crate::harness::PARITY)
            .current_dir(dir)
            .arg("doctor")
            .output()
            .expect("parity doctor")
    };
    let before = doctor(out.path());
    let stdout = String::from_utf8_lossy(&before.stdout).into_owned();
    assert_eq!(before.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("fail  secrets")
            && stdout.contains("fix: echo .env.ci.local >> .gitignore"),
        "{stdout}"
    );

    std::fs::write(out.path().join(".gitignore"), ".env.ci.local\n").expect("write .gitignore");
    let after = doctor(out.path());
    let stdout = String::from_utf8_lossy(&after.stdout).into_owned();
    assert!(
        stdout.contains("ok    secrets   .env.ci.local is git-ignored"),
        "{stdout}"
    );
}

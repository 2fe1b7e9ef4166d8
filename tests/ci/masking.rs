//! A secret never reaches any output or file: printed whole, to stderr,
//! split at every byte offset across two writes, by a background process
//! after its step ended; checked on stdout, stderr, and every file the run
//! left (logs, run record, JUnit, step summary, outputs).

use super::{files_under, parity_env, tempdir, write, Ran};
use std::path::Path;

const SECRET: &str = "s3cr3t-Tok3n-7f9a2c";

const PIPELINE: &str = r#"
version = 1
[secrets]
required = ["DEPLOY_TOKEN"]
[jobs.leak]
run = [
  "echo \"whole: $DEPLOY_TOKEN\"",
  "echo \"stderr: $DEPLOY_TOKEN\" >&2",
  "for i in $(seq 0 ${#DEPLOY_TOKEN}); do printf 'split %s:%s' \"$i\" \"${DEPLOY_TOKEN:0:$i}\"; sleep 0.01; printf '%s|\\n' \"${DEPLOY_TOKEN:$i}\"; done",
  "(sleep 0.2; echo \"background: $DEPLOY_TOKEN\") &",
  "sleep 1.5",
  "printf '%s' \"$DEPLOY_TOKEN\" > artifact.txt; echo \"no newline at the end: $DEPLOY_TOKEN\" | tr -d '\\n'",
]
[jobs.fails]
run = "echo \"failing with $DEPLOY_TOKEN\"; exit 3"
"#;

fn leaky_run(extra_env: &[(&str, &str)]) -> (tempfile::TempDir, Ran) {
    let dir = tempdir();
    write(dir.path(), "parity.toml", PIPELINE);
    write(
        dir.path(),
        ".env.ci.local",
        &format!("DEPLOY_TOKEN={SECRET}\n"),
    );
    let summary = dir.path().join("step-summary.md");
    let outputs = dir.path().join("step-outputs.txt");
    let summary = summary.to_string_lossy().into_owned();
    let outputs = outputs.to_string_lossy().into_owned();
    let mut env: Vec<(&str, &str)> = vec![
        ("GITHUB_STEP_SUMMARY", &summary),
        ("GITHUB_OUTPUT", &outputs),
    ];
    env.extend_from_slice(extra_env);
    let ran = parity_env(
        dir.path(),
        &["run", "--keep-going", "--junit", "junit.xml"],
        &env,
    );
    (dir, ran)
}

/// No file under `dir` but the secret's own source and the step's artifact
/// holds the secret.
#[track_caller]
fn assert_no_file_holds_it(dir: &Path) {
    let files = files_under(dir);
    assert!(
        files.iter().any(|f| f.ends_with("leak.log")),
        "no job log among {files:?}"
    );
    assert!(
        files.iter().any(|f| f.ends_with("junit.xml")),
        "no JUnit file among {files:?}"
    );
    for file in files {
        let name = file
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name == ".env.ci.local" || name == "artifact.txt" {
            continue;
        }
        let bytes = std::fs::read(&file).unwrap_or_default();
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains(SECRET),
            "{} holds the secret:\n{text}",
            file.display()
        );
    }
}

#[track_caller]
fn assert_masked_output(ran: &Ran, log: &str) {
    for text in [ran.stdout.as_str(), ran.stderr.as_str(), log] {
        assert!(!text.contains(SECRET), "the secret leaked\n{ran}");
    }
    assert!(log.contains("whole: ***\n"), "{log}");
    assert!(log.contains("stderr: ***\n"), "{log}");
    assert!(
        log.contains("background: ***\n"),
        "the background process's line is missing\n{log}"
    );
    assert!(log.contains("no newline at the end: ***"), "{log}");
    for i in 0..=SECRET.len() {
        assert!(
            log.contains(&format!("split {i}:***|\n")),
            "split at byte {i} not masked whole:\n{log}"
        );
    }
}

#[test]
fn a_secret_is_masked_everywhere() {
    let (dir, ran) = leaky_run(&[]);
    ran.status(1);
    let log =
        std::fs::read_to_string(dir.path().join(".parity/runs/latest/leak.log")).expect("leak log");
    assert_masked_output(&ran, &log);
    assert!(ran.stdout.contains("[leak] whole: ***"), "{ran}");
    assert_no_file_holds_it(dir.path());
}

#[test]
fn under_actions_the_runner_is_told_to_mask_it_too() {
    let (dir, ran) = leaky_run(&[("GITHUB_ACTIONS", "true")]);
    ran.status(1);
    // The runner swallows `::add-mask::` lines: the only place the value may appear.
    assert!(
        ran.stdout.starts_with(&format!("::add-mask::{SECRET}\n")),
        "{ran}"
    );
    let without_mask_command = Ran {
        code: ran.code,
        stdout: ran
            .stdout
            .replacen(&format!("::add-mask::{SECRET}\n"), "", 1),
        stderr: ran.stderr.clone(),
    };
    let log =
        std::fs::read_to_string(dir.path().join(".parity/runs/latest/leak.log")).expect("leak log");
    assert_masked_output(&without_mask_command, &log);
    assert!(
        without_mask_command.stdout.contains("::group::leak\n"),
        "{ran}"
    );
    assert_no_file_holds_it(dir.path());
    let summary =
        std::fs::read_to_string(dir.path().join("step-summary.md")).expect("step summary");
    assert!(summary.contains("| fails | ❌ failed |"), "{summary}");
}

#[test]
fn a_multi_line_secret_is_masked_line_by_line() {
    let dir = tempdir();
    write(
        dir.path(),
        "parity.toml",
        r#"
        version = 1
        [secrets]
        required = ["SSH_KEY"]
        [jobs.show]
        run = "printf '%s\n' \"$SSH_KEY\"; printf '%s\n' \"$SSH_KEY\" | sed -n 2p"
        "#,
    );
    let key = "-----BEGIN KEY-----\nMIIEpQIBAAKCAQEA7xq\n-----END KEY-----";
    let ran = parity_env(dir.path(), &["run"], &[("SSH_KEY", key)]);
    ran.status(0);
    assert!(!ran.stdout.contains("MIIEpQIBAAKCAQEA7xq"), "{ran}");
    for file in files_under(dir.path()) {
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        assert!(
            !text.contains("MIIEpQIBAAKCAQEA7xq"),
            "{} holds the key",
            file.display()
        );
    }
}

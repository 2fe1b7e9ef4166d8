//! The pre-push hook against real repositories: a real `git push` to a
//! local bare remote is blocked when the fast profile fails, and goes
//! through with PARITY_SKIP_HOOK=1.

use super::{git, git_init, parity, run_in, tempdir, write};
use std::path::Path;

const PIPELINE: &str = r#"
version = 1
[profiles.fast]
skip = ["slow"]
[jobs.check]
run = "test -f ready || { echo 'ready is missing' >&2; exit 1; }"
[jobs.slow]
run = "exit 1"
"#;

/// A repository with one commit, and a bare remote called origin.
fn repo() -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = tempdir();
    let remote = tempdir();
    git(remote.path(), &["init", "-q", "--bare", "-b", "main"]);
    git_init(dir.path());
    write(dir.path(), "parity.toml", PIPELINE);
    git(dir.path(), &["add", "parity.toml"]);
    git(dir.path(), &["commit", "-q", "-m", "pipeline"]);
    git(
        dir.path(),
        &["remote", "add", "origin", &remote.path().to_string_lossy()],
    );
    (dir, remote)
}

fn remote_head(remote: &Path) -> Option<String> {
    let ran = run_in(
        remote,
        "git",
        &["rev-parse", "--verify", "-q", "refs/heads/main"],
        &[],
    );
    (ran.code == Some(0)).then(|| ran.stdout.trim().to_owned())
}

#[test]
fn a_failing_fast_profile_blocks_the_push() {
    let (dir, remote) = repo();
    parity(dir.path(), &["hook", "install"])
        .status(0)
        .stdout_has("installed ")
        .stdout_has("parity run --profile fast");
    let hook =
        std::fs::read_to_string(dir.path().join(".git/hooks/pre-push")).expect("hook written");
    assert!(hook.contains("exec parity run --profile fast"), "{hook}");

    let push = run_in(dir.path(), "git", &["push", "-q", "origin", "main"], &[]);
    assert_ne!(push.code, Some(0), "the push must fail\n{push}");
    assert!(
        push.stderr.contains("ready is missing") || push.stdout.contains("ready is missing"),
        "{push}"
    );
    assert_eq!(
        remote_head(remote.path()),
        None,
        "nothing may reach the remote"
    );

    // Skipping the hook lets the push through.
    let skipped = run_in(
        dir.path(),
        "git",
        &["push", "-q", "origin", "main"],
        &[("PARITY_SKIP_HOOK", "1")],
    );
    assert_eq!(skipped.code, Some(0), "{skipped}");
    assert!(
        skipped.stderr.contains("PARITY_SKIP_HOOK is set"),
        "{skipped}"
    );
    assert!(remote_head(remote.path()).is_some());

    // Fixed: the fast profile passes (it skips `slow`), so the push goes through.
    write(dir.path(), "ready", "");
    git(dir.path(), &["add", "ready"]);
    git(dir.path(), &["commit", "-q", "-m", "ready"]);
    let push = run_in(dir.path(), "git", &["push", "-q", "origin", "main"], &[]);
    assert_eq!(push.code, Some(0), "{push}");
    let local = git(dir.path(), &["rev-parse", "HEAD"])
        .stdout
        .trim()
        .to_owned();
    assert_eq!(remote_head(remote.path()), Some(local));
}

#[test]
fn an_existing_hook_is_kept_unless_forced_and_restored_on_uninstall() {
    let (dir, _remote) = repo();
    let hook = dir.path().join(".git/hooks/pre-push");
    let theirs = "#!/bin/sh\necho their hook\n";
    std::fs::write(&hook, theirs).unwrap();

    parity(dir.path(), &["hook", "install"])
        .status(2)
        .stderr_has("pre-push exists and was not written by parity")
        .stderr_has("--force");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), theirs);

    parity(dir.path(), &["hook", "install", "--force"])
        .status(0)
        .stdout_has("pre-push.parity-backup");
    assert!(std::fs::read_to_string(&hook)
        .unwrap()
        .contains("Installed by parity"));
    // Installing again updates parity's own hook without --force.
    parity(dir.path(), &["hook", "install"])
        .status(0)
        .stdout_has("updated ");

    parity(dir.path(), &["hook", "uninstall"])
        .status(0)
        .stdout_has("put back");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), theirs);
    assert!(!dir
        .path()
        .join(".git/hooks/pre-push.parity-backup")
        .exists());

    // Uninstall removes only what parity installed.
    parity(dir.path(), &["hook", "uninstall"])
        .status(0)
        .stdout_has("was not written by parity; left it alone");
    assert_eq!(std::fs::read_to_string(&hook).unwrap(), theirs);
}

#[test]
fn install_then_uninstall_leaves_nothing() {
    let (dir, _remote) = repo();
    parity(dir.path(), &["hook", "install"]).status(0);
    parity(dir.path(), &["hook", "uninstall"])
        .status(0)
        .stdout_has("removed ");
    assert!(!dir.path().join(".git/hooks/pre-push").exists());
    parity(dir.path(), &["hook", "uninstall"])
        .status(0)
        .stdout_has("nothing to remove");
}

#[test]
fn core_hooks_path_is_respected() {
    let (dir, remote) = repo();
    git(dir.path(), &["config", "core.hooksPath", ".githooks"]);
    parity(dir.path(), &["hook", "install"]).status(0);
    assert!(dir.path().join(".githooks/pre-push").is_file());
    assert!(!dir.path().join(".git/hooks/pre-push").exists());
    let push = run_in(dir.path(), "git", &["push", "-q", "origin", "main"], &[]);
    assert_ne!(
        push.code,
        Some(0),
        "the hook in core.hooksPath runs\n{push}"
    );
    assert_eq!(remote_head(remote.path()), None);
}

#[test]
fn check_fails_when_the_installed_hook_is_stale() {
    let (dir, _remote) = repo();
    parity(dir.path(), &["hook", "install"]).status(0);
    parity(dir.path(), &["check"])
        .status(0)
        .stdout_has("✔ .git/hooks/pre-push is up to date");
    // Without a fast profile the hook would run the whole pipeline instead.
    write(
        dir.path(),
        "parity.toml",
        &PIPELINE.replace("[profiles.fast]\nskip = [\"slow\"]\n", ""),
    );
    parity(dir.path(), &["check"])
        .status(1)
        .stdout_has("✘ .git/hooks/pre-push is stale against parity.toml")
        .stdout_has("-exec parity run --profile fast </dev/null")
        .stdout_has("bring it up to date with `parity hook install`");
}

#[test]
fn outside_a_repository_there_is_no_hook_to_install() {
    let dir = tempdir();
    write(dir.path(), "parity.toml", PIPELINE);
    parity(dir.path(), &["hook", "install"])
        .status(2)
        .stderr_has("is not inside a git repository");
}

//! The cache seen from outside: real files in a temporary repository, the
//! built `parity` run on it again and again, a private store under a
//! temporary `XDG_CACHE_HOME` so the user's cache is never touched.

use crate::harness::{unindent, Output, Test};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::TempDir;

/// A repository that outlives single runs, and the local store it uses.
pub(crate) struct Repo {
    dir: TempDir,
    cache: Arc<TempDir>,
    env: Vec<(String, String)>,
}

impl Repo {
    pub(crate) fn new(pipeline: &str) -> Repo {
        Repo::with_store(pipeline, Arc::new(temp("parity-cache-store-")))
    }

    /// A repository sharing `cache` (an `XDG_CACHE_HOME`) with others.
    pub(crate) fn with_store(pipeline: &str, cache: Arc<TempDir>) -> Repo {
        let repo = Repo {
            dir: temp("parity-cache-repo-"),
            cache,
            env: Vec::new(),
        };
        repo.write("parity.toml", &unindent(pipeline));
        repo
    }

    /// A variable for every later run (`CI`, the remote's URL…).
    pub(crate) fn env(mut self, key: &str, value: &str) -> Repo {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn store(&self) -> PathBuf {
        self.cache.path().join("parity/v1")
    }

    pub(crate) fn write(&self, path: &str, content: &str) {
        let full = self.dir.path().join(path);
        std::fs::create_dir_all(full.parent().expect("a parent")).expect("create directories");
        std::fs::write(full, content).expect("write a file");
    }

    pub(crate) fn read(&self, path: &str) -> String {
        std::fs::read_to_string(self.dir.path().join(path))
            .unwrap_or_else(|e| panic!("read {path}: {e}"))
    }

    /// `parity ARGS --file REPO/parity.toml`, from a scratch directory, with
    /// this repository's store and a laptop's environment (`CI=false`)
    /// unless the repository says otherwise.
    pub(crate) fn parity<const N: usize>(&self, args: [&str; N]) -> Output {
        self.parity_with(args, &[])
    }

    pub(crate) fn parity_with<const N: usize>(
        &self,
        args: [&str; N],
        env: &[(&str, &str)],
    ) -> Output {
        let file = self.dir.path().join("parity.toml");
        let mut test = Test::new()
            .args(args)
            .args(["--file", file.to_str().expect("utf-8 path")])
            .env(
                "XDG_CACHE_HOME",
                self.cache.path().to_str().expect("utf-8 path"),
            )
            .env("CI", "false")
            .env("PARITY_CACHE_URL", "")
            .env("PARITY_CACHE_TIMEOUT", "5");
        for (key, value) in &self.env {
            test = test.env(key, value);
        }
        for (key, value) in env {
            test = test.env(key, value);
        }
        test.run()
    }

    pub(crate) fn run(&self) -> Output {
        self.parity(["run"])
    }

    /// The CAS blobs of the store.
    pub(crate) fn blobs(&self) -> Vec<PathBuf> {
        files_under(&self.store().join("cas"))
    }
}

pub(crate) fn temp(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .expect("a temporary directory")
}

pub(crate) fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A build job that counts its runs in `runs.txt` (outside its inputs),
/// writes an executable output, and a test job that needs it.
const PIPELINE: &str = r#"
    version = 1
    [jobs.build]
    run = [
      "echo build-ran >> runs.txt",
      "mkdir -p dist && cat src/*.txt > dist/app && echo '#!/bin/sh' > dist/run.sh && chmod 755 dist/run.sh",
      "echo built with flag=${MYFLAG:-none}",
    ]
    inputs = ["src/**"]
    outputs = ["dist/"]
    cache_env = ["MYFLAG"]

    [jobs.test]
    needs = ["build"]
    run = ["echo test-ran >> runs.txt", "test -x dist/run.sh", "echo tested"]
    inputs = ["tests/**"]

    [jobs.lint]
    run = "echo lint-ran >> runs.txt"
"#;

fn repo() -> Repo {
    let repo = Repo::new(PIPELINE);
    repo.write(".gitignore", "runs.txt\n/dist\n*.tmp\n");
    repo.write("src/a.txt", "alpha\n");
    repo.write("src/b.txt", "beta\n");
    repo.write("src/scratch.tmp", "ignored\n");
    repo.write("tests/t.txt", "t\n");
    repo
}

/// How many times each job ran, from `runs.txt`.
fn runs(repo: &Repo, job: &str) -> usize {
    let text = std::fs::read_to_string(repo.path().join("runs.txt")).unwrap_or_default();
    text.lines().filter(|l| *l == format!("{job}-ran")).count()
}

#[test]
fn an_unchanged_job_is_cached_with_its_log_replayed() {
    let repo = repo();
    repo.run()
        .status(0)
        .result("build", "passed")
        .result("test", "passed");
    let out = repo.run();
    out.status(0)
        .result("build", "cached")
        .result("test", "cached")
        .result("lint", "passed")
        .stdout_contains("[build] built with flag=none")
        .stdout_contains("[test] tested");
    assert_eq!(
        (
            runs(&repo, "build"),
            runs(&repo, "test"),
            runs(&repo, "lint")
        ),
        (1, 1, 2)
    );
}

#[test]
fn editing_an_input_reruns_and_editing_an_ignored_file_does_not() {
    let repo = repo();
    repo.run().status(0);
    repo.write("src/scratch.tmp", "changed, but ignored by .gitignore\n");
    repo.run().status(0).result("build", "cached");
    repo.write("src/a.txt", "alpha, edited\n");
    repo.run()
        .status(0)
        .result("build", "passed")
        .result("test", "passed");
    assert_eq!(repo.read("dist/app"), "alpha, edited\nbeta\n");
    repo.write("src/new.txt", "a new file\n");
    repo.run().status(0).result("build", "passed");
    assert_eq!(runs(&repo, "build"), 3);
    assert_eq!(
        runs(&repo, "test"),
        3,
        "a need's new key changes the dependent's key"
    );
}

#[test]
fn cache_env_values_are_in_the_key_and_other_variables_are_not() {
    let repo = repo();
    repo.parity_with(["run"], &[("MYFLAG", "1")])
        .status(0)
        .result("build", "passed");
    repo.parity_with(["run"], &[("MYFLAG", "1"), ("UNRELATED", "x")])
        .status(0)
        .result("build", "cached");
    repo.parity_with(["run"], &[("MYFLAG", "2")])
        .status(0)
        .result("build", "passed")
        .stdout_contains("built with flag=2");
    repo.run().status(0).result("build", "passed");
}

#[test]
fn a_deleted_output_is_restored_with_its_mode() {
    use std::os::unix::fs::PermissionsExt;
    let repo = repo();
    repo.run().status(0);
    std::fs::remove_dir_all(repo.path().join("dist")).expect("delete the output");
    repo.run()
        .status(0)
        .result("build", "cached")
        .result("test", "cached");
    assert_eq!(repo.read("dist/app"), "alpha\nbeta\n");
    let mode = std::fs::metadata(repo.path().join("dist/run.sh"))
        .expect("restored")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755);
    repo.write("dist/app", "tampered\n");
    repo.run().status(0).result("build", "cached");
    assert_eq!(
        repo.read("dist/app"),
        "alpha\nbeta\n",
        "a changed output is put back"
    );
    // Same size, same second: the stamp (ctime, inode) still gives it away.
    repo.run().status(0).result("build", "cached");
    repo.write("dist/app", "alpha\nbetA\n");
    repo.run().status(0).result("build", "cached");
    assert_eq!(
        repo.read("dist/app"),
        "alpha\nbeta\n",
        "a same-size edit is put back"
    );
    assert_eq!(runs(&repo, "build"), 1);
}

#[test]
fn a_declared_output_that_was_not_made_fails_the_job() {
    let repo = Repo::new(
        r#"
        version = 1
        [jobs.package]
        run = "echo packaging"
        inputs = ["src/**"]
        outputs = ["dist/app.tar.gz"]
        "#,
    );
    repo.write("src/a", "a");
    repo.run().status(1).result("package", "failed").detail(
        "package",
        "declared output `dist/app.tar.gz` does not exist",
    );
    repo.run().status(1).result("package", "failed");
}

#[test]
fn a_corrupt_blob_is_a_miss_and_a_warning_never_a_restore() {
    let repo = repo();
    repo.run().status(0);
    let blobs = repo.blobs();
    assert!(!blobs.is_empty(), "the store holds blobs");
    for blob in &blobs {
        let mut bytes = std::fs::read(blob).expect("read blob");
        bytes.push(b'!');
        std::fs::write(blob, bytes).expect("corrupt blob");
    }
    std::fs::remove_dir_all(repo.path().join("dist")).expect("delete the output");
    let out = repo.run();
    out.status(0)
        .result("build", "passed")
        .stderr_contains("corrupt");
    assert_eq!(repo.read("dist/app"), "alpha\nbeta\n");
    assert_eq!(runs(&repo, "build"), 2);
    repo.run().status(0).result("build", "cached");
}

#[test]
fn no_cache_runs_everything_and_cache_only_read_records_nothing() {
    let repo = repo();
    repo.parity(["run", "--cache-only-read"])
        .status(0)
        .result("build", "passed");
    assert!(
        repo.blobs().is_empty(),
        "--cache-only-read stored {:?}",
        repo.blobs()
    );
    repo.run().status(0).result("build", "passed");
    repo.parity(["run", "--no-cache"])
        .status(0)
        .result("build", "passed");
    repo.parity(["run", "--cache-only-read"])
        .status(0)
        .result("build", "cached");
    assert_eq!(runs(&repo, "build"), 3);
}

#[test]
fn explain_says_what_changed_since_the_last_hit() {
    let repo = repo();
    repo.run().status(0);
    repo.parity(["cache", "explain", "build"])
        .status(0)
        .stdout_contains("build: cached: nothing changed since the last hit");
    repo.write("src/a.txt", "edited\n");
    repo.write("src/c.txt", "new\n");
    std::fs::remove_file(repo.path().join("src/b.txt")).expect("remove an input");
    let out = repo.parity_with(
        ["cache", "explain", "build", "test", "lint"],
        &[("MYFLAG", "on")],
    );
    out.status(0)
        .stdout_contains("build: runs: 4 changes since the last hit")
        .stdout_contains("changed   src/a.txt")
        .stdout_contains("added     src/c.txt")
        .stdout_contains("removed   src/b.txt")
        .stdout_contains("cache_env `MYFLAG` value changed")
        .stdout_contains("need      `build`: its key changed")
        .stdout_contains("lint: always runs: it declares no `inputs`");
    repo.parity(["run", "--explain", "build"])
        .status(0)
        .stdout_contains("build: runs: 3 changes since the last hit")
        .result("build", "passed");
    repo.parity(["cache", "explain", "nope"])
        .status(2)
        .stderr_contains("no job named `nope`");
}

#[test]
fn concurrent_runs_sharing_one_store_do_not_corrupt_it() {
    let store = Arc::new(temp("parity-cache-shared-"));
    let repos: Vec<Repo> = (0..4)
        .map(|i| {
            let repo = Repo::with_store(PIPELINE, Arc::clone(&store));
            repo.write("src/a.txt", "shared\n");
            // Half the repositories share every key, half have their own.
            repo.write("src/b.txt", &format!("{}\n", i % 2));
            repo.write("tests/t.txt", "t\n");
            repo
        })
        .collect();
    for round in 0..2 {
        let outputs: Vec<Output> = std::thread::scope(|scope| {
            let handles: Vec<_> = repos.iter().map(|r| scope.spawn(|| r.run())).collect();
            handles
                .into_iter()
                .map(|h| h.join().expect("run thread"))
                .collect()
        });
        for out in &outputs {
            out.status(0);
            if round == 1 {
                out.result("build", "cached").result("test", "cached");
            }
        }
    }
    for blob in files_under(&repos[0].store().join("cas")) {
        let bytes = std::fs::read(&blob).expect("read blob");
        let name = blob
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(
            sha256(&bytes),
            name,
            "blob {} does not hold what its name says",
            blob.display()
        );
    }
    assert!(
        files_under(&repos[0].store().join("tmp")).is_empty(),
        "temporary files left behind"
    );
}

#[test]
fn stats_and_gc_report_and_evict() {
    let repo = repo();
    repo.run().status(0);
    let out = repo.parity(["cache", "stats", "--json"]);
    out.status(0);
    let stats: serde_json::Value = serde_json::from_str(&out.stdout).expect("stats JSON");
    assert_eq!(stats["entries"], 2, "{stats}");
    assert!(stats["bytes"].as_u64().unwrap_or(0) > 0, "{stats}");
    repo.parity(["cache", "gc", "--max-size", "1"])
        .status(0)
        .stdout_contains("removed");
    assert!(repo.blobs().is_empty(), "gc left {:?}", repo.blobs());
    repo.run().status(0).result("build", "passed");
    repo.parity(["cache", "gc", "--max-size", "lots"])
        .status(2)
        .stderr_contains("bad size");
}

pub(crate) fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

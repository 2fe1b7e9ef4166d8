//! The remote cache against a real nginx with WebDAV `PUT` (the Bazel HTTP
//! cache layout needs nothing more), started on a loopback port for each
//! test: CI writes, a laptop with an empty local store reads.

use crate::cache::{files_under, temp, Repo};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// An nginx serving `/cache/` with `PUT`, in a directory of its own.
pub(crate) struct Nginx {
    child: Option<Child>,
    dir: TempDir,
    port: u16,
}

impl Nginx {
    pub(crate) fn start() -> Nginx {
        Nginx::start_with("")
    }

    /// `extra` goes into the `/cache/` location (e.g. authentication).
    pub(crate) fn start_with(extra: &str) -> Nginx {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .expect("nginx is not installed: `apt-get install nginx` (the remote cache tests serve the cache with it)");
        let mut last_log = String::new();
        for _ in 0..5 {
            let dir = temp("parity-nginx-");
            std::fs::create_dir_all(dir.path().join("www/cache")).expect("nginx root");
            let port = free_port();
            let extra = extra.replace("{dir}", &dir.path().display().to_string());
            std::fs::write(
                dir.path().join("nginx.conf"),
                config(dir.path(), port, &extra),
            )
            .expect("nginx.conf");
            let child = Command::new(binary)
                .arg("-p")
                .arg(dir.path())
                .arg("-c")
                .arg(dir.path().join("nginx.conf"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start nginx");
            let mut nginx = Nginx {
                child: Some(child),
                dir,
                port,
            };
            if nginx.wait_ready() {
                return nginx;
            }
            nginx.stop();
            last_log = nginx.error_log();
        }
        panic!("nginx did not start:\n{last_log}");
    }

    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Some(child) = &mut self.child {
                if child.try_wait().ok().flatten().is_some() {
                    return false;
                }
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// The cache URL, with a path prefix as a shared server would have.
    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/cache", self.port)
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }

    /// What the server stores, relative to the cache URL.
    pub(crate) fn files(&self) -> Vec<PathBuf> {
        let root = self.dir.path().join("www/cache");
        files_under(&root)
            .into_iter()
            .filter_map(|p| p.strip_prefix(&root).ok().map(Path::to_owned))
            .collect()
    }

    pub(crate) fn path(&self, rel: &Path) -> PathBuf {
        self.dir.path().join("www/cache").join(rel)
    }

    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Single-process nginx as the invoking user, everything in `dir`.
fn config(dir: &Path, port: u16, extra: &str) -> String {
    let d = dir.display();
    format!(
        r#"daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 256; }}
http {{
  access_log off;
  log_not_found off;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  client_max_body_size 0;
  server {{
    listen 127.0.0.1:{port};
    root {d}/www;
    location /cache/ {{
      dav_methods PUT;
      create_full_put_path on;
      dav_access user:rw group:r all:r;
      {extra}
    }}
  }}
}}
"#
    )
}

const PIPELINE: &str = r#"
    version = 1
    [cache]
    remote = "http://127.0.0.1:9/unused"   # PARITY_CACHE_URL overrides it
    [jobs.build]
    run = ["echo build-ran >> runs.log", "mkdir -p out && cat src/* > out/app && chmod 750 out/app", "echo built"]
    inputs = ["src/**"]
    outputs = ["out/app"]
    [jobs.check]
    needs = ["build"]
    run = ["echo check-ran >> runs.log", "echo checked"]
    inputs = ["src/**"]
"#;

/// A checkout of the same commit on another machine: same files, its own
/// local store.
fn checkout(pipeline: &str, nginx: &Nginx) -> Repo {
    let repo = Repo::new(pipeline).env("PARITY_CACHE_URL", &nginx.url());
    repo.write(".gitignore", "runs.log\n/out\n");
    repo.write("src/main.c", "int main() { return 0; }\n");
    repo
}

fn ran(repo: &Repo, job: &str) -> usize {
    let text = std::fs::read_to_string(repo.path().join("runs.log")).unwrap_or_default();
    text.lines().filter(|l| *l == format!("{job}-ran")).count()
}

#[test]
fn a_laptop_with_an_empty_store_hits_what_ci_wrote() {
    let nginx = Nginx::start();
    let ci = checkout(PIPELINE, &nginx).env("CI", "true");
    ci.run()
        .status(0)
        .result("build", "passed")
        .result("check", "passed");
    let stored = nginx.files();
    assert!(
        stored.iter().any(|p| p.starts_with("ac")),
        "no /ac entry: {stored:?}"
    );
    assert!(
        stored.iter().filter(|p| p.starts_with("cas")).count() >= 3,
        "blobs: {stored:?}"
    );

    let laptop = checkout(PIPELINE, &nginx);
    let out = laptop.run();
    out.status(0)
        .result("build", "cached")
        .detail("build", "from the remote cache")
        .result("check", "cached")
        .stdout_contains("[build] built");
    assert_eq!(ran(&laptop, "build"), 0);
    assert_eq!(laptop.read("out/app"), "int main() { return 0; }\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(laptop.path().join("out/app"))
        .expect("restored")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o750);
    // Now in the laptop's own store: a hit without the server.
    drop(nginx);
    laptop
        .run()
        .status(0)
        .result("build", "cached")
        .detail("build", "");
}

#[test]
fn a_laptop_reads_but_does_not_write() {
    let nginx = Nginx::start();
    let laptop = checkout(PIPELINE, &nginx);
    laptop.run().status(0).result("build", "passed");
    assert!(
        nginx.files().is_empty(),
        "a laptop wrote {:?}",
        nginx.files()
    );
    // `write = "always"` lets it.
    let always = checkout(
        &PIPELINE.replace("[cache]", "[cache]\nwrite = \"always\""),
        &nginx,
    );
    always.run().status(0);
    assert!(!nginx.files().is_empty());
    // --cache-only-read never writes, even in CI.
    let nginx = Nginx::start();
    let ci = checkout(PIPELINE, &nginx).env("CI", "true");
    ci.parity(["run", "--cache-only-read"]).status(0);
    assert!(
        nginx.files().is_empty(),
        "--cache-only-read wrote {:?}",
        nginx.files()
    );
}

#[test]
fn a_corrupt_or_truncated_remote_blob_is_a_miss_and_a_warning() {
    let nginx = Nginx::start();
    checkout(PIPELINE, &nginx).env("CI", "true").run().status(0);
    for blob in nginx.files().iter().filter(|p| p.starts_with("cas")) {
        let path = nginx.path(blob);
        let mut bytes = std::fs::read(&path).expect("read blob");
        bytes.truncate(bytes.len() / 2);
        std::fs::write(&path, bytes).expect("truncate blob");
    }
    let laptop = checkout(PIPELINE, &nginx);
    let out = laptop.run();
    out.status(0)
        .result("build", "passed")
        .stderr_contains("corrupt");
    assert_eq!(ran(&laptop, "build"), 1);
    assert_eq!(laptop.read("out/app"), "int main() { return 0; }\n");
}

#[test]
fn nginx_stopped_mid_run_is_one_warning_and_the_pipeline_passes() {
    let mut nginx = Nginx::start();
    let pipeline = r#"
        version = 1
        [jobs.first]
        run = ["kill $NGINX_PID", "sleep 0.2", "echo first"]
        inputs = ["src/**"]
        [jobs.second]
        needs = ["first"]
        run = "echo second"
        inputs = ["src/**"]
        outputs = ["src/main.c"]
        [jobs.third]
        needs = ["first"]
        run = "echo third"
        inputs = ["src/**"]
    "#;
    let repo = checkout(pipeline, &nginx).env("CI", "true");
    let pid = nginx.pid().to_string();
    let out = repo.parity_with(["run", "--jobs", "1"], &[("NGINX_PID", &pid)]);
    out.status(0)
        .result("first", "passed")
        .result("second", "passed")
        .result("third", "passed");
    let warnings = out.stderr.matches("remote cache unreachable").count();
    assert_eq!(warnings, 1, "one warning for the whole run\n{out}");
    nginx.stop();
    // The local store still took every result.
    repo.run()
        .status(0)
        .result("first", "cached")
        .result("third", "cached");
}

#[test]
fn a_remote_that_never_answers_times_out_into_a_local_run() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    // Accepts connections and never answers.
    let _hold = std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming().take(32).flatten() {
            held.push(stream);
        }
    });
    // The limit from `[cache] timeout`, and from the variable, which wins.
    let in_file = PIPELINE.replace("[cache]\n", "[cache]\n    timeout = \"1s\"\n");
    let overridden = PIPELINE.replace("[cache]\n", "[cache]\n    timeout = \"10m\"\n");
    for (pipeline, env) in [
        (in_file.as_str(), &[][..]),
        (overridden.as_str(), &[("PARITY_CACHE_TIMEOUT", "1")][..]),
    ] {
        let repo = Repo::new(pipeline).env(
            "PARITY_CACHE_URL",
            &format!("http://127.0.0.1:{port}/cache"),
        );
        repo.write("src/main.c", "x\n");
        let started = Instant::now();
        let out = repo.parity_with(["run"], env);
        out.status(0)
            .result("build", "passed")
            .stderr_contains("remote cache unreachable");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "took {:?}\n{out}",
            started.elapsed()
        );
    }
}

#[test]
fn basic_auth_comes_from_the_token_variable_and_a_refusal_is_a_warning() {
    let nginx = Nginx::start_with("auth_basic cache; auth_basic_user_file {dir}/htpasswd;");
    std::fs::write(nginx.dir.path().join("htpasswd"), "ci:{PLAIN}s3cret\n").expect("htpasswd");
    let ci = checkout(PIPELINE, &nginx)
        .env("CI", "true")
        .env("PARITY_CACHE_TOKEN", "ci:s3cret");
    ci.run().status(0).result("build", "passed");
    assert!(
        !nginx.files().is_empty(),
        "nothing was uploaded with the credential"
    );
    let laptop = checkout(PIPELINE, &nginx).env("PARITY_CACHE_TOKEN", "ci:s3cret");
    laptop.run().status(0).result("build", "cached");
    let stranger = checkout(PIPELINE, &nginx).env("PARITY_CACHE_TOKEN", "ci:wrong");
    let out = stranger.run();
    out.status(0)
        .result("build", "passed")
        .stderr_contains("answered HTTP 401");
    assert_eq!(
        out.stderr.matches("HTTP 401").count(),
        1,
        "one warning\n{out}"
    );
}

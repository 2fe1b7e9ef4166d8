//! The end-to-end harness: a pipeline in a fresh temporary directory, the
//! built `parity` binary run on it, and assertions on what came out.
//!
//! ```ignore
//! Test::new()
//!     .pipeline("version = 1\n[jobs.lint]\nrun = 'true'")
//!     .args(["run"])
//!     .run()
//!     .status(0)
//!     .result("lint", "passed");
//! ```

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// The binary under test, built by cargo for this test run.
pub(crate) const PARITY: &str = env!("CARGO_BIN_EXE_parity");

/// Longest a `run()` may take before the test gives up on parity.
const RUN_LIMIT: Duration = Duration::from_secs(60);

/// Variables that change how parity lays out its output or what steps see
/// (the last ones are the tests' own switch and secret names); removed from
/// every child so the developer's or CI's values cannot leak in. A test that
/// wants one sets it with `.env()`.
const SCRUBBED: &[&str] = &[
    "GITHUB_ACTIONS",
    "GITEA_ACTIONS",
    "GITLAB_CI",
    "CLICOLOR_FORCE",
    "FORCE_COLOR",
    "PARITY_FILE",
    "DRY_RUN",
    "RUN_X",
    "NPM_TOKEN_T",
    "PARITY_CACHE_URL",
    "PARITY_CACHE_TOKEN",
];

/// A pipeline in a temporary directory and the command to run on it.
pub(crate) struct Test {
    dir: TempDir,
    args: Vec<String>,
    env: Vec<(String, String)>,
    /// What parity reads on its stdin; `None` gives it /dev/null.
    input: Option<Vec<u8>>,
    /// Signals parity starts with ignored, as under `nohup`.
    ignored: Vec<String>,
    /// Whether parity has a terminal, as in an interactive shell.
    terminal: bool,
}

impl Test {
    pub(crate) fn new() -> Test {
        let dir = tempfile::Builder::new()
            .prefix("parity-test-")
            .tempdir()
            .expect("create a temporary directory");
        Test {
            dir,
            args: Vec::new(),
            env: Vec::new(),
            input: None,
            ignored: Vec::new(),
            terminal: false,
        }
    }

    /// Writes `parity.toml`; common indentation is removed first, so
    /// pipelines can be written indented inside the test.
    pub(crate) fn pipeline(self, text: &str) -> Test {
        self.file("parity.toml", &unindent(text))
    }

    /// Writes a file relative to the pipeline directory.
    pub(crate) fn file(self, path: &str, content: &str) -> Test {
        let path = self.dir.path().join(path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent directory");
        }
        std::fs::write(&path, content).expect("write test file");
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Test
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets a variable in parity's environment.
    pub(crate) fn env(mut self, key: &str, value: &str) -> Test {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Gives parity `bytes` on its stdin, from a pipe.
    pub(crate) fn input(mut self, bytes: &[u8]) -> Test {
        self.input = Some(bytes.to_vec());
        self
    }

    /// Starts parity with `signal` (a name without `SIG`) ignored, as
    /// `nohup` starts a program with SIGHUP ignored.
    pub(crate) fn ignoring(mut self, signal: &str) -> Test {
        self.ignored.push(signal.to_owned());
        self
    }

    /// Starts parity with a pseudo-terminal as its controlling terminal and
    /// its standard streams (`script`), as from an interactive shell.
    pub(crate) fn in_terminal(mut self) -> Test {
        self.terminal = true;
        self
    }

    /// Runs parity to its end (at most a minute).
    pub(crate) fn run(self) -> Output {
        self.spawn().finish(RUN_LIMIT)
    }

    /// Starts parity and returns at once, for tests that signal it.
    pub(crate) fn spawn(self) -> Running {
        let mut command = if self.terminal {
            let line = shlex::try_join(
                std::iter::once(PARITY).chain(self.args.iter().map(String::as_str)),
            )
            .expect("arguments a shell can quote");
            let mut script = Command::new("script");
            script.args(["--quiet", "--return", "--command", &line, "/dev/null"]);
            script
        } else if !self.ignored.is_empty() {
            // An ignored signal stays ignored across `exec`.
            let mut perl = Command::new("perl");
            perl.args([
                "-e",
                "$SIG{$_} = 'IGNORE' for split /,/, shift; exec @ARGV or die",
            ])
            .arg(self.ignored.join(","))
            .arg(PARITY)
            .args(&self.args);
            perl
        } else {
            let mut direct = Command::new(PARITY);
            direct.args(&self.args);
            direct
        };
        command
            .current_dir(self.dir.path())
            .stdin(if self.input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in SCRUBBED {
            command.env_remove(var);
        }
        // Jobs with `inputs` are cached: never in the user's cache, and never
        // shared between tests (`.parity/` is not walked for inputs).
        command.env("XDG_CACHE_HOME", self.dir.path().join(".parity/xdg-cache"));
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        let started = Instant::now();
        let mut child = command.spawn().expect("start parity");
        if let (Some(bytes), Some(mut stdin)) = (self.input, child.stdin.take()) {
            // parity may never read it: a full pipe must not block the test.
            std::thread::spawn(move || {
                let _ = std::io::Write::write_all(&mut stdin, &bytes);
            });
        }
        let stdout = drain(child.stdout.take().expect("piped stdout"));
        let stderr = drain(child.stderr.take().expect("piped stderr"));
        Running {
            child,
            dir: self.dir,
            started,
            stdout,
            stderr,
        }
    }
}

/// Reads a pipe to its end on a thread, so a chatty parity never blocks on a
/// full pipe while the test waits for it.
fn drain(mut pipe: impl Read + Send + 'static) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        bytes
    })
}

/// A parity process that is still running.
pub(crate) struct Running {
    child: Child,
    dir: TempDir,
    started: Instant,
    stdout: JoinHandle<Vec<u8>>,
    stderr: JoinHandle<Vec<u8>>,
}

impl Running {
    /// The pipeline directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Sends `signal` to parity alone. Steps run in process groups of their
    /// own, so a terminal's Ctrl-C reaches only parity too.
    pub(crate) fn signal(&self, signal: nix::sys::signal::Signal) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, signal).expect("signal parity");
    }

    /// Waits up to `limit` (from now) for parity to exit; after that it is
    /// killed and the output has no exit code, which fails any `status`
    /// assertion.
    pub(crate) fn finish(mut self, limit: Duration) -> Output {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("wait for parity") {
                break Some(status);
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break None;
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let elapsed = self.started.elapsed();
        // A process parity started and left behind may hold the pipes open:
        // the test then fails on what it finds, rather than hang.
        let text = |h: JoinHandle<Vec<u8>>| {
            let deadline = Instant::now() + Duration::from_secs(5);
            while !h.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if !h.is_finished() {
                return "[still open: a process parity started holds the pipe]".to_owned();
            }
            String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
        };
        Output {
            code: status.and_then(|s| s.code()),
            stdout: text(self.stdout),
            stderr: text(self.stderr),
            elapsed,
            limit: status.is_none().then_some(limit),
            dir: self.dir,
        }
    }
}

/// What a finished parity left: exit code, output, and its directory.
pub(crate) struct Output {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    /// Wall time from start to exit.
    pub(crate) elapsed: Duration,
    /// Set when parity had to be killed for running too long.
    limit: Option<Duration>,
    dir: TempDir,
}

/// One row of the summary table printed at the end of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Row {
    pub(crate) job: String,
    pub(crate) result: String,
    pub(crate) detail: String,
}

impl Output {
    /// The pipeline directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    #[track_caller]
    pub(crate) fn status(&self, code: i32) -> &Output {
        if let Some(limit) = self.limit {
            panic!("parity was still running after {limit:?}\n{self}");
        }
        assert_eq!(self.code, Some(code), "unexpected exit code\n{self}");
        self
    }

    #[track_caller]
    pub(crate) fn stdout_contains(&self, text: &str) -> &Output {
        assert!(self.stdout.contains(text), "stdout lacks {text:?}\n{self}");
        self
    }

    #[track_caller]
    pub(crate) fn stdout_lacks(&self, text: &str) -> &Output {
        assert!(!self.stdout.contains(text), "stdout has {text:?}\n{self}");
        self
    }

    #[track_caller]
    pub(crate) fn stderr_contains(&self, text: &str) -> &Output {
        assert!(self.stderr.contains(text), "stderr lacks {text:?}\n{self}");
        self
    }

    /// A file the run left, relative to the pipeline directory.
    #[track_caller]
    pub(crate) fn read(&self, path: &str) -> String {
        let full = self.path().join(path);
        std::fs::read_to_string(&full)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}\n{self}", full.display()))
    }

    pub(crate) fn exists(&self, path: &str) -> bool {
        self.path().join(path).exists()
    }

    /// The latest run's directory, `.parity/runs/latest`.
    pub(crate) fn run_dir(&self) -> PathBuf {
        self.path().join(".parity/runs/latest")
    }

    /// A job's log; `file` is the log's name without `.log`, which is the job
    /// name for plain jobs and `test-features=full` for `test (features=full)`.
    #[track_caller]
    pub(crate) fn log(&self, file: &str) -> String {
        self.read(&format!(".parity/runs/latest/{file}.log"))
    }

    /// The rows of the summary table: the lines after the `job  result  time`
    /// header, up to the first blank line.
    #[track_caller]
    pub(crate) fn summary(&self) -> Vec<Row> {
        let mut lines = self.stdout.lines();
        let header = lines
            .by_ref()
            .find(|l| {
                l.starts_with("job ") && l.contains(" result ") && l.trim_end().ends_with("time")
            })
            .unwrap_or_else(|| panic!("no summary table\n{self}"));
        let result_at = header.find("result").unwrap_or_default();
        lines
            .take_while(|l| !l.trim().is_empty())
            .map(|line| {
                let (job, rest) = line.split_at(result_at.min(line.len()));
                // `result` is padded to 9 columns, then two spaces, the
                // right-aligned time, two spaces and the detail.
                let result = rest.get(..9).unwrap_or(rest).trim().to_owned();
                let after_time = rest.get(9..).unwrap_or_default().trim_start();
                let detail = after_time
                    .split_once("  ")
                    .map(|(_, d)| d.trim())
                    .unwrap_or_default();
                Row {
                    job: job.trim().to_owned(),
                    result,
                    detail: detail.to_owned(),
                }
            })
            .collect()
    }

    /// The summary row of `job`.
    #[track_caller]
    pub(crate) fn row(&self, job: &str) -> Row {
        self.summary()
            .into_iter()
            .find(|r| r.job == job)
            .unwrap_or_else(|| panic!("no summary row for `{job}`\n{self}"))
    }

    /// Asserts the summary's result for `job` (`passed`, `failed`, `skipped`…).
    #[track_caller]
    pub(crate) fn result(&self, job: &str, result: &str) -> &Output {
        let row = self.row(job);
        assert_eq!(row.result, result, "result of `{job}`: {row:?}\n{self}");
        self
    }

    /// Asserts the summary's explanation for `job` contains `text`.
    #[track_caller]
    pub(crate) fn detail(&self, job: &str, text: &str) -> &Output {
        let row = self.row(job);
        assert!(
            row.detail.contains(text),
            "detail of `{job}` lacks {text:?}: {row:?}\n{self}"
        );
        self
    }

    /// Every file under `.parity/`, for checks that nothing leaked into them.
    pub(crate) fn state_files(&self) -> Vec<PathBuf> {
        fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
            for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_symlink() {
                    continue;
                }
                if path.is_dir() {
                    walk(&path, out);
                } else {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(&self.path().join(".parity"), &mut files);
        files
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- exit code: {:?} after {:?}\n--- stdout:\n{}\n--- stderr:\n{}",
            self.code, self.elapsed, self.stdout, self.stderr
        )
    }
}

/// Removes the indentation common to every non-blank line and leading blank
/// lines.
pub(crate) fn unindent(text: &str) -> String {
    let indent = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let mut out = String::new();
    for line in text.lines().skip_while(|l| l.trim().is_empty()) {
        out.push_str(line.get(indent..).unwrap_or_default().trim_end());
        out.push('\n');
    }
    out
}

/// Text unique to one test's processes (a sleep duration no other test,
/// nor another concurrent test run, uses), so the process table can be
/// searched for exactly them. Dropping it SIGKILLs any process still
/// mentioning it, so a failing test leaves nothing running for long.
pub(crate) struct Unique(String);

impl Unique {
    /// A duration like `100.4321007`, for `sleep`.
    pub(crate) fn duration(seconds: u32) -> Unique {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let count = COUNTER.fetch_add(1, Ordering::Relaxed);
        Unique(format!("{seconds}.{}{count:03}", std::process::id()))
    }

    /// Any text already unique to the test, such as a port in a command.
    pub(crate) fn text(text: String) -> Unique {
        Unique(text)
    }
}

impl std::ops::Deref for Unique {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Unique {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Drop for Unique {
    fn drop(&mut self) {
        for (pid, _) in processes_with(&self.0) {
            let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
        }
    }
}

/// Live processes whose command line (arguments joined by spaces) contains
/// `word`, with their pids. Zombies have no command line and are not
/// listed; neither is the test itself.
pub(crate) fn processes_with(word: &str) -> Vec<(nix::unistd::Pid, String)> {
    let me = std::process::id() as i32;
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let pid: i32 = entry.file_name().to_str()?.parse().ok()?;
            let raw = std::fs::read(entry.path().join("cmdline")).ok()?;
            let args: Vec<String> = raw
                .split(|&b| b == 0)
                .filter(|arg| !arg.is_empty())
                .map(|arg| String::from_utf8_lossy(arg).into_owned())
                .collect();
            let command = args.join(" ");
            (pid != me && command.contains(word))
                .then(|| (nix::unistd::Pid::from_raw(pid), command))
        })
        .collect()
}

/// Waits until at least `count` processes run exactly `sleep DURATION`.
#[track_caller]
pub(crate) fn wait_for_sleeps(duration: &str, count: usize, limit: Duration) {
    let wanted = format!("sleep {duration}");
    let deadline = Instant::now() + limit;
    loop {
        let found = processes_with(duration)
            .iter()
            .filter(|(_, c)| *c == wanted)
            .count();
        if found >= count {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{count} × `{wanted}` never started (found {found})"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts no live process mentions `word`. A process SIGKILLed a moment
/// ago may still be exiting, so this waits up to a second before failing;
/// a leak would outlive that by far.
#[track_caller]
pub(crate) fn assert_no_process(word: &str) {
    let deadline = Instant::now() + Duration::from_secs(1);
    loop {
        let found = processes_with(word);
        if found.is_empty() {
            return;
        }
        if Instant::now() >= deadline {
            let commands: Vec<&String> = found.iter().map(|(_, c)| c).collect();
            panic!("processes left running: {commands:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

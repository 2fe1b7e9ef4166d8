//! A job's container: one long-lived container per job, so the job's steps
//! share processes as they do on the host (a server one step starts in the
//! background serves the next).
//!
//! The container's first process is a small bash loop that reads one step
//! per line from its stdin, runs it, and writes a marker with the exit
//! code to its stdout. parity keeps the engine client (`docker run -i`)
//! attached, so a step costs a write and a read instead of a `docker exec`,
//! and when parity closes stdin (or dies, even by SIGKILL) the loop ends,
//! the container stops and `--rm` removes it.

use super::owned::Owned;
use super::Engine;
use crate::exec::{Enclosure, StepEnd};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{ChildStdin, ChildStdout, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

/// The record separator that frames a step's exit marker: output text
/// practically never holds it, and the nonce after it makes a step unable
/// to forge one.
const RS: u8 = 0x1e;

/// How long a stopped container gets to go away before it is removed by force.
const REMOVE_LIMIT: Duration = Duration::from_secs(10);

/// Everything `docker run` needs for a job's container.
#[derive(Debug, Clone)]
pub struct JobSpec {
    pub name: String,
    pub image: String,
    /// Mounted at the same path inside, so paths in output and config match.
    pub mount: PathBuf,
    pub workdir: PathBuf,
    pub env: Vec<(String, String)>,
    pub labels: Vec<(String, String)>,
    pub network: Option<String>,
    /// `uid:gid` to run as, so files written into the checkout are the caller's.
    pub user: Option<String>,
    /// The engine's socket and, if it is not the caller's own group, the
    /// group that may use it.
    pub socket: Option<(PathBuf, Option<u32>)>,
    pub gpus: Option<String>,
}

impl JobSpec {
    /// `docker run …` arguments up to and including the image.
    pub(crate) fn run_args(&self, interactive_driver: bool) -> Vec<String> {
        let mut args: Vec<String> = vec!["run".into(), "--rm".into(), "--init".into()];
        if interactive_driver {
            args.push("--interactive".into());
        }
        args.extend(["--name".into(), self.name.clone()]);
        for (key, value) in &self.labels {
            args.extend(["--label".into(), format!("{key}={value}")]);
        }
        if let Some(user) = &self.user {
            args.extend(["--user".into(), user.clone()]);
        }
        let mount = self.mount.display().to_string();
        args.extend(["--volume".into(), format!("{mount}:{mount}")]);
        args.extend(["--workdir".into(), self.workdir.display().to_string()]);
        if let Some(network) = &self.network {
            args.extend(["--network".into(), network.clone()]);
        }
        if let Some((socket, group)) = &self.socket {
            let socket = socket.display().to_string();
            args.extend(["--volume".into(), format!("{socket}:{socket}")]);
            if let Some(group) = group {
                args.extend(["--group-add".into(), group.to_string()]);
            }
            args.extend(["--env".into(), format!("DOCKER_HOST=unix://{socket}")]);
        }
        if let Some(gpus) = &self.gpus {
            args.extend(["--gpus".into(), gpus.clone()]);
        }
        for (key, value) in &self.env {
            // The value travels in the client's environment, not on its
            // command line where `ps` shows it; the client's own variables
            // are the exception, since setting them would redirect it.
            if key.starts_with("DOCKER_") || key.starts_with("CONTAINER_") || key == "PATH" {
                args.extend(["--env".into(), format!("{key}={value}")]);
            } else {
                args.extend(["--env".into(), key.clone()]);
            }
        }
        args
    }

    /// Variables for the engine client's own environment: the values
    /// `--env KEY` passes on.
    pub(crate) fn client_env(&self) -> impl Iterator<Item = (&String, &String)> {
        self.env
            .iter()
            .filter(|(k, _)| {
                !(k.starts_with("DOCKER_") || k.starts_with("CONTAINER_") || *k == "PATH")
            })
            .map(|(k, v)| (k, v))
    }
}

/// A running job container.
pub struct JobContainer {
    engine: Engine,
    name: String,
    stdin: Mutex<Option<ChildStdin>>,
    client: Mutex<Owned>,
    statuses: Mutex<mpsc::Receiver<i32>>,
    killed: AtomicBool,
}

impl JobContainer {
    /// Starts the container; returns it with its stdout (markers removed)
    /// and the client's stderr (the engine's own errors).
    pub fn start(
        engine: &Engine,
        spec: &JobSpec,
    ) -> io::Result<(Arc<JobContainer>, Demux, std::process::ChildStderr)> {
        let nonce = format!("{:016x}", nonce());
        let mut command = engine.command();
        command
            .args(spec.run_args(true))
            .args(["--entrypoint", "bash", &spec.image, "-c", &driver(&nonce)])
            .envs(spec.client_env())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut client = Owned::spawn(&mut command)?;
        let missing = || io::Error::other("the engine client's pipes were not set up");
        let stdin = client.child().stdin.take().ok_or_else(missing)?;
        let stdout = client.child().stdout.take().ok_or_else(missing)?;
        let stderr = client.child().stderr.take().ok_or_else(missing)?;
        let (tx, rx) = mpsc::channel();
        let container = Arc::new(JobContainer {
            engine: engine.clone(),
            name: spec.name.clone(),
            stdin: Mutex::new(Some(stdin)),
            client: Mutex::new(client),
            statuses: Mutex::new(rx),
            killed: AtomicBool::new(false),
        });
        let demux = Demux::new(stdout, &nonce, tx);
        Ok((container, demux, stderr))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Ends stdin: the driver loop finishes, the container stops and is removed.
    fn hang_up(&self) {
        lock(&self.stdin).take();
    }

    /// Waits for the client to exit (the container is gone with it); after
    /// `limit`, removes the container by force.
    fn reap(&self, limit: Duration) -> Option<std::process::ExitStatus> {
        let mut client = lock(&self.client);
        if let Some(status) = client.wait_for(limit) {
            return Some(status);
        }
        let _ = self.engine.output(["rm", "--force", &self.name]);
        client.kill();
        None
    }

    /// Why the container ended while a step was running.
    fn ended(&self) -> StepEnd {
        if self.killed.load(Ordering::Relaxed) {
            return StepEnd::Signal(nix::sys::signal::Signal::SIGKILL as i32);
        }
        match self.reap(Duration::from_secs(2)).and_then(|s| s.code()) {
            Some(125) => StepEnd::NotStarted(format!(
                "{} could not start the container; its error is in the job's log",
                self.engine.name()
            )),
            Some(code) => StepEnd::NotStarted(format!(
                "the container exited with code {code} before the step ended"
            )),
            None => StepEnd::NotStarted("the container stopped before the step ended".into()),
        }
    }
}

impl Enclosure for JobContainer {
    fn run_step(&self, shell: &[String], script: &str, cwd: &Path) -> Result<(), StepEnd> {
        let mut line = quote(&cwd.display().to_string());
        line.push(' ');
        line.push_str(&quote(script));
        for word in shell {
            line.push(' ');
            line.push_str(&quote(word));
        }
        line.push('\n');
        {
            let mut stdin = lock(&self.stdin);
            let Some(pipe) = stdin.as_mut() else {
                return Err(StepEnd::NotStarted(
                    "the job's container was stopped".into(),
                ));
            };
            if pipe
                .write_all(line.as_bytes())
                .and_then(|_| pipe.flush())
                .is_err()
            {
                drop(stdin);
                return Err(self.ended());
            }
        }
        let received = lock(&self.statuses).recv();
        match received {
            Ok(0) => Ok(()),
            Ok(code) => Err(StepEnd::Exit(code)),
            Err(_) => Err(self.ended()),
        }
    }

    fn kill(&self) {
        self.killed.store(true, Ordering::Relaxed);
        self.hang_up();
        // The container may not exist yet if the client is still creating
        // it: retry until the client, which ends with the container, is gone.
        let deadline = Instant::now() + REMOVE_LIMIT;
        loop {
            let _ = self.engine.output(["kill", &self.name]);
            if lock(&self.client)
                .wait_for(Duration::from_millis(200))
                .is_some()
                || Instant::now() >= deadline
            {
                break;
            }
        }
        self.reap(Duration::ZERO);
    }

    fn close(&self) {
        self.hang_up();
        self.reap(REMOVE_LIMIT);
    }
}

impl Drop for JobContainer {
    fn drop(&mut self) {
        self.hang_up();
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The container's first process: read `CWD SCRIPT SHELL…` (each word
/// bash-quoted) per line, run the step with stdin closed and stderr merged
/// into stdout, then print the marker with its exit code.
fn driver(nonce: &str) -> String {
    format!(
        "while IFS= read -r line; do eval \"set -- $line\"; cwd=$1 script=$2; shift 2; \
         (cd -- \"$cwd\" && exec \"$@\" -c \"$script\") </dev/null 2>&1; \
         printf '\\036{nonce} %d\\036\\n' \"$?\"; done"
    )
}

/// Bash ANSI-C quoting (`$'…'`): any bytes, newlines included, on one line.
pub(crate) fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 3);
    out.push_str("$'");
    for byte in text.bytes() {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\'' => out.push_str("\\'"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            0x20..=0x7e => out.push(byte as char),
            _ => out.push_str(&format!("\\x{byte:02x}")),
        }
    }
    out.push('\'');
    out
}

fn nonce() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    hasher.write_u32(std::process::id());
    hasher.finish()
}

/// The container's stdout with the step markers taken out: what it reads
/// is the steps' output; each marker becomes an exit code on the channel.
///
/// The job's output pump reads this, so every byte a step wrote is in the
/// log before its exit code is known.
pub struct Demux<R = ChildStdout> {
    inner: R,
    marker: Vec<u8>,
    pending: Vec<u8>,
    statuses: mpsc::Sender<i32>,
    eof: bool,
}

impl<R: Read> Demux<R> {
    fn new(inner: R, nonce: &str, statuses: mpsc::Sender<i32>) -> Demux<R> {
        let mut marker = vec![RS];
        marker.extend_from_slice(nonce.as_bytes());
        marker.push(b' ');
        Demux {
            inner,
            marker,
            pending: Vec::new(),
            statuses,
            eof: false,
        }
    }

    /// Moves what is safe to hand on from `pending` into `buf`: everything
    /// up to a possible marker start, and whole markers turned into codes.
    fn drain(&mut self, buf: &mut [u8]) -> usize {
        loop {
            let Some(at) = memchr::memchr(RS, &self.pending) else {
                return self.give(self.pending.len(), buf);
            };
            if at > 0 {
                return self.give(at, buf);
            }
            // `pending` starts with RS: a marker, the start of one, or text.
            let rest = &self.pending[..];
            let prefix = rest.len().min(self.marker.len());
            if rest[..prefix] != self.marker[..prefix] {
                return self.give(1, buf);
            }
            if rest.len() < self.marker.len() {
                return if self.eof {
                    self.give(rest.len(), buf)
                } else {
                    0
                };
            }
            let body = &rest[self.marker.len()..];
            match memchr::memchr(RS, body) {
                Some(end) if body.get(end + 1) == Some(&b'\n') => {
                    let code = std::str::from_utf8(&body[..end])
                        .ok()
                        .and_then(|c| c.trim().parse::<i32>().ok())
                        .unwrap_or(-1);
                    let _ = self.statuses.send(code);
                    let consumed = self.marker.len() + end + 2;
                    self.pending.drain(..consumed);
                }
                Some(_) => return self.give(1, buf),
                None if body.len() > 16 || self.eof => return self.give(1, buf),
                None => return 0,
            }
        }
    }

    fn give(&mut self, n: usize, buf: &mut [u8]) -> usize {
        let n = n.min(buf.len());
        buf[..n].copy_from_slice(&self.pending[..n]);
        self.pending.drain(..n);
        n
    }
}

impl<R: Read> Read for Demux<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.drain(buf);
            if n > 0 {
                return Ok(n);
            }
            if self.eof {
                return Ok(0);
            }
            let mut chunk = [0u8; 16 * 1024];
            match self.inner.read(&mut chunk) {
                Ok(0) => self.eof = true,
                Ok(n) => self.pending.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_bash() {
        let script = "echo 'it''s' \"$HOME\" \\\nprintf 'é\\t'\u{1}";
        let direct = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("x={}; printf %s \"$x\"", quote(script)))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&direct.stdout), script);
    }

    #[test]
    fn demux_takes_markers_out_in_order() {
        let (tx, rx) = mpsc::channel();
        let stream: &[u8] = b"one\ntwo\x1eabc 0\x1e\nthree \x1e not a marker\n\x1eabc 3\x1e\ntail";
        let mut demux = Demux::new(stream, "abc", tx);
        let mut text = Vec::new();
        let mut buf = [0u8; 3];
        loop {
            let n = demux.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            text.extend_from_slice(&buf[..n]);
        }
        assert_eq!(
            String::from_utf8_lossy(&text),
            "one\ntwothree \x1e not a marker\ntail"
        );
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), [0, 3]);
    }
}

//! Readiness probes: exec, tcp, http, log, and the postmaster's own "ready"
//! flag for the postgres preset. One attempt answers `Ok` or what it saw,
//! so a timeout can say why ("GET /health → 503").

use super::child::{describe, OwnedChild};
use super::log::LogWatch;
use crate::exec::own_group;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// What "ready" means for one service. Kept in `services up` state files so
/// `services status` asks the same question later.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) enum Check {
    /// Ready once started: nothing to ask.
    Started,
    /// A shell command that exits 0.
    Exec(String),
    /// `host:port` accepts a connection.
    Tcp(String),
    /// A GET answers with this status.
    Http { url: String, status: u16 },
    /// The log has a line matching the pattern (checked when the service
    /// starts) this many times.
    Log { pattern: String, times: u32 },
    /// `postmaster.pid` in this data dir says `ready`: what `pg_ctl -w`
    /// waits for, free of locale and of log wording.
    Postmaster(PathBuf),
}

/// A check with the state it keeps between attempts.
pub(crate) struct Prober {
    check: Check,
    watch: Option<LogWatch>,
    env: Vec<(String, String)>,
    cwd: PathBuf,
}

impl Prober {
    /// `env` and `cwd` are for exec probes; `log` for log probes.
    pub(crate) fn new(
        check: Check,
        log: &Path,
        env: Vec<(String, String)>,
        cwd: PathBuf,
    ) -> Prober {
        let watch = match &check {
            Check::Log { pattern, .. } => regex::Regex::new(pattern)
                .ok()
                .map(|re| LogWatch::new(log.to_owned(), re)),
            _ => None,
        };
        Prober {
            check,
            watch,
            env,
            cwd,
        }
    }

    /// One attempt; `Err` says what was seen instead of readiness.
    pub(crate) fn attempt(&mut self, limit: Duration) -> Result<(), String> {
        let limit = limit.clamp(Duration::from_millis(50), Duration::from_secs(10));
        match &self.check {
            Check::Started => Ok(()),
            Check::Exec(command) => exec(command, &self.env, &self.cwd, limit),
            Check::Tcp(address) => tcp(address, limit),
            Check::Http { url, status } => http(url, *status, limit),
            Check::Log { times, .. } => {
                let seen = self.watch.as_mut().map_or(0, LogWatch::poll);
                if seen >= *times {
                    Ok(())
                } else {
                    Err(format!(
                        "log pattern matched {seen} of {times} time{}",
                        if *times == 1 { "" } else { "s" }
                    ))
                }
            }
            Check::Postmaster(data_dir) => postmaster(data_dir),
        }
    }
}

fn exec(
    command: &str,
    env: &[(String, String)],
    cwd: &Path,
    limit: Duration,
) -> Result<(), String> {
    let mut cmd = Command::new("bash");
    cmd.arg("-c")
        .arg(command)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    own_group(&mut cmd);
    let mut child =
        OwnedChild::spawn(&mut cmd).map_err(|e| format!("cannot run `{command}`: {e}"))?;
    match child.wait_for(limit) {
        Ok(Some(status)) if status.success() => Ok(()),
        Ok(Some(status)) => Err(format!("`{command}` {}", describe(status))),
        Ok(None) => {
            child.kill_group();
            Err(format!(
                "`{command}` still ran after {}",
                humantime::format_duration(Duration::from_millis(
                    u64::try_from(limit.as_millis()).unwrap_or(u64::MAX)
                ))
            ))
        }
        Err(e) => Err(format!("`{command}`: {e}")),
    }
}

fn tcp(address: &str, limit: Duration) -> Result<(), String> {
    let addrs: Vec<_> = address
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {address}: {e}"))?
        .collect();
    let mut last = format!("{address}: no address");
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, limit) {
            Ok(_) => return Ok(()),
            Err(e) => last = format!("connect {address}: {}", short_io(&e)),
        }
    }
    Err(last)
}

/// A GET with ureq (plain HTTP; no TLS is compiled in, as health checks of
/// local servers do not need it). Redirects are not followed: a health
/// endpoint that redirects is reported as its status.
fn http(url: &str, want: u16, limit: Duration) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(limit))
        .build()
        .into();
    let path = url
        .find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| &url[i + 3 + j..]))
        .unwrap_or("/");
    match agent.get(url).call() {
        Ok(response) if response.status().as_u16() == want => Ok(()),
        Ok(response) => Err(format!("GET {path} → {}", response.status().as_u16())),
        Err(ureq::Error::Io(e)) => Err(format!("GET {path} → {}", short_io(&e))),
        Err(e) => Err(format!("GET {path} → {e}")),
    }
}

fn postmaster(data_dir: &Path) -> Result<(), String> {
    // Line 8 of postmaster.pid is the status: "starting", "ready", "stopping".
    let pid_file = std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .map_err(|_| "postmaster.pid not written yet".to_owned())?;
    match pid_file.lines().nth(7).map(str::trim) {
        Some("ready") => Ok(()),
        Some(status) if !status.is_empty() => Err(format!("server status: {status}")),
        _ => Err("server starting".into()),
    }
}

fn short_io(error: &std::io::Error) -> String {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused".into(),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => "timed out".into(),
        _ => error.to_string(),
    }
}

/// Polls `attempt` every `interval` until it succeeds, `deadline` passes,
/// `exited` reports the process gone or `cancel` says stop.
pub(crate) enum Wait {
    Ready,
    Exited(String),
    TimedOut(String),
    Cancelled,
}

pub(crate) fn wait(
    prober: &mut Prober,
    interval: Duration,
    timeout: Duration,
    mut exited: impl FnMut() -> Option<String>,
    cancel: &dyn Fn() -> bool,
) -> Wait {
    let deadline = Instant::now() + timeout;
    let mut last;
    loop {
        if cancel() {
            return Wait::Cancelled;
        }
        if let Some(end) = exited() {
            return Wait::Exited(end);
        }
        let remaining = deadline.saturating_duration_since(Instant::now());
        match prober.attempt(remaining.min(interval.max(Duration::from_secs(1)))) {
            Ok(()) => return Wait::Ready,
            Err(seen) => last = seen,
        }
        if Instant::now() >= deadline {
            // The process may have died during the last attempt: say so.
            return match exited() {
                Some(end) => Wait::Exited(end),
                None => Wait::TimedOut(last),
            };
        }
        std::thread::sleep(interval.min(deadline.saturating_duration_since(Instant::now())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    fn prober(check: Check) -> Prober {
        Prober::new(
            check,
            Path::new("/nonexistent.log"),
            Vec::new(),
            std::env::temp_dir(),
        )
    }

    #[test]
    fn tcp_and_exec_probes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        assert!(prober(Check::Tcp(address.clone()))
            .attempt(Duration::from_secs(1))
            .is_ok());
        drop(listener);
        let err = prober(Check::Tcp(address))
            .attempt(Duration::from_secs(1))
            .unwrap_err();
        assert!(err.contains("connection refused"), "{err}");
        assert!(prober(Check::Exec("true".into()))
            .attempt(Duration::from_secs(5))
            .is_ok());
        let err = prober(Check::Exec("exit 3".into()))
            .attempt(Duration::from_secs(5))
            .unwrap_err();
        assert_eq!(err, "`exit 3` exited with code 3");
    }

    #[test]
    fn http_probe_reports_the_status_it_got() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = std::thread::spawn(move || {
            use std::io::{Read, Write};
            for status in ["503 Service Unavailable", "200 OK"] {
                let (mut stream, _) = listener.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = stream.read(&mut buf);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        let url = format!("http://127.0.0.1:{port}/health");
        let mut p = prober(Check::Http { url, status: 200 });
        assert_eq!(
            p.attempt(Duration::from_secs(2)).unwrap_err(),
            "GET /health → 503"
        );
        assert!(p.attempt(Duration::from_secs(2)).is_ok());
        server.join().unwrap();
    }

    #[test]
    fn wait_reports_exit_and_timeout() {
        let mut p = prober(Check::Exec("false".into()));
        let never = || false;
        let outcome = wait(
            &mut p,
            Duration::from_millis(10),
            Duration::from_millis(50),
            || None,
            &never,
        );
        assert!(matches!(outcome, Wait::TimedOut(last) if last.contains("exited with code 1")));
        let outcome = wait(
            &mut p,
            Duration::from_millis(10),
            Duration::from_secs(5),
            || Some("exited with code 2".into()),
            &never,
        );
        assert!(matches!(outcome, Wait::Exited(_)));
    }
}

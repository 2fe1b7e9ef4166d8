//! The container engine: Docker or Podman, driven through its command-line
//! client so `DOCKER_HOST`, the active context and Podman's own setup apply
//! exactly as they do for the user's own `docker` commands.

use super::ContainerError;
use std::ffi::OsStr;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Overrides engine detection: `docker`, `podman`, or a path to either.
pub const ENGINE_VAR: &str = "PARITY_ENGINE";

/// How long a quick engine query (version, inspect, ps) may take before the
/// engine is taken for hung rather than slow.
const QUERY_LIMIT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineKind {
    Docker,
    Podman,
}

/// A container engine's client, found on PATH.
#[derive(Debug, Clone)]
pub struct Engine {
    pub kind: EngineKind,
    program: PathBuf,
}

impl Engine {
    /// Finds the engine and checks that its daemon answers.
    pub fn detect() -> Result<Engine, ContainerError> {
        let engine = Self::find()?;
        engine.ping()?;
        Ok(engine)
    }

    /// `PARITY_ENGINE` if set, else `docker`, else `podman`; not yet asked
    /// whether it answers.
    pub fn find() -> Result<Engine, ContainerError> {
        if let Some(value) = std::env::var_os(ENGINE_VAR).filter(|v| !v.is_empty()) {
            let value = value.to_string_lossy().into_owned();
            let program = which::which(&value).map_err(|_| ContainerError::EngineNotFound {
                value: value.clone(),
            })?;
            let stem = program
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let kind = if stem.contains("podman") {
                EngineKind::Podman
            } else {
                EngineKind::Docker
            };
            return Ok(Engine { kind, program });
        }
        for (name, kind) in [
            ("docker", EngineKind::Docker),
            ("podman", EngineKind::Podman),
        ] {
            if let Ok(program) = which::which(name) {
                return Ok(Engine { kind, program });
            }
        }
        Err(ContainerError::NoEngine)
    }

    /// `docker` or `podman`, for messages.
    pub fn name(&self) -> &'static str {
        match self.kind {
            EngineKind::Docker => "docker",
            EngineKind::Podman => "podman",
        }
    }

    /// Asks the daemon for its version: the cheapest call that needs it.
    pub fn ping(&self) -> Result<(), ContainerError> {
        let output = self.query(["version", "--format", "{{.Server.Version}}"]);
        let down = |detail: Option<String>| ContainerError::EngineDown {
            engine: self.name().to_owned(),
            daemon: match self.kind {
                EngineKind::Docker => "Docker daemon".to_owned(),
                EngineKind::Podman => "Podman service".to_owned(),
            },
            detail,
        };
        match output {
            Ok(out)
                if out.status.success()
                    && !String::from_utf8_lossy(&out.stdout).trim().is_empty() =>
            {
                Ok(())
            }
            Ok(out) => Err(down(
                first_line(&out.stderr).map(|l| shorten_daemon_error(&l)),
            )),
            Err(e) => Err(down(Some(e))),
        }
    }

    /// A command for the engine's client.
    pub fn command(&self) -> Command {
        Command::new(&self.program)
    }

    /// Runs a short engine command and returns its stdout, trimmed; a
    /// failure carries the client's own error line.
    pub(crate) fn output<I, S>(&self, args: I) -> Result<String, ContainerError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<std::ffi::OsString> =
            args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let describe = || {
            let words: Vec<String> = args
                .iter()
                .take(3)
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            format!("{} {}", self.name(), words.join(" "))
        };
        match self.query(&args) {
            Ok(out) if out.status.success() => {
                Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
            }
            Ok(out) => Err(ContainerError::Command {
                command: describe(),
                detail: first_line(&out.stderr)
                    .unwrap_or_else(|| format!("exit status {}", out.status)),
            }),
            Err(detail) => Err(ContainerError::Command {
                command: describe(),
                detail,
            }),
        }
    }

    /// Whether a short engine command succeeds (for existence checks).
    pub(crate) fn succeeds<I, S>(&self, args: I) -> bool
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.query(args).is_ok_and(|out| out.status.success())
    }

    /// Runs the client with a time limit, capturing its output.
    fn query<I, S>(&self, args: I) -> Result<Output, String>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = self.command();
        command
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Registered so parity's orphan sweep leaves its exit status to us.
        let child = {
            let mut owned = crate::exec::owned_children();
            let child = command
                .spawn()
                .map_err(|e| format!("cannot run {}: {e}", self.program.display()))?;
            owned.insert(child.id() as i32);
            child
        };
        let pid = child.id();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let output = child.wait_with_output();
            crate::exec::owned_children().remove(&(pid as i32));
            let _ = tx.send(output);
        });
        match rx.recv_timeout(QUERY_LIMIT) {
            Ok(result) => result.map_err(|e| e.to_string()),
            Err(_) => {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid as i32),
                    nix::sys::signal::Signal::SIGKILL,
                );
                Err(format!("no answer within {}s", QUERY_LIMIT.as_secs()))
            }
        }
    }

    /// The engine's socket on this machine, to mount into a job's container
    /// (`mount_docker_socket`): `DOCKER_HOST` when it is a unix socket, else
    /// the active context's, else the default path. `None` when the engine
    /// is reached over TCP or SSH, where no socket file exists here.
    pub fn socket(&self) -> Option<PathBuf> {
        let host = match self.kind {
            EngineKind::Docker => std::env::var("DOCKER_HOST")
                .ok()
                .filter(|h| !h.is_empty())
                .or_else(|| {
                    self.output([
                        "context",
                        "inspect",
                        "--format",
                        "{{.Endpoints.docker.Host}}",
                    ])
                    .ok()
                }),
            EngineKind::Podman => std::env::var("CONTAINER_HOST")
                .ok()
                .filter(|h| !h.is_empty())
                .or_else(|| {
                    self.output(["info", "--format", "{{.Host.RemoteSocket.Path}}"])
                        .ok()
                        .map(|p| {
                            if p.starts_with('/') {
                                format!("unix://{p}")
                            } else {
                                p
                            }
                        })
                }),
        };
        match host {
            Some(host) if !host.is_empty() => host.strip_prefix("unix://").map(PathBuf::from),
            _ => Some(PathBuf::from("/var/run/docker.sock")),
        }
    }
}

fn first_line(bytes: &[u8]) -> Option<String> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(str::to_owned)
}

/// "Cannot connect to the Docker daemon at unix:///x.sock. Is the docker
/// daemon running?" → "at unix:///x.sock": the question is answered by the
/// help line already.
fn shorten_daemon_error(line: &str) -> String {
    match line.find(" at ") {
        Some(at) if line.starts_with("Cannot connect") => line[at + 1..]
            .trim_end_matches("Is the docker daemon running?")
            .trim()
            .trim_end_matches('.')
            .to_owned(),
        _ => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daemon_error_keeps_the_address() {
        assert_eq!(
            shorten_daemon_error(
                "Cannot connect to the Docker daemon at unix:///nope.sock. Is the docker daemon running?"
            ),
            "at unix:///nope.sock"
        );
        assert_eq!(
            shorten_daemon_error("permission denied"),
            "permission denied"
        );
    }
}

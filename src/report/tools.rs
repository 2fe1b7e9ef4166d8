//! Which toolchain versions a machine has: the ones `[tools]` pins and the
//! ones a pipeline's steps call. Shared by the run record's fingerprint and
//! `parity doctor`, so both read versions the same way.
//!
//! Each probe is one `--version` call, all of them at once on their own
//! threads, each cut off after [`PROBE_LIMIT`]: a run pays for them once and
//! never waits on a tool that hangs.

use regex::Regex;
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use serde::{Deserialize, Serialize};
use std::process::{Command, Stdio};
use std::sync::LazyLock;
use std::time::{Duration, Instant};

/// Longest a `--version` call may take before it is given up on.
pub const PROBE_LIMIT: Duration = Duration::from_secs(5);

/// How one tool is asked for its version, and which step commands call it.
struct Known {
    key: &'static str,
    /// Other names a `[tools]` key may use for it.
    aliases: &'static [&'static str],
    program: &'static str,
    args: &'static [&'static str],
    /// Commands in a step that mean the step uses this tool.
    commands: &'static [&'static str],
}

const KNOWN: &[Known] = &[
    Known {
        key: "rust",
        aliases: &["rustc", "cargo"],
        program: "rustc",
        args: &["--version"],
        commands: &["cargo", "rustc", "rustup", "rustfmt", "rustdoc"],
    },
    Known {
        key: "python",
        aliases: &["python3"],
        program: "python3",
        args: &["--version"],
        commands: &[
            "python", "python3", "pip", "pip3", "pytest", "uv", "poetry", "tox",
        ],
    },
    Known {
        key: "node",
        aliases: &["nodejs"],
        program: "node",
        args: &["--version"],
        commands: &["node", "npm", "npx", "yarn", "pnpm"],
    },
    Known {
        key: "java",
        aliases: &["jdk"],
        program: "java",
        args: &["-version"],
        commands: &["java", "javac", "mvn", "gradle", "./gradlew", "./mvnw"],
    },
    Known {
        key: "go",
        aliases: &["golang"],
        program: "go",
        args: &["version"],
        commands: &["go"],
    },
    Known {
        key: "docker",
        aliases: &[],
        program: "docker",
        args: &["--version"],
        commands: &["docker", "docker-compose"],
    },
    Known {
        key: "podman",
        aliases: &[],
        program: "podman",
        args: &["--version"],
        commands: &["podman"],
    },
    Known {
        key: "ruby",
        aliases: &[],
        program: "ruby",
        args: &["--version"],
        commands: &["ruby", "bundle", "rake", "gem"],
    },
    Known {
        key: "dotnet",
        aliases: &[],
        program: "dotnet",
        args: &["--version"],
        commands: &["dotnet"],
    },
    Known {
        key: "postgres",
        aliases: &["postgresql"],
        program: "postgres",
        args: &["--version"],
        commands: &["psql", "pg_ctl", "initdb", "postgres"],
    },
    Known {
        key: "redis",
        aliases: &[],
        program: "redis-server",
        args: &["--version"],
        commands: &["redis-server", "redis-cli"],
    },
];

/// What one probe found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolVersion {
    /// The version number, e.g. `1.95.0`; absent when none could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The first line the tool printed, e.g. `rustc 1.95.0 (59807616e 2026-04-14)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// What `[tools]` pins, when it does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pinned: Option<String>,
    /// Why there is no version: not installed, timed out, failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The canonical key for a `[tools]` key: `rustc` and `cargo` are `rust`.
pub fn canonical(key: &str) -> String {
    let lower = key.to_ascii_lowercase();
    KNOWN
        .iter()
        .find(|k| k.key == lower || k.aliases.contains(&lower.as_str()))
        .map_or(lower, |k| k.key.to_owned())
}

/// The tools `steps` call, as canonical keys, in first-seen order.
pub fn called_by<'a>(steps: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    static COMMAND: LazyLock<Regex> = LazyLock::new(|| {
        // A word in command position: at a line start or after a shell
        // operator, optionally behind `VAR=value` assignments or a wrapper.
        Regex::new(
            r"(?m)(?:^|[;&|(`]|\$\(|\bthen\b|\bdo\b|\bexec\b|\bsudo\b|\btime\b|\bxargs\b)\s*(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*([./A-Za-z0-9_-]+)",
        )
        .expect("static regex")
    });
    let mut found: Vec<String> = Vec::new();
    for step in steps {
        for capture in COMMAND.captures_iter(step) {
            let word = &capture[1];
            let base = word.rsplit('/').next().unwrap_or(word);
            let tool = KNOWN
                .iter()
                .find(|k| k.commands.contains(&word) || k.commands.contains(&base));
            if let Some(tool) = tool {
                if !found.iter().any(|f| f == tool.key) {
                    found.push(tool.key.to_owned());
                }
            }
        }
    }
    found
}

/// Probes every key at once; keys are canonical (see [`canonical`]).
pub fn probe_all(keys: &[String]) -> Vec<(String, ToolVersion)> {
    let handles: Vec<_> = keys
        .iter()
        .map(|key| {
            let key = key.clone();
            std::thread::Builder::new()
                .name(format!("parity-probe-{key}"))
                .spawn(move || probe(&key))
        })
        .collect();
    keys.iter()
        .zip(handles)
        .map(|(key, handle)| {
            let found = match handle {
                Ok(handle) => handle
                    .join()
                    .unwrap_or_else(|_| failed("the probe panicked")),
                Err(e) => failed(&format!("cannot start a probe thread: {e}")),
            };
            (key.clone(), found)
        })
        .collect()
}

fn failed(why: &str) -> ToolVersion {
    ToolVersion {
        error: Some(why.to_owned()),
        ..ToolVersion::default()
    }
}

/// One tool's version, by its canonical key; an unknown key is asked
/// `KEY --version`.
pub fn probe(key: &str) -> ToolVersion {
    let (program, args): (&str, &[&str]) = match KNOWN.iter().find(|k| k.key == key) {
        Some(known) => (known.program, known.args),
        None => (key, &["--version"]),
    };
    let program =
        match (key, which::which(program)) {
            (_, Ok(path)) => path,
            // Debian keeps the server binaries off PATH.
            ("postgres", Err(_)) => match postgres_bin("postgres") {
                Some(path) => path,
                None => return failed(
                    "`postgres` is not installed (not on PATH nor under /usr/lib/postgresql/*/bin)",
                ),
            },
            (_, Err(_)) => return failed(&format!("`{program}` is not on PATH")),
        };
    match run_limited(Command::new(&program).args(args), PROBE_LIMIT) {
        Ok(text) => {
            let line = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or_default();
            ToolVersion {
                version: version_in(&text),
                output: (!line.is_empty()).then(|| line.to_owned()),
                pinned: None,
                error: None,
            }
        }
        Err(why) => failed(&why),
    }
}

/// The newest `/usr/lib/postgresql/<major>/bin/<name>`, where Debian puts
/// the server binaries.
pub fn postgres_bin(name: &str) -> Option<std::path::PathBuf> {
    let mut found: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|entry| {
            let major: u32 = entry
                .file_name()
                .to_str()?
                .split('.')
                .next()?
                .parse()
                .ok()?;
            let path = entry.path().join("bin").join(name);
            path.is_file().then_some((major, path))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, path)| path)
}

/// The first dotted version number in a tool's output: `go1.22.1` → `1.22.1`.
pub fn version_in(text: &str) -> Option<String> {
    static VERSION: LazyLock<Regex> =
        LazyLock::new(|| Regex::new(r"(\d+(?:\.\d+)+)").expect("static regex"));
    VERSION.captures(text).map(|c| c[1].to_owned())
}

/// Runs a command to its end or `limit`, whichever comes first, and returns
/// stdout followed by stderr (`java -version` prints to stderr).
pub fn run_limited(command: &mut Command, limit: Duration) -> Result<String, String> {
    let path = format!("{:?}", command.get_program());
    // parity is a subreaper that sweeps up children nobody claims while a
    // run goes on; a probe registers itself so that its exit is left to us.
    let mut child = {
        let mut owned = crate::exec::owned_children();
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run {path}: {e}"))?;
        owned.insert(child.id() as i32);
        child
    };
    let result = wait_limited(&mut child, &path, limit);
    crate::exec::owned_children().remove(&(child.id() as i32));
    result
}

fn wait_limited(
    child: &mut std::process::Child,
    path: &str,
    limit: Duration,
) -> Result<String, String> {
    // Read both pipes while waiting: `git status` in a big dirty tree can
    // print more than a pipe holds.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
    );
    let status = match wait_until(child, Instant::now() + limit) {
        Ok(Some(status)) => status,
        Ok(None) => {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("{path} did not answer within {}s", limit.as_secs()));
        }
        Err(e) => return Err(format!("cannot wait for {path}: {e}")),
    };
    let mut text = stdout.join().unwrap_or_default();
    text.push_str(&stderr.join().unwrap_or_default());
    if status.success() {
        Ok(text)
    } else {
        let first = text.lines().next().unwrap_or_default().trim().to_owned();
        Err(format!("{path} failed ({status}): {first}"))
    }
}

/// Waits for `child` to exit until `deadline`: `None` if it still runs.
///
/// Sleeps on the child's pidfd, so the answer comes the moment it exits;
/// where the kernel has no pidfds, polls every few milliseconds.
fn wait_until(
    child: &mut std::process::Child,
    deadline: Instant,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let exited = rustix::process::Pid::from_raw(child.id() as i32).and_then(|pid| {
        rustix::process::pidfd_open(pid, rustix::process::PidfdFlags::empty()).ok()
    });
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        match &exited {
            Some(exited) => {
                let timeout = Timespec::try_from(left).ok();
                let mut fds = [PollFd::new(exited, PollFlags::IN)];
                match poll(&mut fds, timeout.as_ref()) {
                    Ok(_) | Err(rustix::io::Errno::INTR) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            None => std::thread::sleep(left.min(Duration::from_millis(5))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_is_waited_for_until_its_limit() {
        let said = run_limited(
            Command::new("sh").args(["-c", "echo out; echo err >&2"]),
            Duration::from_secs(5),
        );
        assert_eq!(said.as_deref(), Ok("out\nerr\n"));

        let started = Instant::now();
        let slow = run_limited(Command::new("sleep").arg("30"), Duration::from_millis(300));
        assert!(slow.is_err_and(|e| e.contains("did not answer")));
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn versions_from_tool_output() {
        assert_eq!(
            version_in("rustc 1.95.0 (59807616e 2026-04-14)").as_deref(),
            Some("1.95.0")
        );
        assert_eq!(
            version_in("go version go1.22.1 linux/amd64").as_deref(),
            Some("1.22.1")
        );
        assert_eq!(
            version_in("openjdk version \"17.0.9\" 2023-10-17").as_deref(),
            Some("17.0.9")
        );
        assert_eq!(version_in("v20.11.0").as_deref(), Some("20.11.0"));
        assert_eq!(version_in("no digits"), None);
    }

    #[test]
    fn tools_in_command_position_only() {
        let steps = [
            "cargo test --all",
            "echo let us go && RUST_LOG=1 python3 -m pytest",
            "cd web; npm ci",
            "./gradlew build",
        ];
        assert_eq!(called_by(steps), ["rust", "python", "node", "java"]);
        assert!(called_by(["echo go home"]).is_empty());
    }

    #[test]
    fn aliases_are_canonical() {
        assert_eq!(canonical("rustc"), "rust");
        assert_eq!(canonical("Python3"), "python");
        assert_eq!(canonical("terraform"), "terraform");
    }
}

//! Starting one service and stopping it again: data directory, port,
//! process (its own process group, marked so stragglers can be found), log,
//! and the wait for readiness.

use super::child::{describe, OwnedChild};
use super::identity::Identity;
use super::log::LogWriter;
use super::port::{self, HOST};
use super::preset;
use super::probe::{self, Check, Prober, Wait};
use super::relay::Relay;
use super::spec::Spec;
use super::values::{ServiceValues, Values};
use super::ServiceError;
use crate::exec::{marked, own_group, terminate, Target, GRACE, MARKER_VAR};
use crate::pipeline::placeholder::{scan, Unresolved};
use crate::pipeline::{Probe, ServiceKind};
use crate::secrets::SecretSet;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How often parity's own default checks run: they are cheap (a file read,
/// a connect), and every millisecond here is a millisecond of waiting.
const DEFAULT_INTERVAL: Duration = Duration::from_millis(10);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// What every service start shares.
pub(crate) struct StartContext<'a> {
    /// The pipeline root: where `command` services run, what a relative
    /// `data_dir` is relative to.
    pub(crate) root: &'a Path,
    /// Where `NAME.log` goes.
    pub(crate) log_dir: &'a Path,
    /// Env-file values and parity's variables, under the service's env.
    pub(crate) env: &'a [(String, String)],
    pub(crate) secrets: &'a SecretSet,
    /// Names temp directories and process markers: a run id, or `up-…`.
    pub(crate) tag: &'a str,
    /// `parity services up`: the service outlives parity, so a relay
    /// process, not a thread of parity's, masks its log.
    pub(crate) detached: bool,
}

/// A started, ready service.
pub(crate) struct Running {
    pub(crate) values: Values,
    pub(crate) log: PathBuf,
    pub(crate) identity: Identity,
    /// Set when parity made the data directory and removes it at stop.
    pub(crate) temp_dir: Option<PathBuf>,
    pub(crate) marker: String,
    /// How readiness was decided, to ask again for `services status`.
    pub(crate) check: Check,
    pub(crate) probe_env: Vec<(String, String)>,
    pub(crate) probe_cwd: PathBuf,
    child: Option<OwnedChild>,
    log_writer: Option<LogWriter>,
}

/// The log file of a service: `NAME.log` in `log_dir`.
pub(crate) fn log_path(log_dir: &Path, name: &str) -> PathBuf {
    log_dir.join(format!("{}.log", slug(name)))
}

/// The longest part of a file name taken from a service's name, in bytes;
/// beyond it, a hash of the whole name keeps names apart, and the file's
/// name under the usual limit of 255 bytes (`NAME_MAX`).
const SLUG_MAX: usize = 200;

/// A service's name as part of a file name. (Two names that make the same
/// slug are rejected with the pipeline: they would make the same variables.)
fn slug(name: &str) -> String {
    let mut slug: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .collect();
    if slug.len() > SLUG_MAX {
        let hash = blake3::hash(name.as_bytes()).to_hex();
        slug.truncate(SLUG_MAX);
        slug.push('-');
        slug.push_str(&hash[..12]);
    }
    slug
}

/// Starts `spec` and waits until it is ready. `others` holds the values of
/// services already started (its needs). `cancel` is polled while waiting.
pub(crate) fn start(
    spec: &Spec,
    others: &ServiceValues,
    ctx: &StartContext<'_>,
    cancel: &dyn Fn() -> bool,
) -> Result<Running, ServiceError> {
    let log = log_path(ctx.log_dir, &spec.name);
    std::fs::create_dir_all(ctx.log_dir)
        .map_err(|e| ServiceError::io("cannot create", ctx.log_dir, e))?;
    let mut attempt = 0;
    loop {
        std::fs::write(&log, "")
            .map_err(|e| ServiceError::io("cannot write the service log", &log, e))?;
        let port = match spec.port {
            Some(port) => {
                port::ensure_free(&spec.name, port)?;
                port
            }
            None => {
                port::free().map_err(|e| ServiceError::io("cannot find a free port on", HOST, e))?
            }
        };
        match start_on(spec, port, others, ctx, &log, cancel) {
            // A picked port can be taken by someone else between the pick and
            // the server's bind; pick again.
            Err(ServiceError::Exited { .. })
                if spec.port.is_none() && attempt < 2 && port_clash(&log) =>
            {
                attempt += 1;
            }
            result => return result,
        }
    }
}

fn port_clash(log: &Path) -> bool {
    super::log::tail(log, 40, &SecretSet::default())
        .iter()
        .any(|line| line.contains("in use") || line.contains("EADDRINUSE"))
}

fn start_on(
    spec: &Spec,
    port: u16,
    others: &ServiceValues,
    ctx: &StartContext<'_>,
    log: &Path,
    cancel: &dyn Fn() -> bool,
) -> Result<Running, ServiceError> {
    let (data_dir, temp_dir) = data_dir(spec, ctx)?;
    let result = spawn_ready(spec, port, &data_dir, others, ctx, log, cancel);
    match result {
        Ok(s) => Ok(Running {
            values: s.values,
            log: log.to_owned(),
            identity: s.identity,
            temp_dir,
            marker: marker(ctx.tag, &spec.name),
            check: s.check,
            probe_env: s.probe_env,
            probe_cwd: s.probe_cwd,
            child: Some(s.child),
            log_writer: Some(s.log_writer),
        }),
        Err(e) => {
            if let Some(dir) = temp_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
            Err(e)
        }
    }
}

struct Spawned {
    values: Values,
    child: OwnedChild,
    log_writer: LogWriter,
    identity: Identity,
    check: Check,
    probe_env: Vec<(String, String)>,
    probe_cwd: PathBuf,
}

fn spawn_ready(
    spec: &Spec,
    port: u16,
    data_dir: &Path,
    others: &ServiceValues,
    ctx: &StartContext<'_>,
    log: &Path,
    cancel: &dyn Fn() -> bool,
) -> Result<Spawned, ServiceError> {
    let url = match spec.preset() {
        Some(preset) => preset::url(preset, spec, HOST, port)?,
        None => format!("http://{HOST}:{port}"),
    };
    let values = Values {
        host: HOST.to_owned(),
        port,
        url,
        data_dir: data_dir.to_owned(),
    };
    let render = |text: &str| {
        others.render(text, Some(&values)).map_err(|Unresolved(name)| ServiceError::Config {
            name: spec.name.clone(),
            message: format!("`{{{{{name}}}}}` has no value when it starts"),
            help: name
                .strip_prefix("services.")
                .and_then(|rest| rest.split_once('.'))
                .map(|(other, _)| format!("add `needs = [\"{other}\"]` to [services.{}] so `{other}` starts first", spec.name)),
        })
    };
    let mut env: Vec<(String, String)> = ctx.env.to_vec();
    for (key, value) in &spec.env {
        env.push((key.clone(), render(value)?));
    }
    let mut own = others.clone();
    own.0.insert(spec.name.clone(), values.clone());
    env.extend(own.exports());

    let (mut command, default_check, cwd) = match &spec.kind {
        ServiceKind::Preset(preset) => {
            let launch = preset::prepare(*preset, spec, port, data_dir, log)?;
            let mut command = Command::new(&launch.program);
            command.args(&launch.args);
            if let Some(user) = &launch.run_as {
                command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
            }
            (command, launch.check, data_dir.to_owned())
        }
        ServiceKind::Command(text) => {
            let mut command = Command::new("bash");
            command.arg("-c").arg(render(text)?);
            let check = if uses_port(spec, text) {
                Check::Tcp(format!("{HOST}:{port}"))
            } else {
                Check::Started
            };
            (command, check, ctx.root.to_owned())
        }
        ServiceKind::Image(_) => {
            return Err(ServiceError::ImageNotNative {
                name: spec.name.clone(),
            })
        }
    };
    let (check, interval, timeout) = match &spec.ready {
        Some(ready) => (
            user_check(spec, &ready.probe, &render)?,
            ready.interval,
            ready.timeout,
        ),
        None => (default_check, DEFAULT_INTERVAL, DEFAULT_TIMEOUT),
    };
    command
        .current_dir(&cwd)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .env(MARKER_VAR, marker(ctx.tag, &spec.name))
        .stdin(Stdio::null());
    own_group(&mut command);

    let cannot_log = |e| ServiceError::io("cannot write the service log", log, e);
    let (writer, log_writer) =
        LogWriter::start(&spec.name, log, ctx.secrets, ctx.detached).map_err(cannot_log)?;
    let writer2 = writer.try_clone().map_err(cannot_log)?;
    command.stdout(writer).stderr(writer2);
    let program = command.get_program().to_string_lossy().into_owned();
    let spawned = OwnedChild::spawn(&mut command);
    drop(command); // closes parity's copies of the pipe's write end
    let mut child = spawned.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => ServiceError::ProgramNotFound {
            what: format!("`{program}`"),
            help: "install it or put it on PATH".into(),
        },
        _ => ServiceError::io(format!("cannot start `{program}` for"), data_dir, e),
    })?;
    let identity = Identity::of(child.pid()).unwrap_or(Identity {
        pid: child.pid(),
        start_time: 0,
        boot_id: String::new(),
    });

    let mut prober = Prober::new(check.clone(), log, env.clone(), cwd.clone());
    let outcome = probe::wait(
        &mut prober,
        interval,
        timeout,
        || child.try_wait().ok().flatten().map(describe),
        cancel,
    );
    let fail = |child: OwnedChild, log_writer: LogWriter, error: ServiceError| {
        stop_process(
            child.pid(),
            &marker(ctx.tag, &spec.name),
            Some(child),
            Some(log_writer),
        );
        Err(error)
    };
    match outcome {
        Wait::Ready => Ok(Spawned {
            values,
            child,
            log_writer,
            identity,
            check,
            probe_env: env,
            probe_cwd: cwd,
        }),
        Wait::Exited(end) => fail(
            child,
            log_writer,
            ServiceError::Exited {
                name: spec.name.clone(),
                end,
            },
        ),
        Wait::TimedOut(last) => fail(
            child,
            log_writer,
            ServiceError::NotReady {
                name: spec.name.clone(),
                after: timeout,
                last,
                log: log.to_owned(),
            },
        ),
        Wait::Cancelled => fail(
            child,
            log_writer,
            ServiceError::Interrupted {
                name: spec.name.clone(),
            },
        ),
    }
}

/// A `ready = …` from the pipeline, placeholders filled in.
fn user_check(
    spec: &Spec,
    probe: &Probe,
    render: &dyn Fn(&str) -> Result<String, ServiceError>,
) -> Result<Check, ServiceError> {
    Ok(match probe {
        Probe::Exec(command) => Check::Exec(render(command)?),
        Probe::Tcp(address) => Check::Tcp(render(address)?),
        Probe::Http { url, status } => Check::Http {
            url: render(url)?,
            status: *status,
        },
        Probe::Log { pattern, times } => {
            regex::Regex::new(pattern).map_err(|e| ServiceError::Config {
                name: spec.name.clone(),
                message: format!("`ready.log` is not a valid regular expression: {e}"),
                help: Some("the pattern uses Rust regex syntax; escape `(`, `[`, `.` to match them literally".into()),
            })?;
            Check::Log {
                pattern: pattern.clone(),
                times: *times,
            }
        }
    })
}

/// Whether a command service listens on its port: it was given one, or its
/// command or env mentions `{{port}}` or `{{url}}`.
fn uses_port(spec: &Spec, command: &str) -> bool {
    spec.port.is_some()
        || std::iter::once(command)
            .chain(spec.env.values().map(String::as_str))
            .any(|text| {
                scan(text)
                    .is_ok_and(|found| found.iter().any(|p| p.name == "port" || p.name == "url"))
            })
}

/// `data_dir` from the pipeline (relative to the root), or a fresh
/// directory under the system temp dir that is removed at stop.
fn data_dir(
    spec: &Spec,
    ctx: &StartContext<'_>,
) -> Result<(PathBuf, Option<PathBuf>), ServiceError> {
    let (dir, temp) = match &spec.data_dir {
        Some(dir) => (ctx.root.join(dir), false),
        None => {
            let dir = scratch_base().join(format!("parity-{}-{}", ctx.tag, slug(&spec.name)));
            if dir.exists() {
                let _ = std::fs::remove_dir_all(&dir);
            }
            (dir, true)
        }
    };
    std::fs::create_dir_all(&dir)
        .map_err(|e| ServiceError::io("cannot create the data directory", &dir, e))?;
    if spec.preset().is_some_and(preset::needs_unprivileged) {
        // PostgreSQL insists on a private data directory.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| ServiceError::io("cannot make private", &dir, e))?;
    }
    Ok((dir.clone(), temp.then_some(dir)))
}

/// Where throwaway data directories go: `/dev/shm` (memory) when it has
/// room, as CI setups put database data on a tmpfs for speed; else the
/// system temp dir. `PARITY_SCRATCH_DIR` overrides both.
fn scratch_base() -> PathBuf {
    if let Some(dir) = std::env::var_os("PARITY_SCRATCH_DIR").filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let shm = Path::new("/dev/shm");
    // Containers often get a 64 MiB /dev/shm, which PostgreSQL itself needs
    // for shared memory: only use it when it is roomy.
    let roomy = nix::sys::statvfs::statvfs(shm)
        .is_ok_and(|s| s.blocks_available() * s.fragment_size() >= 1 << 30);
    if roomy && nix::unistd::access(shm, nix::unistd::AccessFlags::W_OK).is_ok() {
        shm.to_owned()
    } else {
        std::env::temp_dir()
    }
}

/// The value of `PARITY_JOB_TOKEN` a service and its children carry.
pub(crate) fn marker(tag: &str, name: &str) -> String {
    format!("{tag}/services/{name}")
}

impl Running {
    /// Stops the service: SIGTERM to its process group and to anything it
    /// started elsewhere, SIGKILL after the grace period; removes a data
    /// directory parity made.
    pub(crate) fn stop(mut self) {
        stop_process(
            self.identity.pid,
            &self.marker,
            self.child.take(),
            self.log_writer.take(),
        );
        if let Some(dir) = &self.temp_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// SIGKILL at once: the second Ctrl-C.
    pub(crate) fn kill_now(&self) {
        let mut targets = vec![Target::group(self.identity.pid)];
        targets.extend(
            marked(&self.marker, self.identity.pid)
                .iter()
                .map(|p| Target::process(p.pid)),
        );
        crate::exec::kill_now(&targets);
    }

    /// The process that writes a detached service's log.
    pub(crate) fn relay(&self) -> Option<Identity> {
        self.log_writer
            .as_ref()
            .and_then(LogWriter::relay)
            .and_then(Relay::identity)
    }

    /// Leaves the service, and the relay writing its log, running after
    /// parity exits (`services up`).
    pub(crate) fn detach(mut self) {
        drop(self.child.take());
        drop(self.log_writer.take());
    }
}

/// Stops a service process by pid (its group), plus marked stragglers.
pub(crate) fn stop_process(
    pid: i32,
    marker: &str,
    child: Option<OwnedChild>,
    log_writer: Option<LogWriter>,
) {
    let mut targets = vec![Target::group(pid)];
    targets.extend(marked(marker, pid).iter().map(|p| Target::process(p.pid)));
    terminate(&targets, GRACE);
    if let Some(mut child) = child {
        let _ = child.wait_for(Duration::from_secs(1));
    }
    // The log's writer ends when the last writer to its pipe is gone; wait
    // a little so the log is complete before anyone reads its tail.
    if let Some(mut log_writer) = log_writer {
        let deadline = Instant::now() + Duration::from_millis(500);
        while !log_writer.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_name_makes_a_short_distinct_log_name() {
        let dir = Path::new("/logs");
        assert_eq!(log_path(dir, "db"), Path::new("/logs/db.log"));
        let long = "s".repeat(300);
        let (a, b) = (log_path(dir, &long), log_path(dir, &format!("{long}x")));
        assert_ne!(a, b);
        for path in [a, b] {
            let name = path.file_name().unwrap().len();
            assert!(name < 255, "{name} bytes");
        }
    }
}

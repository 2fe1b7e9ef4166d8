//! Services as containers: on a network created for the run, reached by
//! name from job containers and by published ports from the host, each
//! gated by a readiness check before any job that uses it starts.

use super::compose::{ComposeService, PortMap};
use super::owned::Owned;
use super::{ContainerError, Engine, Labels};
use crate::pipeline::placeholder::render_known;
use crate::pipeline::{Pipeline, Preset, Probe, Service, ServiceKind};
use indexmap::IndexMap;
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Where services run, as chosen with `--services`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ServicesMode {
    /// Native where the service's program is installed, else a container.
    #[default]
    Auto,
    Native,
    Container,
}

/// The image presets run as in container mode, with their port.
pub const PRESET_IMAGES: [(Preset, &str, u16); 2] = [
    (Preset::Postgres, "postgres:16", 5432),
    (Preset::Redis, "redis:7", 6379),
];

/// A service to run as a container, fully resolved.
#[derive(Debug, Clone)]
pub struct ContainerService {
    pub name: String,
    pub image: String,
    pub env: IndexMap<String, String>,
    pub ports: Vec<PortMap>,
    /// The port `{{port}}` names, inside the container.
    pub port: u16,
    pub command: Option<Vec<String>>,
    check: Check,
    interval: Duration,
    timeout: Duration,
    url: UrlKind,
}

#[derive(Debug, Clone)]
enum UrlKind {
    Postgres {
        user: String,
        password: String,
        db: String,
    },
    Scheme(&'static str),
}

/// What "ready" means for a container service.
#[derive(Debug, Clone)]
enum Check {
    /// Runs inside the service's container and exits 0.
    Shell(String),
    Exec(Vec<String>),
    /// Something listens on this container port. Read from the container's
    /// own socket table: a published port always accepts connections, since
    /// the engine's proxy holds it, so connecting from the host proves nothing.
    Listen(u16),
    Http {
        url: String,
        status: u16,
    },
    Log {
        pattern: regex::Regex,
        times: u32,
    },
}

/// Where a service is placed for this run.
#[derive(Debug, Clone)]
pub enum Placement {
    Native,
    Container(Box<ContainerService>),
}

/// Whether the program a native service needs is installed here.
pub fn native_available(service: &Service) -> bool {
    match &service.kind {
        ServiceKind::Image(_) => false,
        ServiceKind::Command(_) => true,
        ServiceKind::Preset(Preset::Redis) => which::which("redis-server").is_ok(),
        ServiceKind::Preset(Preset::Postgres) => {
            which::which("postgres").is_ok()
                || which::which("pg_ctl").is_ok()
                || std::fs::read_dir("/usr/lib/postgresql")
                    .into_iter()
                    .flatten()
                    .flatten()
                    .any(|v| v.path().join("bin/postgres").is_file())
        }
    }
}

/// Decides where service `name` runs. Native where its program exists
/// (unless `--services container`), else a container: its own `image`, a
/// compose service of the same name, or its preset's image.
pub fn place(
    pipeline: &Pipeline,
    compose: &IndexMap<String, ComposeService>,
    name: &str,
    mode: ServicesMode,
    engine: bool,
) -> Result<Placement, ContainerError> {
    let service = pipeline.services.get(name);
    let native = service.is_some_and(native_available);
    if mode == ServicesMode::Native || (mode == ServicesMode::Auto && native) {
        if native {
            return Ok(Placement::Native);
        }
        if mode == ServicesMode::Native {
            return Err(ContainerError::Service {
                name: name.to_owned(),
                message: "cannot run natively: its program is not installed here".into(),
                help: Some(native_help(service)),
            });
        }
    }
    let resolved = resolve(pipeline, compose, name)?;
    if !engine {
        return Err(ContainerError::Service {
            name: name.to_owned(),
            message: "neither its program nor a container engine is available".into(),
            help: Some(format!(
                "{}; or install Docker or Podman to run it as a container",
                native_help(service)
            )),
        });
    }
    Ok(Placement::Container(Box::new(resolved)))
}

fn native_help(service: Option<&Service>) -> String {
    match service.map(|s| &s.kind) {
        Some(ServiceKind::Preset(Preset::Postgres)) => {
            "install PostgreSQL (Debian: `apt-get install postgresql`)".into()
        }
        Some(ServiceKind::Preset(Preset::Redis)) => {
            "install Redis (Debian: `apt-get install redis-server`)".into()
        }
        Some(ServiceKind::Image(_)) | None => "an `image` service runs only as a container".into(),
        Some(ServiceKind::Command(_)) => "its command must be on PATH".into(),
    }
}

/// The container form of a service, from the pipeline and the compose file.
fn resolve(
    pipeline: &Pipeline,
    compose: &IndexMap<String, ComposeService>,
    name: &str,
) -> Result<ContainerService, ContainerError> {
    let service = pipeline.services.get(name);
    let composed = compose.get(name);
    let preset = match service.map(|s| &s.kind) {
        Some(ServiceKind::Preset(p)) => Some(*p),
        _ => None,
    };
    let image = match (service.map(|s| &s.kind), composed) {
        (Some(ServiceKind::Image(image)), _) => image.clone(),
        (_, Some(c)) => c.image.clone(),
        (Some(ServiceKind::Preset(p)), None) => PRESET_IMAGES
            .iter()
            .find(|(q, _, _)| q == p)
            .map(|(_, image, _)| (*image).to_owned())
            .unwrap_or_default(),
        (Some(ServiceKind::Command(_)), None) | (None, None) => {
            return Err(ContainerError::Service {
                name: name.to_owned(),
                message: "has no container image".into(),
                help: Some(
                    "add `image = \"…\"` to it, or a service of the same name to the compose file"
                        .into(),
                ),
            })
        }
    };
    let mut env: IndexMap<String, String> = composed.map(|c| c.env.clone()).unwrap_or_default();
    if let Some(s) = service {
        env.extend(s.env.clone());
    }
    let mut ports: Vec<PortMap> = composed.map(|c| c.ports.clone()).unwrap_or_default();
    for text in service.map(|s| s.ports.as_slice()).unwrap_or_default() {
        ports.push(PortMap::parse(text).ok_or_else(|| ContainerError::Service {
            name: name.to_owned(),
            message: format!("cannot read the port mapping `{text}`"),
            help: Some("write ports as \"HOST:CONTAINER\" or \"CONTAINER\"".into()),
        })?);
    }
    let mut seen = Vec::new();
    ports.retain(|p| {
        let new = !seen.contains(&p.container);
        seen.push(p.container);
        new
    });
    let preset_port = preset.and_then(|p| {
        PRESET_IMAGES
            .iter()
            .find(|(q, _, _)| *q == p)
            .map(|(_, _, port)| *port)
    });
    let port = service
        .and_then(|s| s.port)
        .or(preset_port)
        .or_else(|| ports.first().map(|p| p.container))
        .ok_or_else(|| ContainerError::Service {
            name: name.to_owned(),
            message: "has no port to publish".into(),
            help: Some("give it `ports = [\"CONTAINER_PORT\"]` (or `port = N`)".into()),
        })?;
    if !ports.iter().any(|p| p.container == port) {
        ports.insert(
            0,
            PortMap {
                host: None,
                container: port,
            },
        );
    }
    let url = match preset {
        Some(Preset::Postgres) => {
            let user = env
                .get("POSTGRES_USER")
                .cloned()
                .unwrap_or_else(|| "postgres".into());
            let password = env
                .entry("POSTGRES_PASSWORD".into())
                .or_insert_with(|| "postgres".into())
                .clone();
            let db = env
                .get("POSTGRES_DB")
                .cloned()
                .unwrap_or_else(|| user.clone());
            UrlKind::Postgres { user, password, db }
        }
        Some(Preset::Redis) => UrlKind::Scheme("redis"),
        None => UrlKind::Scheme(scheme_for(&image)),
    };
    let own_inside = |text: &str| {
        render_known(text, |field| match field {
            "host" => Some("127.0.0.1".to_owned()),
            "port" => Some(port.to_string()),
            _ => None,
        })
    };
    let ready = service.and_then(|s| s.ready.clone());
    let health = composed.and_then(|c| c.healthcheck.clone());
    let (check, interval, timeout) = match (ready, health) {
        (Some(ready), _) => {
            let check = match &ready.probe {
                Probe::Exec(command) => Check::Shell(own_inside(command)),
                Probe::Tcp(_) => Check::Listen(port),
                Probe::Http { url, status } => Check::Http {
                    url: url.clone(),
                    status: *status,
                },
                Probe::Log { pattern, times } => Check::Log {
                    pattern: regex::Regex::new(pattern).map_err(|e| ContainerError::Service {
                        name: name.to_owned(),
                        message: format!("bad `ready.log` pattern: {e}"),
                        help: None,
                    })?,
                    times: *times,
                },
            };
            (check, ready.interval, ready.timeout)
        }
        (None, Some(health)) => {
            let check = match (health.exec, health.shell) {
                (Some(argv), _) => Check::Exec(argv),
                (None, Some(shell)) => Check::Shell(shell),
                (None, None) => Check::Listen(port),
            };
            (
                check,
                health.interval.min(Duration::from_millis(500)),
                health.timeout,
            )
        }
        (None, None) => match preset {
            Some(Preset::Postgres) => (
                Check::Shell(format!(
                    "pg_isready -h 127.0.0.1 -p {port} -U {}",
                    env.get("POSTGRES_USER").map_or("postgres", String::as_str)
                )),
                Duration::from_millis(250),
                Duration::from_secs(120),
            ),
            Some(Preset::Redis) => (
                Check::Shell("redis-cli ping".into()),
                Duration::from_millis(100),
                Duration::from_secs(60),
            ),
            None => (
                Check::Listen(port),
                Duration::from_millis(100),
                Duration::from_secs(60),
            ),
        },
    };
    Ok(ContainerService {
        name: name.to_owned(),
        image,
        env,
        ports,
        port,
        command: composed.and_then(|c| c.command.clone()),
        check,
        interval,
        timeout,
        url,
    })
}

/// A URL scheme guessed from the image name, for `{{url}}` of services
/// that are not presets.
fn scheme_for(image: &str) -> &'static str {
    let name = image.rsplit('/').next().unwrap_or(image);
    [
        ("postgres", "postgres"),
        ("redis", "redis"),
        ("mysql", "mysql"),
        ("mariadb", "mysql"),
        ("mongo", "mongodb"),
        ("rabbitmq", "amqp"),
    ]
    .iter()
    .find(|(prefix, _)| name.starts_with(prefix))
    .map_or("http", |(_, scheme)| scheme)
}

/// How a job reaches a service: its host, port and URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
    pub url: String,
}

impl Endpoint {
    pub fn field(&self, field: &str) -> Option<String> {
        match field {
            "host" => Some(self.host.clone()),
            "port" => Some(self.port.to_string()),
            "url" => Some(self.url.clone()),
            _ => None,
        }
    }
}

/// A started service container.
#[derive(Debug, Clone)]
pub struct Running {
    pub service: ContainerService,
    pub container: String,
    /// From the host: 127.0.0.1 and the published port.
    pub outside: Endpoint,
    /// From a job container on the run's network: the service's name and
    /// its own port.
    pub inside: Endpoint,
}

/// The run's service containers and their network.
pub struct ServiceContainers {
    engine: Engine,
    pub network: String,
    network_created: bool,
    pub running: Vec<Running>,
    /// Says "this run has containers to remove" until they are removed.
    marker: Option<std::path::PathBuf>,
}

impl ServiceContainers {
    /// An empty set on the run's network `name`; nothing is created until
    /// the first service starts.
    pub fn new(engine: &Engine, network: String) -> ServiceContainers {
        ServiceContainers {
            engine: engine.clone(),
            network,
            network_created: false,
            running: Vec::new(),
            marker: None,
        }
    }

    /// Creates the run's network (job containers join it too).
    pub fn create_network(&mut self, labels: &Labels) -> Result<(), ContainerError> {
        if self.network_created {
            return Ok(());
        }
        let mut args = vec!["network".to_owned(), "create".to_owned()];
        args.extend(labels.args());
        args.push(self.network.clone());
        self.marker = super::sweep::mark(&labels.root, &labels.run);
        self.engine.output(&args)?;
        self.network_created = true;
        Ok(())
    }

    /// Starts `service` and waits until it is ready. Placeholders in its
    /// env may name services started before it.
    pub fn start(
        &mut self,
        service: &ContainerService,
        labels: &Labels,
        log_dir: &Path,
        say: &dyn Fn(&str),
    ) -> Result<(), ContainerError> {
        self.create_network(labels)?;
        let container = format!("{}-{}", self.network, sanitize(&service.name));
        let inside_values: IndexMap<String, Endpoint> = self
            .running
            .iter()
            .map(|r| (r.service.name.clone(), r.inside.clone()))
            .collect();
        let render = |text: &str| {
            render_known(text, |name| {
                if let Some(rest) = name.strip_prefix("services.") {
                    let (svc, field) = rest.split_once('.')?;
                    return inside_values.get(svc)?.field(field);
                }
                match name {
                    "host" => Some(service.name.clone()),
                    "port" => Some(service.port.to_string()),
                    _ => None,
                }
            })
        };
        let mut args: Vec<String> = vec![
            "run".into(),
            "--detach".into(),
            "--name".into(),
            container.clone(),
        ];
        args.extend(labels.args());
        args.extend(["--label".into(), format!("parity.service={}", service.name)]);
        args.extend([
            "--network".into(),
            self.network.clone(),
            "--network-alias".into(),
            service.name.clone(),
        ]);
        for port in &service.ports {
            let host = port.host.map(|h| h.to_string()).unwrap_or_default();
            args.extend([
                "--publish".into(),
                format!("127.0.0.1:{host}:{}", port.container),
            ]);
        }
        let mut command = self.engine.command();
        for (key, value) in &service.env {
            args.extend(["--env".into(), key.clone()]);
            command.env(key, render(value));
        }
        args.push(service.image.clone());
        if let Some(words) = &service.command {
            args.extend(words.iter().cloned());
        }
        say(&format!(
            "starting service {} ({})",
            service.name, service.image
        ));
        let log = log_dir.join(format!("service-{}.log", sanitize(&service.name)));
        let file = std::fs::File::create(&log).map_err(|source| ContainerError::Write {
            path: log.clone(),
            source,
        })?;
        let copy = file.try_clone().map_err(|source| ContainerError::Write {
            path: log.clone(),
            source,
        })?;
        command
            .args(&args)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(copy);
        let mut client = Owned::spawn(&mut command).map_err(|e| ContainerError::Command {
            command: format!("{} run", self.engine.name()),
            detail: e.to_string(),
        })?;
        let status = client.wait_for(Duration::from_secs(600));
        if status.is_none_or(|s| !s.success()) {
            client.kill();
            let said = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(ContainerError::Service {
                name: service.name.clone(),
                message: format!(
                    "`{} run {}` failed: {}",
                    self.engine.name(),
                    service.image,
                    said.trim()
                ),
                help: Some(format!(
                    "is the image there? `{} images` lists them",
                    self.engine.name()
                )),
            });
        }
        let published =
            self.engine
                .output(["port", &container, &format!("{}/tcp", service.port)])?;
        let host_port = published
            .lines()
            .filter_map(|l| {
                l.rsplit_once(':')
                    .and_then(|(_, p)| p.trim().parse::<u16>().ok())
            })
            .next()
            .ok_or_else(|| ContainerError::Service {
                name: service.name.clone(),
                message: format!("port {} was not published (`{published}`)", service.port),
                help: None,
            })?;
        let outside = endpoint(&service.url, "127.0.0.1", host_port);
        let inside = endpoint(&service.url, &service.name, service.port);
        let running = Running {
            service: service.clone(),
            container: container.clone(),
            outside,
            inside,
        };
        // Kept before the readiness wait so a failure still removes it.
        self.running.push(running.clone());
        self.wait_ready(&running)
    }

    fn wait_ready(&self, running: &Running) -> Result<(), ContainerError> {
        let service = &running.service;
        let started = Instant::now();
        let mut pid: Option<i32> = None;
        let mut last = String::from("no check ran yet");
        loop {
            let state = self.engine.output([
                "inspect",
                "--format",
                "{{.State.Status}} {{.State.ExitCode}} {{.State.Pid}}",
                &running.container,
            ])?;
            let mut words = state.split_whitespace();
            let status = words.next().unwrap_or_default();
            let code = words.next().unwrap_or_default();
            pid = pid.or_else(|| words.next().and_then(|p| p.parse().ok()).filter(|p| *p > 0));
            if status == "exited" || status == "dead" {
                let logs = self.logs(&running.container);
                let tail: Vec<&str> = logs
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                return Err(ContainerError::Service {
                    name: service.name.clone(),
                    message: format!("its container exited with code {code} before it was ready"),
                    help: (!tail.is_empty())
                        .then(|| format!("its last output:\n{}", tail.join("\n"))),
                });
            }
            if status == "running" {
                match self.attempt(running, pid) {
                    Ok(()) => return Ok(()),
                    Err(seen) => last = seen,
                }
            }
            if started.elapsed() >= service.timeout {
                return Err(ContainerError::NotReady {
                    name: service.name.clone(),
                    after: service.timeout,
                    last,
                    engine: self.engine.name().to_owned(),
                    container: running.container.clone(),
                });
            }
            std::thread::sleep(service.interval);
        }
    }

    fn attempt(&self, running: &Running, pid: Option<i32>) -> Result<(), String> {
        let outside = |text: &str| render_known(text, |field| running.outside.field(field));
        match &running.service.check {
            Check::Shell(script) => self.exec(&running.container, &["sh", "-c", script]),
            Check::Exec(argv) => {
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                self.exec(&running.container, &argv)
            }
            Check::Listen(port) => match pid {
                Some(pid) => listening(pid, *port),
                None => Err("the container has no process yet".into()),
            },
            Check::Http { url, status } => http_get(&outside(url), *status),
            Check::Log { pattern, times } => {
                let seen = pattern.find_iter(&self.logs(&running.container)).count();
                if seen >= *times as usize {
                    Ok(())
                } else {
                    Err(format!(
                        "its output matched `{pattern}` {seen} of {times} times"
                    ))
                }
            }
        }
    }

    fn exec(&self, container: &str, argv: &[&str]) -> Result<(), String> {
        let mut args = vec!["exec", container];
        args.extend_from_slice(argv);
        self.engine.output(&args).map(|_| ()).map_err(|e| match e {
            ContainerError::Command { detail, .. } => {
                format!("`{}` failed: {detail}", argv.join(" "))
            }
            other => other.to_string(),
        })
    }

    fn logs(&self, container: &str) -> String {
        let out = self
            .engine
            .command()
            .args(["logs", container])
            .stdin(Stdio::null())
            .output();
        match out {
            Ok(out) => {
                let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
                text.push_str(&String::from_utf8_lossy(&out.stderr));
                text
            }
            Err(_) => String::new(),
        }
    }

    /// Removes every service container (newest first) and the network.
    pub fn stop(&mut self) {
        let names: Vec<String> = self.running.drain(..).rev().map(|r| r.container).collect();
        if !names.is_empty() {
            let mut args = vec![
                "rm".to_owned(),
                "--force".to_owned(),
                "--volumes".to_owned(),
            ];
            args.extend(names);
            let _ = self.engine.output(&args);
        }
        if self.network_created {
            let _ = self.engine.output(["network", "rm", &self.network]);
            self.network_created = false;
        }
        if let Some(marker) = self.marker.take() {
            let _ = std::fs::remove_file(marker);
        }
    }
}

impl Drop for ServiceContainers {
    fn drop(&mut self) {
        self.stop();
    }
}

fn endpoint(kind: &UrlKind, host: &str, port: u16) -> Endpoint {
    let url = match kind {
        UrlKind::Postgres { user, password, db } => format!(
            "postgres://{}:{}@{host}:{port}/{}",
            encode(user),
            encode(password),
            encode(db)
        ),
        UrlKind::Scheme(scheme) => format!("{scheme}://{host}:{port}"),
    };
    Endpoint {
        host: host.to_owned(),
        port,
        url,
    }
}

fn encode(component: &str) -> String {
    component
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A name fit for a container name: `[a-zA-Z0-9_.-]`.
pub(crate) fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// Whether a socket listens on `port` in the network namespace of `pid`,
/// read from `/proc/PID/net/tcp{,6}` (state `0A` is LISTEN).
fn listening(pid: i32, port: u16) -> Result<(), String> {
    let wanted = format!(":{port:04X}");
    let mut readable = false;
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        readable = true;
        let found = text.lines().skip(1).any(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            fields.get(1).is_some_and(|local| local.ends_with(&wanted))
                && fields.get(3) == Some(&"0A")
        });
        if found {
            return Ok(());
        }
    }
    if readable {
        Err(format!("nothing listens on port {port} yet"))
    } else {
        Err(format!(
            "cannot read the container's sockets (/proc/{pid}/net)"
        ))
    }
}

/// One plain-HTTP GET; `Ok` when the status is the expected one.
fn http_get(url: &str, expected: u16) -> Result<(), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}` is not an http:// URL"))?;
    let (authority, path) = match rest.find('/') {
        Some(at) => (&rest[..at], &rest[at..]),
        None => (rest, "/"),
    };
    let address = authority
        .to_socket_addrs()
        .map_err(|e| format!("{authority}: {e}"))?
        .next()
        .ok_or_else(|| format!("{authority}: no address"))?;
    let limit = Duration::from_secs(2);
    let mut stream =
        TcpStream::connect_timeout(&address, limit).map_err(|e| format!("GET {url}: {e}"))?;
    let _ = stream.set_read_timeout(Some(limit));
    let _ = stream.set_write_timeout(Some(limit));
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| format!("GET {url}: {e}"))?;
    let mut head = [0u8; 64];
    let n = stream
        .read(&mut head)
        .map_err(|e| format!("GET {url}: {e}"))?;
    let line = String::from_utf8_lossy(&head[..n]);
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok());
    match status {
        Some(s) if s == expected => Ok(()),
        Some(s) => Err(format!("GET {url} → {s}")),
        None => Err(format!("GET {url}: no HTTP answer")),
    }
}

/// Start order: each service after the services it `needs`.
pub fn start_order(pipeline: &Pipeline, wanted: &[String]) -> Vec<String> {
    fn visit(pipeline: &Pipeline, name: &str, seen: &mut Vec<String>) {
        if seen.iter().any(|s| s == name) {
            return;
        }
        if let Some(service) = pipeline.services.get(name) {
            for need in &service.needs {
                visit(pipeline, need, seen);
            }
        }
        seen.push(name.to_owned());
    }
    let mut order = Vec::new();
    for name in wanted {
        visit(pipeline, name, &mut order);
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_schemes() {
        let pg = UrlKind::Postgres {
            user: "app".into(),
            password: "p@ss".into(),
            db: "app".into(),
        };
        assert_eq!(
            endpoint(&pg, "db", 5432).url,
            "postgres://app:p%40ss@db:5432/app"
        );
        assert_eq!(scheme_for("docker.io/library/redis:7"), "redis");
        assert_eq!(scheme_for("my/web:1"), "http");
    }

    #[test]
    fn listening_reads_own_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        assert!(listening(std::process::id() as i32, port).is_ok());
        drop(listener);
        assert!(listening(std::process::id() as i32, port).is_err());
    }
}

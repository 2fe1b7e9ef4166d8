//! Services from an existing compose file (`compose = "…"` in parity.toml):
//! image, environment, ports, command and healthcheck, so a project's
//! `docker-compose.ci.yml` keeps working without a second copy in
//! `[services.*]`.

use super::ContainerError;
use crate::pipeline::{Service, ServiceKind};
use indexmap::IndexMap;
use saphyr::{LoadableYamlNode, Yaml};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// One service of a compose file, as parity uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeService {
    pub name: String,
    pub image: String,
    pub env: IndexMap<String, String>,
    pub ports: Vec<PortMap>,
    /// `command:` replaces the image's CMD; split into words.
    pub command: Option<Vec<String>>,
    pub healthcheck: Option<Healthcheck>,
}

/// `HOST:CONTAINER`, or a container port alone (published on a free port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PortMap {
    pub host: Option<u16>,
    pub container: u16,
}

impl PortMap {
    /// `"8080"`, `"18080:8080"`, `"127.0.0.1:18080:8080"`, `"8080/tcp"`.
    pub fn parse(text: &str) -> Option<PortMap> {
        let text = text.split('/').next()?.trim();
        let parts: Vec<&str> = text.rsplitn(3, ':').collect();
        let container = parts.first()?.parse().ok()?;
        let host = match parts.get(1) {
            Some(h) if !h.is_empty() => Some(h.parse().ok()?),
            _ => None,
        };
        Some(PortMap { host, container })
    }
}

/// A compose `healthcheck`, run inside the service's container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Healthcheck {
    /// `sh -c` text (`CMD-SHELL`, or a plain string).
    pub shell: Option<String>,
    /// Program and arguments (`CMD`).
    pub exec: Option<Vec<String>>,
    pub interval: Duration,
    /// How long parity waits for the first success.
    pub timeout: Duration,
}

/// The compose file's services as pipeline services (`image` services),
/// so jobs may list them in `services` like `[services.*]`.
pub(crate) fn pipeline_services(path: &Path) -> Result<Vec<Service>, ContainerError> {
    Ok(load(path)?
        .into_values()
        .map(|c| Service {
            name: c.name,
            kind: ServiceKind::Image(c.image),
            port: None,
            env: c.env,
            needs: Vec::new(),
            ready: None,
            data_dir: None,
            ports: c
                .ports
                .iter()
                .map(|p| match p.host {
                    Some(host) => format!("{host}:{}", p.container),
                    None => p.container.to_string(),
                })
                .collect(),
        })
        .collect())
}

/// Every service of the compose file at `path`, in file order. Services
/// that `build:` instead of naming an `image` are skipped: parity runs
/// images, the runner Dockerfile builds.
pub fn load(path: &Path) -> Result<IndexMap<String, ComposeService>, ContainerError> {
    let text = std::fs::read_to_string(path).map_err(|source| ContainerError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse(path, &text)
}

pub(crate) fn parse(
    path: &Path,
    text: &str,
) -> Result<IndexMap<String, ComposeService>, ContainerError> {
    let bad = |message: String, help: Option<&str>| ContainerError::Compose {
        path: PathBuf::from(path),
        message,
        help: help.map(str::to_owned),
    };
    let docs = Yaml::load_from_str(text).map_err(|e| bad(format!("not valid YAML: {e}"), None))?;
    let Some(doc) = docs.first() else {
        return Ok(IndexMap::new());
    };
    let Some(services) = doc.as_mapping_get("services") else {
        return Err(bad(
            "no top-level `services:`".into(),
            Some("a compose file lists its containers under `services:`"),
        ));
    };
    let Some(services) = services.as_mapping() else {
        return Err(bad("`services:` is not a mapping".into(), None));
    };
    let mut out = IndexMap::new();
    for (name, body) in services {
        let Some(name) = scalar(name) else { continue };
        let Some(image) = body.as_mapping_get("image").and_then(scalar) else {
            continue;
        };
        let env = environment(body.as_mapping_get("environment"));
        let mut ports = Vec::new();
        for port in body
            .as_mapping_get("ports")
            .and_then(Yaml::as_sequence)
            .into_iter()
            .flatten()
        {
            let parsed = if let Some(text) = scalar(port) {
                PortMap::parse(&text)
            } else {
                let target = port
                    .as_mapping_get("target")
                    .and_then(scalar)
                    .and_then(|t| t.parse().ok());
                let published = port
                    .as_mapping_get("published")
                    .and_then(scalar)
                    .and_then(|p| p.parse().ok());
                target.map(|container| PortMap {
                    host: published,
                    container,
                })
            };
            match parsed {
                Some(map) => ports.push(map),
                None => {
                    return Err(bad(
                        format!("service `{name}`: cannot read a port mapping"),
                        Some("write ports as \"HOST:CONTAINER\" or \"CONTAINER\""),
                    ))
                }
            }
        }
        let command = body.as_mapping_get("command").and_then(words);
        let healthcheck = body.as_mapping_get("healthcheck").and_then(healthcheck);
        out.insert(
            name.clone(),
            ComposeService {
                name,
                image,
                env,
                ports,
                command,
                healthcheck,
            },
        );
    }
    Ok(out)
}

/// Strings, numbers and booleans as the text compose would pass on.
fn scalar(node: &Yaml) -> Option<String> {
    if let Some(s) = node.as_str() {
        return Some(s.to_owned());
    }
    if let Some(i) = node.as_integer() {
        return Some(i.to_string());
    }
    if let Some(f) = node.as_floating_point() {
        return Some(f.to_string());
    }
    node.as_bool().map(|b| b.to_string())
}

/// `environment:` as a mapping or a list of `KEY=VALUE`.
fn environment(node: Option<&Yaml>) -> IndexMap<String, String> {
    let mut env = IndexMap::new();
    let Some(node) = node else { return env };
    if let Some(map) = node.as_mapping() {
        for (key, value) in map {
            if let Some(key) = scalar(key) {
                env.insert(key, scalar(value).unwrap_or_default());
            }
        }
    } else if let Some(list) = node.as_sequence() {
        for item in list.iter().filter_map(scalar) {
            match item.split_once('=') {
                Some((key, value)) => env.insert(key.to_owned(), value.to_owned()),
                None => env.insert(item, String::new()),
            };
        }
    }
    env
}

/// A string (split as a shell would) or a list of words.
fn words(node: &Yaml) -> Option<Vec<String>> {
    if let Some(text) = scalar(node) {
        return shlex::split(&text);
    }
    node.as_sequence()
        .map(|list| list.iter().filter_map(scalar).collect())
}

fn healthcheck(node: &Yaml) -> Option<Healthcheck> {
    if node.as_mapping_get("disable").and_then(Yaml::as_bool) == Some(true) {
        return None;
    }
    let test = node.as_mapping_get("test")?;
    let (shell, exec) = if let Some(text) = scalar(test) {
        (Some(text), None)
    } else {
        let list: Vec<String> = test.as_sequence()?.iter().filter_map(scalar).collect();
        match list.split_first() {
            Some((kind, rest)) if kind == "CMD-SHELL" => (Some(rest.join(" ")), None),
            Some((kind, rest)) if kind == "CMD" => (None, Some(rest.to_vec())),
            _ => return None,
        }
    };
    let duration = |key: &str| {
        node.as_mapping_get(key)
            .and_then(scalar)
            .and_then(|d| humantime::parse_duration(&d).ok())
    };
    let interval = duration("interval").unwrap_or(Duration::from_secs(30));
    let retries = node
        .as_mapping_get("retries")
        .and_then(Yaml::as_integer)
        .and_then(|r| u32::try_from(r).ok())
        .unwrap_or(3);
    let start = duration("start_period").unwrap_or_default();
    // compose gives up after start_period + retries × interval; parity polls
    // more often, so it waits that long at the least and a minute at most
    // unless the file asks for more.
    let timeout = (start + interval * retries).max(Duration::from_secs(60));
    Some(Healthcheck {
        shell,
        exec,
        interval,
        timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_image_env_ports_and_healthcheck() {
        let text = r#"
services:
  db:
    image: postgres:16
    environment:
      POSTGRES_PASSWORD: secret
      POSTGRES_DB: app
    ports: ["15432:5432"]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres"]
      interval: 2s
      retries: 5
  cache:
    image: redis:7
    environment: ["A=1", "B"]
    ports:
      - "6379"
      - target: 9000
        published: 19000
    command: redis-server --save ""
    healthcheck:
      test: ["CMD", "redis-cli", "ping"]
  app:
    build: .
"#;
        let services = parse(Path::new("compose.yml"), text).unwrap();
        assert_eq!(services.keys().collect::<Vec<_>>(), ["db", "cache"]);
        let db = &services["db"];
        assert_eq!(db.image, "postgres:16");
        assert_eq!(db.env["POSTGRES_DB"], "app");
        assert_eq!(
            db.ports,
            [PortMap {
                host: Some(15432),
                container: 5432
            }]
        );
        let check = db.healthcheck.as_ref().unwrap();
        assert_eq!(check.shell.as_deref(), Some("pg_isready -U postgres"));
        assert_eq!(check.interval, Duration::from_secs(2));
        let cache = &services["cache"];
        assert_eq!(cache.env["B"], "");
        assert_eq!(
            cache.ports[1],
            PortMap {
                host: Some(19000),
                container: 9000
            }
        );
        assert_eq!(
            cache.command.as_deref().unwrap(),
            ["redis-server", "--save", ""]
        );
        assert_eq!(
            cache.healthcheck.as_ref().unwrap().exec.as_deref().unwrap(),
            ["redis-cli", "ping"]
        );
    }

    #[test]
    fn port_forms() {
        assert_eq!(
            PortMap::parse("8080"),
            Some(PortMap {
                host: None,
                container: 8080
            })
        );
        assert_eq!(
            PortMap::parse("127.0.0.1:1:2/tcp"),
            Some(PortMap {
                host: Some(1),
                container: 2
            })
        );
        assert_eq!(PortMap::parse("x"), None);
    }
}

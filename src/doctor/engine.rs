//! The container engine: found, answering, and whether it runs rootless
//! (where root in a container is not root on the host).

use super::Check;
use crate::container::{Engine, EngineKind};
use crate::pipeline::{Pipeline, ServiceKind};

pub(super) fn check(pipeline: &Pipeline) -> Vec<Check> {
    let needed_by = needed_by(pipeline);
    let level_if_needed = |message: String, fix: Option<String>| match &needed_by {
        Some(_) => Check::fail("engine", message, fix),
        None => Check::warn(
            "engine",
            format!("{message}; only `parity run --container` and image services need one"),
            fix,
        ),
    };
    let engine = match Engine::find() {
        Ok(engine) => engine,
        Err(e) => {
            return vec![level_if_needed(
                e.to_string(),
                Some("install Docker or Podman".into()),
            )]
        }
    };
    if let Err(e) = engine.ping() {
        let fix = match engine.kind {
            EngineKind::Docker => "start the daemon (`sudo systemctl start docker`), or check DOCKER_HOST and `docker context ls`",
            EngineKind::Podman => "start the service (`systemctl --user start podman.socket`)",
        };
        return vec![level_if_needed(e.to_string(), Some(fix.into()))];
    }
    let version = engine
        .output(["version", "--format", "{{.Server.Version}}"])
        .unwrap_or_default();
    let rootless = match engine.kind {
        EngineKind::Docker => engine
            .output(["info", "--format", "{{json .SecurityOptions}}"])
            .map(|o| o.contains("rootless")),
        EngineKind::Podman => engine
            .output(["info", "--format", "{{.Host.Security.Rootless}}"])
            .map(|o| o.trim() == "true"),
    };
    let mode = match rootless {
        Ok(true) => "rootless",
        Ok(false) => "rootful: root in a container is root on this machine",
        Err(_) => "rootless or not: unknown",
    };
    let why = needed_by
        .map(|n| format!("; needed by {n}"))
        .unwrap_or_default();
    vec![Check::ok(
        "engine",
        format!("{} {version} answers ({mode}){why}", engine.name()),
    )]
}

/// What in the pipeline needs an engine, if anything.
fn needed_by(pipeline: &Pipeline) -> Option<String> {
    if pipeline.runner.is_some() {
        return Some("[runner]".into());
    }
    pipeline
        .services
        .values()
        .find(|s| matches!(s.kind, ServiceKind::Image(_)))
        .map(|s| format!("service `{}` (image)", s.name))
}

//! What the service presets need on this machine, and whether the ports
//! the pipeline fixes are free.

use super::Check;
use crate::pipeline::{Pipeline, Preset, ServiceKind};
use crate::report::tools::postgres_bin;
use std::net::TcpListener;

pub(super) fn binaries(pipeline: &Pipeline) -> Vec<Check> {
    let mut checks = Vec::new();
    let uses = |preset: Preset| -> Vec<&str> {
        pipeline
            .services
            .values()
            .filter(|s| s.kind == ServiceKind::Preset(preset))
            .map(|s| s.name.as_str())
            .collect()
    };
    let postgres = uses(Preset::Postgres);
    if !postgres.is_empty() {
        let missing: Vec<&str> = ["initdb", "postgres"]
            .into_iter()
            .filter(|bin| which::which(bin).is_err() && postgres_bin(bin).is_none())
            .collect();
        let names = postgres.join(", ");
        checks.push(if missing.is_empty() {
            let dir = postgres_bin("postgres")
                .or_else(|| which::which("postgres").ok())
                .and_then(|p| p.parent().map(|d| d.display().to_string()))
                .unwrap_or_default();
            Check::ok("services", format!("postgres preset ({names}): initdb and postgres in {dir}"))
        } else {
            Check::fail(
                "services",
                format!(
                    "postgres preset ({names}): {} not found on PATH nor under /usr/lib/postgresql/*/bin",
                    missing.join(" and ")
                ),
                Some("apt-get install postgresql (Debian/Ubuntu), brew install postgresql (macOS)".into()),
            )
        });
    }
    let redis = uses(Preset::Redis);
    if !redis.is_empty() {
        let names = redis.join(", ");
        checks.push(match which::which("redis-server") {
            Ok(path) => Check::ok(
                "services",
                format!("redis preset ({names}): {}", path.display()),
            ),
            Err(_) => Check::fail(
                "services",
                format!("redis preset ({names}): redis-server not found on PATH"),
                Some(
                    "apt-get install redis-server (Debian/Ubuntu), brew install redis (macOS)"
                        .into(),
                ),
            ),
        });
    }
    for service in pipeline.services.values() {
        let ServiceKind::Command(command) = &service.kind else {
            continue;
        };
        let Some(program) = shlex::split(command).and_then(|words| words.into_iter().next()) else {
            continue;
        };
        if program.contains("{{") {
            continue;
        }
        if program.contains('/') {
            if !pipeline.root.join(&program).exists() && !std::path::Path::new(&program).exists() {
                checks.push(Check::warn(
                    "services",
                    format!("service `{}`: {program} does not exist yet", service.name),
                    Some("build it first, or make a job that builds it a need of the jobs using the service".into()),
                ));
            }
        } else if which::which(&program).is_err() {
            checks.push(Check::fail(
                "services",
                format!("service `{}`: `{program}` is not on PATH", service.name),
                Some(format!("install {program}")),
            ));
        }
    }
    if checks.is_empty() && pipeline.services.is_empty() {
        checks.push(Check::ok("services", "no services defined"));
    }
    checks
}

pub(super) fn ports(pipeline: &Pipeline) -> Vec<Check> {
    let mut fixed: Vec<(u16, String)> = pipeline
        .services
        .values()
        .filter_map(|s| s.port.map(|p| (p, format!("service `{}`", s.name))))
        .collect();
    for service in pipeline.services.values() {
        for mapping in &service.ports {
            let host = mapping
                .rsplit_once(':')
                .map_or(mapping.as_str(), |(h, _)| h);
            let host = host.rsplit(':').next().unwrap_or(host);
            if let Ok(port) = host.parse::<u16>() {
                fixed.push((port, format!("service `{}` (ports)", service.name)));
            }
        }
    }
    if fixed.is_empty() {
        return vec![Check::ok("ports", "no fixed ports: parity picks free ones")];
    }
    fixed
        .into_iter()
        .map(|(port, owner)| match TcpListener::bind(("127.0.0.1", port)) {
            Ok(_) => Check::ok("ports", format!("{port} is free ({owner})")),
            Err(e) => Check::fail(
                "ports",
                format!("{port} is taken ({owner}): {e}"),
                Some(format!(
                    "stop what listens there (`ss -ltnp 'sport = :{port}'` shows it), or remove `port` so parity picks a free one"
                )),
            ),
        })
        .collect()
}

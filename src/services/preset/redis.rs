//! The `redis` preset: `redis-server` in the foreground on a loopback port,
//! with persistence off (no RDB snapshots, no AOF), as a throwaway store.
//!
//! `REDIS_PASSWORD` sets `requirepass` (as the Bitnami image does) and
//! `REDIS_ARGS` adds server arguments (as redis-stack's image does).

use super::super::probe::Check;
use super::super::spec::Spec;
use super::super::ServiceError;
use super::{encode, Launch};

pub(super) fn url(spec: &Spec, host: &str, port: u16) -> String {
    match spec.env.get("REDIS_PASSWORD").filter(|p| !p.is_empty()) {
        Some(password) => format!("redis://:{}@{host}:{port}", encode(password)),
        None => format!("redis://{host}:{port}"),
    }
}

pub(super) fn prepare(
    spec: &Spec,
    port: u16,
    data_dir: &std::path::Path,
) -> Result<Launch, ServiceError> {
    let program = which::which("redis-server").map_err(|_| ServiceError::ProgramNotFound {
        what: "`redis-server`".into(),
        help: "install Redis (Debian/Ubuntu: `apt-get install redis-server`), or put redis-server on PATH".into(),
    })?;
    let mut args: Vec<String> = [
        "--port",
        &port.to_string(),
        // `-::1`: IPv6 loopback when the machine has it, without failing when not.
        "--bind",
        "127.0.0.1",
        "-::1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--protected-mode",
        "no",
        "--daemonize",
        "no",
        "--dir",
        &data_dir.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    if let Some(password) = spec.env.get("REDIS_PASSWORD").filter(|p| !p.is_empty()) {
        args.extend(["--requirepass".to_owned(), password.clone()]);
    }
    if let Some(extra) = spec.env.get("REDIS_ARGS") {
        let words = shlex::split(extra).ok_or_else(|| ServiceError::Config {
            name: spec.name.clone(),
            message: format!("cannot split REDIS_ARGS `{extra}` into arguments"),
            help: Some("check its quotes".into()),
        })?;
        args.extend(words);
    }
    Ok(Launch {
        program,
        args,
        run_as: None,
        // With nothing to load from disk, accepting connections is being ready.
        check: Check::Tcp(format!("127.0.0.1:{port}")),
    })
}

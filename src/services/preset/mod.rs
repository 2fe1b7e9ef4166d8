//! Built-in presets: how to prepare, start and probe PostgreSQL and Redis
//! from the binaries already on the machine.

mod postgres;
mod redis;
mod template;

use super::probe::Check;
use super::spec::Spec;
use super::user::RunAs;
use super::ServiceError;
use crate::pipeline::Preset;
use std::path::{Path, PathBuf};

/// A prepared server: the program to exec and how to tell it is ready.
pub(crate) struct Launch {
    pub(crate) program: PathBuf,
    pub(crate) args: Vec<String>,
    /// Set when the server must not run as root.
    pub(crate) run_as: Option<RunAs>,
    pub(crate) check: Check,
}

/// The URL a preset hands to jobs as `{{url}}` and `NAME_URL`.
pub(crate) fn url(
    preset: Preset,
    spec: &Spec,
    host: &str,
    port: u16,
) -> Result<String, ServiceError> {
    match preset {
        Preset::Postgres => Ok(postgres::Settings::from_spec(spec)?.url(host, port)),
        Preset::Redis => Ok(redis::url(spec, host, port)),
    }
}

/// Gets the data directory ready (for postgres: a cluster from the template
/// cache, or `initdb`) and says how to start the server. Setup output goes
/// to the service's log.
pub(crate) fn prepare(
    preset: Preset,
    spec: &Spec,
    port: u16,
    data_dir: &Path,
    log: &Path,
) -> Result<Launch, ServiceError> {
    match preset {
        Preset::Postgres => postgres::prepare(spec, port, data_dir, log),
        Preset::Redis => redis::prepare(spec, port, data_dir),
    }
}

/// Whether the preset's server runs as an unprivileged account when parity
/// is root, so its data directory must belong to that account.
pub(crate) fn needs_unprivileged(preset: Preset) -> bool {
    preset == Preset::Postgres
}

/// Percent-encodes a URL component (user, password, database).
pub(crate) fn encode(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    for byte in component.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(super::encode("p@ss:w/rd ok"), "p%40ss%3Aw%2Frd%20ok");
        assert_eq!(super::encode("plain-1.2_x~"), "plain-1.2_x~");
    }
}

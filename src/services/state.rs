//! `.parity/services/`: what `parity services up` started, so later
//! commands (status, logs, down) find it. One JSON file per service, next to
//! its log.

use super::identity::Identity;
use super::probe::Check;
use super::values::Values;
use crate::report::STATE_DIR;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ServiceState {
    pub(crate) name: String,
    pub(crate) identity: Identity,
    pub(crate) marker: String,
    pub(crate) values: Values,
    pub(crate) log: PathBuf,
    pub(crate) temp_dir: Option<PathBuf>,
    /// Seconds since the Unix epoch.
    pub(crate) started: u64,
    pub(crate) check: Check,
    pub(crate) probe_env: Vec<(String, String)>,
    pub(crate) probe_cwd: PathBuf,
    /// The process that writes the service's log, masked (`relay.rs`);
    /// absent in states written before there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) relay: Option<Identity>,
}

/// `ROOT/.parity/services`, created with the state dir's `.gitignore`.
pub(crate) fn dir(root: &Path) -> std::io::Result<PathBuf> {
    let state = root.join(STATE_DIR);
    let dir = state.join("services");
    std::fs::create_dir_all(&dir)?;
    let ignore = state.join(".gitignore");
    if !ignore.exists() {
        std::fs::write(ignore, "*\n")?;
    }
    Ok(dir)
}

fn file(dir: &Path, name: &str) -> PathBuf {
    super::launch::log_path(dir, name).with_extension("json")
}

pub(crate) fn load(dir: &Path, name: &str) -> Option<ServiceState> {
    let text = std::fs::read_to_string(file(dir, name)).ok()?;
    serde_json::from_str(&text).ok()
}

pub(crate) fn save(dir: &Path, state: &ServiceState) -> std::io::Result<()> {
    let path = file(dir, &state.name);
    let temp = path.with_extension("json.tmp");
    std::fs::write(
        &temp,
        serde_json::to_string_pretty(state).map_err(std::io::Error::other)?,
    )?;
    std::fs::rename(temp, path)
}

pub(crate) fn remove(dir: &Path, name: &str) {
    let _ = std::fs::remove_file(file(dir, name));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let root = tempfile::tempdir().unwrap();
        let dir = dir(root.path()).unwrap();
        let state = ServiceState {
            name: "db".into(),
            identity: Identity::me().unwrap(),
            marker: "m".into(),
            values: Values {
                host: "127.0.0.1".into(),
                port: 1,
                url: "u".into(),
                data_dir: "/d".into(),
            },
            log: dir.join("db.log"),
            temp_dir: None,
            started: 0,
            check: Check::Tcp("127.0.0.1:1".into()),
            probe_env: Vec::new(),
            probe_cwd: "/".into(),
            relay: Identity::me(),
        };
        save(&dir, &state).unwrap();
        let loaded = load(&dir, "db").unwrap();
        assert_eq!(loaded.identity, state.identity);
        assert_eq!(loaded.relay, state.relay);
        remove(&dir, "db");
        assert!(load(&dir, "db").is_none());
        assert!(root.path().join(".parity/.gitignore").exists());
    }
}

//! What a killed parity leaves behind, and cleaning it up at the next start.
//!
//! A `parity run` writes `.parity/active/<run id>.json` naming itself and
//! each service it started (pid and start time). A run that ends normally
//! removes it. When parity dies by SIGKILL nothing runs its cleanup, so every
//! later `parity run` and `parity services …` looks for records whose parity
//! is gone and stops what they name, plus every process still carrying the
//! run's marker (services' children and steps' leftovers). Recorded pids are
//! only signalled while their start time matches: never a stranger.

use super::identity::Identity;
use super::launch::stop_process;
use crate::exec::{describe, terminate, Target, GRACE, MARKER_VAR};
use crate::report::STATE_DIR;
use serde::{Deserialize, Serialize};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Debug, Default, Serialize, Deserialize)]
struct RunRecord {
    run_id: String,
    parity: Option<Identity>,
    services: Vec<RecordedService>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct RecordedService {
    pub(crate) name: String,
    pub(crate) identity: Identity,
    pub(crate) marker: String,
    pub(crate) temp_dir: Option<PathBuf>,
}

/// The record of the run in progress.
pub(crate) struct ActiveRun {
    path: PathBuf,
    record: Mutex<RunRecord>,
}

fn active_dir(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("active")
}

impl ActiveRun {
    pub(crate) fn create(root: &Path, run_id: &str) -> std::io::Result<ActiveRun> {
        let dir = active_dir(root);
        std::fs::create_dir_all(&dir)?;
        let run = ActiveRun {
            path: dir.join(format!("{run_id}.json")),
            record: Mutex::new(RunRecord {
                run_id: run_id.to_owned(),
                parity: Identity::me(),
                services: Vec::new(),
            }),
        };
        run.save();
        Ok(run)
    }

    pub(crate) fn add(&self, service: RecordedService) {
        self.lock().services.push(service);
        self.save();
    }

    pub(crate) fn remove(&self, name: &str) {
        self.lock().services.retain(|s| s.name != name);
        self.save();
    }

    /// The run ended and stopped everything itself.
    pub(crate) fn finish(&self) {
        let _ = std::fs::remove_file(&self.path);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, RunRecord> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn save(&self) {
        let text = match serde_json::to_string_pretty(&*self.lock()) {
            Ok(text) => text,
            Err(_) => return,
        };
        let temp = self.path.with_extension("json.tmp");
        if std::fs::write(&temp, text).is_ok() {
            let _ = std::fs::rename(&temp, &self.path);
        }
    }
}

/// Stops what runs killed before they could clean up left running; returns
/// one line per such run for the user.
pub fn recover(root: &Path) -> Vec<String> {
    let mut notes = Vec::new();
    let Ok(entries) = std::fs::read_dir(active_dir(root)) else {
        return notes;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension() != Some(OsStr::new("json")) {
            continue;
        }
        let record: RunRecord = match std::fs::read_to_string(&path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
        {
            Some(record) => record,
            None => {
                let _ = std::fs::remove_file(&path);
                continue;
            }
        };
        if record.parity.as_ref().is_some_and(Identity::alive) {
            continue; // a run in progress
        }
        let mut stopped = Vec::new();
        for service in &record.services {
            if service.identity.alive() {
                stop_process(service.identity.pid, &service.marker, None, None);
                stopped.push(format!(
                    "service {} (pid {})",
                    service.name, service.identity.pid
                ));
            }
            if let Some(dir) = &service.temp_dir {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
        let strays = marked_with_prefix(&format!("{}/", record.run_id));
        if !strays.is_empty() {
            stopped.extend(
                strays
                    .iter()
                    .map(|(pid, command)| format!("{command} (pid {pid})")),
            );
            let targets: Vec<Target> = strays
                .iter()
                .map(|(pid, _)| Target::process(*pid))
                .collect();
            terminate(&targets, GRACE);
        }
        let _ = std::fs::remove_file(&path);
        if !stopped.is_empty() {
            notes.push(format!(
                "run {} ended without cleaning up (parity was killed); stopped {}",
                record.run_id,
                stopped.join(", ")
            ));
        }
    }
    notes
}

/// Live processes whose marker starts with `prefix`.
fn marked_with_prefix(prefix: &str) -> Vec<(i32, String)> {
    let me = std::process::id() as i32;
    let Ok(all) = procfs::process::all_processes() else {
        return Vec::new();
    };
    all.flatten()
        .filter(|p| p.pid() != me)
        .filter(|p| {
            p.environ()
                .ok()
                .and_then(|env| env.get(OsStr::new(MARKER_VAR)).cloned())
                .is_some_and(|value| value.as_bytes().starts_with(prefix.as_bytes()))
        })
        .filter(|p| p.stat().is_ok_and(|s| s.state != 'Z'))
        .map(|p| (p.pid(), describe(&p)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_live_runs_record_is_left_alone_and_a_dead_ones_is_cleaned() {
        let dir = tempfile::tempdir().unwrap();
        let run = ActiveRun::create(dir.path(), "r1").unwrap();
        assert!(recover(dir.path()).is_empty());
        assert!(
            active_dir(dir.path()).join("r1.json").exists(),
            "parity is alive: kept"
        );

        // A record whose parity is gone, naming a live stranger under a wrong
        // start time: the stranger survives, the record goes.
        let mut stranger = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let mut identity = Identity::of(stranger.id() as i32).unwrap();
        identity.start_time += 7;
        let record = RunRecord {
            run_id: "r2".into(),
            parity: Some(Identity {
                pid: i32::MAX - 1,
                start_time: 1,
                boot_id: String::new(),
            }),
            services: vec![RecordedService {
                name: "db".into(),
                identity,
                marker: "r2/services/db".into(),
                temp_dir: None,
            }],
        };
        let path = active_dir(dir.path()).join("r2.json");
        std::fs::write(&path, serde_json::to_string(&record).unwrap()).unwrap();
        recover(dir.path());
        assert!(!path.exists());
        assert!(
            stranger.try_wait().unwrap().is_none(),
            "a stranger is never killed"
        );
        stranger.kill().unwrap();
        let _ = stranger.wait();
        run.finish();
    }
}

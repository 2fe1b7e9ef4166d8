//! Cleaning up after a parity that was killed before it could: containers
//! and networks labelled with a pipeline root and the pid of a parity on
//! this host that no longer runs are removed.

use super::{hostname, Engine, HOST_LABEL, PID_LABEL, ROOT_LABEL};
use std::path::Path;

/// Removes leftovers of dead runs of the pipeline at `root`; returns how
/// many containers it removed. Errors are ignored: cleanup is best effort
/// and must not stop a run.
pub fn sweep(engine: &Engine, root: &Path) -> usize {
    let filter = format!("label={ROOT_LABEL}={}", root.display());
    let format =
        format!("{{{{.ID}}}}\t{{{{.Label \"{PID_LABEL}\"}}}}\t{{{{.Label \"{HOST_LABEL}\"}}}}");
    let here = hostname();
    let dead = |text: String| -> Vec<String> {
        text.lines()
            .filter_map(|line| {
                let mut parts = line.split('\t');
                let id = parts.next()?.to_owned();
                let pid: i32 = parts.next()?.parse().ok()?;
                let host = parts.next().unwrap_or_default();
                (host == here && !alive(pid)).then_some(id)
            })
            .collect()
    };
    let containers = engine
        .output(["ps", "--all", "--filter", &filter, "--format", &format])
        .map(dead)
        .unwrap_or_default();
    if !containers.is_empty() {
        let mut args = vec![
            "rm".to_owned(),
            "--force".to_owned(),
            "--volumes".to_owned(),
        ];
        args.extend(containers.iter().cloned());
        let _ = engine.output(&args);
    }
    let networks = engine
        .output(["network", "ls", "--filter", &filter, "--format", &format])
        .map(dead)
        .unwrap_or_default();
    if !networks.is_empty() {
        let mut args = vec!["network".to_owned(), "rm".to_owned()];
        args.extend(networks);
        let _ = engine.output(&args);
    }
    containers.len()
}

/// Where runs that start containers outliving a SIGKILL (services) say so:
/// job containers end with parity by themselves, so a run without services
/// leaves nothing and the next run need not ask the engine.
fn markers(root: &Path) -> std::path::PathBuf {
    root.join(".parity").join("containers")
}

/// Records that run `run` (this process) is creating service containers.
pub(crate) fn mark(root: &Path, run: &str) -> Option<std::path::PathBuf> {
    let dir = markers(root);
    std::fs::create_dir_all(&dir).ok()?;
    let path = dir.join(run);
    std::fs::write(&path, std::process::id().to_string()).ok()?;
    Some(path)
}

/// Whether a run that created service containers died without removing
/// them; its marker is removed, since the sweep that follows cleans up.
pub(crate) fn needed(root: &Path) -> bool {
    let mut stale = false;
    for entry in std::fs::read_dir(markers(root))
        .into_iter()
        .flatten()
        .flatten()
    {
        let pid = std::fs::read_to_string(entry.path())
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
            .unwrap_or(0);
        if !alive(pid) {
            stale = true;
            let _ = std::fs::remove_file(entry.path());
        }
    }
    stale
}

fn alive(pid: i32) -> bool {
    pid > 0 && Path::new(&format!("/proc/{pid}")).exists()
}

//! The runs kept under `.parity/runs/`: finding one by id, prefix or path,
//! listing them newest first, and pruning the oldest.

use super::record::{RecordError, RunRecord, FILE_NAME};
use super::run_dir::{self, STATE_DIR};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Runs kept when `PARITY_KEEP_RUNS` does not say otherwise.
pub const DEFAULT_KEEP: usize = 50;

/// The variable that changes how many runs are kept.
pub const KEEP_VAR: &str = "PARITY_KEEP_RUNS";

#[derive(Debug, Error, miette::Diagnostic)]
pub enum RunLookupError {
    #[error("no run `{given}` under {}", dir.display())]
    #[diagnostic(code(parity::no_such_run), help("`parity runs` lists the recorded runs; a path to a run directory or run.json works too"))]
    NotFound { given: String, dir: PathBuf },
    #[error("`{given}` matches {count} runs")]
    #[diagnostic(code(parity::ambiguous_run), help("give more of the id: {candidates}"))]
    Ambiguous {
        given: String,
        count: usize,
        candidates: String,
    },
    #[error("no run has been recorded under {}", dir.display())]
    #[diagnostic(code(parity::no_runs), help("`parity run` records one"))]
    NoRuns { dir: PathBuf },
    #[error(transparent)]
    #[diagnostic(transparent)]
    Record(#[from] RecordError),
}

/// A run found on disk.
#[derive(Debug)]
pub struct FoundRun {
    /// The run directory (holding the logs).
    pub dir: PathBuf,
    pub record: RunRecord,
}

/// `.parity/runs` under a pipeline root.
pub fn runs_dir(root: &Path) -> PathBuf {
    root.join(STATE_DIR).join("runs")
}

/// Run directories, oldest first: ids start with the run's start time to
/// the millisecond, so their order is the order the runs began in.
pub fn run_dirs(root: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(runs_dir(root))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            !name.starts_with('.')
                && name != "latest"
                && entry.file_type().is_ok_and(|t| t.is_dir())
        })
        .map(|entry| entry.path())
        .collect();
    dirs.sort();
    dirs
}

/// Finds a run by id, unique id prefix, `latest`, `latest~N` (N runs before
/// the latest), a run directory or a `run.json` path.
pub fn find(root: &Path, given: &str) -> Result<FoundRun, RunLookupError> {
    let as_path = Path::new(given);
    if as_path.is_file() {
        let dir = as_path
            .parent()
            .map_or_else(|| PathBuf::from("."), Path::to_owned);
        return Ok(FoundRun {
            record: RunRecord::read(as_path)?,
            dir,
        });
    }
    if as_path.join(FILE_NAME).is_file() && given.contains('/') {
        return Ok(FoundRun {
            record: RunRecord::read(&as_path.join(FILE_NAME))?,
            dir: as_path.to_owned(),
        });
    }
    let recorded: Vec<PathBuf> = run_dirs(root)
        .into_iter()
        .filter(|d| d.join(FILE_NAME).is_file())
        .collect();
    let dir = runs_dir(root);
    if recorded.is_empty() {
        return Err(RunLookupError::NoRuns { dir });
    }
    let back = match given {
        "latest" => Some(0),
        _ => given
            .strip_prefix("latest~")
            .and_then(|n| n.parse::<usize>().ok()),
    };
    let chosen = if let Some(back) = back {
        recorded.iter().rev().nth(back).cloned()
    } else {
        let matches: Vec<&PathBuf> = recorded
            .iter()
            .filter(|d| {
                d.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(given))
            })
            .collect();
        match matches.as_slice() {
            [one] => Some((*one).clone()),
            [] => None,
            many => {
                let candidates: Vec<String> = many
                    .iter()
                    .rev()
                    .take(5)
                    .filter_map(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                    .collect();
                return Err(RunLookupError::Ambiguous {
                    given: given.to_owned(),
                    count: many.len(),
                    candidates: candidates.join(", "),
                });
            }
        }
    };
    let dir = chosen.ok_or_else(|| RunLookupError::NotFound {
        given: given.to_owned(),
        dir,
    })?;
    Ok(FoundRun {
        record: RunRecord::read(&dir.join(FILE_NAME))?,
        dir,
    })
}

/// How many runs to keep: `PARITY_KEEP_RUNS`, else [`DEFAULT_KEEP`].
/// `0` keeps every run.
pub fn keep_from_env() -> Result<usize, String> {
    match std::env::var(KEEP_VAR) {
        Ok(text) => text.trim().parse().map_err(|_| {
            format!("{KEEP_VAR}={text:?} is not a number of runs; keeping the last {DEFAULT_KEEP}")
        }),
        Err(_) => Ok(DEFAULT_KEEP),
    }
}

/// Deletes all but the newest `keep` run directories (never `current`, nor
/// a run another parity is still making). Returns how many were removed;
/// what is left, in use or failing to go, is for a later run to retry.
pub fn prune(root: &Path, keep: usize, current: &Path) -> usize {
    if keep == 0 {
        return 0;
    }
    let dirs = run_dirs(root);
    let excess = dirs.len().saturating_sub(keep);
    dirs.iter()
        .take(excess)
        .filter(|dir| dir.as_path() != current && !run_dir::in_use(dir))
        .filter(|dir| std::fs::remove_dir_all(dir).is_ok())
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prune_keeps_the_newest_by_id() {
        let root = tempfile::tempdir().unwrap();
        // Created out of time order: the id decides, not the creation.
        for id in [
            "20260101T000000.300Z-0001",
            "20260101T000000.100Z-ffff",
            "20260101T000000.200Z-8888",
        ] {
            std::fs::create_dir_all(runs_dir(root.path()).join(id)).unwrap();
        }
        let current = runs_dir(root.path()).join("20260101T000000.300Z-0001");
        assert_eq!(prune(root.path(), 2, &current), 1);
        let left: Vec<String> = run_dirs(root.path())
            .iter()
            .map(|d| d.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            left,
            ["20260101T000000.200Z-8888", "20260101T000000.300Z-0001"]
        );
    }
}

//! `parity runs`: the recorded runs, newest first.

use super::Cli;
use crate::error::Error;
use crate::exit_code;
use crate::report::record::{RunRecord, FILE_NAME};
use crate::report::{print_json, print_out, runs, short_duration};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub(super) struct RunsArgs {
    /// How many runs to show.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 20)]
    limit: usize,

    /// Print JSON: one object per run.
    #[arg(long)]
    json: bool,
}

pub(super) fn runs(cli: &Cli, args: &RunsArgs) -> Result<i32, Error> {
    let root = state_root(cli);
    let mut rows = Vec::new();
    for dir in runs::run_dirs(&root).into_iter().rev() {
        if rows.len() >= args.limit {
            break;
        }
        // A run still going, or one that died, has no record: listed as such.
        let record = RunRecord::read(&dir.join(FILE_NAME)).ok();
        let id = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        rows.push((id, record));
    }
    if args.json {
        let values: Vec<serde_json::Value> = rows
            .iter()
            .map(|(id, record)| match record {
                Some(r) => serde_json::json!({
                    "id": id,
                    "started_at": r.started_at,
                    "result": r.result,
                    "duration_ms": r.duration_ms,
                    "jobs": counts(r),
                    "commit": r.fingerprint.git.commit,
                    "dirty": r.fingerprint.git.dirty,
                }),
                None => serde_json::json!({ "id": id, "result": null }),
            })
            .collect();
        print_json(&values);
        return Ok(exit_code::SUCCESS);
    }
    if rows.is_empty() {
        print_out(&format!(
            "no runs recorded under {} yet; `parity run` records one\n",
            runs::runs_dir(&root).display()
        ));
        return Ok(exit_code::SUCCESS);
    }
    let table: Vec<[String; 6]> = rows
        .iter()
        .map(|(id, record)| match record {
            Some(r) => [
                id.clone(),
                r.started_at
                    .get(..19)
                    .unwrap_or(&r.started_at)
                    .replace('T', " "),
                r.result.clone(),
                short_duration(Duration::from_millis(r.duration_ms)),
                counts(r)
                    .iter()
                    .map(|(result, n)| format!("{n} {}", result.replace('_', " ")))
                    .collect::<Vec<_>>()
                    .join(", "),
                match (&r.fingerprint.git.commit, r.fingerprint.git.dirty) {
                    (Some(c), Some(true)) => format!("{}+dirty", c.get(..10).unwrap_or(c)),
                    (Some(c), _) => c.get(..10).unwrap_or(c).to_owned(),
                    (None, _) => "-".into(),
                },
            ],
            None => [
                id.clone(),
                "-".into(),
                "(no record)".into(),
                "-".into(),
                String::new(),
                String::new(),
            ],
        })
        .collect();
    let header = ["run", "started (UTC)", "result", "time", "jobs", "commit"].map(str::to_owned);
    let mut widths = [0usize; 6];
    for row in std::iter::once(&header).chain(&table) {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&table) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    print_out(&out);
    Ok(exit_code::SUCCESS)
}

/// How many jobs ended each way, in the order results first appear.
fn counts(record: &RunRecord) -> indexmap::IndexMap<String, usize> {
    let mut counts = indexmap::IndexMap::new();
    for job in &record.jobs {
        *counts.entry(job.result.clone()).or_insert(0) += 1;
    }
    counts
}

/// Where runs are kept: next to the pipeline file when there is one (as
/// `parity run` keeps them), else the working directory.
pub(super) fn state_root(cli: &Cli) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let file = match &cli.file {
        Some(file) => Some(file.clone()),
        None => crate::pipeline::Pipeline::discover(&cwd).ok(),
    };
    file.and_then(|f| std::path::absolute(f).ok())
        .and_then(|f| f.parent().map(PathBuf::from))
        .unwrap_or(cwd)
}

//! `parity report [RUN]`: a run's HTML timeline, written to a file.

use super::runs::state_root;
use super::Cli;
use crate::error::Error;
use crate::exit_code;
use crate::report::{html, print_out, runs, InsightError};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(super) struct ReportArgs {
    /// The run: an id (or its start), `latest`, `latest~1`, a run directory
    /// or a run.json.
    #[arg(value_name = "RUN", default_value = "latest")]
    run: String,

    /// Where to write the page (default: report.html in the run directory).
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,

    /// Open the page in the default browser.
    #[arg(long)]
    open: bool,
}

pub(super) fn report(cli: &Cli, args: &ReportArgs) -> Result<i32, Error> {
    let root = state_root(cli);
    let found = runs::find(&root, &args.run).map_err(InsightError::from)?;
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| found.dir.join(html::FILE_NAME));
    html::write(&found.record, &found.dir, &path).map_err(|source| InsightError::Write {
        path: path.clone(),
        source,
    })?;
    print_out(&format!("{}\n", path.display()));
    if args.open {
        opener::open(&path).map_err(|source| InsightError::Open { path, source })?;
    }
    Ok(exit_code::SUCCESS)
}

//! `parity diff A B`: which jobs changed result between two runs, and what
//! in their environments differs.

use super::runs::state_root;
use super::Cli;
use crate::error::Error;
use crate::exit_code;
use crate::report::{diff, print_json, print_out, runs, InsightError};

#[derive(Debug, clap::Args)]
pub(super) struct DiffArgs {
    /// The run to compare from (id, `latest~1`, run directory or run.json).
    #[arg(value_name = "RUN_A", default_value = "latest~1")]
    a: String,

    /// The run to compare to; e.g. a CI run's run.json downloaded as an artifact.
    #[arg(value_name = "RUN_B", default_value = "latest")]
    b: String,

    /// Print JSON instead.
    #[arg(long)]
    json: bool,
}

pub(super) fn diff(cli: &Cli, args: &DiffArgs) -> Result<i32, Error> {
    let root = state_root(cli);
    let a = runs::find(&root, &args.a).map_err(InsightError::from)?;
    let b = runs::find(&root, &args.b).map_err(InsightError::from)?;
    let changes = diff::compare(&a.record, &b.record);
    if args.json {
        print_json(&changes);
    } else {
        print_out(&changes.human());
    }
    Ok(exit_code::SUCCESS)
}

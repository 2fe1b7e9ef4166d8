//! `parity doctor`: tool pins, container engine, service binaries, ports,
//! local secrets and the generated workflow, one line each.

use super::Cli;
use crate::doctor::{self, Level};
use crate::error::Error;
use crate::exit_code;
use crate::report::{print_json, print_out};

#[derive(Debug, clap::Args)]
pub(super) struct DoctorArgs {
    /// Print JSON: one object per check.
    #[arg(long)]
    json: bool,
}

pub(super) fn doctor(cli: &Cli, args: &DoctorArgs) -> Result<i32, Error> {
    let pipeline = cli.pipeline()?;
    let checks = doctor::examine(&pipeline);
    if args.json {
        print_json(&checks);
    } else {
        print_out(&doctor::render(&checks));
    }
    Ok(if checks.iter().any(|c| c.level == Level::Fail) {
        exit_code::FAILED
    } else {
        exit_code::SUCCESS
    })
}

//! `parity man`: the man page (roff), generated from the clap definitions.

use super::Cli;
use crate::error::Error;
use crate::exit_code;
use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub(super) struct ManArgs {}

pub(super) fn man(_args: &ManArgs) -> Result<i32, Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(Error::Start)?;
    crate::report::print_out(&String::from_utf8_lossy(&out));
    Ok(exit_code::SUCCESS)
}

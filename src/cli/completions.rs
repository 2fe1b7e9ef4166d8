//! `parity completions SHELL`: shell completions, generated from the same
//! clap definitions the binary parses with, so they never drift.

use super::Cli;
use crate::error::Error;
use crate::exit_code;
use clap::CommandFactory;

#[derive(Debug, clap::Args)]
pub(super) struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

pub(super) fn completions(args: &CompletionsArgs) -> Result<i32, Error> {
    let mut command = Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "parity", &mut out);
    crate::report::print_out(&String::from_utf8_lossy(&out));
    Ok(exit_code::SUCCESS)
}

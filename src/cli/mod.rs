//! Command-line entry: argument definitions and dispatch, one file per subcommand.

mod list;
mod run;

use crate::error::Error;
use crate::exit_code;
use crate::pipeline::Pipeline;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(name = "parity", version, about = "One pipeline, every machine: run your CI pipeline locally exactly as CI does")]
struct Cli {
    /// The pipeline file (default: parity.toml here or in a parent directory).
    #[arg(long, short = 'f', global = true, value_name = "PATH", env = "PARITY_FILE")]
    file: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the pipeline, or the named jobs and what they need.
    Run(run::RunArgs),
    /// Show jobs, their needs, switches and matrix instances.
    List(list::ListArgs),
}

/// Runs parity with the process arguments and returns the exit code.
pub fn main() -> i32 {
    install_error_renderer();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { exit_code::USAGE } else { exit_code::SUCCESS };
        }
    };
    let result = match &cli.command {
        Command::Run(args) => run::run(&cli, args),
        Command::List(args) => list::list(&cli, args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            let code = error.exit_code();
            eprintln!("{:?}", miette::Report::new(error));
            code
        }
    }
}

impl Cli {
    fn pipeline(&self) -> Result<Pipeline, Error> {
        let path = match &self.file {
            Some(path) => path.clone(),
            None => {
                let cwd = std::env::current_dir().map_err(Error::Start)?;
                Pipeline::discover(&cwd)?
            }
        };
        Ok(Pipeline::load(&path)?)
    }
}

/// Errors point at the pipeline file with one line of context around the
/// caret; colour and unicode only where a terminal reads them.
fn install_error_renderer() {
    let _ = miette::set_hook(Box::new(|_| {
        Box::new(
            miette::MietteHandlerOpts::new()
                .context_lines(1)
                .terminal_links(false)
                .build(),
        )
    }));
}

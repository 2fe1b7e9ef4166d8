//! `parity init`: write a starter `parity.toml` from the repository, or
//! `--from` a GitHub Actions workflow.

use super::Cli;
use crate::error::Error;
use crate::exit_code;
use crate::init::{self, InitError};
use crate::pipeline::FILE_NAME;
use crate::report::print_out;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(super) struct InitArgs {
    /// Import this GitHub Actions workflow instead of looking at the repository.
    #[arg(long, value_name = "WORKFLOW")]
    from: Option<PathBuf>,

    /// Print the pipeline instead of writing it.
    #[arg(long)]
    stdout: bool,
}

pub(super) fn init(cli: &Cli, args: &InitArgs) -> Result<i32, Error> {
    let cwd = std::env::current_dir().map_err(Error::Start)?;
    let target = cli.file.clone().unwrap_or_else(|| cwd.join(FILE_NAME));
    let target = std::path::absolute(&target).unwrap_or(target);
    if !args.stdout && target.exists() {
        return Err(InitError::Exists { path: target }.into());
    }
    let root = target.parent().map_or_else(|| cwd.clone(), PathBuf::from);
    let text = match &args.from {
        Some(workflow) => {
            let shown = workflow
                .strip_prefix(&root)
                .unwrap_or(workflow)
                .display()
                .to_string();
            init::from_workflow(workflow, &shown)?
        }
        None => init::from_repository(&root),
    };
    init::validate(&target, &text)?;
    if args.stdout {
        print_out(&text);
        return Ok(exit_code::SUCCESS);
    }
    init::write_new(&target, &text)?;
    let shown = target
        .strip_prefix(&cwd)
        .unwrap_or(&target)
        .display()
        .to_string();
    print_out(&format!(
        "wrote {shown}; `parity list` shows its jobs, `parity run` runs them, `parity doctor` checks this machine\n"
    ));
    Ok(exit_code::SUCCESS)
}

//! Command-line entry: argument definitions and dispatch, one file per subcommand.

mod cache;
mod check;
mod compare;
mod completions;
mod deploy;
mod devcontainer;
mod diff;
mod doctor;
mod gen;
mod hook;
mod image;
mod init;
mod list;
mod man;
mod report;
mod run;
mod runs;
mod services;
mod shell;

use crate::error::Error;
use crate::exit_code;
use crate::pipeline::Pipeline;
use crate::report::{errln, print_out};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "parity",
    version,
    about = "One pipeline, every machine: run your CI pipeline locally exactly as CI does"
)]
struct Cli {
    /// The pipeline file (default: parity.toml here or in a parent directory).
    #[arg(
        long,
        short = 'f',
        global = true,
        value_name = "PATH",
        env = "PARITY_FILE"
    )]
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
    /// Write the CI workflow that runs each job with `parity run --job`.
    Gen(gen::GenArgs),
    /// Build or list the runner image, tagged by the hash of what builds it.
    Image(image::ImageArgs),
    /// An interactive shell in the runner image, services started, their env set.
    Shell(shell::ShellArgs),
    /// Fail when a generated workflow or the hook is stale, or a workflow step bypasses parity.
    Check(check::CheckArgs),
    /// Install or remove the pre-push hook that runs the fast profile.
    Hook(hook::HookArgs),
    /// The recorded runs, newest first.
    Runs(runs::RunsArgs),
    /// Write a run's HTML timeline: jobs and services as bars, logs, environment.
    Report(report::ReportArgs),
    /// The pipeline's services for local development: up, down, status, logs.
    Services(services::ServicesArgs),
    /// Check this machine against the pipeline: tool pins, engine, services, ports, secrets, workflow.
    Doctor(doctor::DoctorArgs),
    /// Write a starter parity.toml from the repository, or `--from` a GitHub Actions workflow.
    Init(init::InitArgs),
    /// Compare two runs: changed results and environment differences, likeliest cause first.
    Diff(diff::DiffArgs),
    /// Deploy a commit to an environment: serialized, stale-guarded, recorded.
    Deploy(deploy::DeployArgs),
    /// The local cache: `stats`, `gc`, and `explain JOB` (why it runs or is a hit).
    Cache(cache::CacheArgs),
    /// Print shell completions: `parity completions bash > /etc/bash_completion.d/parity`.
    Completions(completions::CompletionsArgs),
    /// Print the man page (roff): `parity man > parity.1`.
    Man(man::ManArgs),
    /// Write a service's output, masked, to its log: what `services up`
    /// leaves running beside each service (internal).
    #[command(name = crate::services::relay::COMMAND, hide = true)]
    ServiceLog(services::ServiceLogArgs),
}

/// Runs parity with the process arguments and returns the exit code.
pub fn main() -> i32 {
    install_error_renderer();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit_code::USAGE
            } else {
                exit_code::SUCCESS
            };
        }
    };
    let result = match &cli.command {
        Command::Run(args) => run::run(&cli, args),
        Command::List(args) => list::list(&cli, args),
        Command::Gen(args) => gen::gen(&cli, args),
        Command::Image(args) => image::image(&cli, args),
        Command::Shell(args) => shell::shell(&cli, args),
        Command::Check(args) => check::check(&cli, args),
        Command::Hook(args) => hook::hook(&cli, args),
        Command::Runs(args) => runs::runs(&cli, args),
        Command::Report(args) => report::report(&cli, args),
        Command::Services(args) => services::services(&cli, args),
        Command::Diff(args) => diff::diff(&cli, args),
        Command::Doctor(args) => doctor::doctor(&cli, args),
        Command::Init(args) => init::init(&cli, args),
        Command::Deploy(args) => deploy::deploy(&cli, args),
        Command::Cache(args) => cache::cache(&cli, args),
        Command::Completions(args) => completions::completions(args),
        Command::Man(args) => man::man(args),
        Command::ServiceLog(args) => services::service_log(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            let code = error.exit_code();
            if crate::report::actions::under_actions() {
                print_out(&crate::report::actions::error_annotations(&error));
            }
            errln!("{:?}", miette::Report::new(error));
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

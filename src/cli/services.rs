//! `parity services up/down/status/logs`: the pipeline's services for local
//! development, left running between commands.

use super::Cli;
use crate::error::Error;
use crate::report::{errln, outln};
use crate::services::{self, Health, LocalServices, ServiceError};
use crate::{env_file, exit_code};
use indexmap::IndexMap;
use std::io::IsTerminal;
use std::os::fd::AsFd;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(super) struct ServicesArgs {
    #[command(subcommand)]
    command: ServicesCommand,

    /// Read variables from this dotenv file too (after .env.ci.local).
    #[arg(long, value_name = "PATH", global = true)]
    env_file: Vec<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum ServicesCommand {
    /// Start services (default: all) with what they need, and leave them running.
    Up {
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
    /// Stop services (default: all) and those that need them.
    Down {
        #[arg(value_name = "NAME")]
        names: Vec<String>,
    },
    /// Each service: running or not, healthy now or not, where to reach it.
    Status,
    /// Print a service's log.
    Logs {
        /// Keep printing what the service writes, until Ctrl-C. (`-F`, as in
        /// `tail -F`: `-f` is parity's global `--file`.)
        #[arg(long, short = 'F')]
        follow: bool,
        #[arg(value_name = "NAME")]
        name: String,
    },
}

/// `parity service-log NAME`: see `services/relay.rs`.
#[derive(Debug, clap::Args)]
pub(super) struct ServiceLogArgs {
    /// The service, so that `ps` tells one relay from another.
    #[arg(value_name = "NAME")]
    name: String,
}

/// Copies standard input, masked, to standard output (the log file), which
/// the relay writes unbuffered so probes see each line at once. Its
/// standard error goes nowhere: it has no one to tell, so failing is its
/// exit code. Started from a terminal, it is someone trying it by hand, who
/// would otherwise wait on it for nothing.
pub(super) fn service_log(_args: &ServiceLogArgs) -> Result<i32, Error> {
    if std::io::stdin().is_terminal() {
        return Err(ServiceError::RelayByHand {
            command: services::relay::COMMAND,
        }
        .into());
    }
    let log = std::io::stdout()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from);
    Ok(
        match log.and_then(|log| services::relay::serve(std::io::stdin().lock(), log)) {
            Ok(()) => exit_code::SUCCESS,
            Err(_) => exit_code::FAILED,
        },
    )
}

pub(super) fn services(cli: &Cli, args: &ServicesArgs) -> Result<i32, Error> {
    let pipeline = cli.pipeline()?;
    for note in services::recover(&pipeline.root) {
        errln!("warning: {note}");
    }
    if pipeline.services.is_empty() && !matches!(args.command, ServicesCommand::Logs { .. }) {
        outln!(
            "{} has no [services.NAME]: nothing to start, stop or show",
            pipeline.path.display()
        );
        return Ok(exit_code::SUCCESS);
    }
    let env_values = env_file::load(&pipeline.root, &args.env_file)?;
    let mut ambient: IndexMap<String, String> = std::env::vars().collect();
    ambient.extend(env_values.clone());
    // Masked in what is shown, as in a run: the declared secrets, and the
    // env-file values whose names say they are credentials.
    let secrets = crate::secrets::collect(&pipeline, &ambient, &env_values).set;
    let local = LocalServices::new(&pipeline, env_values.into_iter().collect(), secrets);
    let print = |line: &str| outln!("{line}");
    match &args.command {
        ServicesCommand::Up { names } => {
            if let Err(failure) = local.up(names, &print) {
                if !failure.tail.is_empty() {
                    errln!(
                        "── {}: last {} lines of {} ──",
                        failure.service,
                        failure.tail.len(),
                        failure.log.display()
                    );
                    for line in &failure.tail {
                        errln!("{line}");
                    }
                    errln!("──");
                }
                return Err(failure.error.into());
            }
        }
        ServicesCommand::Down { names } => local.down(names, &print)?,
        ServicesCommand::Status => {
            let rows = local.status()?;
            let width = rows.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
            outln!(
                "{:width$}  {:9}  {:>7}  {:>8}  URL",
                "NAME",
                "STATE",
                "PID",
                "UPTIME"
            );
            for row in rows {
                let state = match &row.state {
                    Health::Ready => "ready".to_owned(),
                    Health::NotReady(_) => "not ready".to_owned(),
                    Health::Stopped => "stopped".to_owned(),
                    Health::Stale => "stale".to_owned(),
                };
                let pid = row.pid.map(|p| p.to_string()).unwrap_or_else(|| "-".into());
                let uptime = row
                    .uptime
                    .map(crate::report::short_duration)
                    .unwrap_or_else(|| "-".into());
                let mut url = row.url.unwrap_or_else(|| "-".into());
                if let Health::NotReady(seen) = &row.state {
                    url.push_str(&format!("  ({seen})"));
                }
                if row.state == Health::Stale {
                    url = "recorded pid belongs to another program now; state dropped".into();
                }
                outln!(
                    "{:width$}  {state:9}  {pid:>7}  {uptime:>8}  {url}",
                    row.name
                );
            }
        }
        ServicesCommand::Logs { follow, name } => {
            let path = local.log_path(name)?;
            let mut out = std::io::stdout().lock();
            if let Err(e) = services::print_log(&path, local.secrets(), *follow, &mut out) {
                if e.kind() == std::io::ErrorKind::NotFound {
                    errln!("error: {name} has no log yet ({} does not exist); `parity services up {name}` starts it", path.display());
                    return Ok(exit_code::FAILED);
                }
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    errln!("error: cannot read {}: {e}", path.display());
                    return Ok(exit_code::FAILED);
                }
            }
        }
    }
    Ok(exit_code::SUCCESS)
}

//! `parity deploy`: ship a commit to an environment, and read the ledgers.

use super::Cli;
use crate::deploy::{self, DeployError, Request, LEASE_ENV, REMOTE_ENV};
use crate::error::Error;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, clap::Args)]
#[command(
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    after_help = "Deploys to one environment never overlap, a commit older than the live one is refused, \
                  and every deploy is recorded in refs/parity/deploys/ENV on the remote."
)]
pub(super) struct DeployArgs {
    #[command(subcommand)]
    action: Option<Action>,

    /// The `[deploy.ENV]` environment to deploy to.
    #[arg(value_name = "ENV", required = true)]
    environment: Option<String>,

    /// The commit to deploy (default: HEAD); deployed from a clean checkout.
    #[arg(long, value_name = "REV")]
    commit: Option<String>,

    /// Deploy a commit older than the live one, on purpose (recorded).
    #[arg(long)]
    rollback: bool,

    /// Wait for the environment's lock when another deploy holds it (default).
    #[arg(long, overrides_with = "no_wait")]
    wait: bool,

    /// Fail at once, saying who holds the lock, instead of waiting.
    #[arg(long, overrides_with = "wait")]
    no_wait: bool,

    /// How long the lock outlives its holder's last renewal (default: the
    /// environment's `lease`, else 2m).
    // Parsed when deploying, not by clap: clap would also reject a bad
    // PARITY_DEPLOY_LEASE for `deploy log` and `deploy status`.
    #[arg(long, value_name = "DURATION", env = LEASE_ENV)]
    lease: Option<String>,

    #[command(flatten)]
    remote: RemoteArg,

    /// Read variables from this dotenv file too (after .env.ci.local).
    #[arg(long, value_name = "PATH")]
    env_file: Vec<PathBuf>,

    /// Stream every line on a terminal too.
    #[arg(long, short = 'v')]
    verbose: bool,
}

#[derive(Debug, clap::Args)]
struct RemoteArg {
    /// The git remote that holds the ledgers (default: origin, or the only remote).
    #[arg(long, value_name = "NAME", env = REMOTE_ENV, global = true)]
    remote: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// The deploys of an environment, newest first.
    Log {
        #[arg(value_name = "ENV")]
        environment: String,
        /// At most this many deploys.
        #[arg(long, short = 'n', value_name = "N")]
        limit: Option<usize>,
        /// Print JSON, one object per deploy.
        #[arg(long)]
        json: bool,
    },
    /// Each environment's live commit and lock.
    Status {
        /// Print JSON, one object per environment.
        #[arg(long)]
        json: bool,
    },
    /// Break an environment's lock now (recorded); for a holder known to be gone.
    Unlock {
        #[arg(value_name = "ENV")]
        environment: String,
        /// Confirms that the lock's holder is gone.
        #[arg(long)]
        force: bool,
    },
}

/// A lease: a duration longer than zero.
fn parse_lease(text: &str) -> Option<Duration> {
    humantime::parse_duration(text)
        .ok()
        .filter(|d| !d.is_zero())
}

pub(super) fn deploy(cli: &Cli, args: &DeployArgs) -> Result<i32, Error> {
    let pipeline = cli.pipeline()?;
    let remote = args.remote.remote.as_deref().filter(|r| !r.is_empty());
    let result = match &args.action {
        Some(Action::Log {
            environment,
            limit,
            json,
        }) => deploy::log(&pipeline, environment, remote, *limit, *json),
        Some(Action::Status { json }) => deploy::status(&pipeline, remote, *json),
        Some(Action::Unlock { environment, force }) => {
            deploy::unlock(&pipeline, environment, remote, *force)
        }
        None => {
            let lease = match args.lease.as_deref() {
                Some(text) => Some(parse_lease(text).ok_or_else(|| {
                    Error::Deploy(Box::new(DeployError::BadLease {
                        value: text.to_owned(),
                        origin: format!("--lease or {LEASE_ENV}"),
                    }))
                })?),
                None => None,
            };
            let request = Request {
                environment: args.environment.clone().unwrap_or_default(),
                commit: args.commit.clone(),
                rollback: args.rollback,
                wait: !args.no_wait,
                lease,
                remote: remote.map(str::to_owned),
                env_files: args.env_file.clone(),
                verbose: args.verbose,
            };
            deploy::deploy(&pipeline, &request)
        }
    };
    result.map_err(|e: DeployError| Error::Deploy(Box::new(e)))
}

//! Reading the ledgers: `deploy log NAME`, `deploy status`, and the one
//! write that is not a deploy, `deploy unlock NAME --force`.

use super::entry::{now_ms, timestamp};
use super::git::short;
use super::history::{records, render};
use super::identity::Actor;
use super::ledger::{Ledger, Snapshot};
use super::lock;
use super::run::{environment, open};
use super::store::{Place, Store};
use super::DeployError;
use crate::exit_code;
use crate::pipeline::Pipeline;
use crate::report::{errln, print_json, print_out};
use std::sync::Arc;
use std::time::Duration;

/// The ledger where it lives; when the remote cannot be reached, this
/// clone's copy (as of its last deploy or fetch), with a warning: reading
/// must work on a plane too.
fn read(
    pipeline: &Pipeline,
    name: &str,
    remote: Option<&str>,
) -> Result<(Arc<Ledger>, Snapshot), DeployError> {
    let (git, ledger) = open(pipeline, name, remote)?;
    match (ledger.snapshot(), ledger.store().place()) {
        (Err(DeployError::Git { stderr, .. }), Place::Remote(remote)) => {
            errln!(
                "warning: cannot read the ledger of {name} on remote `{remote}` ({stderr}); \
                 showing this clone's copy, which may be behind"
            );
            let reference = ledger.store().reference().to_owned();
            let local = Arc::new(Ledger::new(
                &git,
                Store::new(&git, Place::Local, reference),
                name,
            ));
            let snapshot = local.snapshot()?;
            Ok((local, snapshot))
        }
        (snapshot, _) => Ok((ledger, snapshot?)),
    }
}

/// Prints the deploys of `name`, newest first (at most `limit`).
pub fn log(
    pipeline: &Pipeline,
    name: &str,
    remote: Option<&str>,
    limit: Option<usize>,
    json: bool,
) -> Result<i32, DeployError> {
    let (ledger, snapshot) = read(pipeline, name, remote)?;
    let Some(tip) = snapshot.tip else {
        // An environment removed from the file still has its ledger; one
        // with neither is most likely a typo.
        environment(pipeline, name)?;
        if json {
            print_out("[]\n");
        } else {
            print_out(&format!("no deploys to {name} yet\n"));
        }
        return Ok(exit_code::SUCCESS);
    };
    let mut rows = records(&ledger.history(&tip)?);
    rows.truncate(limit.unwrap_or(usize::MAX));
    if json {
        print_json(&rows);
    } else {
        print_out(&render(&rows));
    }
    Ok(exit_code::SUCCESS)
}

/// Prints every environment's live commit and lock.
pub fn status(pipeline: &Pipeline, remote: Option<&str>, json: bool) -> Result<i32, DeployError> {
    let mut rows = Vec::new();
    for name in pipeline.deploys.keys() {
        let (_, snapshot) = read(pipeline, name, remote)?;
        rows.push((name.clone(), snapshot.state));
    }
    if json {
        let values: Vec<serde_json::Value> = rows
            .iter()
            .map(|(name, state)| {
                serde_json::json!({
                    "environment": name,
                    "live": state.live,
                    "lock": state.lock,
                    "lock_expired": state.lock.as_ref().map(|l| lock::expired(l, Duration::ZERO, now_ms())),
                })
            })
            .collect();
        print_json(&values);
        return Ok(exit_code::SUCCESS);
    }
    if rows.is_empty() {
        print_out(&format!(
            "{} has no `[deploy.NAME]` environments\n",
            pipeline.path.display()
        ));
        return Ok(exit_code::SUCCESS);
    }
    let table: Vec<[String; 4]> = rows
        .iter()
        .map(|(name, state)| {
            let (live, deployed) = match &state.live {
                Some(live) => (
                    short(&live.commit).to_owned(),
                    format!("{} by {}", timestamp(live.at_ms), live.actor.describe()),
                ),
                None => ("-".to_owned(), "never".to_owned()),
            };
            let lock = match &state.lock {
                None => "free".to_owned(),
                Some(l) if lock::expired(l, Duration::ZERO, now_ms()) => {
                    format!("lease expired: {}", l.describe())
                }
                Some(l) => format!("locked: {}", l.describe()),
            };
            [name.clone(), live, deployed, lock]
        })
        .collect();
    let header = ["environment", "live", "deployed", "lock"].map(str::to_owned);
    let widths: Vec<usize> = (0..3)
        .map(|i| {
            table
                .iter()
                .chain([&header])
                .map(|row| row[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in [&header].into_iter().chain(&table) {
        out.push_str(&format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}\n",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        ));
    }
    print_out(&out);
    Ok(exit_code::SUCCESS)
}

/// Clears `name`'s lock, whoever holds it, and records that in the ledger.
pub fn unlock(
    pipeline: &Pipeline,
    name: &str,
    remote: Option<&str>,
    force: bool,
) -> Result<i32, DeployError> {
    if !force {
        return Err(DeployError::UnlockNeedsForce {
            environment: name.to_owned(),
        });
    }
    let (git, ledger) = open(pipeline, name, remote)?;
    match lock::unlock(&ledger, &Actor::detect(&git))? {
        Some(held) => print_out(&format!(
            "parity: unlocked {name}; it was {}\n",
            held.describe()
        )),
        None => print_out(&format!("parity: {name} was not locked\n")),
    }
    Ok(exit_code::SUCCESS)
}

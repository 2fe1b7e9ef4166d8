//! Deploys: serialized per environment, stale commits refused, every deploy
//! recorded, with the same guarantees from CI and from a laptop.
//!
//! The ledger of an environment is the git ref `refs/parity/deploys/NAME`
//! (`ledger`, `entry`): on the remote when there is one (`store`), changed
//! only by compare-and-swap. The lock is a "deploying" entry at its tip,
//! with a lease its holder renews (`lock`); a file lock serializes one
//! machine (`file_lock`). `guard` refuses commits off the branch or older
//! than live; `run` puts it together around `exec`.

mod checkout;
mod entry;
mod error;
mod file_lock;
mod git;
mod guard;
mod history;
mod identity;
mod ledger;
mod lock;
mod run;
mod status;
mod store;

pub use entry::{Entry, Event, Live, Lock, State};
pub use error::DeployError;
pub use history::{Record, Status};
pub use identity::{Actor, Trigger};
pub use run::{deploy, Request};
pub use status::{log, status, unlock};

/// The environment variable that overrides every environment's `lease`
/// (handy for tests and for one-off long deploys).
pub const LEASE_ENV: &str = "PARITY_DEPLOY_LEASE";
/// The environment variable naming the remote that holds the ledgers.
pub const REMOTE_ENV: &str = "PARITY_DEPLOY_REMOTE";

//! Services: PostgreSQL, Redis and the project's own servers, started
//! natively from the binaries on the machine, handed to jobs through
//! placeholders and `NAME_*` variables, and always stopped.
//!
//! In processing order: `spec` (definitions and start order) → `preset`
//! (postgres, redis) → `launch` (one service: data dir, port, process, log,
//! readiness via `probe`) → `pool` (a run's services, shared by its jobs) or
//! `local` (`parity services up/down/status/logs`, whose logs a `relay`
//! process writes once parity has exited). `leftovers` cleans up
//! after a parity that was killed; `identity` makes sure only our own
//! processes are ever signalled.

mod child;
mod error;
mod identity;
mod launch;
mod leftovers;
mod local;
mod log;
mod pool;
mod port;
mod preset;
mod probe;
pub mod relay;
mod spec;
mod state;
mod user;
mod values;

pub use error::ServiceError;
pub use leftovers::recover;
pub use local::{Health, LocalServices, Status};
pub use pool::{Lifetime, ServicePool, StartFailure};
pub use values::{env_prefix, ServiceValues, Values};

/// Writes a service log to `out` with secrets masked; `follow` keeps going.
pub fn print_log(
    path: &std::path::Path,
    secrets: &crate::secrets::SecretSet,
    follow: bool,
    out: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    log::print(path, secrets, follow, out)
}

//! The seam where a job's steps leave the host: a `Sandbox` decides which
//! jobs run elsewhere (the container module's runner containers) and opens
//! an `Enclosure` per job, in which the job's steps run one after another
//! and share their processes, as they do on the host.

use super::outcome::StepEnd;
use super::plan::PlannedJob;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

/// Runs some of a plan's jobs somewhere other than the host.
pub trait Sandbox: Send + Sync {
    /// Whether job `index` of the plan runs here; the others run on the host.
    fn contains(&self, index: usize) -> bool;

    /// Prepares the place job `index` runs in. `env` is every variable its
    /// steps get.
    fn open(&self, index: usize, job: &PlannedJob, env: &[(String, String)]) -> io::Result<Opened>;
}

/// A job's enclosure and the streams its output arrives on.
pub struct Opened {
    pub enclosure: Arc<dyn Enclosure>,
    /// Read to their end by the job's output pumps.
    pub outputs: Vec<Box<dyn Read + Send>>,
}

/// One job's place to run steps, e.g. its container.
pub trait Enclosure: Send + Sync {
    /// Runs one step to its end with `shell … -c script` in `cwd`.
    fn run_step(&self, shell: &[String], script: &str, cwd: &Path) -> Result<(), StepEnd>;
    /// Stops whatever runs inside at once (timeout, Ctrl-C, fail-fast);
    /// called from another thread while `run_step` waits.
    fn kill(&self);
    /// Ends the enclosure when the job is done: anything its steps left
    /// running is stopped and the enclosure removed.
    fn close(&self);
}

//! Showing and recording runs: the console, the summary table, run directories,
//! and what is kept of each run (record, JUnit, HTML timeline) to compare runs.

pub mod actions;
mod console;
pub mod diff;
mod duration;
pub mod fingerprint;
pub mod html;
mod insight;
pub mod junit;
pub mod record;
mod recorder;
mod run_dir;
pub mod runs;
mod summary;
pub mod tools;

pub(crate) use console::{errln, outln};
pub use console::{print_err, print_json, print_out, Console, Style};
pub use duration::short as short_duration;
pub use insight::{Finished, Insight, InsightError, JunitError};
pub use run_dir::{RunDir, STATE_DIR};
pub use summary::table as summary_table;

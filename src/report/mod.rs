//! Showing and recording runs: the console, the summary table, run directories.

mod console;
mod duration;
mod run_dir;
mod summary;

pub use console::{print_out, Console, Style};
pub use duration::short as short_duration;
pub use run_dir::{RunDir, STATE_DIR};
pub use summary::table as summary_table;

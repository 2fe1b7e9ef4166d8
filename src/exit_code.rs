//! The exit codes parity promises, in one place.

/// Every job passed (or was skipped on purpose).
pub const SUCCESS: i32 = 0;
/// A step failed or timed out.
pub const FAILED: i32 = 1;
/// Bad usage or a bad pipeline file.
pub const USAGE: i32 = 2;
/// Stopped by Ctrl-C or SIGTERM.
pub const INTERRUPTED: i32 = 130;

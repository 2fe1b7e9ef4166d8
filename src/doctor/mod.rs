//! `parity doctor`: is this machine ready to run the pipeline as CI does?
//! Each check is one line, ok, warn or fail, with the fix when there is one.

mod engine;
mod repo;
mod services;
mod tools;

use crate::pipeline::Pipeline;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

impl Level {
    fn word(self) -> &'static str {
        match self {
            Level::Ok => "ok",
            Level::Warn => "warn",
            Level::Fail => "fail",
        }
    }
}

/// One line of the doctor's report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub level: Level,
    /// `tools`, `engine`, `services`, `ports`, `secrets`, `workflow`.
    pub area: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn ok(area: &'static str, message: impl Into<String>) -> Check {
        Check {
            level: Level::Ok,
            area,
            message: message.into(),
            fix: None,
        }
    }

    fn warn(area: &'static str, message: impl Into<String>, fix: Option<String>) -> Check {
        Check {
            level: Level::Warn,
            area,
            message: message.into(),
            fix,
        }
    }

    fn fail(area: &'static str, message: impl Into<String>, fix: Option<String>) -> Check {
        Check {
            level: Level::Fail,
            area,
            message: message.into(),
            fix,
        }
    }
}

/// Every check, in the order a person fixes things: tools, engine,
/// services, ports, then the repository.
pub fn examine(pipeline: &Pipeline) -> Vec<Check> {
    let mut checks = tools::check(pipeline);
    checks.extend(engine::check(pipeline));
    checks.extend(services::binaries(pipeline));
    checks.extend(services::ports(pipeline));
    checks.extend(repo::check(pipeline));
    checks
}

/// The report as lines: `ok    tools     rust 1.95.0 matches …`.
pub fn render(checks: &[Check]) -> String {
    let area_width = checks.iter().map(|c| c.area.len()).max().unwrap_or(0);
    let mut out = String::new();
    for check in checks {
        let _ = writeln!(
            out,
            "{:<4}  {:<area_width$}  {}",
            check.level.word(),
            check.area,
            check.message
        );
        if let Some(fix) = &check.fix {
            let _ = writeln!(out, "{:<4}  {:<area_width$}  fix: {fix}", "", "");
        }
    }
    let count = |level| checks.iter().filter(|c| c.level == level).count();
    let _ = writeln!(
        out,
        "\n{} ok, {} warning{}, {} failure{}",
        count(Level::Ok),
        count(Level::Warn),
        if count(Level::Warn) == 1 { "" } else { "s" },
        count(Level::Fail),
        if count(Level::Fail) == 1 { "" } else { "s" },
    );
    out
}

//! The table printed at the end of a run.

use super::duration::short;
use crate::exec::{JobResult, Outcome};

/// One row per job: name, result, duration, and why when it did not pass.
pub fn table(results: &[JobResult]) -> String {
    let name_width = results
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut out = format!("{:<name_width$}  {:<9}  {:>7}\n", "job", "result", "time");
    for result in results {
        let time = match result.outcome {
            Outcome::Skipped(_) => "-".to_owned(),
            _ => short(result.duration),
        };
        let line = format!(
            "{:<name_width$}  {:<9}  {:>7}",
            result.name,
            result.outcome.label(),
            time
        );
        match result.detail() {
            Some(detail) => out.push_str(&format!("{line}  {detail}\n")),
            None => out.push_str(&format!("{}\n", line.trim_end())),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::SkipReason;
    use std::time::Duration;

    #[test]
    fn aligned_columns_with_reasons() {
        let results = [
            JobResult {
                name: "lint".into(),
                outcome: Outcome::Passed,
                duration: Duration::from_millis(1230),
                dry_run: false,
            },
            JobResult {
                name: "integration".into(),
                outcome: Outcome::Skipped(SkipReason::SwitchOff("RUN_INTEGRATION".into())),
                duration: Duration::ZERO,
                dry_run: false,
            },
        ];
        insta::assert_snapshot!(table(&results), @r"
        job          result        time
        lint         passed       1.23s
        integration  skipped          -  switch RUN_INTEGRATION is off (--enable RUN_INTEGRATION to run it)
        ");
    }
}

//! `parity run --compare`: the selected jobs on the host, then in the
//! runner container, and the jobs whose verdicts differ.

use super::run::{run_in, RunArgs};
use super::Cli;
use crate::error::Error;
use crate::exec::JobResult;
use crate::exit_code;
use crate::report::outln;

pub(super) fn compare(cli: &Cli, args: &RunArgs) -> Result<i32, Error> {
    outln!("parity --compare: 1/2 on the host");
    let (host_code, host) = run_in(cli, args, Some(false))?;
    if host_code == exit_code::INTERRUPTED {
        return Ok(host_code);
    }
    outln!("\nparity --compare: 2/2 in the runner container");
    let (container_code, boxed) = run_in(cli, args, Some(true))?;
    if container_code == exit_code::INTERRUPTED {
        return Ok(container_code);
    }
    let (table, differing) = table(&host, &boxed);
    outln!("\n{table}");
    if differing == 0 {
        outln!("same verdict for every job on the host and in the container");
        Ok(host_code.max(container_code))
    } else {
        outln!(
            "{differing} job{} differ{} between the host and the container",
            if differing == 1 { "" } else { "s" },
            if differing == 1 { "s" } else { "" }
        );
        Ok(exit_code::FAILED)
    }
}

/// `job  host  container` rows, a mark on each that differs; and how many do.
fn table(host: &[JobResult], boxed: &[JobResult]) -> (String, usize) {
    let label = |results: &[JobResult], name: &str| {
        results
            .iter()
            .find(|r| r.name == name)
            .map_or("-", |r| r.outcome.label())
            .to_owned()
    };
    let mut names: Vec<&str> = host.iter().map(|r| r.name.as_str()).collect();
    for r in boxed {
        if !names.contains(&r.name.as_str()) {
            names.push(&r.name);
        }
    }
    let width = names
        .iter()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(3)
        .max(3);
    let mut out = format!("{:width$}  {:9}  {:9}\n", "job", "host", "container");
    let mut differing = 0;
    for name in names {
        let (h, c) = (label(host, name), label(boxed, name));
        let mark = if h != c {
            differing += 1;
            "  ← differs"
        } else {
            ""
        };
        out.push_str(&format!("{name:width$}  {h:9}  {c:9}{mark}\n"));
    }
    (out, differing)
}

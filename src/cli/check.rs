//! `parity check`: fail when a generated workflow or the hook is stale
//! against `parity.toml`, or a workflow step bypasses parity.

use super::Cli;
use crate::ci;
use crate::error::Error;
use crate::exit_code;
use crate::report::{actions, errln, print_out};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(super) struct CheckArgs {
    /// Other CI files to check, besides .github/workflows, .gitea/workflows
    /// and .gitlab-ci.yml (relative to the repository root).
    #[arg(value_name = "FILE")]
    files: Vec<PathBuf>,
}

pub(super) fn check(cli: &Cli, args: &CheckArgs) -> Result<i32, Error> {
    let pipeline = cli.pipeline()?;
    let report = ci::check(&pipeline, &args.files)?;
    let annotate = actions::under_actions();
    let mut out = String::new();
    for path in &report.in_sync {
        out.push_str(&format!("✔ {path} is up to date\n"));
    }
    for stale in &report.stale {
        out.push_str(&format!(
            "✘ {} is stale against parity.toml:\n{}",
            stale.path, stale.diff
        ));
        out.push_str(&format!("  bring it up to date with `{}`\n\n", stale.fix));
        if annotate {
            out.push_str(&actions::annotation(
                "error",
                Some(&stale.path),
                None,
                "stale",
                &format!(
                    "out of date with parity.toml: run `{}` and commit the result",
                    stale.fix
                ),
            ));
        }
    }
    if !report.bypasses.is_empty() {
        out.push_str(
            "✘ workflow steps run commands outside parity, which `parity run` cannot reproduce:\n",
        );
        for b in &report.bypasses {
            out.push_str(&format!(
                "  {}:{}: job `{}`, step `{}`: {}\n",
                b.file, b.line, b.job, b.step, b.command
            ));
        }
        out.push_str(
            "  move them into a job in parity.toml and run it with `parity run --job NAME`\n",
        );
        if annotate {
            for b in &report.bypasses {
                out.push_str(&actions::annotation(
                    "error",
                    Some(&b.file),
                    Some(b.line),
                    "bypasses parity",
                    &format!(
                        "`{}` runs outside parity: move it into a job in parity.toml",
                        b.command
                    ),
                ));
            }
        }
    }
    for note in &report.notes {
        out.push_str(&format!("{note}\n"));
    }
    print_out(&out);
    for warning in &report.warnings {
        if annotate {
            print_out(&actions::annotation(
                "warning",
                None,
                None,
                "parity check",
                warning,
            ));
        } else {
            errln!("warning: {warning}");
        }
    }
    Ok(if report.passed() {
        exit_code::SUCCESS
    } else {
        exit_code::FAILED
    })
}

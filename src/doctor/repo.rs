//! The repository: local secrets kept out of git, and the generated CI
//! workflow still in sync with `parity.toml`.

use super::Check;
use crate::env_file::LOCAL_FILE;
use crate::pipeline::Pipeline;
use std::process::Command;

pub(super) fn check(pipeline: &Pipeline) -> Vec<Check> {
    vec![env_file_ignored(pipeline), workflow(pipeline)]
}

fn git(pipeline: &Pipeline, args: &[&str]) -> Option<std::process::ExitStatus> {
    Command::new("git")
        .arg("-C")
        .arg(&pipeline.root)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .ok()
}

fn env_file_ignored(pipeline: &Pipeline) -> Check {
    let exists = pipeline.root.join(LOCAL_FILE).exists();
    if !git(pipeline, &["rev-parse", "--git-dir"]).is_some_and(|s| s.success()) {
        return Check::ok(
            "secrets",
            format!("not a git repository: {LOCAL_FILE} cannot be committed by mistake"),
        );
    }
    if git(pipeline, &["ls-files", "--error-unmatch", LOCAL_FILE]).is_some_and(|s| s.success()) {
        return Check::fail(
            "secrets",
            format!("{LOCAL_FILE} is tracked by git: its secrets are in the repository's history"),
            Some(format!(
                "git rm --cached {LOCAL_FILE}, add it to .gitignore, and rotate those secrets"
            )),
        );
    }
    match git(pipeline, &["check-ignore", "-q", LOCAL_FILE]).and_then(|s| s.code()) {
        Some(0) => Check::ok("secrets", format!("{LOCAL_FILE} is git-ignored")),
        _ if exists => Check::fail(
            "secrets",
            format!(
                "{LOCAL_FILE} exists and is not git-ignored: one `git add .` commits its secrets"
            ),
            Some(format!("echo {LOCAL_FILE} >> .gitignore")),
        ),
        _ => Check::warn(
            "secrets",
            format!("{LOCAL_FILE} is not git-ignored (it does not exist yet)"),
            Some(format!(
                "echo {LOCAL_FILE} >> .gitignore before creating it"
            )),
        ),
    }
}

fn workflow(pipeline: &Pipeline) -> Check {
    match crate::ci::check(pipeline, &[]) {
        Ok(report) if !report.stale.is_empty() => {
            let paths: Vec<&str> = report.stale.iter().map(|s| s.path.as_str()).collect();
            let fixes: Vec<&str> = report.stale.iter().map(|s| s.fix.as_str()).collect();
            Check::fail(
                "workflow",
                format!("out of date with parity.toml: {}", paths.join(", ")),
                Some(fixes.join(" && ")),
            )
        }
        Ok(report) if !report.bypasses.is_empty() => Check::warn(
            "workflow",
            format!(
                "{} workflow step{} bypass parity (`parity check` lists them)",
                report.bypasses.len(),
                if report.bypasses.len() == 1 { "" } else { "s" }
            ),
            None,
        ),
        Ok(report) if report.in_sync.is_empty() => Check::warn(
            "workflow",
            report
                .notes
                .first()
                .cloned()
                .unwrap_or_else(|| "no generated workflow found".into()),
            Some("parity gen github".into()),
        ),
        Ok(report) => Check::ok(
            "workflow",
            format!("in sync with parity.toml: {}", report.in_sync.join(", ")),
        ),
        Err(e) => Check::warn(
            "workflow",
            format!("cannot check the generated workflow: {e}"),
            None,
        ),
    }
}

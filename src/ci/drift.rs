//! `parity check`: generated files that no longer match `parity.toml`,
//! workflow steps that bypass parity, and local secrets tracked by git.

use super::bypass;
use super::model::CiPlan;
use super::{generate, generated_flavor, git, github, gitlab, hook, repo_root, CiError, Flavor};
use crate::env_file::LOCAL_FILE;
use crate::pipeline::Pipeline;
use similar::TextDiff;
use std::path::{Path, PathBuf};

pub use super::bypass::Bypass;

/// A generated file that differs from what the pipeline generates now.
#[derive(Debug)]
pub struct Stale {
    /// Relative to the repository root.
    pub path: String,
    /// A unified diff from the file to what it should be.
    pub diff: String,
    /// The command that brings it up to date.
    pub fix: String,
}

#[derive(Debug, Default)]
pub struct CheckReport {
    /// Generated files that are up to date.
    pub in_sync: Vec<String>,
    pub stale: Vec<Stale>,
    pub bypasses: Vec<Bypass>,
    pub warnings: Vec<String>,
    /// Said, but not a failure: nothing generated was found, say.
    pub notes: Vec<String>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.stale.is_empty() && self.bypasses.is_empty()
    }
}

/// Checks every CI file of the repository, and `extra` files, against
/// `pipeline`.
pub fn check(pipeline: &Pipeline, extra: &[PathBuf]) -> Result<CheckReport, CiError> {
    let root = repo_root(pipeline);
    let plan = CiPlan::new(pipeline, &root)?;
    let mut allowed = github::generated_commands(&plan);
    allowed.extend(gitlab::generated_commands(&plan));

    let mut report = CheckReport::default();
    let mut files = workflow_files(&root);
    for path in extra {
        let path = root.join(path);
        if !files.contains(&path) {
            files.push(path);
        }
    }
    let mut generated_any = false;
    for path in &files {
        let text = std::fs::read_to_string(path).map_err(|source| CiError::Read {
            path: path.clone(),
            source,
        })?;
        let display = super::relative(&root, path);
        let flavor = generated_flavor(&text);
        let gitlab_file = flavor == Some(Flavor::Gitlab) || is_gitlab(path);
        if let Some(flavor) = flavor {
            generated_any = true;
            let expected = generate(pipeline, flavor, Some(Path::new(&display)))?;
            if expected.text == text {
                report.in_sync.push(display.clone());
            } else {
                report.stale.push(Stale {
                    diff: unified_diff(&text, &expected.text, &display),
                    fix: super::regenerate_command(pipeline, &root, flavor, &display),
                    path: display.clone(),
                });
            }
        }
        report
            .bypasses
            .extend(bypass::scan(path, &display, &text, gitlab_file, &allowed)?);
    }
    if !generated_any {
        report.notes.push(format!(
            "no generated workflow found; `parity gen github` (or `gen gitea`, `gen gitlab`) writes one at {}",
            Flavor::Github.default_path()
        ));
    }
    if let Some((path, text, expected)) = hook::installed(pipeline)? {
        let display = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .display()
            .to_string();
        if text == expected {
            report.in_sync.push(display);
        } else {
            report.stale.push(Stale {
                diff: unified_diff(&text, &expected, &display),
                fix: "parity hook install".into(),
                path: display,
            });
        }
    }
    let local = pipeline.root.join(LOCAL_FILE);
    let local_display = super::relative(&root, &local);
    if git::is_tracked(&root, &local_display) {
        report.warnings.push(format!(
            "{local_display} is tracked by git, so the secrets in it are in the repository's history: \
             `git rm --cached {local_display}`, add it to .gitignore, and rotate those secrets"
        ));
    }
    Ok(report)
}

/// Workflow files where GitHub, Gitea and GitLab look for them, sorted.
fn workflow_files(root: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [".github/workflows", ".gitea/workflows"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut found: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file() && p.extension().is_some_and(|e| e == "yml" || e == "yaml"))
            .collect();
        found.sort();
        files.extend(found);
    }
    let gitlab = root.join(Flavor::Gitlab.default_path());
    if gitlab.is_file() {
        files.push(gitlab);
    }
    files
}

fn is_gitlab(path: &Path) -> bool {
    path.file_name().is_some_and(|n| n == ".gitlab-ci.yml")
}

fn unified_diff(old: &str, new: &str, path: &str) -> String {
    TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{path} (committed)"),
            &format!("{path} (from parity.toml)"),
        )
        .to_string()
}

//! Workflow steps that run commands themselves instead of through parity:
//! each is a second copy of the pipeline that `parity run` cannot reproduce.

use super::CiError;
use saphyr::{LoadableYamlNode, MarkedYaml};
use std::path::Path;

/// A command in a workflow that does not go through parity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bypass {
    /// The workflow, relative to the repository root.
    pub file: String,
    pub line: usize,
    pub job: String,
    /// The step's name, or its first command.
    pub step: String,
    pub command: String,
}

/// Top-level keys of `.gitlab-ci.yml` that are not jobs.
const GITLAB_GLOBALS: [&str; 11] = [
    "stages",
    "variables",
    "workflow",
    "default",
    "include",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
    "spec",
];

/// The commands in `text` that bypass parity. `allowed` are the exact
/// commands parity itself generates (installing parity, service programs).
pub(crate) fn scan(
    path: &Path,
    display: &str,
    text: &str,
    gitlab: bool,
    allowed: &[String],
) -> Result<Vec<Bypass>, CiError> {
    let docs = MarkedYaml::load_from_str(text).map_err(|e| CiError::Yaml {
        path: path.to_owned(),
        line: e.marker().line(),
        message: e.info().to_owned(),
    })?;
    let mut found = Vec::new();
    let Some(doc) = docs.first() else {
        return Ok(found);
    };
    let Some(top) = doc.data.as_mapping() else {
        return Ok(found);
    };
    let scan = Scan { display, allowed };
    if gitlab {
        for (key, job) in top {
            let Some(name) = key.data.as_str() else {
                continue;
            };
            if name.starts_with('.') && job.data.as_mapping_get("script").is_none() {
                continue;
            }
            let label = if GITLAB_GLOBALS.contains(&name) {
                "(every job)"
            } else {
                name
            };
            if GITLAB_GLOBALS.contains(&name)
                && !matches!(name, "default" | "before_script" | "after_script")
            {
                continue;
            }
            if matches!(name, "before_script" | "after_script") {
                scan.script(label, name, key, job, &mut found);
                continue;
            }
            for part in ["before_script", "script", "after_script"] {
                if let Some((k, v)) = entry(job, part) {
                    scan.script(label, part, k, v, &mut found);
                }
            }
        }
    } else if let Some(jobs) = doc
        .data
        .as_mapping_get("jobs")
        .and_then(|j| j.data.as_mapping())
    {
        for (key, job) in jobs {
            let name = key.data.as_str().unwrap_or("?");
            let Some(steps) = job
                .data
                .as_mapping_get("steps")
                .and_then(|s| s.data.as_sequence())
            else {
                continue;
            };
            for step in steps {
                let Some((run_key, run)) = entry(step, "run") else {
                    continue;
                };
                let step_name = step
                    .data
                    .as_mapping_get("name")
                    .and_then(|n| n.data.as_str());
                scan.run(name, step_name, run_key, run, &mut found);
            }
        }
    }
    Ok(found)
}

struct Scan<'a> {
    display: &'a str,
    allowed: &'a [String],
}

impl Scan<'_> {
    /// A GitLab `script`: one command string or a list of them.
    fn script(
        &self,
        job: &str,
        part: &str,
        key: &MarkedYaml<'_>,
        value: &MarkedYaml<'_>,
        found: &mut Vec<Bypass>,
    ) {
        if let Some(items) = value.data.as_sequence() {
            for item in items {
                self.run(job, Some(part), item, item, found);
            }
        } else if let Some(mapping) = value.data.as_mapping() {
            // `default:` holds scripts one level down.
            for (k, v) in mapping {
                if let Some(name @ ("before_script" | "after_script")) = k.data.as_str() {
                    self.script(job, name, k, v, found);
                }
            }
        } else {
            self.run(job, Some(part), key, value, found);
        }
    }

    /// One `run:` (or script item); `at` is where its line numbers count from.
    fn run(
        &self,
        job: &str,
        step: Option<&str>,
        at: &MarkedYaml<'_>,
        value: &MarkedYaml<'_>,
        found: &mut Vec<Bypass>,
    ) {
        let Some(text) = value.data.as_str() else {
            return;
        };
        if self.allowed.iter().any(|a| a.trim() == text.trim()) {
            return;
        }
        let multi_line = text.trim_end().contains('\n');
        for (i, line) in text.lines().enumerate() {
            let command = line.trim();
            if command.is_empty() || command.starts_with('#') || goes_through_parity(command) {
                continue;
            }
            if self.allowed.iter().any(|a| a.trim() == command) {
                continue;
            }
            let first = text
                .lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .unwrap_or_default();
            found.push(Bypass {
                file: self.display.to_owned(),
                line: at.span.start.line() + if multi_line { i + 1 } else { 0 },
                job: job.to_owned(),
                step: step.unwrap_or(first).to_owned(),
                command: command.to_owned(),
            });
        }
    }
}

/// `parity …` itself, or installing it (of any version: an old pin is
/// reported as a stale file, not as a bypass).
fn goes_through_parity(command: &str) -> bool {
    let install = command
        .strip_prefix("command -v parity >/dev/null || ")
        .unwrap_or(command);
    command == "parity"
        || command.starts_with("parity ")
        || (install.starts_with("cargo install --locked --version ")
            && install.ends_with(" parity"))
}

/// A mapping's key node and value node for `name`.
fn entry<'a, 'i>(
    node: &'a MarkedYaml<'i>,
    name: &str,
) -> Option<(&'a MarkedYaml<'i>, &'a MarkedYaml<'i>)> {
    node.data
        .as_mapping()?
        .iter()
        .find(|(k, _)| k.data.as_str() == Some(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scan_github(text: &str) -> Vec<Bypass> {
        scan(
            Path::new("w.yml"),
            "w.yml",
            text,
            false,
            &["cargo install parity".into()],
        )
        .unwrap()
    }

    #[test]
    fn lists_commands_that_skip_parity() {
        let text = "\
name: ci
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: cargo install parity
      - run: cargo install --locked --version 0.0.9 parity
      - name: Test
        run: parity run --job test
      - name: Build
        run: |
          # build it
          cargo build --release
          parity run --job package
";
        let found = scan_github(text);
        assert_eq!(
            found,
            [Bypass {
                file: "w.yml".into(),
                line: 15,
                job: "build".into(),
                step: "Build".into(),
                command: "cargo build --release".into()
            }]
        );
    }

    #[test]
    fn gitlab_scripts_everywhere() {
        let text = "\
default:
  before_script:
    - apt-get install -y foo
lint:
  script:
    - parity run --job lint
    - make lint
.hidden:
  image: x
";
        let found = scan(
            Path::new(".gitlab-ci.yml"),
            ".gitlab-ci.yml",
            text,
            true,
            &[],
        )
        .unwrap();
        let commands: Vec<(&str, &str)> = found
            .iter()
            .map(|b| (b.job.as_str(), b.command.as_str()))
            .collect();
        assert_eq!(
            commands,
            [
                ("(every job)", "apt-get install -y foo"),
                ("lint", "make lint")
            ]
        );
        assert_eq!(found[1].line, 7);
    }

    #[test]
    fn bad_yaml_says_where() {
        let err = scan(Path::new("w.yml"), "w.yml", "jobs: [\n", false, &[]).unwrap_err();
        assert!(matches!(err, CiError::Yaml { .. }), "{err:?}");
    }
}

//! `parity init` without `--from`: what the repository holds (Cargo.toml,
//! pyproject.toml or requirements, package.json and its lockfile, go.mod,
//! Makefile targets, a compose file's postgres and redis) turned into the
//! jobs a team would write first.

use super::draft::{Draft, JobDraft, ServiceDraft, StepDraft};
use super::yaml::{self, Node};
use crate::report::tools;
use crate::services::env_prefix;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

/// A language's jobs, keyed by role so a Makefile target can take a role over.
struct Stack {
    name: &'static str,
    /// Files that made us think so, for the header.
    found: Vec<String>,
    tool: Option<(String, String, String)>,
    /// Steps that prepare the others (installs), run at the start of each job.
    setup: Vec<String>,
    lint: Vec<String>,
    test: Vec<String>,
    build: Vec<String>,
    inputs: Vec<String>,
    notes: Vec<String>,
}

impl Stack {
    fn new(name: &'static str) -> Stack {
        Stack {
            name,
            found: Vec::new(),
            tool: None,
            setup: Vec::new(),
            lint: Vec::new(),
            test: Vec::new(),
            build: Vec::new(),
            inputs: Vec::new(),
            notes: Vec::new(),
        }
    }
}

pub(crate) fn draft(root: &Path) -> Draft {
    let make = makefile_targets(root);
    let mut stacks: Vec<Stack> = [rust(root), python(root), node(root), go(root)]
        .into_iter()
        .flatten()
        .collect();
    let mut found: Vec<String> = stacks.iter().flat_map(|s| s.found.clone()).collect();
    if !make.is_empty() {
        found.push(format!("Makefile (targets: {})", make.join(", ")));
    }
    // The Makefile is the team's own entry point: its targets win.
    let make_role = |role: &[&str]| {
        role.iter()
            .find(|t| make.iter().any(|m| m == *t))
            .map(|t| format!("make {t}"))
    };
    let make_lint = make_role(&["lint", "check"]);
    let make_test = make_role(&["test"]);
    let make_build = make_role(&["build"]);
    if stacks.is_empty() && (make_lint.is_some() || make_test.is_some() || make_build.is_some()) {
        stacks.push(Stack::new("make"));
    }
    if stacks.len() == 1 {
        let stack = &mut stacks[0];
        for (slot, target) in [
            (&mut stack.lint, &make_lint),
            (&mut stack.test, &make_test),
            (&mut stack.build, &make_build),
        ] {
            if let Some(target) = target {
                *slot = vec![target.clone()];
            }
        }
    }

    let services = compose_services(root);
    let mut draft = Draft {
        header: vec![
            "parity's pipeline: `parity run` runs it here exactly as CI will.".into(),
            if found.is_empty() {
                "Written by `parity init`, which found no build files it knows: edit the jobs below."
                    .into()
            } else {
                format!("Written by `parity init` from: {}.", found.join(", "))
            },
            "Every command and key: `parity --help`, `parity man`, and parity's README.".into(),
        ],
        ..Draft::default()
    };
    for stack in &stacks {
        if let Some(tool) = &stack.tool {
            let (name, version, note) = tool.clone();
            draft.tools.push((name, version, Some(note)));
        }
    }
    if stacks.is_empty() {
        draft.jobs.push(JobDraft {
            name: "hello".into(),
            comments: vec!["A first job: replace it with your build and test commands.".into()],
            steps: vec![StepDraft::new(
                "echo \"parity works; now edit parity.toml\"",
            )],
            ..JobDraft::default()
        });
    }
    let prefix = stacks.len() > 1;
    for stack in &stacks {
        let name = |role: &str| {
            if prefix {
                format!("{}-{role}", stack.name)
            } else {
                role.to_owned()
            }
        };
        let mut lint_name = None;
        for (role, steps) in [
            ("lint", &stack.lint),
            ("test", &stack.test),
            ("build", &stack.build),
        ] {
            if steps.is_empty() {
                continue;
            }
            let mut job = JobDraft {
                name: name(role),
                steps: stack
                    .setup
                    .iter()
                    .chain(steps)
                    .map(StepDraft::new)
                    .collect(),
                ..JobDraft::default()
            };
            if role == "lint" {
                lint_name = Some(job.name.clone());
                job.comments.extend(stack.notes.iter().cloned());
            } else if let Some(lint) = &lint_name {
                job.needs.push(lint.clone());
            }
            if role == "test" && !services.is_empty() {
                job.services = services.iter().map(|s| s.name.clone()).collect();
            }
            if !stack.inputs.is_empty() {
                job.hints.push(format!(
                    "Uncomment to skip this job when none of its inputs changed:\ninputs = [{}]",
                    stack
                        .inputs
                        .iter()
                        .map(|i| format!("\"{i}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            draft.jobs.push(job);
        }
    }
    draft.services = services;
    draft
}

/// `major.minor` of what a probe found, for a `[tools]` pin.
fn installed(key: &str) -> Option<String> {
    let version = tools::probe(key).version?;
    let mut parts = version.split('.');
    Some(match (parts.next(), parts.next()) {
        (Some(major), Some(minor)) => format!("{major}.{minor}"),
        (Some(major), None) => major.to_owned(),
        _ => return None,
    })
}

fn read(root: &Path, name: &str) -> Option<String> {
    std::fs::read_to_string(root.join(name)).ok()
}

/// Whether `cargo SUBCOMMAND --version` works here (rustfmt and clippy are
/// separate components, absent from minimal toolchains).
fn cargo_has(subcommand: &str) -> bool {
    let mut command = Command::new("cargo");
    command.args([subcommand, "--version"]);
    tools::run_limited(&mut command, Duration::from_secs(10)).is_ok()
}

fn rust(root: &Path) -> Option<Stack> {
    let manifest = read(root, "Cargo.toml")?;
    let mut stack = Stack::new("rust");
    stack.found.push("Cargo.toml".into());
    let toolchain = read(root, "rust-toolchain.toml")
        .and_then(|t| t.parse::<toml::Table>().ok())
        .and_then(|t| {
            t.get("toolchain")?
                .get("channel")?
                .as_str()
                .map(str::to_owned)
        })
        .or_else(|| read(root, "rust-toolchain").map(|t| t.trim().to_owned()));
    stack.tool = match toolchain {
        Some(channel) => Some(("rust".into(), channel, "from rust-toolchain".into())),
        None => installed("rust").map(|v| {
            (
                "rust".into(),
                v,
                "the rustc found here; pin what CI uses".into(),
            )
        }),
    };
    let workspace = manifest.contains("[workspace]");
    let all = if workspace { " --workspace" } else { "" };
    if cargo_has("fmt") {
        stack.lint.push("cargo fmt --all -- --check".into());
    } else {
        stack.notes.push("rustfmt is not installed here (`rustup component add rustfmt`); add `cargo fmt --all -- --check` once it is.".into());
    }
    if cargo_has("clippy") {
        stack
            .lint
            .push(format!("cargo clippy{all} --all-targets -- -D warnings"));
    } else {
        stack.notes.push("clippy is not installed here (`rustup component add clippy`); add `cargo clippy --all-targets -- -D warnings` once it is.".into());
    }
    stack.test.push(format!("cargo test{all}"));
    stack.inputs = vec![
        "src/**".into(),
        "tests/**".into(),
        "Cargo.toml".into(),
        "Cargo.lock".into(),
    ];
    Some(stack)
}

fn python(root: &Path) -> Option<Stack> {
    let pyproject = read(root, "pyproject.toml");
    let requirement_files: Vec<&str> = [
        "requirements.txt",
        "requirements-dev.txt",
        "requirements_dev.txt",
        "dev-requirements.txt",
    ]
    .into_iter()
    .filter(|f| root.join(f).is_file())
    .collect();
    if pyproject.is_none() && requirement_files.is_empty() && !root.join("setup.py").is_file() {
        return None;
    }
    let mut stack = Stack::new("python");
    if pyproject.is_some() {
        stack.found.push("pyproject.toml".into());
    }
    stack
        .found
        .extend(requirement_files.iter().map(|f| (*f).to_owned()));
    let pinned = read(root, ".python-version")
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty());
    stack.tool = match pinned {
        Some(v) => Some(("python".into(), v, "from .python-version".into())),
        None => installed("python").map(|v| {
            (
                "python".into(),
                v,
                "the python3 found here; pin what CI uses".into(),
            )
        }),
    };
    let mut deps = String::new();
    for file in &requirement_files {
        deps.push_str(&read(root, file).unwrap_or_default());
    }
    deps.push_str(pyproject.as_deref().unwrap_or_default());
    let mentions = |name: &str| {
        deps.lines().any(|l| {
            l.trim_start()
                .trim_start_matches(['"', '\''])
                .starts_with(name)
        })
    };

    // A virtualenv per checkout: system Pythons refuse `pip install`
    // (PEP 668), and CI starts from a clean one anyway.
    stack.setup.push("python3 -m venv .venv".into());
    if requirement_files.is_empty() {
        stack
            .setup
            .push(".venv/bin/python -m pip install -e .".into());
    }
    for file in &requirement_files {
        stack
            .setup
            .push(format!(".venv/bin/python -m pip install -r {file}"));
    }
    if mentions("ruff") {
        stack.lint.push(".venv/bin/python -m ruff check .".into());
    } else if mentions("flake8") {
        stack.lint.push(".venv/bin/python -m flake8".into());
    }
    if mentions("pytest") {
        stack.test.push(".venv/bin/python -m pytest".into());
    } else if root.join("tests").is_dir() {
        stack
            .test
            .push(".venv/bin/python -m unittest discover -s tests -t .".into());
    } else {
        stack
            .test
            .push(".venv/bin/python -m unittest discover".into());
    }
    stack.inputs = vec![
        "**/*.py".into(),
        "pyproject.toml".into(),
        "requirements*.txt".into(),
    ];
    Some(stack)
}

fn node(root: &Path) -> Option<Stack> {
    let text = read(root, "package.json")?;
    let manifest: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    let mut stack = Stack::new("node");
    stack.found.push("package.json".into());
    let (install, run) = if root.join("pnpm-lock.yaml").is_file() {
        stack.found.push("pnpm-lock.yaml".into());
        ("pnpm install --frozen-lockfile", "pnpm run")
    } else if root.join("yarn.lock").is_file() {
        stack.found.push("yarn.lock".into());
        ("yarn install --frozen-lockfile", "yarn run")
    } else if root.join("package-lock.json").is_file() || root.join("npm-shrinkwrap.json").is_file()
    {
        stack.found.push("package-lock.json".into());
        ("npm ci", "npm run")
    } else {
        stack.notes.push("No lockfile: CI should install exactly what you tested; commit one (`npm install` writes package-lock.json).".into());
        ("npm install", "npm run")
    };
    let pinned = read(root, ".nvmrc")
        .or_else(|| read(root, ".node-version"))
        .map(|v| v.trim().trim_start_matches('v').to_owned())
        .filter(|v| !v.is_empty());
    stack.tool = match pinned {
        Some(v) => Some(("node".into(), v, "from .nvmrc".into())),
        None => installed("node").map(|v| {
            (
                "node".into(),
                v,
                "the node found here; pin what CI uses".into(),
            )
        }),
    };
    stack.setup.push(install.into());
    let scripts = manifest.get("scripts").and_then(|s| s.as_object());
    let has = |name: &str| scripts.is_some_and(|s| s.contains_key(name));
    if has("lint") {
        stack.lint.push(format!("{run} lint"));
    }
    // npm's placeholder test script fails on purpose; it is not a test suite.
    let real_test = scripts
        .and_then(|s| s.get("test"))
        .and_then(|t| t.as_str())
        .is_some_and(|t| !t.contains("no test specified"));
    if real_test {
        stack.test.push(format!("{run} test"));
    }
    if has("build") {
        stack.build.push(format!("{run} build"));
    }
    if stack.lint.is_empty() && stack.test.is_empty() && stack.build.is_empty() {
        stack.notes.push("package.json has no lint, test or build script: this job only checks that the dependencies install.".into());
        stack.test.push(
            if run == "npm run" {
                "npm ls"
            } else {
                "node --version"
            }
            .into(),
        );
    }
    stack.inputs = vec![
        "src/**".into(),
        "package.json".into(),
        "package-lock.json".into(),
    ];
    Some(stack)
}

fn go(root: &Path) -> Option<Stack> {
    let module = read(root, "go.mod")?;
    let mut stack = Stack::new("go");
    stack.found.push("go.mod".into());
    let pinned = module
        .lines()
        .find_map(|l| l.trim().strip_prefix("go ").map(|v| v.trim().to_owned()));
    stack.tool = match pinned {
        Some(v) => Some(("go".into(), v, "from go.mod".into())),
        None => installed("go").map(|v| ("go".into(), v, "the go found here".into())),
    };
    stack.lint.push("go vet ./...".into());
    stack.test.push("go test ./...".into());
    stack.inputs = vec!["**/*.go".into(), "go.mod".into(), "go.sum".into()];
    Some(stack)
}

/// Target names defined in a Makefile (not pattern rules or special targets).
fn makefile_targets(root: &Path) -> Vec<String> {
    let Some(text) = ["Makefile", "makefile", "GNUmakefile"]
        .iter()
        .find_map(|f| read(root, f))
    else {
        return Vec::new();
    };
    let mut targets = Vec::new();
    for line in text.lines() {
        if line.starts_with(['\t', ' ', '#', '.']) {
            continue;
        }
        let Some((names, rest)) = line.split_once(':') else {
            continue;
        };
        if rest.starts_with('=')
            || names.contains('=')
            || names.contains('%')
            || names.contains('$')
        {
            continue;
        }
        for name in names.split_whitespace() {
            if !targets.iter().any(|t| t == name) {
                targets.push(name.to_owned());
            }
        }
    }
    targets
}

/// Postgres and Redis services of a compose file, as presets.
fn compose_services(root: &Path) -> Vec<ServiceDraft> {
    let files = [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yml",
        "docker-compose.yaml",
    ];
    let Some((file, text)) = files.iter().find_map(|f| read(root, f).map(|t| (*f, t))) else {
        return Vec::new();
    };
    let Ok(doc) = yaml::parse(&text) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for (name, service) in doc.get("services").map(Node::entries).unwrap_or_default() {
        let image = service.get("image").and_then(Node::str).unwrap_or_default();
        let Some(preset) = preset_of(image) else {
            continue;
        };
        let env = environment(service.get("environment"));
        let published = service
            .get("ports")
            .map(Node::items)
            .unwrap_or_default()
            .iter()
            .filter_map(|p| p.str().map(str::to_owned))
            .collect::<Vec<_>>();
        let mut comments = vec![format!(
            "From {file} line {}: image {image}.",
            service.line()
        )];
        if !published.is_empty() {
            comments.push(format!(
                "Compose publishes {}; parity picks a free port and exports {}_PORT and {}_URL.",
                published.join(", "),
                env_prefix(name),
                env_prefix(name)
            ));
            comments.push("Set `port = …` if your tests hard-code it.".into());
        }
        out.push(ServiceDraft {
            name: name.clone(),
            preset: preset.into(),
            port: None,
            env,
            comments,
        });
    }
    out
}

/// `postgres:16-alpine`, `docker.io/library/redis:7` → the preset.
pub(crate) fn preset_of(image: &str) -> Option<&'static str> {
    let repo = image.split(['@', ':']).next().unwrap_or_default();
    let base = repo.rsplit('/').next().unwrap_or_default();
    match base {
        "postgres" | "postgresql" | "postgis" => Some("postgres"),
        "redis" | "redis-stack-server" | "valkey" => Some("redis"),
        _ => None,
    }
}

/// `environment:` as a map or a `KEY=value` list.
fn environment(node: Option<&Node>) -> Vec<(String, String)> {
    match node {
        Some(Node::Map(entries, _)) => entries
            .iter()
            .map(|(k, v)| (k.clone(), v.str().unwrap_or_default().to_owned()))
            .collect(),
        Some(Node::Seq(items, _)) => items
            .iter()
            .filter_map(|i| i.str())
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn makefile_targets_skip_variables_and_patterns() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Makefile"),
            "CC := gcc\n.PHONY: test\ntest: build\n\tgo test\nbuild lint:\n%.o: %.c\n",
        )
        .unwrap();
        assert_eq!(makefile_targets(dir.path()), ["test", "build", "lint"]);
    }

    #[test]
    fn presets_from_images() {
        assert_eq!(preset_of("postgres:16"), Some("postgres"));
        assert_eq!(preset_of("docker.io/library/redis:7-alpine"), Some("redis"));
        assert_eq!(preset_of("mysql:8"), None);
    }
}

//! Tool caches worth restoring in CI, found from the lockfiles the
//! repository holds: cargo, pip and npm, keyed by those lockfiles.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ToolCache {
    pub(crate) tool: Tool,
    /// Lockfiles found, relative to the repository root, sorted.
    pub(crate) lockfiles: Vec<String>,
    /// Directories a tool builds into next to its lockfile (cargo's
    /// `target/`), relative to the repository root.
    pub(crate) build_dirs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tool {
    Cargo,
    Pip,
    Npm,
}

impl Tool {
    const ALL: [Tool; 3] = [Tool::Cargo, Tool::Pip, Tool::Npm];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Tool::Cargo => "cargo",
            Tool::Pip => "pip",
            Tool::Npm => "npm",
        }
    }

    fn is_lockfile(self, file: &str) -> bool {
        match self {
            Tool::Cargo => file == "Cargo.lock",
            Tool::Pip => {
                matches!(file, "poetry.lock" | "Pipfile.lock" | "uv.lock")
                    || (file.starts_with("requirements") && file.ends_with(".txt"))
            }
            Tool::Npm => matches!(file, "package-lock.json" | "npm-shrinkwrap.json"),
        }
    }

    /// The tool's download cache in the runner's home directory.
    pub(crate) fn home_paths(self) -> &'static [&'static str] {
        match self {
            Tool::Cargo => &[
                "~/.cargo/registry/index/",
                "~/.cargo/registry/cache/",
                "~/.cargo/git/db/",
            ],
            Tool::Pip => &["~/.cache/pip"],
            Tool::Npm => &["~/.npm"],
        }
    }

    /// For CI systems that cache only inside the checkout (GitLab): the
    /// variable that moves the cache there, and the directories to keep.
    pub(crate) fn in_project(self) -> (&'static str, &'static str, &'static [&'static str]) {
        match self {
            Tool::Cargo => (
                "CARGO_HOME",
                "$CI_PROJECT_DIR/.cargo",
                &[
                    ".cargo/registry/index/",
                    ".cargo/registry/cache/",
                    ".cargo/git/db/",
                ],
            ),
            Tool::Pip => (
                "PIP_CACHE_DIR",
                "$CI_PROJECT_DIR/.cache/pip",
                &[".cache/pip/"],
            ),
            Tool::Npm => ("npm_config_cache", "$CI_PROJECT_DIR/.npm", &[".npm/"]),
        }
    }
}

/// Caches for the lockfiles in `dirs` (each directory itself, not below it),
/// named relative to `repo_root`.
pub(crate) fn detect(repo_root: &Path, dirs: &[PathBuf]) -> Vec<ToolCache> {
    let mut files: Vec<(String, String)> = Vec::new();
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let rel_dir = relative(repo_root, dir);
        for entry in entries.flatten() {
            if !entry.file_type().is_ok_and(|t| t.is_file()) {
                continue;
            }
            let name = entry.file_name().to_string_lossy().into_owned();
            let pair = (rel_dir.clone(), name);
            if !files.contains(&pair) {
                files.push(pair);
            }
        }
    }
    files.sort();
    Tool::ALL
        .iter()
        .filter_map(|&tool| {
            let found: Vec<&(String, String)> = files
                .iter()
                .filter(|(_, name)| tool.is_lockfile(name))
                .collect();
            if found.is_empty() {
                return None;
            }
            let join = |dir: &str, name: &str| {
                if dir.is_empty() {
                    name.to_owned()
                } else {
                    format!("{dir}/{name}")
                }
            };
            let mut build_dirs: Vec<String> = match tool {
                Tool::Cargo => found.iter().map(|(dir, _)| join(dir, "target/")).collect(),
                Tool::Pip | Tool::Npm => Vec::new(),
            };
            build_dirs.dedup();
            Some(ToolCache {
                tool,
                lockfiles: found.iter().map(|(dir, name)| join(dir, name)).collect(),
                build_dirs,
            })
        })
        .collect()
}

fn relative(root: &Path, dir: &Path) -> String {
    dir.strip_prefix(root)
        .map(|p| {
            p.components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lockfiles_per_tool() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir(root.join("web")).unwrap();
        for file in [
            "Cargo.lock",
            "requirements-dev.txt",
            "requirements.txt",
            "web/package-lock.json",
            "README.md",
        ] {
            std::fs::write(root.join(file), "").unwrap();
        }
        let caches = detect(
            root,
            &[root.to_path_buf(), root.join("web"), root.to_path_buf()],
        );
        assert_eq!(caches.len(), 3);
        assert_eq!(caches[0].lockfiles, ["Cargo.lock"]);
        assert_eq!(caches[0].build_dirs, ["target/"]);
        assert_eq!(
            caches[1].lockfiles,
            ["requirements-dev.txt", "requirements.txt"]
        );
        assert_eq!(caches[2].lockfiles, ["web/package-lock.json"]);
    }
}

//! The environment a run ran in, recorded so that "passes here, fails in CI"
//! becomes a list of differences (`parity diff`) instead of a guess.
//!
//! Everything here is read cheaply and once per run, on a background thread
//! while the jobs run. Secret values never enter it: environment variables
//! are recorded by name, and values only for the non-secret variables that
//! `parity.toml` itself names.

use super::tools::{self, ToolVersion};
use crate::pipeline::Pipeline;
use crate::secrets::SecretSet;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Where and with what a run ran.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Fingerprint {
    pub parity_version: String,
    pub os: Os,
    pub machine: Machine,
    pub container: Container,
    /// `github`, `gitea`, `gitlab`, `ci` (another CI), or absent on a laptop.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci: Option<String>,
    /// Canonical tool key (`rust`, `python`…) → what is installed.
    pub tools: BTreeMap<String, ToolVersion>,
    pub env: EnvFingerprint,
    pub git: Git,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Os {
    /// `PRETTY_NAME` from /etc/os-release, e.g. `Debian GNU/Linux 12 (bookworm)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `ID` and `VERSION_ID` from /etc/os-release, e.g. `debian` and `12`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub family: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kernel: Option<String>,
    pub arch: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Machine {
    pub cpus: usize,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    /// Whether parity itself ran inside a container.
    pub inside: bool,
    /// The runner image the jobs ran in (`parity run --container`), else
    /// the image parity itself ran in (`PARITY_RUNNER_IMAGE`), else the CI
    /// runner image (`ImageOS`/`ImageVersion` on GitHub-hosted runners).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// The image's content id, when known (`PARITY_RUNNER_IMAGE_ID`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_id: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvFingerprint {
    /// Every variable set in the environment parity ran in, by name only.
    pub names: Vec<String>,
    /// The variables `parity.toml` names, with the value steps saw (`null`:
    /// unset). Secret ones are in `withheld` instead.
    pub values: BTreeMap<String, Option<String>>,
    /// Named variables whose values are not recorded: secrets, and values
    /// that came from `.env.ci.local` or `--env-file`.
    pub withheld: Vec<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Git {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Whether tracked or untracked files differ from the commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dirty: Option<bool>,
}

/// What the fingerprint is taken from, owned so that it can be taken on a
/// thread of its own while jobs run.
pub struct Inputs {
    /// `[tools]`: key → pinned version.
    tools: IndexMap<String, String>,
    /// Every step of every job, to see which tools they call.
    steps: Vec<String>,
    /// The variables `parity.toml` names, with the file's value if it sets one.
    named: Vec<(String, Option<String>)>,
    /// `[secrets]` names.
    declared: Vec<String>,
    root: PathBuf,
    /// The process environment with the env files over it.
    ambient: IndexMap<String, String>,
    /// Values from `.env.ci.local` and `--env-file`: never recorded.
    env_files: IndexMap<String, String>,
    secrets: SecretSet,
    /// The images the run's container jobs run in (`--container`), sorted.
    runner_images: Vec<String>,
}

impl Inputs {
    pub fn new(
        pipeline: &Pipeline,
        ambient: &IndexMap<String, String>,
        env_files: &IndexMap<String, String>,
        secrets: &SecretSet,
        mut runner_images: Vec<String>,
    ) -> Inputs {
        runner_images.sort();
        runner_images.dedup();
        let mut named: Vec<(String, Option<String>)> = Vec::new();
        let mut add = |name: &str, file_value: Option<&String>| {
            if !named.iter().any(|(n, _)| n == name) {
                named.push((name.to_owned(), file_value.cloned()));
            }
        };
        for (name, value) in &pipeline.env {
            add(name, Some(value));
        }
        for job in pipeline.jobs.values() {
            for (name, value) in &job.env {
                add(name, Some(value));
            }
            for name in &job.cache_env {
                add(name, None);
            }
            if let Some(switch) = &job.switch {
                add(switch, None);
            }
        }
        for profile in pipeline.profiles.values() {
            for name in &profile.enable {
                add(name, None);
            }
        }
        let declared: Vec<String> = pipeline
            .secrets
            .required
            .iter()
            .chain(&pipeline.secrets.optional)
            .cloned()
            .collect();
        for name in &declared {
            add(name, None);
        }
        Inputs {
            tools: pipeline.tools.clone(),
            steps: pipeline
                .jobs
                .values()
                .flat_map(|j| j.steps.iter().cloned())
                .collect(),
            named,
            declared,
            root: pipeline.root.clone(),
            ambient: ambient.clone(),
            env_files: env_files.clone(),
            secrets: secrets.clone(),
            runner_images,
        }
    }
}

impl Fingerprint {
    /// Reads the machine, the tools and the git state. Takes a second or
    /// so at worst (tool probes run in parallel), so `parity run` calls it
    /// on a thread of its own while jobs run.
    pub fn collect(inputs: &Inputs) -> Fingerprint {
        let mut keys: Vec<String> = inputs.tools.keys().map(|k| tools::canonical(k)).collect();
        for key in tools::called_by(inputs.steps.iter().map(String::as_str)) {
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        let mut found: BTreeMap<String, ToolVersion> =
            tools::probe_all(&keys).into_iter().collect();
        for (key, pin) in &inputs.tools {
            if let Some(tool) = found.get_mut(&tools::canonical(key)) {
                tool.pinned = Some(pin.clone());
            }
        }
        for tool in found.values_mut() {
            tool.output = tool.output.as_deref().map(|o| inputs.secrets.mask_str(o));
            tool.error = tool.error.as_deref().map(|e| inputs.secrets.mask_str(e));
        }
        Fingerprint {
            parity_version: env!("CARGO_PKG_VERSION").to_owned(),
            os: Os::read(),
            machine: Machine::read(),
            container: Container::read(&inputs.ambient, &inputs.runner_images),
            ci: ci_provider(&inputs.ambient),
            tools: found,
            env: EnvFingerprint::read(inputs),
            git: Git::read(&inputs.root),
        }
    }
}

impl Os {
    fn read() -> Os {
        let release = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
        let field = |name: &str| {
            release.lines().find_map(|line| {
                let value = line.strip_prefix(name)?.strip_prefix('=')?;
                Some(value.trim().trim_matches('"').to_owned())
            })
        };
        Os {
            name: field("PRETTY_NAME"),
            id: field("ID"),
            version: field("VERSION_ID"),
            family: std::env::consts::OS.to_owned(),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|k| k.trim().to_owned()),
            arch: std::env::consts::ARCH.to_owned(),
        }
    }
}

impl Machine {
    fn read() -> Machine {
        let memory_bytes = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|info| {
                let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kib * 1024)
            });
        Machine {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes,
        }
    }
}

impl Container {
    /// Jobs that ran in runner images ran in those, not in the environment
    /// parity itself runs in.
    fn read(ambient: &IndexMap<String, String>, runner_images: &[String]) -> Container {
        let inside = Path::new("/.dockerenv").exists() || Path::new("/run/.containerenv").exists();
        if !runner_images.is_empty() {
            return Container {
                inside,
                image: Some(runner_images.join(", ")),
                image_id: image_ids(runner_images),
            };
        }
        let runner_image = match (ambient.get("ImageOS"), ambient.get("ImageVersion")) {
            (Some(os), Some(version)) => Some(format!("{os}:{version}")),
            (Some(os), None) => Some(os.clone()),
            _ => None,
        };
        Container {
            inside,
            image: ambient.get("PARITY_RUNNER_IMAGE").cloned().or(runner_image),
            image_id: ambient.get("PARITY_RUNNER_IMAGE_ID").cloned(),
        }
    }
}

/// The content ids of the runner images, as the engine reports them: a tag
/// can move, an id cannot.
fn image_ids(images: &[String]) -> Option<String> {
    let engine = crate::container::Engine::find().ok()?;
    let ids: Vec<String> = images
        .iter()
        .filter_map(|image| {
            engine
                .output(["image", "inspect", "--format", "{{.Id}}", image.as_str()])
                .ok()
        })
        .collect();
    (!ids.is_empty()).then(|| ids.join(", "))
}

fn ci_provider(ambient: &IndexMap<String, String>) -> Option<String> {
    let is = |name: &str| ambient.get(name).is_some_and(|v| v == "true" || v == "1");
    if is("GITEA_ACTIONS") {
        Some("gitea".into())
    } else if is("GITHUB_ACTIONS") {
        Some("github".into())
    } else if is("GITLAB_CI") {
        Some("gitlab".into())
    } else if is("CI") {
        Some("ci".into())
    } else {
        None
    }
}

impl EnvFingerprint {
    fn read(inputs: &Inputs) -> EnvFingerprint {
        let mut names: Vec<String> = inputs.ambient.keys().cloned().collect();
        names.sort();
        let mut values = BTreeMap::new();
        let mut withheld = Vec::new();
        for (name, file_value) in &inputs.named {
            let secret = inputs.declared.contains(name) || crate::secrets::looks_secret(name);
            let from_env_file = file_value.is_none() && inputs.env_files.contains_key(name);
            if secret || from_env_file {
                withheld.push(name.clone());
                continue;
            }
            // The value steps see at the pipeline level: the file's, else the machine's.
            let value = file_value
                .clone()
                .or_else(|| inputs.ambient.get(name).cloned());
            values.insert(name.clone(), value.map(|v| inputs.secrets.mask_str(&v)));
        }
        withheld.sort();
        EnvFingerprint {
            names,
            values,
            withheld,
        }
    }
}

impl Git {
    /// One `git status` gives the commit, the branch and whether the tree
    /// is dirty: a single process, where three would each pay git's start.
    fn read(root: &Path) -> Git {
        let mut command = Command::new("git");
        command
            .arg("-C")
            .arg(root)
            .args(["status", "--porcelain=v2", "--branch"]);
        match tools::run_limited(&mut command, Duration::from_secs(5)) {
            Ok(status) => Git::parse_status(&status),
            Err(_) => Git::default(),
        }
    }

    /// `git status --porcelain=v2 --branch`: `# branch.oid`, `# branch.head`
    /// headers, then a line per changed or untracked path.
    fn parse_status(status: &str) -> Git {
        let header = |name: &str| {
            status.lines().find_map(|line| {
                line.strip_prefix("# ")?
                    .strip_prefix(name)?
                    .strip_prefix(' ')
            })
        };
        // `(initial)`: a repository without a commit has nothing to record.
        let Some(commit) = header("branch.oid").filter(|oid| !oid.starts_with('(')) else {
            return Git::default();
        };
        Git {
            commit: Some(commit.to_owned()),
            branch: header("branch.head")
                .filter(|head| !head.starts_with('('))
                .map(str::to_owned),
            dirty: Some(status.lines().any(|line| !line.starts_with('#'))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_status_gives_commit_branch_and_dirtiness() {
        let clean = "# branch.oid 0123abcd\n# branch.head main\n# branch.upstream origin/main\n";
        assert_eq!(
            Git::parse_status(clean),
            Git {
                commit: Some("0123abcd".into()),
                branch: Some("main".into()),
                dirty: Some(false),
            }
        );
        let detached_dirty = "# branch.oid 0123abcd\n# branch.head (detached)\n? new.txt\n";
        assert_eq!(
            Git::parse_status(detached_dirty),
            Git {
                commit: Some("0123abcd".into()),
                branch: None,
                dirty: Some(true),
            }
        );
        assert_eq!(
            Git::parse_status("# branch.oid (initial)\n# branch.head main\n"),
            Git::default()
        );
    }
}

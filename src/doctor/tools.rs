//! `[tools]` pins against what is installed: drift is what makes a laptop
//! pass where CI fails.

use super::Check;
use crate::pipeline::Pipeline;
use crate::report::tools::{canonical, probe_all};

pub(super) fn check(pipeline: &Pipeline) -> Vec<Check> {
    if pipeline.tools.is_empty() {
        return vec![Check::ok(
            "tools",
            "no [tools] pins; pin the versions CI uses (e.g. rust = \"1.92\") and doctor compares them",
        )];
    }
    let keys: Vec<String> = pipeline.tools.keys().map(|k| canonical(k)).collect();
    let found = probe_all(&keys);
    pipeline
        .tools
        .iter()
        .zip(found)
        .map(|((name, pin), (key, tool))| match (&tool.version, &tool.error) {
            (Some(version), _) if matches(pin, version) => {
                Check::ok("tools", format!("{name} {version} matches [tools] {name} = \"{pin}\""))
            }
            (Some(version), _) if !pin.starts_with(|c: char| c.is_ascii_digit()) => Check::ok(
                "tools",
                format!("{name} {version} installed; [tools] {name} = \"{pin}\" is not a version to compare"),
            ),
            (Some(version), _) => Check::warn(
                "tools",
                format!("{name} {version} drifts from [tools] {name} = \"{pin}\""),
                Some(format!("{}, or set [tools] {name} = \"{}\" if CI uses {version} too", install(&key, pin), major_minor(version))),
            ),
            (None, Some(error)) => Check::fail("tools", format!("{name}: {error}"), Some(install(&key, pin))),
            (None, None) => Check::warn(
                "tools",
                format!("{name}: installed, but its version could not be read"),
                None,
            ),
        })
        .collect()
}

/// `1.92` matches `1.92.0` and `1.92.3`; `3` matches `3.12.1`; `1.92.0`
/// matches only itself.
pub(super) fn matches(pin: &str, version: &str) -> bool {
    let pin = pin.trim().trim_start_matches(['v', '=']);
    let wanted: Vec<&str> = pin.split('.').collect();
    let have: Vec<&str> = version.split('.').collect();
    wanted.len() <= have.len() && wanted.iter().zip(&have).all(|(w, h)| w == h)
}

fn major_minor(version: &str) -> String {
    version.split('.').take(2).collect::<Vec<_>>().join(".")
}

/// How to get `key` at `version`, with each tool's usual version manager.
fn install(key: &str, version: &str) -> String {
    match key {
        "rust" => format!("rustup toolchain install {version} && rustup override set {version}"),
        "python" => format!(
            "pyenv install {version} && pyenv local {version} (or: uv python install {version})"
        ),
        "node" => format!("nvm install {version} && nvm use {version}"),
        "go" => format!(
            "install Go {version} (go.dev/dl), or `go toolchain` with go {version} in go.mod"
        ),
        "java" => format!("install JDK {version} (e.g. sdk install java {version}-tem)"),
        "postgres" => format!("apt-get install postgresql-{version}"),
        "redis" => "apt-get install redis-server".into(),
        other => format!("install {other} {version}"),
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn pins_match_by_prefix_of_components() {
        assert!(matches("1.92", "1.92.0"));
        assert!(!matches("1.92", "1.95.0"));
        assert!(!matches("1.9", "1.92.0"));
        assert!(matches("3", "3.12.1"));
        assert!(!matches("1.92.1", "1.92"));
    }
}

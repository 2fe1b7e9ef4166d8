//! Who deploys and from where: the ledger's "by", "host", "trigger" and CI
//! link, so a deploy from a laptop is as traceable as one from CI.

use super::git::Git;
use serde::{Deserialize, Serialize};

/// Whether a person or a CI job started the deploy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Trigger {
    Manual,
    Ci,
}

impl Trigger {
    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Manual => "manual",
            Trigger::Ci => "ci",
        }
    }
}

/// The author of a ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    /// `Name <email>` from git's `user.name` and `user.email`.
    pub by: String,
    pub host: String,
    pub trigger: Trigger,
    /// The CI run that deployed, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ci_url: Option<String>,
}

impl Actor {
    /// The person (or bot) git says is working here, this machine's name, and
    /// the CI run when `CI` and friends say this is one.
    pub(crate) fn detect(git: &Git) -> Actor {
        let user = std::env::var("USER").ok().filter(|u| !u.is_empty());
        let name = git
            .config("user.name")
            .or_else(|| user.clone())
            .unwrap_or_else(|| "unknown".to_owned());
        let by = match git.config("user.email") {
            Some(email) => format!("{name} <{email}>"),
            None => name,
        };
        let ci = is_ci::uncached();
        Actor {
            by: one_line(&by),
            host: one_line(&hostname()),
            trigger: if ci { Trigger::Ci } else { Trigger::Manual },
            ci_url: ci.then(ci_url).flatten(),
        }
    }

    /// `Name <email>` split for git's author environment variables.
    pub(crate) fn git_identity(&self) -> (String, String) {
        match self.by.rsplit_once(" <") {
            Some((name, email)) => (name.to_owned(), email.trim_end_matches('>').to_owned()),
            None => (self.by.clone(), format!("parity@{}", self.host)),
        }
    }

    /// `Alice <a@x> on laptop (manual)`, or with the CI link.
    pub fn describe(&self) -> String {
        let mut text = format!("{} on {} ({})", self.by, self.host, self.trigger.as_str());
        if let Some(url) = &self.ci_url {
            text.push_str(&format!(" {url}"));
        }
        text
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// The link to this CI run, from the variables each CI system sets.
fn ci_url() -> Option<String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    // GitHub Actions, and Gitea Actions, which sets the same variables.
    if let (Some(server), Some(repo), Some(run)) = (
        var("GITHUB_SERVER_URL"),
        var("GITHUB_REPOSITORY"),
        var("GITHUB_RUN_ID"),
    ) {
        return Some(format!("{server}/{repo}/actions/runs/{run}"));
    }
    [
        "CI_JOB_URL",
        "BUILD_URL",
        "BUILDKITE_BUILD_URL",
        "CIRCLE_BUILD_URL",
    ]
    .iter()
    .find_map(|name| var(name))
}

/// Ledger fields are single lines.
fn one_line(text: &str) -> String {
    text.split(['\n', '\r'])
        .next()
        .unwrap_or_default()
        .trim()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_identity_for_git() {
        let actor = Actor {
            by: "Ada Lovelace <ada@example.com>".into(),
            host: "laptop".into(),
            trigger: Trigger::Manual,
            ci_url: None,
        };
        assert_eq!(
            actor.git_identity(),
            ("Ada Lovelace".into(), "ada@example.com".into())
        );
        assert_eq!(
            actor.describe(),
            "Ada Lovelace <ada@example.com> on laptop (manual)"
        );
        let bare = Actor {
            by: "ci".into(),
            ..actor
        };
        assert_eq!(bare.git_identity(), ("ci".into(), "parity@laptop".into()));
    }
}

//! Which values are secrets, which jobs need which secret, and the check
//! that every required secret a run needs is set before any job starts.

use super::mask::{SecretSet, MIN_SAFE_LEN};
use crate::env_file::LOCAL_FILE;
use crate::pipeline::{Deploy, Job, Pipeline};
use indexmap::IndexMap;
use miette::Diagnostic;
use std::path::Path;
use thiserror::Error;

#[derive(Debug, Error, Diagnostic)]
pub enum SecretsError {
    #[error("required secret{} {} {} not set", plural(names.len()), quoted(names), if names.len() == 1 { "is" } else { "are" })]
    #[diagnostic(code(parity::missing_secret))]
    Missing {
        names: Vec<String>,
        #[help]
        help: String,
    },
}

/// The secret values of a run, and the names of those too short to mask well.
#[derive(Debug)]
pub struct Collected {
    pub set: SecretSet,
    pub too_short: Vec<TooShort>,
}

/// A secret whose value is shorter than [`MIN_SAFE_LEN`] characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TooShort {
    pub name: String,
    pub chars: usize,
}

impl std::fmt::Display for TooShort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "secret `{}` is {} character{} long, too short to mask safely: it is masked, \
             but so is every other occurrence of those characters, and a value this short is easy to guess",
            self.name,
            self.chars,
            plural(self.chars)
        )
    }
}

/// The values to mask: every `[secrets]` value that is set, and every
/// env-file entry whose name says it is a credential.
pub fn collect(
    pipeline: &Pipeline,
    ambient: &IndexMap<String, String>,
    env_values: &IndexMap<String, String>,
) -> Collected {
    let declared = pipeline
        .secrets
        .required
        .iter()
        .chain(&pipeline.secrets.optional);
    let mut named: IndexMap<&str, &str> = IndexMap::new();
    for name in declared {
        if let Some(value) = ambient.get(name) {
            named.insert(name, value);
        }
    }
    for (name, value) in env_values {
        if looks_secret(name) {
            named.insert(name, value);
        }
    }
    let too_short = named
        .iter()
        .filter(|(_, value)| !value.is_empty() && value.chars().count() < MIN_SAFE_LEN)
        .map(|(name, value)| TooShort {
            name: (*name).to_owned(),
            chars: value.chars().count(),
        })
        .collect();
    Collected {
        set: SecretSet::new(named.values()),
        too_short,
    }
}

/// Names that say their value is a credential: env-file values under such
/// names are masked, and run records keep only their names.
pub fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "TOKEN",
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "KEY",
        "CREDENTIAL",
        "AUTH",
        "PRIVATE",
    ]
    .iter()
    .any(|word| upper.contains(word))
}

/// The jobs that need `secret`: those listing it in their `secrets`, or
/// naming `$SECRET` in a step or an env value. When neither a job nor a
/// `[deploy.NAME]` claims it, every job needs it, since parity cannot tell
/// which script reads it; one only a deploy claims no job needs.
pub fn jobs_needing<'p>(pipeline: &'p Pipeline, secret: &str) -> Vec<&'p str> {
    let claimed: Vec<&str> = pipeline
        .jobs
        .values()
        .filter(|job| claims(job, secret))
        .map(|job| job.name.as_str())
        .collect();
    let deploy_claims = pipeline
        .deploys
        .values()
        .any(|deploy| deploy_claims(deploy, secret));
    if claimed.is_empty() && !deploy_claims {
        pipeline.jobs.keys().map(String::as_str).collect()
    } else {
        claimed
    }
}

/// Whether `parity deploy NAME` needs `secret`: its steps or env name it,
/// a job it runs first (its `needs`, and theirs) needs it, or nothing in
/// the pipeline claims it.
pub fn deploy_needs(pipeline: &Pipeline, deploy: &Deploy, secret: &str) -> bool {
    if deploy_claims(deploy, secret) {
        return true;
    }
    let claimed = pipeline.jobs.values().any(|job| claims(job, secret))
        || pipeline.deploys.values().any(|d| deploy_claims(d, secret));
    if !claimed {
        return true;
    }
    let needing = jobs_needing(pipeline, secret);
    let mut seen: Vec<&str> = Vec::new();
    let mut stack: Vec<&str> = deploy.needs.iter().map(String::as_str).collect();
    while let Some(name) = stack.pop() {
        if seen.contains(&name) {
            continue;
        }
        seen.push(name);
        if needing.contains(&name) {
            return true;
        }
        if let Some(job) = pipeline.jobs.get(name) {
            stack.extend(job.needs.iter().map(String::as_str));
        }
    }
    false
}

fn deploy_claims(deploy: &Deploy, secret: &str) -> bool {
    deploy.steps.iter().any(|step| mentions(step, secret))
        || deploy.env.values().any(|value| mentions(value, secret))
}

fn claims(job: &Job, secret: &str) -> bool {
    job.secrets.iter().any(|s| s == secret)
        || job.steps.iter().any(|step| mentions(step, secret))
        || job.env.values().any(|value| mentions(value, secret))
}

/// Whether shell text expands `$NAME` or `${NAME…}`.
fn mentions(text: &str, name: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        let after = &rest[at + 1..];
        let candidate = after.strip_prefix('{').unwrap_or(after);
        if let Some(tail) = candidate.strip_prefix(name) {
            if !tail.starts_with(is_ident) {
                return true;
            }
        }
        rest = after;
    }
    false
}

/// Fails when a required secret is unset (or empty) and a job that will run
/// for real needs it. `running` names the `[jobs.NAME]` that will run and are
/// not publish dry runs; skipped jobs and dry runs need no secrets.
pub fn check_required<'a>(
    pipeline: &Pipeline,
    running: impl IntoIterator<Item = &'a str> + Clone,
    ambient: &IndexMap<String, String>,
) -> Result<(), SecretsError> {
    let mut missing: Vec<(String, Vec<&str>)> = Vec::new();
    for name in &pipeline.secrets.required {
        if ambient.get(name).is_some_and(|v| !v.is_empty()) {
            continue;
        }
        let needing = jobs_needing(pipeline, name);
        let mut blocked: Vec<&str> = running
            .clone()
            .into_iter()
            .filter(|job| needing.contains(job))
            .collect();
        blocked.dedup();
        if !blocked.is_empty() {
            missing.push((name.clone(), blocked));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<String> = missing.iter().map(|(n, _)| n.clone()).collect();
    let mut help = String::new();
    for (name, jobs) in &missing {
        let jobs: Vec<String> = jobs.iter().map(|j| format!("`{j}`")).collect();
        help.push_str(&format!("`{name}` is needed by {}.\n", jobs.join(", ")));
    }
    help.push_str(&where_to_put(&names, &pipeline.root));
    Err(SecretsError::Missing { names, help })
}

/// Where a missing secret goes, for the machine this runs on.
fn where_to_put(names: &[String], root: &Path) -> String {
    let example = names.first().map(String::as_str).unwrap_or("NAME");
    let on = |var: &str| std::env::var(var).is_ok_and(|v| v == "true");
    if on("GITHUB_ACTIONS") || on("GITEA_ACTIONS") {
        format!(
            "Add it as a repository secret (Settings → Secrets and variables → Actions) and pass it \
             in the step's `env:` (`{example}: ${{{{ secrets.{example} }}}}`); the workflow \
             `parity gen github` writes does that for the jobs that need it."
        )
    } else if on("GITLAB_CI") {
        "Add it as a masked CI/CD variable (Settings → CI/CD → Variables).".to_owned()
    } else {
        format!(
            "Set it in the environment (`export {example}=…`) or add a line `{example}=…` to {} \
             (keep that file out of git). Jobs that are skipped, and publish jobs without \
             `--publish`, do not need it.",
            root.join(LOCAL_FILE).display()
        )
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn quoted(names: &[String]) -> String {
    names
        .iter()
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipeline(text: &str) -> Pipeline {
        Pipeline::parse(Path::new("/repo/parity.toml"), text.to_owned()).expect("valid pipeline")
    }

    const FILE: &str = r#"
version = 1
[secrets]
required = ["NPM_TOKEN", "DB_PASSWORD", "EVERYWHERE"]
[jobs.lint]
run = "lint"
[jobs.test]
run = "psql postgres://app:${DB_PASSWORD}@db"
[jobs.publish]
publish = true
run = "./publish.sh"
secrets = ["NPM_TOKEN"]
"#;

    #[test]
    fn jobs_claim_secrets_by_list_or_reference() {
        let p = pipeline(FILE);
        assert_eq!(jobs_needing(&p, "NPM_TOKEN"), ["publish"]);
        assert_eq!(jobs_needing(&p, "DB_PASSWORD"), ["test"]);
        assert_eq!(jobs_needing(&p, "EVERYWHERE"), ["lint", "test", "publish"]);
    }

    #[test]
    fn deploys_claim_secrets_too() {
        let mut text = FILE.to_owned();
        text.push_str(
            r#"
[deploy.production]
needs = ["test"]
run = "./deploy.sh"
env = { TOKEN = "${DEPLOY_TOKEN}" }
[deploy.docs]
run = "./docs.sh"
"#,
        );
        text = text.replace(
            r#"required = ["NPM_TOKEN", "DB_PASSWORD", "EVERYWHERE"]"#,
            r#"required = ["NPM_TOKEN", "DB_PASSWORD", "EVERYWHERE", "DEPLOY_TOKEN"]"#,
        );
        let p = pipeline(&text);
        let (production, docs) = (&p.deploys["production"], &p.deploys["docs"]);
        assert!(
            jobs_needing(&p, "DEPLOY_TOKEN").is_empty(),
            "only a deploy claims it"
        );
        assert!(deploy_needs(&p, production, "DEPLOY_TOKEN"));
        assert!(!deploy_needs(&p, docs, "DEPLOY_TOKEN"));
        assert!(
            deploy_needs(&p, production, "DB_PASSWORD"),
            "its need `test` does"
        );
        assert!(!deploy_needs(&p, production, "NPM_TOKEN"));
        assert!(deploy_needs(&p, docs, "EVERYWHERE"), "nothing claims it");
    }

    #[test]
    fn references_need_a_whole_name() {
        assert!(mentions("echo $TOKEN", "TOKEN"));
        assert!(mentions("echo ${TOKEN:-x}", "TOKEN"));
        assert!(mentions("a=$TOKEN;", "TOKEN"));
        assert!(!mentions("echo $TOKEN_2", "TOKEN"));
        assert!(!mentions("echo TOKEN", "TOKEN"));
        assert!(!mentions("echo $MY_TOKEN", "TOKEN"));
    }

    #[test]
    fn missing_secret_fails_only_for_jobs_that_run() {
        let p = pipeline(FILE);
        let mut env = IndexMap::new();
        env.insert("EVERYWHERE".to_owned(), "value-1".to_owned());
        env.insert("DB_PASSWORD".to_owned(), "value-2".to_owned());
        assert!(
            check_required(&p, ["lint", "test"], &env).is_ok(),
            "publish dry-runs"
        );
        let err = check_required(&p, ["lint", "publish"], &env).unwrap_err();
        let SecretsError::Missing { names, help } = &err;
        assert_eq!(names, &["NPM_TOKEN"]);
        assert!(
            help.contains("`NPM_TOKEN` is needed by `publish`"),
            "{help}"
        );
        assert_eq!(err.to_string(), "required secret `NPM_TOKEN` is not set");
        env.insert("NPM_TOKEN".to_owned(), String::new());
        assert!(
            check_required(&p, ["publish"], &env).is_err(),
            "empty counts as unset"
        );
    }

    #[test]
    fn short_values_are_reported_by_name() {
        let p = pipeline(FILE);
        let mut ambient = IndexMap::new();
        ambient.insert("NPM_TOKEN".to_owned(), "abc".to_owned());
        ambient.insert("DB_PASSWORD".to_owned(), "long-enough".to_owned());
        let collected = collect(&p, &ambient, &IndexMap::new());
        assert_eq!(
            collected.too_short,
            [TooShort {
                name: "NPM_TOKEN".into(),
                chars: 3
            }]
        );
        assert_eq!(collected.set.mask_str("abc long-enough"), "*** ***");
    }
}

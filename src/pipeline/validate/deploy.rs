//! `[deploy.NAME]` tables → `Deploy`, with the same spans and hints as jobs.

use super::super::deploy::{deploy_name_problem, Deploy, DEFAULT_LEASE};
use super::super::error::Problem;
use super::super::file::{RawDeploy, SpannedStr};
use super::super::{Job, Service};
use super::{Allowed, Validator};
use indexmap::IndexMap;

impl Validator<'_> {
    pub(super) fn deploys(
        &mut self,
        raw: &IndexMap<SpannedStr, RawDeploy>,
        jobs: &IndexMap<String, Job>,
        services: &IndexMap<String, Service>,
    ) -> IndexMap<String, Deploy> {
        let service_names: Vec<String> = services.keys().cloned().collect();
        raw.iter()
            .map(|(name, deploy)| {
                let deploy = self.deploy(name, deploy, jobs, &service_names);
                (name.get_ref().clone(), deploy)
            })
            .collect()
    }

    fn deploy(
        &mut self,
        name: &SpannedStr,
        raw: &RawDeploy,
        jobs: &IndexMap<String, Job>,
        service_names: &[String],
    ) -> Deploy {
        if let Some(why) = deploy_name_problem(name.get_ref()) {
            self.push(
                Problem::new(
                    self.src,
                    name.span(),
                    format!("`{}` cannot name a deploy environment", name.get_ref()),
                    why,
                )
                .with_help("rename the `[deploy.NAME]` table, e.g. `[deploy.production]`"),
            );
        }
        self.known(&raw.needs, jobs, "job", "needs");
        self.known(&raw.services, service_names, "service", "services");
        let allowed = [Allowed::Services(service_names)];
        let steps = self.steps(&raw.run);
        for step in &steps {
            self.placeholders(raw.run.span(), step, &allowed);
        }
        if let Some(branch) = &raw.branch {
            let b = branch.get_ref();
            let bad = b.is_empty()
                || b.starts_with(['-', '/'])
                || b.ends_with(['/', '.'])
                || b.contains("..")
                || b.contains(|c: char| c.is_whitespace() || "~^:?*[\\".contains(c));
            if bad {
                self.problem(
                    branch.span(),
                    format!("`{b}` is not a branch name"),
                    "expected a name like \"main\"",
                );
            }
        }
        let shell = self.shell(raw.shell.as_ref());
        Deploy {
            name: name.get_ref().clone(),
            steps,
            shell,
            branch: raw.branch.as_ref().map(|b| b.get_ref().clone()),
            needs: raw.needs.iter().map(|n| n.get_ref().clone()).collect(),
            services: raw.services.iter().map(|s| s.get_ref().clone()).collect(),
            timeout: raw.timeout.as_ref().and_then(|t| self.duration(t)),
            env: self.env(&raw.env, &allowed),
            lease: raw
                .lease
                .as_ref()
                .and_then(|l| self.duration(l))
                .unwrap_or(DEFAULT_LEASE),
            runs_on: raw.runs_on.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::pipeline::{Pipeline, PipelineError, DEFAULT_LEASE};
    use std::path::Path;
    use std::time::Duration;

    fn parse(text: &str) -> Result<Pipeline, PipelineError> {
        Pipeline::parse(Path::new("/repo/parity.toml"), text.to_owned())
    }

    #[test]
    fn deploys_are_modelled() {
        let pipeline = parse(
            r#"
version = 1
[jobs.test]
run = "true"
[deploy.production]
branch = "main"
needs = ["test"]
run = ["./deploy.sh", "echo done"]
timeout = "10m"
lease = "30s"
runs_on = "ubuntu-latest"
env = { TARGET = "prod" }
[deploy.staging]
run = "./deploy.sh staging"
"#,
        )
        .unwrap();
        let production = &pipeline.deploys["production"];
        assert_eq!(production.steps, ["./deploy.sh", "echo done"]);
        assert_eq!(production.branch.as_deref(), Some("main"));
        assert_eq!(production.needs, ["test"]);
        assert_eq!(production.timeout, Some(Duration::from_secs(600)));
        assert_eq!(production.lease, Duration::from_secs(30));
        assert_eq!(production.env["TARGET"], "prod");
        assert_eq!(production.ledger_ref(), "refs/parity/deploys/production");
        assert_eq!(production.concurrency_group(), "parity-deploy-production");
        assert_eq!(pipeline.deploys["staging"].lease, DEFAULT_LEASE);
        assert_eq!(
            pipeline.deploys["staging"].shell,
            ["bash", "-eo", "pipefail"]
        );
    }

    #[test]
    fn bad_deploys_point_at_the_key() {
        let err = parse(
            r#"
version = 1
[jobs.test]
run = "true"
[deploy.log]
run = "x"
[deploy.production]
needs = ["tset"]
run = "x"
lease = "soon"
branch = "a b"
"#,
        )
        .unwrap_err();
        let PipelineError::Invalid { problems, .. } = err else {
            panic!("expected problems")
        };
        let messages: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert!(
            messages.iter().any(|m| m.contains("`log` cannot name")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("unknown job `tset`")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("bad duration `soon`")),
            "{messages:?}"
        );
        assert!(
            messages.iter().any(|m| m.contains("not a branch name")),
            "{messages:?}"
        );
    }
}

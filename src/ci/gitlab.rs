//! `.gitlab-ci.yml`: the same CI jobs as the GitHub workflow, in GitLab's
//! syntax: `needs` for the graph, `rules` for switches and publishing,
//! `parallel:matrix` for matrices, caches inside the checkout, and per
//! `[deploy.NAME]` a job in a `resource_group` of its own.

use super::model::{
    deploy_line, install_command, preset_packages, CiDeploy, CiJob, CiPlan, Need, CONTAINER_LABEL,
    PARITY_VERSION,
};
use super::yaml::{self, Map, Node};
use super::CiError;
use crate::pipeline::{instance_name, Preset};

/// Where the pinned parity is installed, inside the checkout so GitLab can
/// cache it.
const PARITY_ROOT: &str = "$CI_PROJECT_DIR/.parity-bin";

/// How GitLab rules spell parity's "truthy" for a switch variable.
fn switch_on(switch: &str) -> String {
    format!("${switch} && ${switch} !~ /^(0|false|no|off)$/i")
}

const DEFAULT_BRANCH_PUSH: &str =
    "$CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH && $CI_PIPELINE_SOURCE == \"push\"";

pub(crate) fn pipeline_file(plan: &CiPlan, header: &str) -> Result<String, CiError> {
    for job in &plan.jobs {
        if let Some(matrix) = &job.matrix {
            if let Some(key) = matrix.keys().find(|k| !is_variable_name(k)) {
                return Err(CiError::Unsupported {
                    what: format!("matrix key `{key}` of job `{}`", job.name),
                    why: "GitLab hands matrix values to jobs as variables, so keys must be variable names (letters, digits, `_`)".into(),
                });
            }
        }
    }
    for deploy in &plan.deploys {
        if let Some(branch) = deploy.branch.as_deref().filter(|b| b.contains('"')) {
            return Err(CiError::Unsupported {
                what: format!("branch `{branch}` of deploy `{}`", deploy.name),
                why: "a generated pipeline compares the pushed branch with it in a double-quoted GitLab rule".into(),
            });
        }
    }
    let mut doc = Map::new()
        .set("workflow", workflow())
        .comment(header.trim_end())
        .spaced();
    doc = doc.set("variables", variables(plan)).spaced();
    doc = doc.set("default", defaults(plan)).spaced();
    for job in &plan.jobs {
        doc.push(&job.id, ci_job(plan, job));
        doc = doc.spaced();
    }
    for deploy in &plan.deploys {
        doc.push(&deploy.id, deploy_job(deploy));
        doc = doc.spaced();
    }
    doc.push(
        &plan.check_id,
        Map::new()
            .set("needs", Vec::<Node>::new())
            .set("script", vec![Node::from("parity check")]),
    );
    doc = doc
        .comment(
            "Fails when this file, or a job script that bypasses parity, drifted from parity.toml.",
        )
        .spaced();
    Ok(yaml::to_string(&doc))
}

fn workflow() -> Map {
    let rule = |condition: &str| Map::new().set("if", condition);
    Map::new()
        .set(
            "rules",
            vec![
                rule(&format!(
                    "$CI_PIPELINE_SOURCE == \"merge_request_event\" && $CI_MERGE_REQUEST_LABELS =~ /(^|,){CONTAINER_LABEL}(,|$)/"
                ))
                .set("variables", Map::new().set("PARITY_CONTAINER", "1"))
                .comment(&format!("`parity run --container` for merge requests labelled `{CONTAINER_LABEL}`."))
                .into(),
                rule("$CI_PIPELINE_SOURCE == \"merge_request_event\"").into(),
                rule("$CI_COMMIT_BRANCH && $CI_OPEN_MERGE_REQUESTS")
                    .set("when", "never")
                    .comment("A branch with an open merge request runs as the merge request only.")
                    .into(),
                rule("$CI_COMMIT_BRANCH || $CI_COMMIT_TAG || $CI_PIPELINE_SOURCE == \"web\"").into(),
            ],
        )
        .set("auto_cancel", Map::new().set("on_new_commit", "interruptible"))
        .comment("A new push cancels the older pipeline of the same ref.")
}

fn variables(plan: &CiPlan) -> Map {
    let mut vars = Map::new();
    for (i, switch) in plan.switches.iter().enumerate() {
        vars.push(
            switch,
            Map::new().set("value", "").set(
                "description",
                format!("Switch {switch}: anything but empty, 0, false, no or off turns it on"),
            ),
        );
        if i == 0 {
            vars = vars.comment(
                "Switches, settable when running the pipeline by hand or as CI/CD variables.",
            );
        }
    }
    if !plan.container {
        vars.push("PARITY_CONTAINER", "");
    }
    if plan.has_publish() {
        vars.push("PARITY_PUBLISH", "");
        vars = vars.comment(
            "Set to 1 for pushes to the default branch only: elsewhere publish jobs dry-run.",
        );
    }
    for cache in &plan.caches {
        let (var, value, _) = cache.tool.in_project();
        vars.push(var, value);
    }
    vars
}

fn defaults(plan: &CiPlan) -> Map {
    let image = format!("rust:{}", plan.rust.as_deref().unwrap_or("latest"));
    let mut caches = vec![Map::new()
        .set("key", format!("parity-{PARITY_VERSION}"))
        .set("paths", Node::Flow(vec![".parity-bin/".into()]))
        .into()];
    for cache in &plan.caches {
        let (_, _, dirs) = cache.tool.in_project();
        let mut paths: Vec<String> = dirs.iter().map(|d| d.to_string()).collect();
        paths.extend(cache.build_dirs.iter().cloned());
        caches.push(
            Map::new()
                .set(
                    "key",
                    Map::new()
                        .set("prefix", cache.tool.name())
                        // GitLab keys a cache by at most two files.
                        .set(
                            "files",
                            Node::Flow(cache.lockfiles.iter().take(2).cloned().collect()),
                        ),
                )
                .set("paths", Node::Flow(paths))
                .into(),
        );
    }
    Map::new()
        .set("image", image)
        .set("interruptible", true)
        .set(
            "before_script",
            before_script(plan)
                .into_iter()
                .map(Node::from)
                .collect::<Vec<_>>(),
        )
        .set("cache", caches)
}

fn before_script(plan: &CiPlan) -> Vec<String> {
    let mut lines = vec![
        format!("export PATH=\"{PARITY_ROOT}/bin:$PATH\""),
        format!(
            "command -v parity >/dev/null || {}",
            install_command(Some(&format!("\"{PARITY_ROOT}\"")))
        ),
    ];
    if let Some(dir) = &plan.subdir {
        lines.push(format!(
            "cd {}",
            shlex::try_quote(dir)
                .map(|q| q.into_owned())
                .unwrap_or_else(|_| dir.clone())
        ));
    }
    lines
}

/// A job's `needs`: one that may not run at all (its switch is off) is
/// optional, so that its absence does not stop the job.
fn needs(needs: &[Need]) -> Vec<Node> {
    needs
        .iter()
        .map(|need| {
            if need.may_be_absent {
                Map::new()
                    .set("job", need.id.as_str())
                    .set("optional", true)
                    .into()
            } else {
                Node::Str(need.id.clone())
            }
        })
        .collect()
}

fn ci_job(plan: &CiPlan, job: &CiJob) -> Map {
    let mut map = Map::new().set("needs", needs(&job.needs));
    let rules = rules(job);
    if !rules.is_empty() {
        map.push("rules", rules);
    }
    if let Some(matrix) = &job.matrix {
        // Every instance spelled out: GitLab has no include/exclude, and a
        // list of single combinations expands to exactly parity's instances.
        let instances = matrix.expand();
        let combos: Vec<Node> = instances.iter().map(Node::from).collect();
        let names: Vec<String> = instances
            .iter()
            .map(|c| instance_name(&job.name, c))
            .collect();
        map = map
            .set("parallel", Map::new().set("matrix", combos))
            .comment(&format!("Instances: {}", names.join("; ")));
    }
    if let (Some(minutes), Some(limit)) = (job.timeout_minutes, job.timeout) {
        map = map.set("timeout", format!("{minutes}m")).comment(&format!(
            "parity stops the job after {}; this is a backstop.",
            humantime::format_duration(limit)
        ));
    }
    if !is_github_label(&job.runs_on) {
        map.push("tags", Node::Flow(vec![job.runs_on.clone()]));
    }
    let mut script: Vec<Node> = Vec::new();
    if !job.presets.is_empty() {
        script.push(services_command(&job.presets).into());
    }
    script.push(
        plan.run_line(job, |key| format!("\"{key}=${{{key}}}\""))
            .into(),
    );
    map.set("script", script)
}

/// `parity deploy NAME` for the pushed commit, after the CI jobs it needs,
/// one at a time per environment.
fn deploy_job(deploy: &CiDeploy) -> Map {
    let (condition, branch_words) = match &deploy.branch {
        Some(branch) => (
            format!("$CI_COMMIT_BRANCH == \"{branch}\" && $CI_PIPELINE_SOURCE == \"push\""),
            format!("`{branch}`"),
        ),
        None => (
            DEFAULT_BRANCH_PUSH.to_owned(),
            "the default branch".to_owned(),
        ),
    };
    let mut map = Map::new()
        .set("needs", needs(&deploy.needs))
        .set(
            "rules",
            vec![Node::from(Map::new().set("if", condition.as_str()))],
        )
        .comment(&format!(
            "Only for pushes to {branch_words}, once what it needs passed (or was left out by its switch)."
        ))
        .set("resource_group", deploy.concurrency_group.as_str())
        .comment(&format!(
            "Deploys to {} run one at a time, from any pipeline or branch.",
            deploy.name
        ))
        .set("environment", Map::new().set("name", deploy.name.as_str()))
        .set("interruptible", false)
        .comment("A newer push never cancels a deploy that is running.")
        .set("variables", Map::new().set("GIT_DEPTH", "0"))
        .comment("The whole history: the stale-commit guard compares the commit with the live one.");
    if !is_github_label(&deploy.runs_on) {
        map.push("tags", Node::Flow(vec![deploy.runs_on.clone()]));
    }
    let mut script: Vec<Node> = Vec::new();
    if !deploy.presets.is_empty() {
        script.push(services_command(&deploy.presets).into());
    }
    script.push(deploy_line(deploy, "$CI_COMMIT_SHA").into());
    map.set("script", script).comment(&format!(
        "`parity deploy` pushes the environment's ledger, refs/parity/deploys/{}: allow CI/CD\n\
         job tokens to push to this repository (Settings > CI/CD > Job token permissions).",
        deploy.name
    ))
}

fn rules(job: &CiJob) -> Vec<Node> {
    let switch = job.switch.as_deref().map(switch_on);
    let and_switch = |condition: &str| match &switch {
        Some(s) => format!("({s}) && {condition}"),
        None => condition.to_owned(),
    };
    let mut rules = Vec::new();
    if job.publish {
        rules.push(
            Map::new()
                .set("if", and_switch(DEFAULT_BRANCH_PUSH))
                .set("variables", Map::new().set("PARITY_PUBLISH", "1"))
                .into(),
        );
    }
    match (&switch, job.publish) {
        (Some(s), _) => rules.push(Map::new().set("if", s.as_str()).into()),
        (None, true) => rules.push(Map::new().set("when", "on_success").into()),
        (None, false) => {}
    }
    rules
}

fn is_variable_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Labels of GitHub-hosted runners mean nothing to GitLab runners.
fn is_github_label(label: &str) -> bool {
    ["ubuntu-", "windows-", "macos-"]
        .iter()
        .any(|p| label.starts_with(p))
}

/// The script line that installs what preset services start (jobs run as
/// root in GitLab's Docker executor).
pub(crate) fn services_command(presets: &[Preset]) -> String {
    format!(
        "apt-get update -qq && apt-get install -y -qq --no-install-recommends {}",
        preset_packages(presets)
    )
}

/// Script lines this module writes that are not `parity` commands.
pub(crate) fn generated_commands(plan: &CiPlan) -> Vec<String> {
    let mut commands = before_script(plan);
    let presets = plan
        .jobs
        .iter()
        .map(|job| &job.presets)
        .chain(plan.deploys.iter().map(|deploy| &deploy.presets));
    for presets in presets.filter(|p| !p.is_empty()) {
        commands.push(services_command(presets));
    }
    commands
}

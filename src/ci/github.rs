//! The GitHub Actions workflow (Gitea Actions reads the same syntax): per
//! pipeline job, check out, restore caches, install parity, `parity run`;
//! per `[deploy.NAME]`, a job that runs `parity deploy NAME` on pushes to
//! its branch.

use super::caches::ToolCache;
use super::model::{
    deploy_line, install_command, preset_packages, CiDeploy, CiJob, CiPlan, CONTAINER_LABEL,
    PARITY_VERSION,
};
use super::yaml::{self, Map, Node};
use crate::pipeline::Preset;

const CHECKOUT: &str = "actions/checkout@v4";
const CACHE: &str = "actions/cache@v4";

/// How GitHub expressions spell parity's "truthy": set, and not one of the
/// words that mean off.
const FALSY: &str = r#"fromJSON('["", "0", "false", "no", "off"]')"#;

/// The workflow text, `header` (comment lines) first.
pub(crate) fn workflow(plan: &CiPlan, header: &str) -> String {
    let mut doc = Map::new().set("name", "parity").comment(header.trim_end());
    doc.push("on", triggers(plan));
    doc = doc.spaced();
    doc = doc
        .set(
            "concurrency",
            Map::new()
                .set("group", "${{ github.workflow }}-${{ github.event.pull_request.number || github.ref }}")
                .set("cancel-in-progress", Node::Str("${{ github.event_name == 'pull_request' }}".into())),
        )
        .comment("One run per branch or pull request; a new push to a pull request cancels its older run.")
        .spaced()
        .set("permissions", Map::new().set("contents", "read"))
        .spaced();
    let env = workflow_env(plan);
    if !env.is_empty() {
        doc = doc.set("env", env).spaced();
    }
    let mut run_defaults = Map::new().set("shell", "bash");
    if let Some(dir) = &plan.subdir {
        run_defaults.push("working-directory", dir.as_str());
    }
    doc = doc
        .set("defaults", Map::new().set("run", run_defaults))
        .spaced();

    let mut jobs = Map::new();
    for job in &plan.jobs {
        jobs.push(&job.id, ci_job(plan, job));
        jobs = jobs.spaced();
    }
    for deploy in &plan.deploys {
        jobs.push(&deploy.id, deploy_job(plan, deploy));
        jobs = jobs.spaced();
    }
    jobs.push(&plan.check_id, check_job(plan));
    jobs = jobs
        .comment("Fails when this file, or a workflow step that bypasses parity, drifted from parity.toml.")
        .spaced();
    doc = doc.set("jobs", jobs).spaced();
    yaml::to_string(&doc)
}

fn triggers(plan: &CiPlan) -> Map {
    let mut on = Map::new()
        .set("push", Node::Null)
        .set(
            "pull_request",
            Map::new().set(
                "types",
                Node::Flow(
                    ["opened", "synchronize", "reopened", "labeled"]
                        .map(String::from)
                        .to_vec(),
                ),
            ),
        )
        .comment(&format!(
            "`labeled`: adding the `{CONTAINER_LABEL}` label re-runs the jobs with --container."
        ));
    let mut inputs = Map::new();
    for switch in &plan.switches {
        inputs.push(
            switch,
            Map::new()
                .set("description", format!("Turn on switch {switch}"))
                .set("type", "boolean")
                .set("default", false),
        );
    }
    let dispatch = if inputs.is_empty() {
        Node::Null
    } else {
        Map::new().set("inputs", inputs).into()
    };
    on.push("workflow_dispatch", dispatch);
    on
}

/// Switches, `--container` and `--publish`, decided once per run.
fn workflow_env(plan: &CiPlan) -> Map {
    let mut env = Map::new();
    for (i, switch) in plan.switches.iter().enumerate() {
        env.push(
            switch,
            Node::Str(format!("${{{{ {} && '1' || '' }}}}", switch_on(switch))),
        );
        if i == 0 {
            env = env.comment(
                "Switches: on when the run was started with the input ticked, or when the\n\
                 repository variable of the same name is set to anything but 0/false/no/off.",
            );
        }
    }
    if !plan.container {
        env.push(
            "PARITY_CONTAINER",
            Node::Str(format!(
                "${{{{ contains(github.event.pull_request.labels.*.name, '{CONTAINER_LABEL}') && '1' || '' }}}}"
            )),
        );
        env = env.comment(&format!(
            "`parity run --container` for pull requests labelled `{CONTAINER_LABEL}`."
        ));
    }
    if plan.has_publish() {
        env.push(
            "PARITY_PUBLISH",
            Node::Str(
                "${{ github.event_name == 'push' && github.ref_name == github.event.repository.default_branch && '1' || '' }}"
                    .into(),
            ),
        );
        env = env.comment("`--publish` only for pushes to the default branch; elsewhere publish jobs dry-run (DRY_RUN=1).");
    }
    env
}

fn switch_on(switch: &str) -> String {
    format!("(inputs.{switch} || !contains({FALSY}, vars.{switch}))")
}

fn ci_job(plan: &CiPlan, job: &CiJob) -> Map {
    let mut map = Map::new().set("name", display_name(job));
    if !job.needs.is_empty() {
        map.push(
            "needs",
            Node::Flow(job.needs.iter().map(|n| n.id.clone()).collect()),
        );
    }
    let mut conditions = Vec::new();
    let mut why = Vec::new();
    if !job.needs.is_empty() {
        conditions.push("!failure() && !cancelled()".to_owned());
        why.push(
            "Runs when what it needs passed or was skipped by a switch, as `parity run` does."
                .to_owned(),
        );
    }
    if let Some(switch) = &job.switch {
        conditions.push(switch_on(switch));
        why.push(format!("Only with switch {switch} on."));
    }
    if !conditions.is_empty() {
        map.push(
            "if",
            Node::Str(format!("${{{{ {} }}}}", conditions.join(" && "))),
        );
        map = map.comment(&why.join("\n"));
    }
    map.push("runs-on", job.runs_on.as_str());
    if !job.secrets.is_empty() {
        let mut env = Map::new();
        for secret in &job.secrets {
            env.push(secret, Node::Str(format!("${{{{ secrets.{secret} }}}}")));
        }
        map = map
            .set("env", env)
            .comment("The secrets this job's steps use, and no others.");
    }
    if let Some(matrix) = &job.matrix {
        let mut m = Map::new();
        for (axis, values) in &matrix.axes {
            m.push(
                axis,
                Node::Seq(values.iter().map(|v| Node::Str(v.clone())).collect()),
            );
        }
        for (key, combos) in [("include", &matrix.include), ("exclude", &matrix.exclude)] {
            if !combos.is_empty() {
                m.push(key, Node::Seq(combos.iter().map(Node::from).collect()));
            }
        }
        map.push(
            "strategy",
            Map::new().set("fail-fast", plan.fail_fast).set("matrix", m),
        );
    }
    let mut steps = setup_steps(&plan.caches);
    if !job.presets.is_empty() {
        steps.push(services_step(&job.presets));
    }
    // The expression is replaced before the shell runs, so single quotes
    // keep the value one word.
    let run = plan.run_line(job, |key| format!("'{key}=${{{{ matrix.{key} }}}}'"));
    let mut step = Map::new()
        .set("name", format!("parity run --job {}", job.name))
        .set("id", "parity");
    if let (Some(minutes), Some(limit)) = (job.timeout_minutes, job.timeout) {
        step = step.set("timeout-minutes", minutes).comment(&format!(
            "parity stops the job after {}; this is a backstop.",
            humantime::format_duration(limit)
        ));
    }
    steps.push(step.set("run", run).into());
    map.set("steps", steps)
}

/// `parity deploy NAME` for the pushed commit, after the CI jobs it needs,
/// one at a time per environment.
fn deploy_job(plan: &CiPlan, deploy: &CiDeploy) -> Map {
    let mut map = Map::new().set("name", format!("deploy {}", deploy.name));
    if !deploy.needs.is_empty() {
        map.push(
            "needs",
            Node::Flow(deploy.needs.iter().map(|n| n.id.clone()).collect()),
        );
    }
    let (branch_ref, branch_words) = match &deploy.branch {
        // Quotes double inside an expression's string.
        Some(branch) => (
            format!("'refs/heads/{}'", branch.replace('\'', "''")),
            format!("`{branch}`"),
        ),
        None => (
            "format('refs/heads/{0}', github.event.repository.default_branch)".to_owned(),
            "the default branch".to_owned(),
        ),
    };
    let mut conditions = Vec::new();
    let mut why = Vec::new();
    if !deploy.needs.is_empty() {
        conditions.push("!failure() && !cancelled()".to_owned());
        why.push("Runs when what it needs passed or was skipped by a switch,".to_owned());
        why.push(format!("and only for pushes to {branch_words}."));
    } else {
        why.push(format!("Only for pushes to {branch_words}."));
    }
    conditions.push("github.event_name == 'push'".to_owned());
    conditions.push(format!("github.ref == {branch_ref}"));
    map.push(
        "if",
        Node::Str(format!("${{{{ {} }}}}", conditions.join(" && "))),
    );
    map = map.comment(&why.join("\n"));
    map = map
        .set(
            "concurrency",
            Map::new()
                .set("group", deploy.concurrency_group.as_str())
                .set("cancel-in-progress", false),
        )
        .comment(&format!(
            "Deploys to {} run one at a time, from any run or branch: a running deploy is\n\
             never cancelled (a newer one replaces one still waiting).",
            deploy.name
        ))
        .set("permissions", Map::new().set("contents", "write"))
        .comment(&format!(
            "`parity deploy` pushes the environment's ledger, refs/parity/deploys/{}.",
            deploy.name
        ))
        .set("runs-on", deploy.runs_on.as_str());
    if !deploy.secrets.is_empty() {
        let mut env = Map::new();
        for secret in &deploy.secrets {
            env.push(secret, Node::Str(format!("${{{{ secrets.{secret} }}}}")));
        }
        map = map
            .set("env", env)
            .comment("The secrets the deploy, and the jobs it runs first, use; no others.");
    }
    let mut steps = vec![Map::new()
        .set("uses", CHECKOUT)
        .comment("The whole history: the stale-commit guard compares the commit with the live one.")
        .set("with", Map::new().set("fetch-depth", 0))
        .into()];
    steps.extend(cache_steps(&plan.caches));
    steps.extend(install_steps());
    if !deploy.presets.is_empty() {
        steps.push(services_step(&deploy.presets));
    }
    // No `timeout-minutes`: stopping a deploy halfway is worse than a slow
    // one; the deploy's `timeout` limits its steps.
    steps.push(
        Map::new()
            .set("name", format!("parity deploy {}", deploy.name))
            .set("run", deploy_line(deploy, "${{ github.sha }}"))
            .into(),
    );
    map.set("steps", steps)
}

/// `test (features=${{ matrix.features }})`, as parity names the instance.
fn display_name(job: &CiJob) -> String {
    match &job.matrix {
        Some(matrix) if !matrix.axes.is_empty() => {
            let values: Vec<String> = matrix
                .axes
                .iter()
                .map(|(axis, _)| format!("{axis}=${{{{ matrix.{axis} }}}}"))
                .collect();
            format!("{} ({})", job.name, values.join(", "))
        }
        _ => job.name.clone(),
    }
}

fn check_job(plan: &CiPlan) -> Map {
    let mut steps = vec![Map::new().set("uses", CHECKOUT).into()];
    steps.extend(install_steps());
    steps.push(
        Map::new()
            .set("name", "parity check")
            .set("run", "parity check")
            .into(),
    );
    Map::new()
        .set("name", "parity check")
        .set("runs-on", plan.usual_runner())
        .set("steps", steps)
}

/// Checkout, the tool caches, and parity itself.
fn setup_steps(caches: &[ToolCache]) -> Vec<Node> {
    let mut steps = vec![Map::new().set("uses", CHECKOUT).into()];
    steps.extend(cache_steps(caches));
    steps.extend(install_steps());
    steps
}

/// An `actions/cache` step per tool the repository uses.
fn cache_steps(caches: &[ToolCache]) -> Vec<Node> {
    let mut steps = Vec::new();
    for cache in caches {
        let tool = cache.tool.name();
        let mut paths: Vec<String> = cache
            .tool
            .home_paths()
            .iter()
            .map(|p| p.to_string())
            .collect();
        paths.extend(cache.build_dirs.iter().cloned());
        let files: Vec<String> = cache.lockfiles.iter().map(|f| format!("'{f}'")).collect();
        steps.push(
            Map::new()
                .set("name", format!("Restore the {tool} cache"))
                .set("uses", CACHE)
                .set(
                    "with",
                    Map::new()
                        .set("path", lines(&paths))
                        .set(
                            "key",
                            format!(
                                "{tool}-${{{{ runner.os }}}}-${{{{ hashFiles({}) }}}}",
                                files.join(", ")
                            ),
                        )
                        .set("restore-keys", format!("{tool}-${{{{ runner.os }}}}-")),
                )
                .into(),
        );
    }
    steps
}

/// parity, pinned to the version that generated the workflow; cached.
fn install_steps() -> Vec<Node> {
    vec![
        Map::new()
            .set("name", format!("Restore parity {PARITY_VERSION}"))
            .set("id", "parity-bin")
            .set("uses", CACHE)
            .set(
                "with",
                Map::new().set("path", "~/.cargo/bin/parity").set(
                    "key",
                    format!("parity-{PARITY_VERSION}-${{{{ runner.os }}}}"),
                ),
            )
            .into(),
        Map::new()
            .set("name", format!("Install parity {PARITY_VERSION}"))
            .set("if", "steps.parity-bin.outputs.cache-hit != 'true'")
            .set("run", install_command(None))
            .into(),
    ]
}

/// The `run:` of the step that installs what preset services start.
pub(crate) fn services_command(presets: &[Preset]) -> String {
    format!(
        "sudo apt-get update -qq && sudo apt-get install -y -qq --no-install-recommends {}",
        preset_packages(presets)
    )
}

fn services_step(presets: &[Preset]) -> Node {
    Map::new()
        .set("name", "Install the programs of preset services")
        .set("run", services_command(presets))
        .comment("parity starts the services itself, natively, as it does on a laptop.")
        .into()
}

/// Several lines as one literal block; a single one as it is.
fn lines(items: &[String]) -> String {
    let mut text = items.join("\n");
    if items.len() > 1 {
        text.push('\n');
    }
    text
}

/// Every `run:` text this module writes that is not a `parity` command:
/// `parity check` accepts exactly these.
pub(crate) fn generated_commands(plan: &CiPlan) -> Vec<String> {
    let mut commands = vec![install_command(None)];
    let presets = plan
        .jobs
        .iter()
        .map(|j| &j.presets)
        .chain(plan.deploys.iter().map(|d| &d.presets));
    for presets in presets {
        if !presets.is_empty() {
            commands.push(services_command(presets));
        }
    }
    commands
}

//! `parity init --from .github/workflows/ci.yml`: a GitHub Actions workflow
//! turned into a pipeline. Jobs, `needs`, `run:` steps (with
//! `working-directory`), job and step `env`, `strategy.matrix`,
//! `timeout-minutes` and postgres/redis `services:` translate; whatever does
//! not (other actions, expressions with no local meaning, conditions) is
//! kept as a comment naming its line, never dropped in silence.

use super::detect::preset_of;
use super::draft::{Draft, JobDraft, ServiceDraft, StepDraft};
use super::yaml::Node;
use crate::pipeline::placeholder::escape;
use crate::services::env_prefix;
use regex::Regex;
use std::sync::LazyLock;

/// Actions whose work parity does itself or that only install a toolchain.
/// The `with:` key naming the version goes to `[tools]`.
const SETUP_ACTIONS: &[(&str, &str, &str)] = &[
    ("actions/setup-python", "python", "python-version"),
    ("actions/setup-node", "node", "node-version"),
    ("actions/setup-go", "go", "go-version"),
    ("actions/setup-java", "java", "java-version"),
    ("ruby/setup-ruby", "ruby", "ruby-version"),
    ("actions/setup-dotnet", "dotnet", "dotnet-version"),
    ("dtolnay/rust-toolchain", "rust", "toolchain"),
    ("actions-rs/toolchain", "rust", "toolchain"),
];

/// Actions with nothing to do outside CI: parity runs in the checkout, and
/// has its own cache.
const NOTHING_TO_DO: &[&str] = &[
    "actions/checkout",
    "actions/cache",
    "Swatinem/rust-cache",
    "actions/upload-artifact",
    "actions/download-artifact",
];

/// Job keys that only matter to a CI server.
const CI_ONLY: &[&str] = &["permissions", "concurrency", "environment", "outputs"];

static EXPRESSION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$\{\{\s*(.*?)\s*\}\}").expect("static regex"));
static SERVICE_PORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"^job\.services\.([A-Za-z0-9_-]+)\.ports(?:\[\s*['"]?(\d+)['"]?\s*\]|\.(\d+))$"#)
        .expect("static regex")
});

/// Where an expression appears: shell text can read variables, a TOML env
/// value cannot.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Context {
    Shell,
    Value,
}

struct Importer<'a> {
    file: &'a str,
    draft: Draft,
    /// Matrix keys of the job being translated.
    matrix_keys: Vec<String>,
    /// Service names of the job being translated: GitHub name → pipeline name.
    services: Vec<(String, String)>,
    /// Workflow-level `env`, for `${{ env.X }}` in values.
    workflow_env: Vec<(String, String)>,
}

/// Translates a parsed workflow. `file` names it in comments.
pub(crate) fn import(doc: &Node, file: &str) -> Result<Draft, String> {
    let jobs = match doc.get("jobs") {
        Some(jobs @ Node::Map(..)) => jobs,
        _ => {
            return Err(format!(
                "{file} has no `jobs:` mapping; is it a GitHub Actions workflow?"
            ))
        }
    };
    let mut importer = Importer {
        file,
        draft: Draft::default(),
        matrix_keys: Vec::new(),
        services: Vec::new(),
        workflow_env: Vec::new(),
    };
    importer.draft.header = vec![
        "parity's pipeline: `parity run` runs it here exactly as CI will.".into(),
        format!("Imported by `parity init --from {file}`. Lines starting `# line N:` are parts"),
        "of the workflow that were not translated: each names its line in the workflow.".into(),
    ];
    if let Some(name) = doc.get("name").and_then(Node::str) {
        importer.draft.header.push(format!("Workflow: {name}"));
    }
    if let Some(on) = doc.get("on") {
        let triggers = match on {
            Node::Map(entries, _) => entries.iter().map(|(k, _)| k.clone()).collect(),
            other => other.strings(),
        };
        importer.draft.header.push(format!(
            "Triggers (on: {}) stay CI's business: `parity gen github` writes a workflow that calls parity.",
            triggers.join(", ")
        ));
    }
    for (key, value) in doc.get("env").map(Node::entries).unwrap_or_default() {
        let text = value.str().unwrap_or_default().to_owned();
        match importer.expressions(&text, Context::Value) {
            Ok(resolved) => {
                importer.workflow_env.push((key.clone(), resolved.clone()));
                importer.draft.env.push((key.clone(), resolved));
            }
            Err(why) => importer
                .draft
                .footer
                .push(format!("line {}: env {key}: {text} — {why}", value.line())),
        }
    }
    for (key, value) in doc.entries() {
        if ![
            "name",
            "on",
            "env",
            "jobs",
            "run-name",
            "permissions",
            "concurrency",
            "defaults",
        ]
        .contains(&key.as_str())
        {
            importer
                .draft
                .footer
                .push(format!("line {}: `{key}:` — not translated", value.line()));
        }
    }
    for (id, job) in jobs.entries() {
        importer.job(id, job);
    }
    Ok(importer.draft)
}

impl Importer<'_> {
    fn job(&mut self, id: &str, job: &Node) {
        let mut draft = JobDraft {
            name: id.to_owned(),
            ..JobDraft::default()
        };
        if let Some(name) = job.get("name").and_then(Node::str) {
            draft
                .comments
                .push(format!("{name} (line {} of {})", job.line(), self.file));
        }
        draft.needs = job.get("needs").map(Node::strings).unwrap_or_default();
        self.matrix(job, &mut draft);
        self.services = Vec::new();
        if let Some(services) = job.get("services") {
            self.job_services(services, &mut draft);
        }
        for (key, value) in job.entries() {
            let line = value.line();
            match key.as_str() {
                "name" | "needs" | "strategy" | "services" | "steps" | "env" | "defaults" => {}
                "runs-on" => match value.str() {
                    Some(label) if !label.contains("${{") => draft.runs_on = Some(label.to_owned()),
                    _ => draft.comments.push(format!("line {line}: runs-on: {} — parity runs on this machine", flat(value))),
                },
                "timeout-minutes" => match value.str().and_then(|m| m.parse::<f64>().ok()) {
                    Some(minutes) if minutes > 0.0 => {
                        draft.timeout = Some(if minutes.fract() == 0.0 {
                            format!("{minutes}m")
                        } else {
                            format!("{}s", (minutes * 60.0).round())
                        })
                    }
                    _ => draft.comments.push(format!("line {line}: timeout-minutes: {} — not a number of minutes", flat(value))),
                },
                "if" => draft.comments.push(format!("line {line}: if: {} — not evaluated; the job always runs", flat(value))),
                "container" => draft.comments.push(format!(
                    "line {line}: container: {} — run with `parity run --container` and a [runner] image instead",
                    flat(value)
                )),
                key if CI_ONLY.contains(&key) => {
                    draft.comments.push(format!("line {line}: {key}: — only meaningful on the CI server"))
                }
                other => draft.comments.push(format!("line {line}: `{other}:` — not translated")),
            }
        }
        let defaults = job.get("defaults").and_then(|d| d.get("run"));
        if let Some(dir) = defaults
            .and_then(|d| d.get("working-directory"))
            .and_then(Node::str)
        {
            draft.working_directory = Some(dir.trim_start_matches("./").to_owned());
        }
        if let Some(shell) = defaults.and_then(|d| d.get("shell")) {
            if let Some(translated) = shell_of(shell.str().unwrap_or_default()) {
                draft.shell = translated;
            } else {
                draft.comments.push(format!(
                    "line {}: shell: {} — not translated",
                    shell.line(),
                    flat(shell)
                ));
            }
        }
        for (key, value) in job.get("env").map(Node::entries).unwrap_or_default() {
            self.env_entry(key, value, &mut draft.env, &mut draft.comments);
        }
        let steps = job.get("steps").map(Node::items).unwrap_or_default();
        self.steps(steps, &mut draft);
        if draft.steps.is_empty() {
            let uses = job
                .get("uses")
                .and_then(Node::str)
                .unwrap_or("no `run:` steps");
            draft
                .comments
                .push(format!("No step of this job could be translated ({uses})."));
            draft.steps.push(StepDraft::new(format!(
                "echo \"{}: nothing to run locally; see the comments in parity.toml\"",
                id
            )));
        }
        self.draft.jobs.push(draft);
    }

    fn matrix(&mut self, job: &Node, draft: &mut JobDraft) {
        self.matrix_keys = Vec::new();
        let Some(strategy) = job.get("strategy") else {
            return;
        };
        for (key, value) in strategy.entries() {
            if key != "matrix" {
                draft.comments.push(format!(
                    "line {}: strategy.{key}: {} — not translated",
                    value.line(),
                    flat(value)
                ));
            }
        }
        let Some(matrix) = strategy.get("matrix") else {
            return;
        };
        if let Some(text) = matrix.str() {
            draft.comments.push(format!(
                "line {}: matrix: {text} — a computed matrix cannot be translated",
                matrix.line()
            ));
            return;
        }
        for (key, value) in matrix.entries() {
            match (key.as_str(), value) {
                ("include" | "exclude", Node::Seq(items, _)) => {
                    let mut combos: Vec<Vec<(String, String)>> = Vec::new();
                    for item in items {
                        let combo: Vec<(String, String)> = item
                            .entries()
                            .iter()
                            .filter_map(|(k, v)| v.str().map(|s| (k.clone(), s.to_owned())))
                            .collect();
                        // parity refuses a matrix that runs one instance twice.
                        if combos.contains(&combo) {
                            draft.comments.push(format!(
                                "line {}: matrix.{key}: {} — listed twice, kept once",
                                item.line(),
                                flat(item)
                            ));
                        } else {
                            combos.push(combo);
                        }
                    }
                    for combo in &combos {
                        for (k, _) in combo {
                            if !self.matrix_keys.contains(k) {
                                self.matrix_keys.push(k.clone());
                            }
                        }
                    }
                    if key == "include" {
                        draft.matrix_include = combos;
                    } else {
                        draft.matrix_exclude = combos;
                    }
                }
                (_, Node::Seq(items, _)) if items.iter().all(|i| i.str().is_some()) => {
                    let mut values: Vec<String> = Vec::new();
                    for (item, text) in items.iter().zip(value.strings()) {
                        if values.contains(&text) {
                            draft.comments.push(format!(
                                "line {}: matrix.{key}: {text} — listed twice, kept once",
                                item.line()
                            ));
                        } else {
                            values.push(text);
                        }
                    }
                    draft.matrix.push((key.clone(), values));
                    self.matrix_keys.push(key.clone());
                }
                _ => draft.comments.push(format!(
                    "line {}: matrix.{key}: {} — only lists of plain values translate",
                    value.line(),
                    flat(value)
                )),
            }
        }
    }

    fn job_services(&mut self, services: &Node, draft: &mut JobDraft) {
        for (name, service) in services.entries() {
            let image = service
                .get("image")
                .and_then(Node::str)
                .or(service.str())
                .unwrap_or_default();
            let Some(preset) = preset_of(image) else {
                draft.comments.push(format!(
                    "line {}: services.{name}: image {image} — only postgres and redis become presets; \
                     add it as `[services.{name}]` with `image` or `command`",
                    service.line()
                ));
                continue;
            };
            let mut comments = vec![format!(
                "line {}: services.{name} (image {image}) as the `{preset}` preset.",
                service.line()
            )];
            let env: Vec<(String, String)> = service
                .get("env")
                .map(Node::entries)
                .unwrap_or_default()
                .iter()
                .filter_map(|(k, v)| {
                    let text = v.str().unwrap_or_default();
                    match self.expressions(text, Context::Value) {
                        Ok(value) => Some((k.clone(), value)),
                        Err(why) => {
                            comments.push(format!("line {}: env {k}: {text} — {why}", v.line()));
                            None
                        }
                    }
                })
                .collect();
            let mut port = None;
            for mapping in service.get("ports").map(Node::items).unwrap_or_default() {
                let text = mapping.str().unwrap_or_default();
                match text.split_once(':') {
                    Some((host, _)) => port = host.parse::<u16>().ok().or(port),
                    None => comments.push(format!(
                        "line {}: ports: {text} — CI picks the host port; parity does too and exports {}_PORT",
                        mapping.line(),
                        env_prefix(name)
                    )),
                }
            }
            if let Some(options) = service.get("options") {
                comments.push(format!(
                    "line {}: options: {} — the preset has its own readiness check",
                    options.line(),
                    flat(options).trim()
                ));
            }
            // Services are the pipeline's, not the job's: the same name with
            // another setup in another job gets a name of its own.
            let mut pipeline_name = name.clone();
            let same = |s: &ServiceDraft| s.preset == preset && s.env == env && s.port == port;
            let mut n = 2;
            loop {
                match self.draft.services.iter().find(|s| s.name == pipeline_name) {
                    Some(existing) if same(existing) => break,
                    Some(_) => {
                        pipeline_name = format!("{name}-{n}");
                        n += 1;
                    }
                    None => {
                        self.draft.services.push(ServiceDraft {
                            name: pipeline_name.clone(),
                            preset: preset.into(),
                            port,
                            env: env.clone(),
                            comments: comments.clone(),
                        });
                        break;
                    }
                }
            }
            self.services.push((name.clone(), pipeline_name.clone()));
            draft.services.push(pipeline_name);
        }
    }

    fn env_entry(
        &mut self,
        key: &str,
        value: &Node,
        env: &mut Vec<(String, String)>,
        comments: &mut Vec<String>,
    ) {
        let text = value.str().unwrap_or_default().to_owned();
        // `TOKEN: ${{ secrets.TOKEN }}`: the variable comes from the
        // environment or .env.ci.local under its own name, masked.
        if let Some(secret) = only_expression(&text).and_then(|e| e.strip_prefix("secrets.")) {
            self.secret(secret);
            if secret != key {
                self.secret(key);
                comments.push(format!(
                    "line {}: env {key}: {text} — set {key} in the environment or .env.ci.local",
                    value.line()
                ));
            }
            return;
        }
        match self.expressions(&text, Context::Value) {
            Ok(resolved) => env.push((key.to_owned(), resolved)),
            Err(why) => comments.push(format!("line {}: env {key}: {text} — {why}", value.line())),
        }
    }

    fn secret(&mut self, name: &str) {
        if !self.draft.secrets.iter().any(|s| s == name) {
            self.draft.secrets.push(name.to_owned());
        }
    }

    fn steps(&mut self, steps: &[Node], draft: &mut JobDraft) {
        // A step's `working-directory` shared by every `run:` step becomes the job's.
        let dirs: Vec<Option<&str>> = steps
            .iter()
            .filter(|s| s.get("run").is_some())
            .map(|s| {
                s.get("working-directory")
                    .and_then(Node::str)
                    .map(|d| d.trim_start_matches("./"))
            })
            .collect();
        if draft.working_directory.is_none() && dirs.len() > 1 {
            if let Some(Some(first)) = dirs.first() {
                if dirs.iter().all(|d| d == &Some(*first)) && !first.contains("${{") {
                    draft.working_directory = Some((*first).to_owned());
                }
            }
        }
        let mut pending: Vec<String> = Vec::new();
        for step in steps {
            let line = step.line();
            if let Some(uses) = step.get("uses").and_then(Node::str) {
                self.uses(uses, step, &mut pending);
                continue;
            }
            let Some(run) = step.get("run").and_then(Node::str) else {
                pending.push(format!(
                    "line {line}: a step with neither `run` nor `uses` — not translated"
                ));
                continue;
            };
            let mut notes = std::mem::take(&mut pending);
            if let Some(name) = step.get("name").and_then(Node::str) {
                notes.push(name.to_owned());
            }
            let mut script = String::new();
            for (key, value) in step.entries() {
                match key.as_str() {
                    "run" | "name" | "env" | "working-directory" | "id" => {}
                    "shell" => match shell_of(value.str().unwrap_or_default()) {
                        Some(None) => {}
                        _ => notes.push(format!(
                            "line {}: shell: {} — run with the job's shell instead",
                            value.line(),
                            flat(value)
                        )),
                    },
                    "if" => notes.push(format!(
                        "line {}: if: {} — not evaluated; the step always runs",
                        value.line(),
                        flat(value)
                    )),
                    "continue-on-error" => notes.push(format!(
                        "line {}: continue-on-error: {} — a failure here fails the job",
                        value.line(),
                        flat(value)
                    )),
                    other => notes.push(format!(
                        "line {}: `{other}:` — not translated",
                        value.line()
                    )),
                }
            }
            if let Some(dir) = step.get("working-directory").and_then(Node::str) {
                let dir = dir.trim_start_matches("./");
                if draft.working_directory.as_deref() != Some(dir) {
                    match self.expressions(dir, Context::Shell) {
                        Ok(dir) => script.push_str(&format!("cd {}\n", shell_quote(&dir))),
                        Err(why) => {
                            pending.extend(notes);
                            pending.push(format!("line {line}: working-directory: {dir} — {why}; step not translated:"));
                            pending.extend(run.lines().map(|l| format!("  {l}")));
                            continue;
                        }
                    }
                }
            }
            let mut env_failed = None;
            for (key, value) in step.get("env").map(Node::entries).unwrap_or_default() {
                let text = value.str().unwrap_or_default();
                if let Some(secret) = only_expression(text).and_then(|e| e.strip_prefix("secrets."))
                {
                    self.secret(secret);
                    if secret != key {
                        script.push_str(&format!("export {key}=\"${{{secret}}}\"\n"));
                    }
                    continue;
                }
                match self.expressions(text, Context::Shell) {
                    Ok(value) => script
                        .push_str(&format!("export {key}={}\n", shell_quote_expanding(&value))),
                    Err(why) => {
                        env_failed =
                            Some(format!("line {}: env {key}: {text} — {why}", value.line()))
                    }
                }
            }
            let translated = match (env_failed, self.expressions(run, Context::Shell)) {
                (None, Ok(body)) => Ok(body),
                (Some(why), _) | (None, Err(why)) => Err(why),
            };
            match translated {
                Ok(body) => {
                    script.push_str(&body);
                    let script = script.trim_end_matches('\n');
                    // Multi-line scripts keep a final newline, as YAML's `|` gives them.
                    let command = if script.contains('\n') {
                        format!("{script}\n")
                    } else {
                        script.to_owned()
                    };
                    draft.steps.push(StepDraft {
                        command,
                        comments: notes,
                    });
                }
                Err(why) => {
                    notes.push(format!("line {line}: {why}; step not translated:"));
                    notes.extend(run.lines().map(|l| format!("  {l}")));
                    pending.extend(notes);
                }
            }
        }
        // Notes after the last step have no step to sit above.
        draft.comments.extend(pending);
    }

    fn uses(&mut self, uses: &str, step: &Node, pending: &mut Vec<String>) {
        let line = step.line();
        let (action, reference) = uses.split_once('@').unwrap_or((uses, ""));
        if NOTHING_TO_DO.iter().any(|a| a.eq_ignore_ascii_case(action)) {
            return;
        }
        if let Some((_, tool, key)) = SETUP_ACTIONS
            .iter()
            .find(|(a, _, _)| a.eq_ignore_ascii_case(action))
        {
            let with = step.get("with");
            let version = with
                .and_then(|w| w.get(key))
                .and_then(Node::str)
                .map(str::to_owned)
                .or_else(|| {
                    (*tool == "rust" && !reference.is_empty() && action == "dtolnay/rust-toolchain")
                        .then(|| reference.to_owned())
                });
            match version {
                Some(version) if version.contains("${{") => pending.push(format!(
                    "line {line}: {uses} with {key}: {version} — the version varies; `[tools]` pins one"
                )),
                Some(version) if !self.draft.tools.iter().any(|(t, _, _)| t == tool) => {
                    self.draft.tools.push(((*tool).to_owned(), version, Some(format!("from {uses}, line {line}"))));
                }
                Some(_) | None => {}
            }
            if let Some(with) = with {
                for (k, v) in with.entries() {
                    if k != key {
                        pending.push(format!(
                            "line {}: {uses} with {k}: {} — not translated",
                            v.line(),
                            flat(v)
                        ));
                    }
                }
            }
            return;
        }
        let mut note =
            format!("line {line}: uses: {uses} — not translated; add the equivalent shell command");
        if let Some(with) = step.get("with") {
            let args: Vec<String> = with
                .entries()
                .iter()
                .map(|(k, v)| format!("{k}: {}", flat(v)))
                .collect();
            note.push_str(&format!(" (with {})", args.join(", ")));
        }
        if let Some(name) = step.get("name").and_then(Node::str) {
            note = format!("{name}: {note}");
        }
        pending.push(note);
    }

    /// Replaces every `${{ … }}` in `text` it can; the first it cannot is
    /// the error. The rest is escaped where parity would read a placeholder
    /// (a Go template's `{{.Names}}`).
    fn expressions(&mut self, text: &str, context: Context) -> Result<String, String> {
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for found in EXPRESSION.captures_iter(text) {
            let (Some(whole), Some(inner)) = (found.get(0), found.get(1)) else {
                continue;
            };
            out.push_str(&escape(&text[last..whole.start()]));
            out.push_str(&self.expression(inner.as_str(), context)?);
            last = whole.end();
        }
        out.push_str(&escape(&text[last..]));
        Ok(out)
    }

    fn expression(&mut self, expr: &str, context: Context) -> Result<String, String> {
        if let Some(key) = expr.strip_prefix("matrix.") {
            return if self.matrix_keys.iter().any(|k| k == key) {
                Ok(format!("{{{{matrix.{key}}}}}"))
            } else {
                Err(format!(
                    "`${{{{ {expr} }}}}` names no matrix key of this job"
                ))
            };
        }
        if let Some(name) = expr.strip_prefix("secrets.").filter(|n| is_name(n)) {
            self.secret(name);
            return match context {
                Context::Shell => Ok(format!("${{{name}}}")),
                Context::Value => Err(format!(
                    "a secret in a value; set it in the environment as {name}"
                )),
            };
        }
        if let Some(name) = expr.strip_prefix("env.").filter(|n| is_name(n)) {
            return match context {
                Context::Shell => Ok(format!("${{{name}}}")),
                Context::Value => self
                    .workflow_env
                    .iter()
                    .find(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("`${{{{ {expr} }}}}` has no value parity knows here")),
            };
        }
        if let Some(captures) = SERVICE_PORT.captures(expr) {
            let name = &captures[1];
            if let Some((_, pipeline_name)) = self.services.iter().find(|(n, _)| n == name) {
                return Ok(match context {
                    Context::Shell => format!("${{{}_PORT}}", env_prefix(pipeline_name)),
                    Context::Value => format!("{{{{services.{pipeline_name}.port}}}}"),
                });
            }
        }
        match expr {
            "runner.os" => Ok("Linux".into()),
            "github.workspace" if context == Context::Shell => {
                Ok("$(git rev-parse --show-toplevel)".into())
            }
            _ => Err(format!(
                "`${{{{ {expr} }}}}` cannot be resolved outside GitHub Actions"
            )),
        }
    }
}

/// `Some(None)`: bash, the default. `Some(Some(…))`: a shell parity can use.
fn shell_of(name: &str) -> Option<Option<String>> {
    match name {
        "bash" => Some(None),
        "sh" => Some(Some("sh -e".into())),
        "python" => Some(Some("python3".into())),
        _ => None,
    }
}

/// The expression when `text` is exactly one `${{ … }}`.
fn only_expression(text: &str) -> Option<&str> {
    let found = EXPRESSION.captures(text.trim())?;
    (found.get(0)?.as_str() == text.trim()).then(|| found.get(1).map_or("", |m| m.as_str()))
}

fn is_name(text: &str) -> bool {
    !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn shell_quote(text: &str) -> String {
    shlex::try_quote(text).map_or_else(|_| format!("'{text}'"), |q| q.into_owned())
}

/// Double quotes, so the `${VAR}` the importer wrote still expands.
fn shell_quote_expanding(text: &str) -> String {
    let escaped = text
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('`', "\\`");
    format!("\"{escaped}\"")
}

/// A node on one line, for comments.
fn flat(node: &Node) -> String {
    match node {
        Node::Scalar(Some(text), _) => text.lines().next().unwrap_or_default().to_owned(),
        Node::Scalar(None, _) => "null".into(),
        Node::Seq(items, _) => format!(
            "[{}]",
            items.iter().map(flat).collect::<Vec<_>>().join(", ")
        ),
        Node::Map(entries, _) => format!(
            "{{{}}}",
            entries
                .iter()
                .map(|(k, v)| format!("{k}: {}", flat(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

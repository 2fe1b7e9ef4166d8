//! A starter pipeline before it becomes text: jobs, services and tools, each
//! with the comments that explain where it came from or what was left out.
//! Written by hand rather than through a TOML serializer because the
//! comments are half the value of the file.

use std::fmt::Write;

#[derive(Debug, Default)]
pub(crate) struct Draft {
    /// Lines at the top of the file (without `# `).
    pub(crate) header: Vec<String>,
    pub(crate) tools: Vec<(String, String, Option<String>)>,
    pub(crate) env: Vec<(String, String)>,
    /// Secret names steps use; masked, and set from the environment.
    pub(crate) secrets: Vec<String>,
    pub(crate) services: Vec<ServiceDraft>,
    pub(crate) jobs: Vec<JobDraft>,
    /// Notes that belong to no job, printed at the end.
    pub(crate) footer: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct ServiceDraft {
    pub(crate) name: String,
    pub(crate) preset: String,
    pub(crate) port: Option<u16>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) comments: Vec<String>,
}

#[derive(Debug, Default)]
pub(crate) struct JobDraft {
    pub(crate) name: String,
    /// Above the `[jobs.NAME]` header.
    pub(crate) comments: Vec<String>,
    /// Inside the table, right under its header: commented-out keys a
    /// person may turn on, which must land in this table when uncommented.
    pub(crate) hints: Vec<String>,
    pub(crate) needs: Vec<String>,
    pub(crate) steps: Vec<StepDraft>,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) matrix: Vec<(String, Vec<String>)>,
    pub(crate) matrix_include: Vec<Vec<(String, String)>>,
    pub(crate) matrix_exclude: Vec<Vec<(String, String)>>,
    pub(crate) timeout: Option<String>,
    pub(crate) services: Vec<String>,
    pub(crate) working_directory: Option<String>,
    pub(crate) runs_on: Option<String>,
    pub(crate) shell: Option<String>,
    pub(crate) inputs: Vec<String>,
}

#[derive(Debug, Default, Clone)]
pub(crate) struct StepDraft {
    pub(crate) command: String,
    /// Comments written above the step inside the `run` list.
    pub(crate) comments: Vec<String>,
}

impl StepDraft {
    pub(crate) fn new(command: impl Into<String>) -> StepDraft {
        StepDraft {
            command: command.into(),
            comments: Vec::new(),
        }
    }
}

/// A TOML string: basic, or multi-line literal for scripts, whichever
/// reads better and round-trips.
pub(crate) fn string(value: &str) -> String {
    if value.contains('\n') && !value.contains("'''") && !value.contains('\r') {
        // A newline right after the opening quotes is trimmed by TOML.
        format!("'''\n{value}'''")
    } else {
        toml::Value::String(value.to_owned()).to_string()
    }
}

/// A key, quoted when it is not a bare TOML key.
pub(crate) fn key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if bare {
        name.to_owned()
    } else {
        toml::Value::String(name.to_owned()).to_string()
    }
}

fn list(values: &[String]) -> String {
    let items: Vec<String> = values.iter().map(|v| string(v)).collect();
    format!("[{}]", items.join(", "))
}

fn comment(out: &mut String, indent: &str, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            let _ = writeln!(out, "{indent}#");
        } else {
            let _ = writeln!(out, "{indent}# {line}");
        }
    }
    if text.is_empty() {
        let _ = writeln!(out, "{indent}#");
    }
}

fn inline_table(pairs: &[(String, String)]) -> String {
    let items: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{} = {}", key(k), string(v)))
        .collect();
    format!("{{ {} }}", items.join(", "))
}

impl Draft {
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for line in &self.header {
            comment(&mut out, "", line);
        }
        out.push_str("version = 1\n");
        if !self.tools.is_empty() {
            out.push_str(
                "\n# Pinned toolchain: `parity doctor` reports drift from these.\n[tools]\n",
            );
            for (name, version, note) in &self.tools {
                match note {
                    Some(note) => {
                        let _ = writeln!(out, "{} = {}   # {note}", key(name), string(version));
                    }
                    None => {
                        let _ = writeln!(out, "{} = {}", key(name), string(version));
                    }
                }
            }
        }
        if !self.env.is_empty() {
            out.push_str("\n[env]\n");
            for (name, value) in &self.env {
                let _ = writeln!(out, "{} = {}", key(name), string(value));
            }
        }
        if !self.secrets.is_empty() {
            out.push_str(
                "\n# Read from the environment or .env.ci.local (keep that file out of git);\n\
                 # masked as *** in every log.\n[secrets]\n",
            );
            let _ = writeln!(out, "optional = {}", list(&self.secrets));
        }
        for service in &self.services {
            out.push('\n');
            for line in &service.comments {
                comment(&mut out, "", line);
            }
            let _ = writeln!(
                out,
                "[services.{}]\npreset = {}",
                key(&service.name),
                string(&service.preset)
            );
            if let Some(port) = service.port {
                let _ = writeln!(out, "port = {port}");
            }
            if !service.env.is_empty() {
                let _ = writeln!(out, "[services.{}.env]", key(&service.name));
                for (name, value) in &service.env {
                    let _ = writeln!(out, "{} = {}", key(name), string(value));
                }
            }
        }
        for job in &self.jobs {
            render_job(&mut out, job);
        }
        if !self.footer.is_empty() {
            out.push('\n');
            for line in &self.footer {
                comment(&mut out, "", line);
            }
        }
        out
    }
}

fn render_job(out: &mut String, job: &JobDraft) {
    out.push('\n');
    for line in &job.comments {
        comment(out, "", line);
    }
    let _ = writeln!(out, "[jobs.{}]", key(&job.name));
    for line in &job.hints {
        comment(out, "", line);
    }
    if !job.needs.is_empty() {
        let _ = writeln!(out, "needs = {}", list(&job.needs));
    }
    if let Some(runs_on) = &job.runs_on {
        let _ = writeln!(out, "runs_on = {}", string(runs_on));
    }
    if let Some(dir) = &job.working_directory {
        let _ = writeln!(out, "working_directory = {}", string(dir));
    }
    if let Some(shell) = &job.shell {
        let _ = writeln!(out, "shell = {}", string(shell));
    }
    if !job.services.is_empty() {
        let _ = writeln!(out, "services = {}", list(&job.services));
    }
    if let Some(timeout) = &job.timeout {
        let _ = writeln!(out, "timeout = {}", string(timeout));
    }
    if !job.inputs.is_empty() {
        let _ = writeln!(out, "inputs = {}", list(&job.inputs));
    }
    if !job.matrix.is_empty() || !job.matrix_include.is_empty() {
        let mut parts: Vec<String> = job
            .matrix
            .iter()
            .map(|(axis, values)| format!("{} = {}", key(axis), list(values)))
            .collect();
        for (name, combos) in [
            ("include", &job.matrix_include),
            ("exclude", &job.matrix_exclude),
        ] {
            if !combos.is_empty() {
                let tables: Vec<String> = combos.iter().map(|c| inline_table(c)).collect();
                parts.push(format!("{name} = [{}]", tables.join(", ")));
            }
        }
        let _ = writeln!(out, "matrix = {{ {} }}", parts.join(", "));
    }
    let simple = job.steps.len() == 1 && job.steps[0].comments.is_empty();
    if simple {
        let _ = writeln!(out, "run = {}", string(&job.steps[0].command));
    } else {
        out.push_str("run = [\n");
        for step in &job.steps {
            for line in &step.comments {
                comment(out, "  ", line);
            }
            let _ = writeln!(out, "  {},", string(&step.command));
        }
        out.push_str("]\n");
    }
    if !job.env.is_empty() {
        let _ = writeln!(out, "[jobs.{}.env]", key(&job.name));
        for (name, value) in &job.env {
            let _ = writeln!(out, "{} = {}", key(name), string(value));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_keys_round_trip() {
        for value in [
            "plain",
            "with \"quotes\" and \\",
            "two\nlines\n",
            "tab\there",
        ] {
            let text = format!("v = {}\n", string(value));
            let parsed: toml::Table = toml::from_str(&text).unwrap();
            assert_eq!(parsed["v"].as_str(), Some(value), "{text}");
        }
        assert_eq!(key("build-and-test"), "build-and-test");
        assert_eq!(key("has space"), "\"has space\"");
    }
}

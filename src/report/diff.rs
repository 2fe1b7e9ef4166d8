//! `parity diff A B`: what changed between two runs — which jobs changed
//! result, and which parts of the environment differ, most likely culprits
//! first. The answer to "it passes here and fails in CI".

use super::fingerprint::Fingerprint;
use super::record::RunRecord;
use serde::Serialize;
use std::collections::BTreeSet;
use std::fmt::Write;

/// A job whose result differs, or that ran in only one of the runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobChange {
    pub name: String,
    /// `None`: the job was not part of that run.
    pub a: Option<String>,
    pub b: Option<String>,
    /// Why it did not pass in B (or in A, when B passed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// One fingerprint entry that differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvChange {
    /// `tool.rust`, `env.RUST_LOG`, `env_name.CI`, `os.kernel`…
    pub key: String,
    pub category: &'static str,
    /// `None`: absent, unset or unknown on that side.
    pub a: Option<String>,
    pub b: Option<String>,
    /// Higher is more likely to explain a changed result.
    pub relevance: u32,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunDiff {
    pub a: String,
    pub b: String,
    pub jobs: Vec<JobChange>,
    pub fingerprint: Vec<EnvChange>,
}

/// Variables whose presence often changes how builds and tests behave.
const INFLUENTIAL: &[&str] = &[
    "CI",
    "PATH",
    "HOME",
    "LANG",
    "TZ",
    "SHELL",
    "USER",
    "LD_",
    "LC_",
    "RUST",
    "CARGO",
    "PYTHON",
    "PIP_",
    "VIRTUAL_ENV",
    "NODE",
    "NPM_",
    "JAVA",
    "MAVEN",
    "GRADLE",
    "GO",
    "DOCKER",
    "PG",
    "REDIS",
    "DATABASE",
    "TERM",
];

pub fn compare(a: &RunRecord, b: &RunRecord) -> RunDiff {
    RunDiff {
        a: a.id.clone(),
        b: b.id.clone(),
        jobs: jobs(a, b),
        fingerprint: fingerprint(&a.fingerprint, &b.fingerprint, &tools_of_changed(a, b)),
    }
}

fn jobs(a: &RunRecord, b: &RunRecord) -> Vec<JobChange> {
    let mut names: Vec<&String> = a.jobs.iter().map(|j| &j.name).collect();
    for job in &b.jobs {
        if !names.contains(&&job.name) {
            names.push(&job.name);
        }
    }
    let mut changes: Vec<JobChange> = names
        .into_iter()
        .filter_map(|name| {
            let ja = a.jobs.iter().find(|j| &j.name == name);
            let jb = b.jobs.iter().find(|j| &j.name == name);
            let ra = ja.map(|j| j.result.clone());
            let rb = jb.map(|j| j.result.clone());
            if ra == rb {
                return None;
            }
            let detail = jb
                .filter(|j| j.result != "passed")
                .or(ja.filter(|j| j.result != "passed"))
                .and_then(|j| j.detail.clone());
            Some(JobChange {
                name: name.clone(),
                a: ra,
                b: rb,
                detail,
            })
        })
        .collect();
    // Newly failing jobs first.
    changes.sort_by_key(|c| !matches!(c.b.as_deref(), Some("failed" | "timed_out")));
    changes
}

/// Tools the steps of jobs that changed result call: their versions matter most.
fn tools_of_changed(a: &RunRecord, b: &RunRecord) -> BTreeSet<String> {
    let changed: Vec<String> = jobs(a, b).into_iter().map(|c| c.name).collect();
    let steps = a
        .jobs
        .iter()
        .chain(&b.jobs)
        .filter(|j| changed.contains(&j.name))
        .flat_map(|j| j.steps.iter().map(|s| s.command.as_str()));
    super::tools::called_by(steps).into_iter().collect()
}

fn fingerprint(a: &Fingerprint, b: &Fingerprint, hot_tools: &BTreeSet<String>) -> Vec<EnvChange> {
    let mut out = Vec::new();
    let mut push = |key: String,
                    category: &'static str,
                    va: Option<String>,
                    vb: Option<String>,
                    relevance: u32| {
        if va != vb {
            out.push(EnvChange {
                key,
                category,
                a: va,
                b: vb,
                relevance,
            });
        }
    };

    let tool_names: BTreeSet<&String> = a.tools.keys().chain(b.tools.keys()).collect();
    for name in tool_names {
        let ta = a.tools.get(name);
        let tb = b.tools.get(name);
        let version = |t: Option<&super::tools::ToolVersion>| t.and_then(|t| t.version.clone());
        let pinned = ta
            .and_then(|t| t.pinned.as_ref())
            .or(tb.and_then(|t| t.pinned.as_ref()));
        let relevance = if hot_tools.contains(name) {
            100
        } else if pinned.is_some() {
            95
        } else {
            85
        };
        // A tool that only one run probed says nothing about the machine.
        if ta.is_some() && tb.is_some() {
            push(
                format!("tool.{name}"),
                "tool",
                version(ta),
                version(tb),
                relevance,
            );
        }
    }
    let named: BTreeSet<&String> = a.env.values.keys().chain(b.env.values.keys()).collect();
    for name in named {
        let va = a.env.values.get(name).cloned().flatten();
        let vb = b.env.values.get(name).cloned().flatten();
        push(format!("env.{name}"), "env", va, vb, 88);
    }
    for (key, category, relevance, value) in FIELDS {
        push(key.into(), category, value(a), value(b), relevance);
    }

    let names_a: BTreeSet<&String> = a.env.names.iter().collect();
    let names_b: BTreeSet<&String> = b.env.names.iter().collect();
    for name in names_a.symmetric_difference(&names_b) {
        let upper = name.to_ascii_uppercase();
        let relevance = if INFLUENTIAL.iter().any(|p| upper.starts_with(p)) {
            45
        } else {
            30
        };
        let set = |names: &BTreeSet<&String>| names.contains(name).then(|| "set".to_owned());
        push(
            format!("env_name.{name}"),
            "env_name",
            set(&names_a),
            set(&names_b),
            relevance,
        );
    }
    out.sort_by(|x, y| {
        y.relevance
            .cmp(&x.relevance)
            .then_with(|| x.key.cmp(&y.key))
    });
    out
}

/// The fingerprint's single-valued fields: key, category, relevance (the
/// higher, the likelier a cause of a changed verdict) and how to read it.
type Field = (
    &'static str,
    &'static str,
    u32,
    fn(&Fingerprint) -> Option<String>,
);
const FIELDS: [Field; 13] = [
    ("os.arch", "os", 97, |f| Some(f.os.arch.clone())),
    ("container.image", "image", 90, |f| {
        f.container.image.clone()
    }),
    ("container.image_id", "image", 89, |f| {
        f.container.image_id.clone()
    }),
    ("container.inside", "image", 70, |f| {
        Some(f.container.inside.to_string())
    }),
    ("git.commit", "git", 75, |f| f.git.commit.clone()),
    ("git.dirty", "git", 74, |f| {
        f.git.dirty.map(|d| d.to_string())
    }),
    ("os.name", "os", 65, |f| f.os.name.clone()),
    ("os.version", "os", 64, |f| f.os.version.clone()),
    ("os.kernel", "os", 55, |f| f.os.kernel.clone()),
    ("parity.version", "parity", 60, |f| {
        Some(f.parity_version.clone())
    }),
    ("machine.cpus", "machine", 25, |f| {
        Some(f.machine.cpus.to_string())
    }),
    ("machine.memory", "machine", 20, |f| {
        f.machine.memory_bytes.map(gib)
    }),
    ("ci", "ci", 50, |f| f.ci.clone()),
];

fn gib(bytes: u64) -> String {
    format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64)
}

/// Env names listed one per line at most this many times per side; the
/// rest are counted.
const NAMES_SHOWN: usize = 12;

impl RunDiff {
    /// The diff as a person reads it.
    pub fn human(&self) -> String {
        let mut out = format!("parity diff {} → {}\n", self.a, self.b);
        let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        out.push_str("\njobs\n");
        if self.jobs.is_empty() {
            out.push_str("  every job has the same result\n");
        }
        let width = self
            .jobs
            .iter()
            .map(|j| j.name.chars().count())
            .max()
            .unwrap_or(0);
        for job in &self.jobs {
            let mut line = format!(
                "  {:<width$}  {} → {}",
                job.name,
                shown(&job.a).replace('_', " "),
                shown(&job.b).replace('_', " ")
            );
            if let Some(detail) = &job.detail {
                let _ = write!(line, "  {detail}");
            }
            out.push_str(&line);
            out.push('\n');
        }
        out.push_str("\nenvironment (most likely relevant first)\n");
        let entries: Vec<&EnvChange> = self
            .fingerprint
            .iter()
            .filter(|e| e.category != "env_name")
            .collect();
        if entries.is_empty() && self.fingerprint.is_empty() {
            out.push_str("  no difference\n");
        }
        let width = entries
            .iter()
            .map(|e| e.key.chars().count())
            .max()
            .unwrap_or(0);
        for entry in &entries {
            let _ = writeln!(
                out,
                "  {:<width$}  {} → {}",
                entry.key,
                shown(&entry.a),
                shown(&entry.b)
            );
        }
        let only = |side_a: bool| -> Vec<&str> {
            self.fingerprint
                .iter()
                .filter(|e| e.category == "env_name" && e.a.is_some() == side_a)
                .filter_map(|e| e.key.strip_prefix("env_name."))
                .collect()
        };
        for (label, names) in [(&self.a, only(true)), (&self.b, only(false))] {
            if names.is_empty() {
                continue;
            }
            let mut list = names
                .iter()
                .take(NAMES_SHOWN)
                .copied()
                .collect::<Vec<_>>()
                .join(", ");
            if names.len() > NAMES_SHOWN {
                let _ = write!(list, " and {} more", names.len() - NAMES_SHOWN);
            }
            let _ = writeln!(out, "  variables set only in {label}: {list}");
        }
        out
    }
}

//! What parity tells GitHub or Gitea Actions besides its console lines:
//! `::add-mask::` for every secret, `::error file=…,line=…` annotations for
//! mistakes in parity's own input, a Markdown table in the step summary and
//! the job results as step outputs.

use crate::error::Error;
use crate::exec::{JobResult, Outcome};
use crate::pipeline::PipelineError;
use crate::secrets::SecretSet;
use miette::Diagnostic;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

/// Whether parity runs under GitHub or Gitea Actions.
pub fn under_actions() -> bool {
    ["GITHUB_ACTIONS", "GITEA_ACTIONS"]
        .iter()
        .any(|var| std::env::var(var).is_ok_and(|v| v == "true"))
}

/// Tells the runner to hide every secret value in the job's log, before
/// anything that could print one.
pub fn add_masks(secrets: &SecretSet) {
    let commands = secrets.add_mask_commands();
    if !commands.is_empty() {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(commands.as_bytes());
        let _ = out.flush();
    }
}

/// `::error` lines for an error parity reports about its input: one per
/// place in `parity.toml`, so the pull request shows it on that line.
pub fn error_annotations(error: &Error) -> String {
    let file = match error {
        Error::Pipeline(PipelineError::Invalid { path, .. }) => Some(workspace_relative(path)),
        _ => None,
    };
    let mut out = String::new();
    annotate(error, file.as_deref(), &mut out);
    if out.is_empty() {
        out.push_str(&format!(
            "::error title=parity::{}\n",
            escape_data(&message(error))
        ));
    }
    out
}

fn annotate(diagnostic: &dyn Diagnostic, file: Option<&str>, out: &mut String) {
    if let (Some(source), Some(labels)) = (diagnostic.source_code(), diagnostic.labels()) {
        for label in labels {
            let Ok(contents) = source.read_span(label.inner(), 0, 0) else {
                continue;
            };
            let name = file
                .map(str::to_owned)
                .or_else(|| contents.name().map(str::to_owned));
            let mut properties = Vec::new();
            if let Some(name) = name {
                properties.push(format!("file={}", escape_property(&name)));
            }
            properties.push(format!("line={}", contents.line() + 1));
            properties.push(format!("col={}", contents.column() + 1));
            properties.push("title=parity.toml".to_owned());
            out.push_str(&format!(
                "::error {}::{}\n",
                properties.join(","),
                escape_data(&message(diagnostic))
            ));
        }
    }
    if let Some(related) = diagnostic.related() {
        for inner in related {
            annotate(inner, file, out);
        }
    }
}

/// The message and its help, as one annotation body.
fn message(diagnostic: &dyn Diagnostic) -> String {
    match diagnostic.help() {
        Some(help) => format!("{diagnostic}\n{help}"),
        None => diagnostic.to_string(),
    }
}

/// Annotations name files relative to the checkout.
fn workspace_relative(path: &Path) -> String {
    let base = std::env::var_os("GITHUB_WORKSPACE")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::current_dir().ok());
    let relative = base
        .and_then(|base| path.strip_prefix(&base).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf());
    relative.display().to_string()
}

/// A workflow command such as `::error file=F,line=N,title=T::message`.
pub fn annotation(
    level: &str,
    file: Option<&str>,
    line: Option<usize>,
    title: &str,
    message: &str,
) -> String {
    let mut properties = Vec::new();
    if let Some(file) = file {
        properties.push(format!("file={}", escape_property(file)));
    }
    if let Some(line) = line {
        properties.push(format!("line={line}"));
    }
    properties.push(format!("title={}", escape_property(title)));
    format!(
        "::{level} {}::{}\n",
        properties.join(","),
        escape_data(message)
    )
}

/// The runner's escapes for a command's message.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// The runner's escapes for a command's `key=value` properties.
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Appends a Markdown table of the run to `$GITHUB_STEP_SUMMARY` and the
/// results to `$GITHUB_OUTPUT`, when the runner set them. Every value goes
/// through the secret mask, as the console does.
pub fn write_results(
    results: &[JobResult],
    verdict: &str,
    duration: Duration,
    secrets: &SecretSet,
) -> std::io::Result<()> {
    if let Some(path) = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|p| !p.is_empty()) {
        append(
            Path::new(&path),
            &secrets.mask_str(&summary_markdown(results, verdict, duration)),
        )?;
    }
    if let Some(path) = std::env::var_os("GITHUB_OUTPUT").filter(|p| !p.is_empty()) {
        let by_job: serde_json::Map<String, serde_json::Value> = results
            .iter()
            .map(|r| (r.name.clone(), r.outcome.label().into()))
            .collect();
        let json = serde_json::Value::Object(by_job).to_string();
        append(
            Path::new(&path),
            &secrets.mask_str(&format!("result={verdict}\nresults={json}\n")),
        )?;
    }
    Ok(())
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// The summary table in GitHub-flavoured Markdown.
pub fn summary_markdown(results: &[JobResult], verdict: &str, duration: Duration) -> String {
    let mut out = format!(
        "### parity: {verdict} in {}\n\n| job | result | time | details |\n| :-- | :-- | --: | :-- |\n",
        super::short_duration(duration)
    );
    for result in results {
        let mark = match result.outcome {
            Outcome::Passed => "✅",
            Outcome::Failed { .. } | Outcome::TimedOut(_) | Outcome::OutputMissing { .. } => "❌",
            Outcome::Cancelled { .. } => "⏹️",
            Outcome::Skipped(_) => "⏭️",
            Outcome::Cached { .. } => "♻️",
        };
        let time = match result.outcome {
            Outcome::Skipped(_) => "–".to_owned(),
            _ => super::short_duration(result.duration),
        };
        out.push_str(&format!(
            "| {} | {mark} {} | {time} | {} |\n",
            cell(&result.name),
            result.outcome.label(),
            cell(&result.detail().unwrap_or_default())
        ));
    }
    out.push('\n');
    out
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::SkipReason;

    #[test]
    fn markdown_table_escapes_cells() {
        let results = [
            JobResult {
                name: "lint".into(),
                outcome: Outcome::Passed,
                duration: Duration::from_millis(1230),
                dry_run: false,
            },
            JobResult {
                name: "a|b".into(),
                outcome: Outcome::Skipped(SkipReason::SwitchOff("RUN_X".into())),
                duration: Duration::ZERO,
                dry_run: false,
            },
        ];
        let md = summary_markdown(&results, "passed", Duration::from_secs(2));
        assert!(md.starts_with("### parity: passed in 2.00s\n"), "{md}");
        assert!(md.contains("| lint | ✅ passed | 1.23s |  |\n"), "{md}");
        assert!(
            md.contains("| a\\|b | ⏭️ skipped | – | switch RUN_X is off"),
            "{md}"
        );
    }

    #[test]
    fn pipeline_errors_become_line_annotations() {
        let err = crate::pipeline::Pipeline::parse(
            Path::new("/nowhere/parity.toml"),
            "version = 1\n[jobs.a]\nrun = \"x\"\nneds = [\"b\"]\n".to_owned(),
        )
        .unwrap_err();
        let text = error_annotations(&Error::Pipeline(err));
        assert!(text.starts_with("::error file=/nowhere/parity.toml,line=4,col=1,title=parity.toml::unknown key `neds`%0A"), "{text}");
    }

    #[test]
    fn escapes_keep_one_line() {
        assert_eq!(escape_data("a%b\nc"), "a%25b%0Ac");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }
}

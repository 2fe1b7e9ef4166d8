//! Errors in the pipeline file, rendered with the offending line and a caret.

use miette::{Diagnostic, NamedSource, SourceSpan};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;
use thiserror::Error;

/// The pipeline file's text, shared by every problem found in it.
pub(crate) type Source = NamedSource<Arc<str>>;

#[derive(Debug, Error, Diagnostic)]
pub enum PipelineError {
    #[error("no parity.toml in {} or any parent directory", start.display())]
    #[diagnostic(
        code(parity::no_pipeline),
        help("write one with `parity init`, or point at it with `--file PATH`")
    )]
    NotFound { start: PathBuf },

    #[error("cannot read {}", path.display())]
    #[diagnostic(code(parity::read))]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{} has {} error{}", path.display(), problems.len(), if problems.len() == 1 { "" } else { "s" })]
    #[diagnostic(code(parity::invalid_pipeline))]
    Invalid {
        path: PathBuf,
        #[related]
        problems: Vec<Problem>,
    },
}

/// One thing wrong at one place in the file.
#[derive(Debug, Error, Diagnostic)]
#[error("{message}")]
pub struct Problem {
    message: String,
    #[source_code]
    src: Source,
    #[label("{label}")]
    span: SourceSpan,
    label: String,
    #[help]
    help: Option<String>,
}

impl Problem {
    pub(crate) fn new(
        src: &Source,
        span: Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) -> Self {
        Problem {
            message: message.into(),
            src: src.clone(),
            span: span.into(),
            label: label.into(),
            help: None,
        }
    }

    pub(crate) fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn with_optional_help(mut self, help: Option<String>) -> Self {
        self.help = help;
        self
    }
}

/// "did you mean `needs`?" for a misspelt name, when one candidate is close.
pub(crate) fn did_you_mean<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<String> {
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(name, candidate), candidate))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| format!("did you mean `{candidate}`?"))
}

/// Turns a toml/serde error into a problem with a hint.
///
/// serde reports unknown keys as "unknown field `x`, expected one of `a`, `b`";
/// the candidate names are only available in that message, so it is read back
/// here to offer the closest one.
pub(crate) fn from_toml(src: &Source, error: &toml::de::Error) -> Problem {
    let message = error.message().trim().to_owned();
    let span = error.span().unwrap_or(0..0);
    if let Some((unknown, expected)) = parse_unknown(&message) {
        let help = did_you_mean(&unknown, expected.iter().map(String::as_str)).or_else(|| {
            (!expected.is_empty()).then(|| {
                let list: Vec<String> = expected.iter().map(|e| format!("`{e}`")).collect();
                format!("allowed here: {}", list.join(", "))
            })
        });
        return Problem::new(
            src,
            span,
            format!("unknown key `{unknown}`"),
            "not a key parity knows here",
        )
        .with_optional_help(help);
    }
    let help = match message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split_once('`'))
    {
        Some(("version", _)) => Some("start the file with `version = 1`".to_owned()),
        Some((field, _)) => Some(format!("this table needs `{field} = …`")),
        None => key_before(src.inner(), span.start).and_then(|key| type_hint(key, &message)),
    };
    Problem::new(src, span, message, "here").with_optional_help(help)
}

/// The key a value at `at` is assigned to: `needs` in `needs = "lint"`.
fn key_before(text: &str, at: usize) -> Option<&str> {
    let line = text.get(..at)?.rsplit('\n').next()?;
    let key = line.trim_end().strip_suffix('=')?.trim();
    let key = key.rsplit(['{', ',', ' ']).next()?.trim();
    (!key.is_empty()).then_some(key)
}

/// How to write a value of the type serde expected, shown with the key.
fn type_hint(key: &str, message: &str) -> Option<String> {
    const DURATIONS: [&str; 3] = ["timeout", "interval", "lease"];
    /// The tables of named tables, one `[key.NAME]` each.
    const SECTIONS: [&str; 4] = ["jobs", "services", "deploy", "profiles"];
    let expected = message.rsplit("expected ").next()?;
    Some(match expected {
        "a sequence" => format!("`{key}` takes a list: {key} = [\"…\", \"…\"]"),
        "a map" if SECTIONS.contains(&key) => {
            format!("`{key}` takes a table for each entry: [{key}.NAME]")
        }
        "a map" => format!("`{key}` takes a table: {key} = {{ NAME = \"value\" }}"),
        "a string" if DURATIONS.contains(&key) => {
            format!("`{key}` takes a duration in quotes: {key} = \"20m\" (or \"90s\", \"1h30m\")")
        }
        "a string" => format!("`{key}` takes a string in quotes: {key} = \"…\""),
        "a boolean" => format!("`{key}` takes true or false, without quotes"),
        "u8" | "u16" | "u32" | "u64" | "usize" => {
            format!("`{key}` takes a whole number, without quotes")
        }
        _ => return None,
    })
}

fn parse_unknown(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message
        .strip_prefix("unknown field `")
        .or_else(|| message.strip_prefix("unknown variant `"))?;
    let (name, rest) = rest.split_once('`')?;
    let expected = rest
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect();
    Some((name.to_owned(), expected))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_candidates_from_serde_message() {
        let (name, expected) =
            parse_unknown("unknown field `neds`, expected one of `run`, `needs`, `env`").unwrap();
        assert_eq!(name, "neds");
        assert_eq!(expected, ["run", "needs", "env"]);
        assert_eq!(parse_unknown("missing field `run`"), None);
    }

    #[test]
    fn suggests_only_close_names() {
        assert_eq!(
            did_you_mean("neds", ["run", "needs", "env"]).as_deref(),
            Some("did you mean `needs`?")
        );
        assert_eq!(did_you_mean("zzz", ["run", "needs"]), None);
    }

    #[test]
    fn a_value_of_the_wrong_type_is_shown_written_right() {
        let text = "needs = \"lint\"\nready = { timeout = 5 }\n";
        assert_eq!(key_before(text, 8), Some("needs"));
        assert_eq!(key_before(text, text.find('5').unwrap()), Some("timeout"));
        assert_eq!(key_before("[jobs.a]", 3), None);
        assert_eq!(
            type_hint(
                "needs",
                "invalid type: string \"lint\", expected a sequence"
            )
            .as_deref(),
            Some("`needs` takes a list: needs = [\"…\", \"…\"]")
        );
        assert!(
            type_hint("timeout", "invalid type: integer `5`, expected a string")
                .is_some_and(|h| h.contains("duration in quotes"))
        );
        assert_eq!(
            type_hint("jobs", "invalid type: integer `3`, expected a map").as_deref(),
            Some("`jobs` takes a table for each entry: [jobs.NAME]")
        );
        assert!(
            type_hint("env", "invalid type: integer `3`, expected a map")
                .is_some_and(|h| h.contains("env = { NAME = \"value\" }"))
        );
        assert_eq!(type_hint("x", "invalid value: out of range"), None);
    }
}

//! `.env.ci.local` and `--env-file`: local stand-ins for CI's secrets and
//! variables. Their values are handed to steps and never printed.

use indexmap::IndexMap;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// The file parity reads next to `parity.toml` when it exists.
pub const LOCAL_FILE: &str = ".env.ci.local";

#[derive(Debug, Error, miette::Diagnostic)]
pub enum EnvFileError {
    #[error("cannot read env file {}", path.display())]
    #[diagnostic(code(parity::env_file))]
    Read {
        path: PathBuf,
        #[source]
        source: dotenvy::Error,
    },
    /// The offending line is never quoted: it may hold a secret.
    #[error("{}:{line}:{column}: not a `KEY=value` line", path.display())]
    #[diagnostic(
        code(parity::env_file),
        help("quote a value that holds spaces, quotes or `#`: KEY=\"two words\" (the line is not shown: it may hold a secret)")
    )]
    Syntax {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    /// Like [`EnvFileError::Syntax`], the line is not shown: it may hold a secret.
    #[error("{}:{line}: the quoted value that starts here is never closed", path.display())]
    #[diagnostic(
        code(parity::env_file),
        help("close the quote; a quote inside the value is written \\\" (the line is not shown: it may hold a secret)")
    )]
    Unclosed { path: PathBuf, line: usize },
    #[error("env file {} not found", path.display())]
    #[diagnostic(code(parity::env_file))]
    Missing { path: PathBuf },
}

/// Values from `.env.ci.local` in `root` (if present) and then each of
/// `extra`, later files overriding earlier ones.
pub fn load(root: &Path, extra: &[PathBuf]) -> Result<IndexMap<String, String>, EnvFileError> {
    let mut values = IndexMap::new();
    let local = root.join(LOCAL_FILE);
    if local.is_file() {
        read_into(&local, &mut values)?;
    }
    for path in extra {
        if !path.is_file() {
            return Err(EnvFileError::Missing { path: path.clone() });
        }
        read_into(path, &mut values)?;
    }
    Ok(values)
}

fn read_into(path: &Path, values: &mut IndexMap<String, String>) -> Result<(), EnvFileError> {
    let text = std::fs::read_to_string(path).map_err(|e| EnvFileError::Read {
        path: path.to_owned(),
        source: dotenvy::Error::Io(e),
    })?;
    for item in dotenvy::from_read_iter(text.as_bytes()) {
        let (key, value) = item.map_err(|source| match source {
            // dotenvy's message quotes the line, value and all.
            // A quote left open: dotenvy read to the end of the file.
            dotenvy::Error::LineParse(rest, at) if at >= rest.len() && opens_quote(&rest) => {
                EnvFileError::Unclosed {
                    path: path.to_owned(),
                    line: position(&text, &rest, 0).0,
                }
            }
            dotenvy::Error::LineParse(line, at) => {
                let (line, column) = position(&text, &line, at);
                EnvFileError::Syntax {
                    path: path.to_owned(),
                    line,
                    column,
                }
            }
            source => EnvFileError::Read {
                path: path.to_owned(),
                source,
            },
        })?;
        values.insert(key, value);
    }
    Ok(())
}

/// Whether the first line of `text` assigns a value that starts with a quote.
fn opens_quote(text: &str) -> bool {
    let first = text.lines().next().unwrap_or_default();
    first
        .split_once('=')
        .is_some_and(|(_, value)| value.trim_start().starts_with(['"', '\'']))
}

/// Line and column (from 1) in `text` of byte `at` of `fragment`, a piece of it.
fn position(text: &str, fragment: &str, at: usize) -> (usize, usize) {
    let start = text.find(fragment).unwrap_or(0);
    let mut offset = (start + at.min(fragment.len())).min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_files_override_and_missing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(LOCAL_FILE), "A=1\nB=\"two words\"\n").unwrap();
        let extra = dir.path().join("more.env");
        std::fs::write(&extra, "A=3\n").unwrap();
        let values = load(dir.path(), &[extra]).unwrap();
        assert_eq!(values["A"], "3");
        assert_eq!(values["B"], "two words");
        let missing = load(dir.path(), &[dir.path().join("nope")]);
        assert!(matches!(missing, Err(EnvFileError::Missing { .. })));
    }

    #[test]
    fn a_bad_line_is_located_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(LOCAL_FILE),
            "# local secrets\nA=1\nTOKEN=s3cr3t value\n",
        )
        .unwrap();
        let error = load(dir.path(), &[]).unwrap_err();
        let shown = format!("{:?}", miette::Report::new(error));
        assert!(shown.contains(".env.ci.local:3:"), "{shown}");
        assert!(!shown.contains("s3cr3t"), "{shown}");
    }

    #[test]
    fn a_quote_never_closed_is_found_where_it_opens() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(LOCAL_FILE);
        std::fs::write(&file, "A=1\nTOKEN=\"s3cr3t\nB=2\n").unwrap();
        let error = load(dir.path(), &[]).unwrap_err();
        let shown = format!("{:?}", miette::Report::new(error));
        assert!(
            shown.contains(".env.ci.local:2: the quoted value"),
            "{shown}"
        );
        assert!(!shown.contains("s3cr3t"), "{shown}");
        // Without a quote, the end of the file is just a bad line.
        std::fs::write(&file, "A=1\nNOT A LINE").unwrap();
        let error = load(dir.path(), &[]).unwrap_err();
        assert!(
            matches!(error, EnvFileError::Syntax { line: 2, .. }),
            "{error:?}"
        );
    }
}

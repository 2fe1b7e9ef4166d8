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
    let read_error = |source| EnvFileError::Read {
        path: path.to_owned(),
        source,
    };
    for item in dotenvy::from_path_iter(path).map_err(read_error)? {
        let (key, value) = item.map_err(read_error)?;
        values.insert(key, value);
    }
    Ok(())
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
}

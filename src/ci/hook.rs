//! The pre-push hook: runs the fast profile before every push, written where
//! git looks for hooks, never over a hook parity did not write (unless told).

use super::{git, CiError};
use crate::pipeline::Pipeline;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The line that marks a hook as parity's.
pub(crate) const MARKER: &str = "# Installed by parity (`parity hook install`)";
const NAME: &str = "pre-push";
const BACKUP: &str = "pre-push.parity-backup";
/// The profile the hook runs when the pipeline has it.
pub const PROFILE: &str = "fast";

/// Where the hook goes, and where a replaced hook is kept.
#[derive(Debug, Clone)]
pub struct HookPaths {
    pub hook: PathBuf,
    pub backup: PathBuf,
}

impl HookPaths {
    pub fn locate(pipeline: &Pipeline) -> Result<(PathBuf, HookPaths), CiError> {
        let top = git::toplevel(&pipeline.root).ok_or_else(|| CiError::NotARepo {
            dir: pipeline.root.clone(),
        })?;
        let dir = git::hooks_dir(&top)?;
        Ok((
            top,
            HookPaths {
                hook: dir.join(NAME),
                backup: dir.join(BACKUP),
            },
        ))
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Installed {
    Created,
    /// parity's own hook, rewritten.
    Updated,
    /// Someone else's hook, moved to the backup path (`--force`).
    Replaced,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Removed {
    Removed,
    /// Removed, and the hook it had replaced put back.
    Restored,
    NotInstalled,
    /// A hook is there, but parity did not write it: left alone.
    NotOurs,
}

/// The hook's text for this pipeline.
pub fn render(pipeline: &Pipeline, top: &Path) -> String {
    let has_profile = pipeline.profiles.contains_key(PROFILE);
    let command = if has_profile {
        format!("parity run --profile {PROFILE}")
    } else {
        "parity run".to_owned()
    };
    let cd = match pipeline
        .root
        .strip_prefix(top)
        .ok()
        .filter(|p| !p.as_os_str().is_empty())
    {
        Some(sub) => {
            let sub = sub.display().to_string();
            let quoted = shlex::try_quote(&sub)
                .map(|q| q.into_owned())
                .unwrap_or(sub);
            format!("cd \"$(git rev-parse --show-toplevel)\" && cd {quoted} || exit 1\n")
        }
        None => "cd \"$(git rev-parse --show-toplevel)\" || exit 1\n".to_owned(),
    };
    let what = if has_profile {
        format!("the `{PROFILE}` profile of parity.toml")
    } else {
        "the pipeline (parity.toml has no [profiles.fast])".to_owned()
    };
    format!(
        "#!/bin/sh\n\
         {MARKER}; `parity hook uninstall` removes it.\n\
         # Runs {what} before every push; a failure stops the push.\n\
         # Push once without it: PARITY_SKIP_HOOK=1 git push\n\
         case \"${{PARITY_SKIP_HOOK:-}}\" in\n\
         \x20 1|true|TRUE|True|yes|YES|Yes|on|ON|On)\n\
         \x20   echo \"parity: PARITY_SKIP_HOOK is set, pushing without running the pipeline\" >&2\n\
         \x20   exit 0 ;;\n\
         esac\n\
         if ! command -v parity >/dev/null 2>&1; then\n\
         \x20 echo \"parity: not found on PATH; install it, or push with PARITY_SKIP_HOOK=1\" >&2\n\
         \x20 exit 1\n\
         fi\n\
         {cd}\
         # git hands the hook the refs on stdin; the pipeline does not read them.\n\
         exec {command} </dev/null\n"
    )
}

pub fn install(pipeline: &Pipeline, force: bool) -> Result<(HookPaths, Installed), CiError> {
    let (top, paths) = HookPaths::locate(pipeline)?;
    let existing = read_optional(&paths.hook)?;
    let outcome = match &existing {
        None => Installed::Created,
        Some(text) if is_ours(text) => Installed::Updated,
        Some(_) if !force => {
            return Err(CiError::HookExists {
                path: paths.hook.clone(),
                backup: paths.backup.clone(),
            })
        }
        Some(_) => {
            std::fs::rename(&paths.hook, &paths.backup).map_err(|source| CiError::Write {
                path: paths.backup.clone(),
                source,
            })?;
            Installed::Replaced
        }
    };
    if let Some(dir) = paths.hook.parent() {
        std::fs::create_dir_all(dir).map_err(|source| CiError::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    let write_error = |source| CiError::Write {
        path: paths.hook.clone(),
        source,
    };
    std::fs::write(&paths.hook, render(pipeline, &top)).map_err(write_error)?;
    std::fs::set_permissions(&paths.hook, std::fs::Permissions::from_mode(0o755)).map_err(
        |source| CiError::Write {
            path: paths.hook.clone(),
            source,
        },
    )?;
    Ok((paths, outcome))
}

pub fn uninstall(pipeline: &Pipeline) -> Result<(HookPaths, Removed), CiError> {
    let (_, paths) = HookPaths::locate(pipeline)?;
    let outcome = match read_optional(&paths.hook)? {
        None => Removed::NotInstalled,
        Some(text) if !is_ours(&text) => Removed::NotOurs,
        Some(_) => {
            std::fs::remove_file(&paths.hook).map_err(|source| CiError::Write {
                path: paths.hook.clone(),
                source,
            })?;
            if paths.backup.exists() {
                std::fs::rename(&paths.backup, &paths.hook).map_err(|source| CiError::Write {
                    path: paths.hook.clone(),
                    source,
                })?;
                Removed::Restored
            } else {
                Removed::Removed
            }
        }
    };
    Ok((paths, outcome))
}

/// The installed hook and what it should be now, when parity's hook is
/// installed; `None` otherwise (no repository, no hook, someone else's).
pub(crate) fn installed(pipeline: &Pipeline) -> Result<Option<(PathBuf, String, String)>, CiError> {
    let Ok((top, paths)) = HookPaths::locate(pipeline) else {
        return Ok(None);
    };
    Ok(read_optional(&paths.hook)?
        .filter(|text| is_ours(text))
        .map(|text| (paths.hook, text, render(pipeline, &top))))
}

fn is_ours(text: &str) -> bool {
    text.lines()
        .nth(1)
        .is_some_and(|line| line.starts_with(MARKER))
}

fn read_optional(path: &Path) -> Result<Option<String>, CiError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(String::from_utf8_lossy(&bytes).into_owned())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CiError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

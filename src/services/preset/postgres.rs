//! The `postgres` preset: a throwaway cluster configured from `env` the way
//! the official Docker image reads it, served on a loopback port with its
//! unix socket in the data directory and durability off (fsync,
//! synchronous_commit, full_page_writes), since nothing here must survive a
//! power cut.
//!
//! Differences from the image, on purpose: without `POSTGRES_PASSWORD` the
//! image refuses to start; here connections are trusted instead (the server
//! only listens on the loopback), so `postgres`/`postgres` and no password
//! both work. `/docker-entrypoint-initdb.d` scripts are not run.

use super::super::child::{describe, OwnedChild};
use super::super::probe::Check;
use super::super::spec::Spec;
use super::super::user::{self, RunAs};
use super::super::ServiceError;
use super::{encode, template, Launch};
use crate::exec::own_group;
use std::fs::File;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// What the official image reads from its environment.
#[derive(Debug, Clone, Hash)]
pub(super) struct Settings {
    pub(super) user: String,
    pub(super) password: Option<String>,
    pub(super) db: String,
    pub(super) auth: String,
    pub(super) initdb_args: Vec<String>,
}

impl Settings {
    pub(super) fn from_spec(spec: &Spec) -> Result<Settings, ServiceError> {
        let get = |key: &str| spec.env.get(key).filter(|v| !v.is_empty()).cloned();
        let user = get("POSTGRES_USER").unwrap_or_else(|| "postgres".into());
        let password = get("POSTGRES_PASSWORD");
        let db = get("POSTGRES_DB").unwrap_or_else(|| user.clone());
        let auth = get("POSTGRES_HOST_AUTH_METHOD").unwrap_or_else(|| {
            if password.is_some() {
                "scram-sha-256"
            } else {
                "trust"
            }
            .into()
        });
        if auth != "trust" && password.is_none() {
            return Err(ServiceError::Config {
                name: spec.name.clone(),
                message: format!("POSTGRES_HOST_AUTH_METHOD = \"{auth}\" needs a password"),
                help: Some(
                    "set POSTGRES_PASSWORD in its env, or drop POSTGRES_HOST_AUTH_METHOD".into(),
                ),
            });
        }
        let initdb_args = match get("POSTGRES_INITDB_ARGS") {
            Some(args) => shlex::split(&args).ok_or_else(|| ServiceError::Config {
                name: spec.name.clone(),
                message: format!("cannot split POSTGRES_INITDB_ARGS `{args}` into arguments"),
                help: Some("check its quotes".into()),
            })?,
            None => Vec::new(),
        };
        Ok(Settings {
            user,
            password,
            db,
            auth,
            initdb_args,
        })
    }

    pub(super) fn url(&self, host: &str, port: u16) -> String {
        let credentials = match &self.password {
            Some(password) => format!("{}:{}", encode(&self.user), encode(password)),
            None => encode(&self.user),
        };
        format!(
            "postgresql://{credentials}@{host}:{port}/{}",
            encode(&self.db)
        )
    }
}

/// The newest `/usr/lib/postgresql/N/bin` (Debian, Ubuntu), else the
/// directory of `postgres` on PATH.
pub(super) fn bin_dir() -> Result<PathBuf, ServiceError> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            (bin.join("postgres").is_file() && bin.join("initdb").is_file())
                .then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    which::which("postgres")
        .ok()
        .and_then(|p| p.parent().map(Path::to_owned))
        .filter(|dir| dir.join("initdb").is_file())
        .ok_or_else(|| ServiceError::ProgramNotFound {
            what: "a PostgreSQL server (`postgres` and `initdb`)".into(),
            help: "looked under /usr/lib/postgresql/*/bin and on PATH; install it (Debian/Ubuntu: `apt-get install postgresql`)".into(),
        })
}

pub(super) fn prepare(
    spec: &Spec,
    port: u16,
    data_dir: &Path,
    log: &Path,
) -> Result<Launch, ServiceError> {
    let bin = bin_dir()?;
    let settings = Settings::from_spec(spec)?;
    let run_as = user::unprivileged();
    if let Some(user) = &run_as {
        note(
            log,
            &format!(
                "parity: running PostgreSQL as `{}`: it refuses to run as root",
                user.name
            ),
        );
        user::chown_tree(data_dir, Some(user)).map_err(|e| {
            ServiceError::io(
                "cannot hand the data directory to the server account:",
                data_dir,
                e,
            )
        })?;
    }
    if data_dir.join("PG_VERSION").exists() {
        // An existing cluster (a `data_dir` kept between runs).
        user::chown_tree(data_dir, run_as.as_ref()).map_err(|e| {
            ServiceError::io(
                "cannot hand the data directory to the server account:",
                data_dir,
                e,
            )
        })?;
    } else {
        template::provide(&bin, &settings, data_dir, run_as.as_ref(), log, |dir| {
            init_cluster(spec, &bin, &settings, dir, run_as.as_ref(), log)
        })?;
    }
    let dir = data_dir.display().to_string();
    let mut args = vec![
        "-D".to_owned(),
        dir.clone(),
        "-p".into(),
        port.to_string(),
        "-k".into(),
        dir,
    ];
    for setting in [
        "listen_addresses=localhost",
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
        // The log stays in English whatever the machine's locale.
        "lc_messages=C",
    ] {
        args.extend(["-c".to_owned(), setting.to_owned()]);
    }
    Ok(Launch {
        program: bin.join("postgres"),
        args,
        run_as,
        check: Check::Postmaster(data_dir.to_owned()),
    })
}

/// `initdb` as the official image runs it, then `POSTGRES_DB` created in
/// single-user mode (no server start needed).
fn init_cluster(
    spec: &Spec,
    bin: &Path,
    settings: &Settings,
    data_dir: &Path,
    run_as: Option<&RunAs>,
    log: &Path,
) -> Result<(), ServiceError> {
    let setup = |step: &str, detail: String| ServiceError::Setup {
        name: spec.name.clone(),
        step: step.to_owned(),
        detail,
    };
    let pwfile = match &settings.password {
        Some(password) => Some(
            password_file(password, run_as)
                .map_err(|e| setup("writing the password file", e.to_string()))?,
        ),
        None => None,
    };
    let mut initdb = server_command(&bin.join("initdb"), data_dir, run_as, log)?;
    initdb.args(["-D"]).arg(data_dir).args([
        "--username",
        &settings.user,
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        "--auth-local=trust",
        &format!("--auth-host={}", settings.auth),
        "--no-sync",
        "--no-instructions",
    ]);
    if let Some(file) = &pwfile {
        initdb.arg(format!("--pwfile={}", file.path.display()));
    }
    // Later options win, so the user's POSTGRES_INITDB_ARGS override ours.
    initdb.args(&settings.initdb_args);
    let status =
        run(&mut initdb, Duration::from_secs(120), None).map_err(|e| setup("initdb", e))?;
    drop(pwfile);
    if !status.success() {
        return Err(setup(
            "initdb",
            format!("{} (its output is in the log)", describe(status)),
        ));
    }
    if settings.db != "postgres" {
        let mut single = server_command(&bin.join("postgres"), data_dir, run_as, log)?;
        single.args(["--single", "-D"]).arg(data_dir).args([
            "-c",
            "fsync=off",
            "-c",
            "lc_messages=C",
            "postgres",
        ]);
        // FILE_COPY (PostgreSQL 15+) copies template1's files instead of
        // writing all of them to the WAL: a smaller template to copy later.
        let strategy = if major_version(data_dir) >= 15 {
            " STRATEGY = FILE_COPY"
        } else {
            ""
        };
        let sql = format!(
            "CREATE DATABASE \"{}\"{strategy};\n",
            settings.db.replace('"', "\"\"")
        );
        let status = run(&mut single, Duration::from_secs(60), Some(sql.as_bytes()))
            .map_err(|e| setup(&format!("creating database `{}`", settings.db), e))?;
        if !status.success() {
            return Err(setup(
                &format!("creating database `{}`", settings.db),
                describe(status),
            ));
        }
    }
    // A clean cluster's WAL is only history: reset it to one empty segment,
    // which copies as a sparse file.
    let mut reset = server_command(&bin.join("pg_resetwal"), data_dir, run_as, log)?;
    reset.arg("-D").arg(data_dir);
    let status =
        run(&mut reset, Duration::from_secs(60), None).map_err(|e| setup("pg_resetwal", e))?;
    if !status.success() {
        return Err(setup("pg_resetwal", describe(status)));
    }
    Ok(())
}

/// The major version a data directory was made by (`PG_VERSION`), 0 if unknown.
fn major_version(data_dir: &Path) -> u32 {
    std::fs::read_to_string(data_dir.join("PG_VERSION"))
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// A PostgreSQL program as the server account, output appended to the log.
fn server_command(
    program: &Path,
    data_dir: &Path,
    run_as: Option<&RunAs>,
    log: &Path,
) -> Result<Command, ServiceError> {
    let open = || {
        std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(log)
            .map_err(|e| ServiceError::io("cannot write the service log", log, e))
    };
    let mut command = Command::new(program);
    command
        .current_dir(data_dir)
        .env("LC_ALL", "C.UTF-8")
        .stdout(Stdio::from(open()?))
        .stderr(Stdio::from(open()?));
    own_group(&mut command);
    if let Some(user) = run_as {
        command.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    Ok(command)
}

fn run(
    command: &mut Command,
    limit: Duration,
    input: Option<&[u8]>,
) -> Result<std::process::ExitStatus, String> {
    command.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = OwnedChild::spawn(command).map_err(|e| e.to_string())?;
    if let Some(input) = input {
        child.write_stdin(input).map_err(|e| e.to_string())?;
    }
    match child.wait_for(limit) {
        Ok(Some(status)) => Ok(status),
        Ok(None) => {
            child.kill_group();
            Err(format!(
                "still running after {}",
                humantime::format_duration(limit)
            ))
        }
        Err(e) => Err(e.to_string()),
    }
}

fn note(log: &Path, line: &str) {
    if let Ok(mut file) = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(log)
    {
        let _ = writeln!(file, "{line}");
    }
}

/// A private file holding the superuser password for `initdb --pwfile`,
/// readable by the server account, removed when dropped.
struct PasswordFile {
    path: PathBuf,
}

fn password_file(password: &str, run_as: Option<&RunAs>) -> std::io::Result<PasswordFile> {
    use std::os::unix::fs::OpenOptionsExt;
    let path = std::env::temp_dir().join(format!(
        "parity-pw-{}-{:x}",
        std::process::id(),
        rand_suffix()
    ));
    let mut file: File = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)?;
    let guard = PasswordFile { path };
    writeln!(file, "{password}")?;
    user::chown_tree(&guard.path, run_as)?;
    Ok(guard)
}

impl Drop for PasswordFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn rand_suffix() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{Preset, ServiceKind};

    fn spec(env: &[(&str, &str)]) -> Spec {
        Spec {
            name: "db".into(),
            kind: ServiceKind::Preset(Preset::Postgres),
            port: None,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            needs: Vec::new(),
            ready: None,
            data_dir: None,
        }
    }

    #[test]
    fn settings_follow_the_official_image() {
        let s = Settings::from_spec(&spec(&[])).unwrap();
        assert_eq!(
            (s.user.as_str(), s.db.as_str(), s.auth.as_str()),
            ("postgres", "postgres", "trust")
        );
        assert_eq!(
            s.url("127.0.0.1", 5432),
            "postgresql://postgres@127.0.0.1:5432/postgres"
        );

        let s = Settings::from_spec(&spec(&[
            ("POSTGRES_USER", "app"),
            ("POSTGRES_PASSWORD", "p@ss"),
        ]))
        .unwrap();
        assert_eq!(s.db, "app", "POSTGRES_DB defaults to the user");
        assert_eq!(s.auth, "scram-sha-256");
        assert_eq!(
            s.url("127.0.0.1", 1),
            "postgresql://app:p%40ss@127.0.0.1:1/app"
        );

        let err = Settings::from_spec(&spec(&[("POSTGRES_HOST_AUTH_METHOD", "md5")])).unwrap_err();
        assert!(err.to_string().contains("needs a password"), "{err}");
    }
}

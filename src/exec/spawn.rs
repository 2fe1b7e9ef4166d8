//! Starting a step's shell, everything prepared up front.
//!
//! Written against a child of our own (`vfork.rs`) rather than
//! `std::process::Command` because a step's start is on the critical path of
//! every job. For each spawn, `Command` copies parity's whole environment
//! into a map and back into a fresh array, and `posix_spawnp` tries each
//! PATH entry with an `execve` in the child while parity waits. Here the
//! shell is looked up once per run and the environment goes straight into
//! the array the exec reads (about 40 µs less per step, bench/README.md).

use super::vfork::{Exec, Started, Stdin};
use nix::unistd::Pid;
use std::borrow::Cow;
use std::ffi::{c_char, CStr, CString, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::ExitStatus;
use std::sync::{LazyLock, Mutex};

/// What to start, and where.
pub(crate) struct Spawn<'a> {
    /// Looked up on PATH (the step's own, when its env sets one) unless it
    /// holds a `/`.
    pub(crate) program: &'a str,
    /// The arguments after the program's name.
    pub(crate) args: &'a [&'a str],
    pub(crate) cwd: &'a Path,
    /// Laid over parity's own environment; a later entry wins.
    pub(crate) env: &'a [(String, String)],
}

impl Spawn<'_> {
    /// Starts the program as the leader of a new process group (of a new
    /// session, without a terminal, when parity has one: [`HAS_TERMINAL`]),
    /// with stdin on /dev/null and stdout and stderr on `output`. Signals
    /// start out unblocked and at their defaults (SIGPIPE, which Rust
    /// ignores, too), but for those parity was started with ignored.
    pub(crate) fn start(&self, output: BorrowedFd<'_>) -> io::Result<Started> {
        let path = resolve(self.program, self.env, self.cwd);
        let path = CString::new(path.into_os_string().into_vec()).map_err(|_| nul_error())?;
        let cwd = CString::new(self.cwd.as_os_str().as_bytes()).map_err(|_| nul_error())?;
        let argv = std::iter::once(self.program)
            .chain(self.args.iter().copied())
            .map(c_string)
            .collect::<io::Result<Vec<_>>>()?;
        let envp = environment(self.env)?;
        Exec {
            path: &path,
            argv: &pointers(&argv),
            envp: &pointers(&envp),
            cwd: &cwd,
            output: output.as_raw_fd(),
            stdin: DEV_NULL
                .as_ref()
                .map_or(Stdin::DevNull, |null| Stdin::Copy(null.as_raw_fd())),
            session: *HAS_TERMINAL,
        }
        .start()
    }
}

/// The null-terminated array of pointers an `exec` reads.
fn pointers<S: AsRef<CStr>>(strings: &[S]) -> Vec<*const c_char> {
    strings
        .iter()
        .map(|s| s.as_ref().as_ptr())
        .chain(std::iter::once(std::ptr::null()))
        .collect()
}

/// /dev/null, opened once for every step's stdin: duplicating it in the
/// child costs a third of opening it there, and the child's work before its
/// `exec` is paid by every step (about 6 µs each). Where it cannot be
/// opened here, each child opens it itself and says why it cannot.
static DEV_NULL: LazyLock<Option<OwnedFd>> = LazyLock::new(|| {
    let null = File::open("/dev/null").ok()?;
    // Above the standard streams, which the file actions replace first.
    rustix::io::fcntl_dupfd_cloexec(&null, 3).ok()
});

/// Whether parity has a controlling terminal, which its steps would share.
/// With one, each step leads a session of its own, as in CI: no terminal,
/// so a program that would prompt on /dev/tty (ssh's host key question,
/// sudo's password) fails at once with its own message. Left in the
/// terminal's session, in a group that is not its foreground one, the
/// prompt stopped the job (SIGTTIN) until its timeout, without a word.
/// Without one (CI), a process group is enough, and cheaper: each new
/// session gets a scheduler autogroup of its own, 1.2 % of a step that runs
/// `true` (bench/README.md).
static HAS_TERMINAL: LazyLock<bool> = LazyLock::new(|| {
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOCTTY)
        .open("/dev/tty")
        .is_ok()
});

/// Puts a command's process at the head of a group of its own, as
/// [`Spawn::start`] does a step: of a session of its own when parity has a
/// terminal ([`HAS_TERMINAL`]), so that a service or probe prompting on
/// /dev/tty (psql asking a password) fails at once instead of stopping.
pub(crate) fn own_group(command: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    if *HAS_TERMINAL {
        // SAFETY: the closure runs in the child between fork and exec and
        // makes one async-signal-safe system call, touching no shared state.
        unsafe {
            command.pre_exec(|| nix::unistd::setsid().map(drop).map_err(io::Error::from));
        }
    } else {
        command.process_group(0);
    }
}

/// Waits for a process `start` began and says how it ended.
pub(crate) fn wait(pid: Pid) -> io::Result<ExitStatus> {
    let pid = rustix::process::Pid::from_raw(pid.as_raw())
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no such process"))?;
    loop {
        match rustix::process::waitpid(Some(pid), rustix::process::WaitOptions::empty()) {
            Ok(Some((_, status))) => return Ok(ExitStatus::from_raw(status.as_raw())),
            Ok(None) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// The program's path: looked up once per run for each PATH and working
/// directory (a relative PATH entry depends on it). A name not found is
/// left as it is, for the spawn's own error to say so.
fn resolve(program: &str, env: &[(String, String)], cwd: &Path) -> PathBuf {
    /// One lookup: `path` is the step's own PATH, `None` for parity's.
    struct Found {
        program: String,
        path: Option<String>,
        cwd: PathBuf,
        at: PathBuf,
    }
    static FOUND: Mutex<Vec<Found>> = Mutex::new(Vec::new());
    if program.contains('/') {
        return PathBuf::from(program);
    }
    let path = env
        .iter()
        .rev()
        .find(|(key, _)| key == "PATH")
        .map(|(_, path)| path.as_str());
    let mut found = FOUND
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let hit = found
        .iter()
        .find(|f| f.program == program && f.path.as_deref() == path && f.cwd == cwd);
    if let Some(hit) = hit {
        return hit.at.clone();
    }
    let search = path.map_or_else(|| std::env::var_os("PATH"), |path| Some(path.into()));
    match which::which_in(program, search, cwd) {
        Ok(at) => {
            found.push(Found {
                program: program.to_owned(),
                path: path.map(str::to_owned),
                cwd: cwd.to_owned(),
                at: at.clone(),
            });
            at
        }
        Err(_) => PathBuf::from(program),
    }
}

/// parity's own environment as `KEY=value` entries, read once: parity
/// never changes its environment.
static INHERITED: LazyLock<Vec<(OsString, CString)>> = LazyLock::new(|| {
    std::env::vars_os()
        .filter_map(|(key, value)| {
            let entry = entry(key.as_bytes(), value.as_bytes()).ok()?;
            Some((key, entry))
        })
        .collect()
});

/// `KEY=value` for each variable: parity's own, less those `overrides`
/// sets, then the overrides, the last of each key.
fn environment(overrides: &[(String, String)]) -> io::Result<Vec<Cow<'static, CStr>>> {
    // Overrides number a few dozen at most: a linear search beats hashing.
    let mut latest: Vec<&(String, String)> = Vec::with_capacity(overrides.len());
    for pair in overrides.iter().rev() {
        if !latest.iter().any(|(key, _)| *key == pair.0) {
            latest.push(pair);
        }
    }
    latest.reverse();
    let overridden = |key: &OsString| latest.iter().any(|(k, _)| k.as_bytes() == key.as_bytes());
    let mut envp = Vec::with_capacity(INHERITED.len() + latest.len());
    envp.extend(
        INHERITED
            .iter()
            .filter(|(key, _)| !overridden(key))
            .map(|(_, entry)| Cow::Borrowed(entry.as_c_str())),
    );
    for (key, value) in latest {
        envp.push(Cow::Owned(entry(key.as_bytes(), value.as_bytes())?));
    }
    Ok(envp)
}

fn entry(key: &[u8], value: &[u8]) -> io::Result<CString> {
    let mut bytes = Vec::with_capacity(key.len() + value.len() + 2);
    bytes.extend_from_slice(key);
    bytes.push(b'=');
    bytes.extend_from_slice(value);
    CString::new(bytes).map_err(|_| nul_error())
}

fn c_string(text: &str) -> io::Result<CString> {
    CString::new(text).map_err(|_| nul_error())
}

fn nul_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "a command or environment variable contains a NUL byte",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(envp: &[Cow<'_, CStr>]) -> Vec<String> {
        envp.iter()
            .map(|entry| entry.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn the_last_override_of_a_key_wins_and_replaces_the_inherited_one() {
        let overrides = [
            ("PATH".to_owned(), "/first".to_owned()),
            ("PARITY_SPAWN_TEST".to_owned(), "1".to_owned()),
            ("PATH".to_owned(), "/second".to_owned()),
        ];
        let envp = pairs(&environment(&overrides).expect("environment"));
        let paths: Vec<&String> = envp.iter().filter(|e| e.starts_with("PATH=")).collect();
        assert_eq!(paths, ["PATH=/second"]);
        assert!(envp.contains(&"PARITY_SPAWN_TEST=1".to_owned()));
        assert!(envp.iter().any(|e| e.starts_with("HOME=")) == std::env::var_os("HOME").is_some());
    }

    #[test]
    fn a_nul_byte_is_an_error_not_a_truncated_value() {
        let overrides = [("KEY".to_owned(), "a\0b".to_owned())];
        let error = environment(&overrides).expect_err("NUL accepted");
        assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
    }

    /// Starts `spawn` writing to a pipe: its pid, how it ended, its output.
    fn run(spawn: &Spawn<'_>) -> (Pid, ExitStatus, String) {
        let (mut reader, writer) = std::io::pipe().expect("pipe");
        let pid = spawn
            .start(std::os::fd::AsFd::as_fd(&writer))
            .expect("start")
            .pid;
        drop(writer);
        let mut output = String::new();
        std::io::Read::read_to_string(&mut reader, &mut output).expect("read");
        (pid, wait(pid).expect("wait"), output)
    }

    #[test]
    fn a_started_process_reads_from_dev_null_and_gets_no_other_descriptor_of_parity() {
        let spawn = Spawn {
            program: "sh",
            args: &["-c", "readlink /proc/$$/fd/0; ls /proc/$$/fd"],
            cwd: Path::new("/"),
            env: &[],
        };
        let (_, status, output) = run(&spawn);
        assert!(status.success(), "{output}");
        let lines: Vec<&str> = output.lines().collect();
        assert_eq!(lines[0], "/dev/null");
        let null = DEV_NULL.as_ref().expect("/dev/null opened").as_raw_fd();
        assert!(null > 2, "{null}");
        assert!(!lines[1..].contains(&null.to_string().as_str()), "{output}");
    }

    #[test]
    fn a_started_process_runs_in_its_own_group_where_it_was_told() {
        let dir = tempfile::tempdir().expect("tempdir");
        let spawn = Spawn {
            program: "sh",
            args: &[
                "-c",
                "pwd; echo $PARITY_SPAWN_TEST; cut -d' ' -f5 /proc/$$/stat; echo err >&2; exit 3",
            ],
            cwd: dir.path(),
            env: &[("PARITY_SPAWN_TEST".to_owned(), "seen".to_owned())],
        };
        let (pid, status, output) = run(&spawn);
        assert_eq!(status.code(), Some(3));
        let lines: Vec<&str> = output.lines().collect();
        let cwd = dir.path().canonicalize().expect("canonicalize");
        assert_eq!(Path::new(lines[0]), cwd);
        assert_eq!(lines[1], "seen");
        assert_eq!(lines[2].trim(), pid.to_string());
        assert_eq!(lines[3], "err");
    }

    #[test]
    fn spawns_one_after_another_start_each_where_it_was_told() {
        let dirs = [
            tempfile::tempdir().expect("tempdir"),
            tempfile::tempdir().expect("tempdir"),
        ];
        let (mut reader, writer) = std::io::pipe().expect("pipe");
        // The same pipe, the directory changing: nothing prepared for one
        // spawn may stick to the next.
        for dir in dirs.iter().chain(dirs.iter().rev()) {
            let spawn = Spawn {
                program: "sh",
                args: &["-c", "pwd"],
                cwd: dir.path(),
                env: &[],
            };
            let pid = spawn
                .start(std::os::fd::AsFd::as_fd(&writer))
                .expect("start")
                .pid;
            assert_eq!(wait(pid).expect("wait").code(), Some(0));
        }
        drop(writer);
        let mut output = String::new();
        std::io::Read::read_to_string(&mut reader, &mut output).expect("read");
        let expected: Vec<PathBuf> = dirs
            .iter()
            .chain(dirs.iter().rev())
            .map(|d| d.path().canonicalize().expect("canonicalize"))
            .collect();
        let seen: Vec<PathBuf> = output.lines().map(PathBuf::from).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_missing_program_or_directory_is_not_found() {
        let (_reader, writer) = std::io::pipe().expect("pipe");
        let fd = std::os::fd::AsFd::as_fd(&writer);
        let missing_program = Spawn {
            program: "parity-no-such-program",
            args: &[],
            cwd: Path::new("/"),
            env: &[],
        };
        let error = missing_program.start(fd).expect_err("started");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        let missing_dir = Spawn {
            program: "sh",
            args: &["-c", "true"],
            cwd: Path::new("/parity/no/such/dir"),
            env: &[],
        };
        let error = missing_dir.start(fd).expect_err("started");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
    }
}

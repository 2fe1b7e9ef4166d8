//! A step's process: started in its own process group, stopped as a tree.
//!
//! Unix only: process groups, signals and `/proc` are what make "nothing
//! outlives parity" possible.

use super::reaper;
use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::collections::HashSet;
use std::io::{self, PipeWriter};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{LazyLock, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a stopped process gets between SIGTERM and SIGKILL.
pub(crate) const GRACE: Duration = Duration::from_secs(5);

/// Pids of children that a `std::process::Child` owns and will wait for.
///
/// parity is a subreaper, so orphans of every step become its children too and
/// must be reaped by pid. The orphan sweep skips the pids in this set; holding
/// the lock across `spawn` + insert means a fast step cannot be taken for an
/// orphan between the two.
static OWNED: LazyLock<Mutex<HashSet<i32>>> = LazyLock::new(Mutex::default);

pub(crate) fn owned_children() -> MutexGuard<'static, HashSet<i32>> {
    OWNED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// What a step needs to start.
pub(crate) struct StepCommand<'a> {
    pub(crate) shell: &'a [String],
    pub(crate) script: &'a str,
    pub(crate) cwd: &'a Path,
    pub(crate) env: &'a [(String, String)],
}

/// A running step: the shell process, leader of its own process group.
pub(crate) struct StepProcess {
    child: Child,
}

impl StepProcess {
    /// Starts the step with stdout and stderr both on `output`, so its lines
    /// keep their order, and stdin closed: steps run unattended, as in CI.
    pub(crate) fn spawn(step: &StepCommand<'_>, output: PipeWriter) -> io::Result<StepProcess> {
        let (program, args) = step
            .shell
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty shell"))?;
        let stderr = output.try_clone()?;
        let mut command = Command::new(program);
        command
            .args(args)
            .arg("-c")
            .arg(step.script)
            .current_dir(step.cwd)
            .envs(step.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(output)
            .stderr(stderr)
            .process_group(0);
        let mut owned = owned_children();
        let child = command.spawn()?;
        owned.insert(child.id() as i32);
        Ok(StepProcess { child })
    }

    /// The process group, which has the same id as the step's shell.
    pub(crate) fn group(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Waits for the shell to exit. Its background children may live on.
    pub(crate) fn wait(mut self) -> io::Result<std::process::ExitStatus> {
        let status = self.child.wait();
        owned_children().remove(&(self.child.id() as i32));
        status
    }
}

/// Something to stop: a whole process group, or one process that left its
/// group (`setsid`, daemonized).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Target {
    Group(Pid),
    Process(Pid),
}

impl Target {
    fn signal(self, signal: Signal) -> bool {
        let result = match self {
            Target::Group(pgid) => killpg(pgid, signal),
            Target::Process(pid) => kill(pid, signal),
        };
        result != Err(Errno::ESRCH)
    }

    /// Alive, zombies excepted: a zombie has stopped, it only waits to be reaped.
    fn alive(self) -> bool {
        match self {
            Target::Group(pgid) => {
                killpg(pgid, None) != Err(Errno::ESRCH) && reaper::group_has_live_member(pgid)
            }
            Target::Process(pid) => kill(pid, None) != Err(Errno::ESRCH) && !reaper::is_zombie(pid),
        }
    }
}

/// Sends SIGTERM to every target, waits up to `grace` for them to go, then
/// SIGKILLs what is left. Orphans that die meanwhile are reaped.
pub(crate) fn terminate(targets: &[Target], grace: Duration) {
    let mut living: Vec<Target> = targets
        .iter()
        .copied()
        .filter(|t| t.signal(Signal::SIGTERM))
        .collect();
    // A stopped (SIGSTOP) process cannot act on SIGTERM until continued.
    for target in &living {
        target.signal(Signal::SIGCONT);
    }
    let deadline = Instant::now() + grace;
    let mut pause = Duration::from_millis(1);
    while !living.is_empty() && Instant::now() < deadline {
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(50));
        reaper::reap_orphans();
        living.retain(|t| t.alive());
    }
    kill_now(&living);
}

/// SIGKILL, no grace: for the second Ctrl-C and expired grace periods.
pub(crate) fn kill_now(targets: &[Target]) {
    for target in targets {
        target.signal(Signal::SIGKILL);
    }
    if !targets.is_empty() {
        // SIGKILL is delivered at once but the exit takes a moment.
        let deadline = Instant::now() + Duration::from_secs(1);
        while targets.iter().any(|t| t.alive()) && Instant::now() < deadline {
            reaper::reap_orphans();
            std::thread::sleep(Duration::from_millis(5));
        }
        reaper::reap_orphans();
    }
}

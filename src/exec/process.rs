//! A step's process: started in its own process group, stopped as a tree.
//!
//! Unix only: process groups, signals and `/proc` are what make "nothing
//! outlives parity" possible.

use super::reaper;
use super::spawn::{self, Spawn};
use nix::errno::Errno;
use nix::sys::signal::{kill, killpg, Signal};
use nix::unistd::Pid;
use std::cell::Cell;
use std::collections::HashSet;
use std::io::{self, PipeWriter};
use std::os::fd::{AsFd, OwnedFd};
use std::path::Path;
use std::process::ExitStatus;
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

thread_local! {
    /// See [`StepProcess::close_later`].
    static ENDED: Cell<Option<OwnedFd>> = const { Cell::new(None) };
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
    pid: Pid,
    /// Readable once the shell has exited; `None` on kernels without
    /// pidfds (before 5.2).
    exit_fd: Option<OwnedFd>,
}

impl StepProcess {
    /// Starts the step with stdout and stderr both on `output`, so its lines
    /// keep their order, and stdin closed: steps run unattended, as in CI.
    pub(crate) fn spawn(step: &StepCommand<'_>, output: &PipeWriter) -> io::Result<StepProcess> {
        let (program, options) = step
            .shell
            .split_first()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "empty shell"))?;
        let mut args: Vec<&str> = options.iter().map(String::as_str).collect();
        args.extend(["-c", step.script]);
        let spawn = Spawn {
            program,
            args: &args,
            cwd: step.cwd,
            env: step.env,
        };
        let mut owned = owned_children();
        let started = spawn.start(output.as_fd())?;
        owned.insert(started.pid.as_raw());
        drop(owned);
        drop(ENDED.take());
        Ok(StepProcess {
            pid: started.pid,
            exit_fd: started.pidfd,
        })
    }

    pub(crate) fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// A pidfd of the shell, readable once it has exited, which the
    /// caller now owns. `None` on kernels without pidfds.
    pub(crate) fn exit_fd(&mut self) -> Option<OwnedFd> {
        self.exit_fd.take()
    }

    /// Closes the pidfd of a step that ended once the thread's next step
    /// has started, or with the thread. Closing one frees its file, about
    /// 4 µs: between two steps that is paid once per step, while once the
    /// next shell runs the thread has nothing to do but wait for it.
    pub(crate) fn close_later(exit_fd: OwnedFd) {
        ENDED.set(Some(exit_fd));
    }

    /// Waits for the shell to exit. Its background children may live on.
    pub(crate) fn wait(self) -> io::Result<ExitStatus> {
        let status = spawn::wait(self.pid);
        owned_children().remove(&self.pid());
        status
    }
}

/// Something to stop: a whole process group, or one process that left its
/// group (`setsid`, daemonized).
///
/// A target remembers when its process (a group's leader) started: once
/// that process is gone, its pid, and with it a group id, can go to an
/// unrelated process, which must never be signalled in its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Target {
    pid: Pid,
    whole_group: bool,
    /// Clock ticks after boot; `None` when the process had already gone.
    started: Option<u64>,
}

impl Target {
    /// The process group `pgid` (the pid of its leader).
    pub(crate) fn group(pgid: i32) -> Target {
        Target::new(pgid, true)
    }

    pub(crate) fn process(pid: i32) -> Target {
        Target::new(pid, false)
    }

    /// The group of a step whose shell parity has reaped: no /proc read,
    /// since the leader is known to be gone. A group id is not handed out
    /// again while any member lives, so a process now holding the id as
    /// its pid means the group has ended.
    pub(crate) fn reaped_group(pgid: i32) -> Target {
        Target {
            pid: Pid::from_raw(pgid),
            whole_group: true,
            started: None,
        }
    }

    fn new(pid: i32, whole_group: bool) -> Target {
        Target {
            pid: Pid::from_raw(pid),
            whole_group,
            started: reaper::start_time(pid),
        }
    }

    /// The pid of the group's leader, when parity reaped it.
    pub(crate) fn reaped_leader(&self) -> Option<i32> {
        (self.whole_group && self.started.is_none()).then_some(self.pid.as_raw())
    }

    /// Whether `pgid` is this target's group, and still the same group.
    pub(crate) fn is_group(&self, pgid: i32) -> bool {
        self.whole_group && self.pid.as_raw() == pgid && !self.reused()
    }

    /// The pid now belongs to a process started since this target was
    /// made. (While any member of a group lives, its id is not handed
    /// out again, so a group whose leader is gone is still the same group.)
    fn reused(&self) -> bool {
        reaper::start_time(self.pid.as_raw()).is_some_and(|now| Some(now) != self.started)
    }

    fn signal(self, signal: Signal) -> bool {
        if self.reused() {
            return false;
        }
        let result = if self.whole_group {
            killpg(self.pid, signal)
        } else {
            kill(self.pid, signal)
        };
        result != Err(Errno::ESRCH)
    }

    /// Alive, zombies excepted: a zombie has stopped, it only waits to be reaped.
    fn alive(self) -> bool {
        if self.reused() {
            return false;
        }
        if self.whole_group {
            killpg(self.pid, None) != Err(Errno::ESRCH) && reaper::group_has_live_member(self.pid)
        } else {
            kill(self.pid, None) != Err(Errno::ESRCH) && !reaper::is_zombie(self.pid)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::{CommandExt, ExitStatusExt};
    use std::process::Command;

    /// A stranger that now holds a pid parity once knew, in its own group.
    fn stranger() -> std::process::Child {
        Command::new("sleep")
            .arg("30")
            .process_group(0)
            .spawn()
            .expect("spawn sleep")
    }

    #[test]
    fn a_pid_that_went_to_another_process_is_never_signalled() {
        let mut stranger = stranger();
        let pid = stranger.id() as i32;
        for whole_group in [false, true] {
            // Made for the pid's earlier holder, started at another time.
            let earlier = Target {
                pid: Pid::from_raw(pid),
                whole_group,
                started: Some(0),
            };
            assert!(!earlier.alive());
            assert!(!earlier.signal(Signal::SIGKILL));
            assert!(!earlier.is_group(pid));
        }
        assert!(
            stranger.try_wait().expect("try_wait").is_none(),
            "the stranger was killed"
        );

        let same = Target::group(pid);
        assert!(same.is_group(pid) && same.alive());
        assert!(same.signal(Signal::SIGKILL));
        assert!(stranger.wait().expect("wait").signal() == Some(9));
    }
}

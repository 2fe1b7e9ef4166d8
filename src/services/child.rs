//! Child processes the services module waits for itself.
//!
//! During `parity run`, parity is a child subreaper and sweeps up exited
//! orphans; a child it means to wait for must be in the executor's "owned"
//! set first, or the sweep could take its exit status.

use crate::exec::{owned_children, StepEnd};
use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use std::io;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

pub(crate) struct OwnedChild {
    child: Child,
    waited: bool,
}

impl OwnedChild {
    /// Spawns `command`, registered so no sweep reaps it behind our back.
    pub(crate) fn spawn(command: &mut Command) -> io::Result<OwnedChild> {
        let mut owned = owned_children();
        let child = command.spawn()?;
        owned.insert(child.id() as i32);
        Ok(OwnedChild {
            child,
            waited: false,
        })
    }

    pub(crate) fn pid(&self) -> i32 {
        self.child.id() as i32
    }

    /// Writes `input` to the child's piped stdin and closes it.
    pub(crate) fn write_stdin(&mut self, input: &[u8]) -> io::Result<()> {
        use std::io::Write;
        if let Some(mut stdin) = self.child.stdin.take() {
            stdin.write_all(input)?;
        }
        Ok(())
    }

    pub(crate) fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        let status = self.child.try_wait()?;
        if status.is_some() {
            self.release();
        }
        Ok(status)
    }

    pub(crate) fn wait(&mut self) -> io::Result<ExitStatus> {
        let status = self.child.wait();
        self.release();
        status
    }

    /// Waits up to `limit`; `None` when it still runs.
    pub(crate) fn wait_for(&mut self, limit: Duration) -> io::Result<Option<ExitStatus>> {
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(Some(status));
            }
            if Instant::now() >= deadline {
                return Ok(None);
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    /// SIGKILL to the child's process group (it leads one) and reap it.
    pub(crate) fn kill_group(&mut self) {
        let _ = killpg(Pid::from_raw(self.pid()), Signal::SIGKILL);
        let _ = self.wait();
    }

    fn release(&mut self) {
        if !self.waited {
            self.waited = true;
            owned_children().remove(&(self.child.id() as i32));
        }
    }
}

impl Drop for OwnedChild {
    /// An abandoned child (a detached service) is left to whoever reaps
    /// orphans: parity's sweep during a run, init after parity exits.
    fn drop(&mut self) {
        self.release();
    }
}

/// "exited with code 1", "was killed by SIGSEGV".
pub(crate) fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => StepEnd::Exit(code),
        (None, Some(signal)) => StepEnd::Signal(signal),
        (None, None) => StepEnd::Exit(-1),
    }
    .to_string()
}

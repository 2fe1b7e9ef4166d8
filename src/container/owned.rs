//! Engine client processes parity waits for itself.
//!
//! During `parity run` parity is a child subreaper whose sweep reaps exited
//! children it does not know; a `docker` client it means to wait for must be
//! registered first, or the sweep could take its exit status.

use crate::exec::owned_children;
use std::io;
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

/// A child process registered with the executor's sweep.
pub(crate) struct Owned {
    child: Child,
    released: bool,
}

impl Owned {
    pub(crate) fn spawn(command: &mut Command) -> io::Result<Owned> {
        let mut owned = owned_children();
        let child = command.spawn()?;
        owned.insert(child.id() as i32);
        Ok(Owned {
            child,
            released: false,
        })
    }

    pub(crate) fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    pub(crate) fn try_wait(&mut self) -> Option<ExitStatus> {
        match self.child.try_wait() {
            Ok(Some(status)) => {
                self.release();
                Some(status)
            }
            Ok(None) => None,
            // Already reaped elsewhere: it has ended all the same.
            Err(_) => {
                self.release();
                Some(std::os::unix::process::ExitStatusExt::from_raw(0))
            }
        }
    }

    /// Waits up to `limit`; `None` while it still runs.
    pub(crate) fn wait_for(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        let mut pause = Duration::from_millis(1);
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(pause);
            pause = (pause * 2).min(Duration::from_millis(20));
        }
    }

    pub(crate) fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.release();
    }

    fn release(&mut self) {
        if !self.released {
            self.released = true;
            owned_children().remove(&(self.child.id() as i32));
        }
    }
}

impl Drop for Owned {
    fn drop(&mut self) {
        if !self.released {
            // Reap it if it has ended; otherwise the sweep will.
            let _ = self.child.try_wait();
            self.release();
        }
    }
}

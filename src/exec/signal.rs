//! SIGINT, SIGTERM and SIGHUP become events for the scheduling loop, so one
//! place decides what a first, second and third Ctrl-C do.
//!
//! SIGCHLD is blocked for the run. parity waits for its children by pid and
//! pidfd and handles no SIGCHLD, yet the kernel did not discard it: each
//! step's exit woke one of parity's sleeping threads to throw it away, on
//! the other CPU, while the worker started the next step. A blocked signal
//! stays pending, once, and wakes nobody. Steps start with an empty mask
//! (`spawn`), as do the processes `std::process::Command` starts.

use nix::sys::signal::{pthread_sigmask, SigSet, SigmaskHow, Signal};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use std::io;

/// Listens for termination signals, and keeps SIGCHLD blocked, until the
/// returned guard is dropped.
pub(crate) struct SignalGuard {
    handle: Handle,
    _child_signals: ChildSignalsBlocked,
}

impl SignalGuard {
    /// Call before starting the run's threads (they inherit the block), on
    /// the thread that drops the guard.
    pub(crate) fn forward(on_signal: impl Fn(i32) + Send + 'static) -> io::Result<SignalGuard> {
        let child_signals = ChildSignalsBlocked::block();
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        std::thread::Builder::new()
            .name("parity-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    on_signal(signal);
                }
            })?;
        Ok(SignalGuard {
            handle,
            _child_signals: child_signals,
        })
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        self.handle.close();
    }
}

/// SIGCHLD blocked on the calling thread until dropped.
struct ChildSignalsBlocked {
    /// The mask before; `None` when blocking failed.
    before: Option<SigSet>,
}

impl ChildSignalsBlocked {
    fn block() -> ChildSignalsBlocked {
        let mut before = SigSet::empty();
        let blocked = pthread_sigmask(
            SigmaskHow::SIG_BLOCK,
            Some(&SigSet::from(Signal::SIGCHLD)),
            Some(&mut before),
        );
        ChildSignalsBlocked {
            before: blocked.ok().map(|()| before),
        }
    }
}

impl Drop for ChildSignalsBlocked {
    fn drop(&mut self) {
        if let Some(before) = &self.before {
            // A SIGCHLD left pending is discarded now, as it would have been.
            let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(before), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blocked_now() -> SigSet {
        SigSet::thread_get_mask().expect("mask")
    }

    #[test]
    fn sigchld_is_blocked_for_the_run_and_for_its_threads_only() {
        std::thread::spawn(|| {
            assert!(!blocked_now().contains(Signal::SIGCHLD));
            let guard = SignalGuard::forward(|_| {}).expect("forward");
            assert!(blocked_now().contains(Signal::SIGCHLD));
            let inherited = std::thread::spawn(|| blocked_now().contains(Signal::SIGCHLD))
                .join()
                .expect("thread");
            assert!(inherited, "a thread started during the run inherits it");
            drop(guard);
            assert!(!blocked_now().contains(Signal::SIGCHLD));
        })
        .join()
        .expect("test thread");
    }
}

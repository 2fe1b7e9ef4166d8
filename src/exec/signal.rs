//! SIGINT, SIGTERM and SIGHUP become events for the scheduling loop, so one
//! place decides what a first, second and third Ctrl-C do.

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::{Handle, Signals};
use std::io;

/// Listens for termination signals until the returned guard is dropped.
pub(crate) struct SignalGuard {
    handle: Handle,
}

impl SignalGuard {
    pub(crate) fn forward(on_signal: impl Fn(i32) + Send + 'static) -> io::Result<SignalGuard> {
        let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])?;
        let handle = signals.handle();
        std::thread::Builder::new()
            .name("parity-signals".into())
            .spawn(move || {
                for signal in signals.forever() {
                    on_signal(signal);
                }
            })?;
        Ok(SignalGuard { handle })
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        self.handle.close();
    }
}

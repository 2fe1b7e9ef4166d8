//! Who a pid is: its start time since boot and the boot it belongs to.
//!
//! A pid alone is not an identity: after a reboot, or once pids wrap, the
//! number recorded for a service can belong to a stranger. parity kills a
//! recorded pid only when both its start time and the boot id still match.

use procfs::process::Process;
use serde::{Deserialize, Serialize};

/// A process as recorded in state files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Identity {
    pub(crate) pid: i32,
    /// Clock ticks after boot (`/proc/PID/stat` field 22).
    pub(crate) start_time: u64,
    pub(crate) boot_id: String,
}

impl Identity {
    /// The identity of a live process, or `None` when it is gone.
    pub(crate) fn of(pid: i32) -> Option<Identity> {
        let stat = Process::new(pid).and_then(|p| p.stat()).ok()?;
        Some(Identity {
            pid,
            start_time: stat.starttime,
            boot_id: boot_id(),
        })
    }

    /// parity itself.
    pub(crate) fn me() -> Option<Identity> {
        Identity::of(std::process::id() as i32)
    }

    /// Whether the recorded process still runs (zombies count as gone).
    pub(crate) fn alive(&self) -> bool {
        match Process::new(self.pid).and_then(|p| p.stat()) {
            Ok(stat) => {
                stat.starttime == self.start_time && stat.state != 'Z' && self.boot_id == boot_id()
            }
            Err(_) => false,
        }
    }

    /// Whether the pid now belongs to another program (reused pid or reboot).
    pub(crate) fn reused(&self) -> bool {
        Identity::of(self.pid).is_some_and(|now| now != *self)
    }
}

/// The kernel's id for this boot; empty where `/proc` does not offer it.
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_identity_is_alive_and_a_changed_start_time_is_not() {
        let me = Identity::me().unwrap();
        assert!(me.alive());
        assert!(!me.reused());
        let stranger = Identity {
            start_time: me.start_time + 1,
            ..me.clone()
        };
        assert!(!stranger.alive());
        assert!(stranger.reused());
    }
}

//! parity's own threads that work beside the steps (writing the logs,
//! pruning old runs, taking the fingerprint) give the steps the CPU first.
//!
//! Linux's fair scheduler lets a thread that wakes up preempt the thread
//! running on its CPU. Woken when a job ended, the log thread preempted the
//! worker just as it started the next job: on a 2-core machine `perf` saw it
//! at 170 of 200 job ends, 13 ms in all, on the path from one step to the
//! next (bench/README.md). A `SCHED_BATCH` thread keeps its fair share of
//! the CPU but never preempts on waking.

use std::io;

/// How far a background thread gives way.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GiveWay {
    /// Never preempt on waking; for work the run may wait for (the logs).
    OnWaking,
    /// That, and a tenth of a normal share when the CPUs are busy (nice
    /// 10); for work nothing waits for before the run ends.
    Always,
}

/// Applies `how` to the calling thread (Linux keeps both settings per
/// thread) and to the processes it starts from then on. At worst, when the
/// system refuses, the thread competes as any other.
pub(crate) fn give_way(how: GiveWay) {
    let _ = batch();
    if let GiveWay::Always = how {
        let _ = rustix::process::nice(10);
    }
}

/// Moves the calling thread to `SCHED_BATCH`, which neither rustix nor nix
/// wraps.
fn batch() -> io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` outlives the call, which only reads it; pid 0 is the
    // calling thread.
    match unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) } {
        0 => Ok(()),
        _ => Err(io::Error::last_os_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> i32 {
        // SAFETY: reads the calling thread's policy; no pointers involved.
        unsafe { libc::sched_getscheduler(0) }
    }

    #[test]
    fn a_thread_that_gives_way_is_batch_and_the_others_are_not() {
        let before = policy();
        let inside = std::thread::spawn(|| {
            give_way(GiveWay::OnWaking);
            policy()
        })
        .join()
        .expect("thread");
        assert_eq!(inside, libc::SCHED_BATCH);
        assert_eq!(policy(), before, "only the calling thread changes");
    }

    #[test]
    fn giving_way_always_also_lowers_the_priority() {
        let (policy, before, after) = std::thread::spawn(|| {
            let before = rustix::process::nice(0).expect("nice");
            give_way(GiveWay::Always);
            (policy(), before, rustix::process::nice(0).expect("nice"))
        })
        .join()
        .expect("thread");
        assert_eq!(policy, libc::SCHED_BATCH);
        // Niceness stops at 19.
        assert_eq!(after, (before + 10).min(19));
    }
}

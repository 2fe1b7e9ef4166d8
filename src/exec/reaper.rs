//! Finding and reaping what steps leave behind.
//!
//! parity makes itself a child subreaper, so a process a step backgrounded,
//! daemonized or double-forked becomes parity's child when its parent exits
//! instead of escaping to init. Each step carries a marker in its environment
//! (inherited by everything it starts); at the end of a job the processes
//! with that job's marker are its leftovers.

use super::process::{owned_children, Target};
use nix::errno::Errno;
use nix::sys::signal::kill;
use nix::sys::wait::{waitid, waitpid, Id, WaitPidFlag};
use nix::unistd::Pid;
use procfs::process::{Process, Stat};
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{LazyLock, Mutex, MutexGuard, OnceLock};

/// Leftovers parity has found and may have to reap once they exit.
///
/// Only these are ever reaped by pid: reaping any zombie child would race
/// with `Command::output()` calls elsewhere in parity, whose own `waitpid`
/// would then fail.
static ADOPTED: LazyLock<Mutex<HashSet<i32>>> = LazyLock::new(Mutex::default);

fn adopted() -> MutexGuard<'static, HashSet<i32>> {
    ADOPTED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The environment variable that marks a job's processes, `RUN_ID/INDEX`.
pub(crate) const MARKER_VAR: &str = "PARITY_JOB_TOKEN";

/// Makes orphaned descendants parity's own children (Linux
/// `PR_SET_CHILD_SUBREAPER`). Fails only on kernels without it.
pub(crate) fn become_subreaper() -> nix::Result<()> {
    nix::sys::prctl::set_child_subreaper(true)
}

/// A process found in `/proc`.
#[derive(Debug, Clone)]
pub(crate) struct ProcInfo {
    pub(crate) pid: i32,
    pub(crate) command: String,
}

/// A job's live leftovers, created after `since`: parity's descendants
/// carrying `marker` in `MARKER_VAR`, or still in one of the job's step
/// `groups`.
///
/// Linux hands out pids in increasing order until they wrap, so a job's
/// descendants all have pids from its first step's up to the last pid
/// handed out. Only those are read, which keeps this cheap on a busy
/// machine; after a wrap, all are. parity is a subreaper, so whatever a
/// step started still descends from parity: another program's processes
/// never pass for the job's, whatever their group or environment says.
pub(crate) fn leftovers(marker: &str, since: i32, groups: &[Target]) -> Vec<ProcInfo> {
    // Every living descendant of parity has a living chain of parents up to
    // one of parity's children (orphans come to parity, the subreaper):
    // with no child at all, nothing can be left, and nothing is read.
    if !has_children() {
        return Vec::new();
    }
    let me = std::process::id() as i32;
    matching(marker, since, groups)
        .filter(|(_, stat)| descends_from(stat.ppid, me))
        .map(|(p, _)| found(&p))
        .collect()
}

/// Live processes carrying `marker`, created after `since`, wherever they
/// descend from: the services of a run that died are nobody's children.
pub(crate) fn marked(marker: &str, since: i32) -> Vec<ProcInfo> {
    matching(marker, since, &[])
        .map(|(p, _)| found(&p))
        .collect()
}

/// Live processes created after `since` that carry `marker` or belong to
/// one of `groups`.
fn matching<'a>(
    marker: &'a str,
    since: i32,
    groups: &'a [Target],
) -> impl Iterator<Item = (Process, Stat)> + 'a {
    let me = std::process::id() as i32;
    // The steps' own shells, reaped already, need no look.
    let reaped: Vec<i32> = groups.iter().filter_map(Target::reaped_leader).collect();
    candidates(since, reaped)
        .filter(move |&pid| pid != me)
        .filter_map(|pid| Process::new(pid).ok())
        .filter_map(move |p| {
            let stat = p.stat().ok()?;
            let ours = stat.state != 'Z'
                && (groups.iter().any(|g| g.is_group(stat.pgrp))
                    || p.environ()
                        .ok()
                        .and_then(|env| env.get(OsStr::new(MARKER_VAR)).cloned())
                        .is_some_and(|value| value == OsStr::new(marker)));
            ours.then_some((p, stat))
        })
}

/// Whether the process whose parent is `ppid` descends from `ancestor`.
fn descends_from(mut ppid: i32, ancestor: i32) -> bool {
    // Deeper than any real process tree; guards against a loop from pid reuse.
    for _ in 0..256 {
        if ppid == ancestor {
            return true;
        }
        if ppid <= 1 {
            return false;
        }
        match Process::new(ppid).and_then(|p| p.stat()) {
            Ok(stat) => ppid = stat.ppid,
            Err(_) => return false,
        }
    }
    false
}

/// Up to this many pids handed out since a job began are probed one by
/// one; more, and one listing of `/proc` is cheaper than the failed opens.
const PROBE_LIMIT: i32 = 16;

/// The pids that may belong to processes created since pid `since`, but
/// for the `reaped` ones.
///
/// A job that started nothing in the background usually leaves only its
/// own (reaped) step pids in that range, so probing the range directly,
/// rather than listing `/proc`, makes the end of a quiet job cost one read.
/// Within a short range no pid was handed out twice, so a reaped pid there
/// is still free.
fn candidates(since: i32, reaped: Vec<i32>) -> Box<dyn Iterator<Item = i32>> {
    match last_pid() {
        Some(last) if last >= since && last - since < PROBE_LIMIT => {
            Box::new((since..=last).filter(move |pid| !reaped.contains(pid)))
        }
        Some(last) if last >= since => Box::new(pids().filter(move |&pid| pid >= since)),
        // Wrapped, or unknown: every process may be new.
        _ => Box::new(pids()),
    }
}

/// The pid the kernel handed out last, read with one `pread` of a file
/// kept open: this runs at the end of every job.
fn last_pid() -> Option<i32> {
    static FILE: OnceLock<Option<File>> = OnceLock::new();
    let file = FILE
        .get_or_init(|| File::open("/proc/sys/kernel/ns_last_pid").ok())
        .as_ref()?;
    let mut buf = [0u8; 16];
    let n = file.read_at(&mut buf, 0).ok()?;
    std::str::from_utf8(&buf[..n]).ok()?.trim().parse().ok()
}

/// Live children of parity that nothing in parity started: orphans that
/// cleared their environment and left their group, so no job can claim them.
/// Only safe to call when no job runs.
pub(crate) fn unclaimed_orphans() -> Vec<ProcInfo> {
    // Most runs end with no child at all: one `waitid` says so, where the
    // look through `/proc` below reads every process started since parity.
    if !has_children() {
        return Vec::new();
    }
    let me = std::process::id() as i32;
    let owned = owned_children();
    // parity's children were all created after parity itself.
    candidates(me, Vec::new())
        .filter(|pid| !owned.contains(pid))
        .filter_map(|pid| Process::new(pid).ok())
        .filter(|p| p.stat().is_ok_and(|s| s.ppid == me && s.state != 'Z'))
        .map(|p| found(&p))
        .collect()
}

/// Whether parity has no child process, living or exited: then nothing a
/// step started is left, since every living descendant of parity has a
/// living chain of parents up to one of parity's children (orphans come to
/// parity, the subreaper).
pub(crate) fn alone() -> bool {
    !has_children()
}

/// Whether parity has a child process, living or exited, started by any
/// of its threads or adopted as a subreaper.
fn has_children() -> bool {
    let any =
        WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT | WaitPidFlag::__WALL;
    waitid(Id::All, any) != Err(Errno::ECHILD)
}

fn found(process: &Process) -> ProcInfo {
    adopted().insert(process.pid());
    ProcInfo {
        pid: process.pid(),
        command: describe(process),
    }
}

/// Reaps the leftovers found earlier that have exited since: they were
/// reparented to parity, and no `Child` handle will wait for them.
pub(crate) fn reap_orphans() {
    let owned = owned_children();
    adopted().retain(|&pid| {
        if owned.contains(&pid) {
            return true;
        }
        match waitpid(Pid::from_raw(pid), Some(WaitPidFlag::WNOHANG)) {
            Ok(nix::sys::wait::WaitStatus::StillAlive) => true,
            // Reaped now, or not parity's child: either way not ours to track.
            Ok(_) | Err(Errno::ECHILD) => false,
            Err(_) => kill(Pid::from_raw(pid), None) != Err(Errno::ESRCH),
        }
    });
}

/// Whether any process of the group is still running (not a zombie).
pub(crate) fn group_has_live_member(pgid: Pid) -> bool {
    pids().any(|pid| {
        Process::new(pid)
            .and_then(|p| p.stat())
            .is_ok_and(|s| s.pgrp == pgid.as_raw() && s.state != 'Z')
    })
}

/// When `pid` started, in clock ticks after boot; `None` when it is gone.
pub(crate) fn start_time(pid: i32) -> Option<u64> {
    Process::new(pid)
        .and_then(|p| p.stat())
        .ok()
        .map(|s| s.starttime)
}

pub(crate) fn is_zombie(pid: Pid) -> bool {
    Process::new(pid.as_raw())
        .and_then(|p| p.stat())
        .is_ok_and(|s| s.state == 'Z')
}

/// Every pid in `/proc`, read with one directory scan.
fn pids() -> impl Iterator<Item = i32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<i32>().ok())
}

/// A process as a person recognises it: its command line, else its name.
pub(crate) fn describe(process: &Process) -> String {
    match process.cmdline() {
        Ok(args) if !args.is_empty() => args.join(" "),
        _ => process
            .stat()
            .map(|s| s.comm)
            .unwrap_or_else(|_| "?".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    #[test]
    fn a_grandchild_descends_from_parity_and_init_does_not() {
        let me = std::process::id() as i32;
        let mut shell = Command::new("sh")
            .args(["-c", "sleep 30 & echo $!; wait"])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn sh");
        let mut line = String::new();
        let stdout = shell.stdout.take().expect("stdout");
        BufReader::new(stdout).read_line(&mut line).expect("read");
        let grandchild: i32 = line.trim().parse().expect("a pid");
        let ppid = Process::new(grandchild)
            .and_then(|p| p.stat())
            .expect("stat")
            .ppid;
        assert!(descends_from(ppid, me));
        assert!(!descends_from(0, me), "init's parent");
        let _ =
            nix::sys::signal::kill(Pid::from_raw(grandchild), nix::sys::signal::Signal::SIGKILL);
        let _ = shell.wait();
    }
}

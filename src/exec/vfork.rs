//! Starting a program as glibc's `posix_spawn` does, in a child that shares
//! parity's memory until its `exec`, with a fifth of the system calls.
//!
//! Written by hand because glibc's child asks for, or resets, the
//! disposition of every signal, one `rt_sigaction` each (64, about 20 µs a
//! step, while parity waits: bench/README.md), when the only handlers that
//! could run before the `exec` clears them are the few parity has. musl
//! keeps track of those; glibc does not, and the kernel's own answer,
//! `CLONE_CLEAR_SIGHAND`, needs `clone3`, which no library wraps with the
//! stack switch a child sharing the parent's memory needs. The child is
//! also asked for a pidfd (`CLONE_PIDFD`), which saves parity a
//! `pidfd_open` per step.

use nix::unistd::Pid;
use std::cell::OnceCell;
use std::ffi::{c_char, c_int, c_void, CStr};
use std::io;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::LazyLock;

/// What the child does between its start and its `exec`, all prepared
/// beforehand: it shares parity's memory, where another thread may hold
/// the allocator's lock, so it makes system calls and nothing else.
pub(super) struct Exec<'a> {
    pub(super) path: &'a CStr,
    /// The arguments, then a null pointer.
    pub(super) argv: &'a [*const c_char],
    /// `KEY=value` entries, then a null pointer.
    pub(super) envp: &'a [*const c_char],
    pub(super) cwd: &'a CStr,
    /// The child's stdout and stderr: a descriptor above them, as every
    /// one parity opens is (Rust's runtime keeps 0 to 2 open), since
    /// `dup2` onto itself would leave it closed by the `exec`.
    pub(super) output: RawFd,
    pub(super) stdin: Stdin,
    /// A session of its own (`setsid`) rather than a process group.
    pub(super) session: bool,
}

/// Where the child's stdin comes from.
pub(super) enum Stdin {
    /// A copy of this descriptor, above the standard streams.
    Copy(RawFd),
    /// /dev/null, opened by the child.
    DevNull,
}

/// A started child: its pid, and a pidfd where the kernel gives one.
#[derive(Debug)]
pub(crate) struct Started {
    pub(crate) pid: Pid,
    pub(crate) pidfd: Option<OwnedFd>,
}

impl Exec<'_> {
    /// Starts the child and returns once it has called `exec`: with the
    /// error of the first step that failed (the `exec` itself included),
    /// the child reaped, or with the child running the program. Signals
    /// reach the program unblocked, at their defaults but for those parity
    /// ignores (SIGPIPE, which Rust ignores, is reset too).
    pub(super) fn start(&self) -> io::Result<Started> {
        debug_assert!(self.argv.last().is_some_and(|p| p.is_null()));
        debug_assert!(self.envp.last().is_some_and(|p| p.is_null()));
        debug_assert!(self.output > 2);
        STACK.with(|stack| {
            let stack = stack.get_or_init(Stack::new).as_ref().map_err(io_error)?;
            loop {
                let pidfds = PIDFDS.load(Ordering::Relaxed);
                match self.clone_child(stack, pidfds) {
                    // Kernels before 5.2 know no CLONE_PIDFD.
                    Err(e) if pidfds && e.raw_os_error() == Some(libc::EINVAL) => {
                        PIDFDS.store(false, Ordering::Relaxed);
                    }
                    started => return started,
                }
            }
        })
    }

    fn clone_child(&self, stack: &Stack, pidfds: bool) -> io::Result<Started> {
        let child = Child {
            exec: self,
            reset: &RESET,
            failure: AtomicI32::new(0),
        };
        let mut flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::SIGCHLD;
        if pidfds {
            flags |= libc::CLONE_PIDFD;
        }
        let mut pidfd: c_int = -1;
        // SAFETY: `all` is filled before use. Every signal is blocked
        // across the clone so that none runs a handler of parity's in the
        // child before it has reset them; the child unblocks them just
        // before its `exec`. The child runs `run_child` on a stack of its
        // own with `child`, which outlives it: CLONE_VFORK suspends this
        // thread until the child has called `exec` or exited.
        let (pid, error) = unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            let mut before: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut before);
            let pid = libc::clone(
                run_child,
                stack.top(),
                flags,
                ptr::from_ref(&child).cast_mut().cast::<c_void>(),
                ptr::from_mut(&mut pidfd),
            );
            let error = io::Error::last_os_error();
            libc::pthread_sigmask(libc::SIG_SETMASK, &before, ptr::null_mut());
            (pid, error)
        };
        if pid < 0 {
            return Err(error);
        }
        // SAFETY: with CLONE_PIDFD the kernel stored a new descriptor,
        // close-on-exec, that nothing else owns.
        let pidfd = (pidfds && pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
        match child.failure.load(Ordering::Acquire) {
            0 => Ok(Started {
                pid: Pid::from_raw(pid),
                pidfd,
            }),
            errno => {
                // Reaped here: it is nobody else's to wait for.
                let _ = super::spawn::wait(Pid::from_raw(pid));
                Err(io::Error::from_raw_os_error(errno))
            }
        }
    }
}

/// Whether to ask for a pidfd; cleared on a kernel without CLONE_PIDFD.
static PIDFDS: AtomicBool = AtomicBool::new(true);

/// The signals the child resets to their default before it unblocks
/// signals: those with a handler in parity, which would otherwise run in
/// the child, on parity's memory, if one arrived before the `exec`, and
/// SIGPIPE, which Rust ignores. Read at the first start, when the handlers
/// of Rust and of glibc are in place, with the three parity listens for
/// (`signal.rs`, services), which may come later. Any other signal parity
/// ignores was ignored when it started (by `nohup`, say), and a program
/// passes that on by convention.
static RESET: LazyLock<Vec<c_int>> = LazyLock::new(|| {
    let always = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGPIPE];
    let handled = (1..=libc::SIGRTMAX()).filter(|&signal| {
        !always.contains(&signal)
            && signal != libc::SIGKILL
            && signal != libc::SIGSTOP
            && has_handler(signal)
    });
    always.into_iter().chain(handled).collect()
});

/// Whether parity handles `signal` with a function of its own.
fn has_handler(signal: c_int) -> bool {
    // SAFETY: a zeroed `sigaction` is a valid value (integers, a null
    // handler), and with no new action `sigaction` only writes the current
    // disposition into it.
    unsafe {
        let mut current: libc::sigaction = std::mem::zeroed();
        libc::sigaction(signal, ptr::null(), &mut current) == 0
            && current.sa_sigaction != libc::SIG_DFL
            && current.sa_sigaction != libc::SIG_IGN
    }
}

/// What `run_child` reads, and where it writes why it failed.
struct Child<'a> {
    exec: &'a Exec<'a>,
    reset: &'a [c_int],
    /// The errno of the child's first failed step; 0 while none failed.
    failure: AtomicI32,
}

/// The child's whole life: prepare, `exec`, or say why not and exit.
extern "C" fn run_child(child: *mut c_void) -> c_int {
    // SAFETY: `clone_child` passes a `Child` that outlives the child.
    let child = unsafe { &*child.cast::<Child<'_>>() };
    // SAFETY: only system calls, on descriptors and memory prepared for
    // them; see `prepare_and_exec`.
    let errno = unsafe { prepare_and_exec(child) };
    child.failure.store(errno, Ordering::Release);
    // SAFETY: `_exit` runs no handlers and flushes nothing of parity's.
    unsafe { libc::_exit(127) }
}

/// Returns only when a step failed, with its errno.
///
/// # Safety
/// To be called in the child only: it changes the calling process's
/// signals, group, descriptors and directory.
unsafe fn prepare_and_exec(child: &Child<'_>) -> c_int {
    // SAFETY: system calls on the memory and descriptors `Exec` holds,
    // which stay valid while the parent waits.
    unsafe {
        let exec = child.exec;
        let default: libc::sigaction = std::mem::zeroed();
        for &signal in child.reset {
            // A signal the kernel refuses is one no handler can run for.
            libc::sigaction(signal, &default, ptr::null_mut());
        }
        let leads = if exec.session {
            libc::setsid()
        } else {
            libc::setpgid(0, 0)
        };
        if leads < 0 {
            return errno();
        }
        let stdin = match exec.stdin {
            Stdin::Copy(fd) => fd,
            Stdin::DevNull => libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC),
        };
        let streams = stdin >= 0
            && libc::dup2(stdin, 0) == 0
            && libc::dup2(exec.output, 1) == 1
            && libc::dup2(exec.output, 2) == 2;
        if !streams || libc::chdir(exec.cwd.as_ptr()) < 0 {
            return errno();
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        if libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut()) < 0 {
            return errno();
        }
        libc::execve(exec.path.as_ptr(), exec.argv.as_ptr(), exec.envp.as_ptr());
        errno()
    }
}

fn errno() -> c_int {
    // SAFETY: glibc's errno of the calling thread; the child shares the
    // suspended parent thread's, which reads nothing from it after.
    unsafe { *libc::__errno_location() }
}

thread_local! {
    /// The stack each thread's children start on: one at a time, since
    /// CLONE_VFORK suspends the thread until its child has called `exec`.
    /// Holds the error when it could not be mapped.
    static STACK: OnceCell<Result<Stack, rustix::io::Errno>> = const { OnceCell::new() };
}

/// Memory for a child's stack, with a guard page below it so that an
/// overflow faults instead of writing over parity's memory.
struct Stack {
    base: *mut c_void,
    len: usize,
}

impl Stack {
    /// Enough for `run_child` many times over; pages are only committed
    /// as they are touched.
    const LEN: usize = 64 * 1024;

    fn new() -> Result<Stack, rustix::io::Errno> {
        use rustix::mm::{mmap_anonymous, mprotect, MapFlags, MprotectFlags, ProtFlags};
        let guard = rustix::param::page_size();
        let len = Stack::LEN + guard;
        // SAFETY: a new private mapping at an address the kernel picks;
        // the guard page is within it.
        unsafe {
            let base = mmap_anonymous(
                ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE | MapFlags::STACK,
            )?;
            let stack = Stack { base, len };
            mprotect(base, guard, MprotectFlags::empty())?;
            Ok(stack)
        }
    }

    /// The stack's highest address: it grows down.
    fn top(&self) -> *mut c_void {
        self.base.wrapping_byte_add(self.len)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: the mapping `new` made, used by no child now that its
        // thread is ending.
        let _ = unsafe { rustix::mm::munmap(self.base, self.len) };
    }
}

fn io_error(errno: &rustix::io::Errno) -> io::Error {
    io::Error::from_raw_os_error(errno.raw_os_error())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::CString;
    use std::io::Read;
    use std::os::fd::AsRawFd;

    /// Starts `sh -c script` in /, writing to a pipe: what it wrote.
    fn run(script: &str, stdin: Stdin) -> io::Result<String> {
        let (mut reader, writer) = io::pipe()?;
        let args = [c"sh", c"-c", &CString::new(script).expect("no NUL")];
        let argv: Vec<*const c_char> = args
            .iter()
            .map(|a| a.as_ptr())
            .chain([ptr::null()])
            .collect();
        let envp = [ptr::null()];
        let started = Exec {
            path: c"/bin/sh",
            argv: &argv,
            envp: &envp,
            cwd: c"/",
            output: writer.as_raw_fd(),
            stdin,
            session: false,
        }
        .start()?;
        drop(writer);
        let mut output = String::new();
        reader.read_to_string(&mut output)?;
        let status = super::super::spawn::wait(started.pid)?;
        assert!(status.success(), "{status}: {output}");
        assert!(started.pidfd.is_some(), "no pidfd");
        Ok(output)
    }

    /// How many of this process's descriptors a child inherits (those
    /// without close-on-exec) are /dev/null.
    fn inherited_dev_nulls() -> usize {
        let fds = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd");
        fds.filter_map(|entry| {
            let entry = entry.ok()?;
            let fd: RawFd = entry.file_name().to_str()?.parse().ok()?;
            // SAFETY: F_GETFD reads a flag; a closed descriptor gives -1.
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            let target = std::fs::read_link(entry.path()).ok()?;
            (fd > 2 && flags == 0 && target == std::path::Path::new("/dev/null")).then_some(())
        })
        .count()
    }

    #[test]
    fn a_child_that_opens_dev_null_itself_keeps_no_other_descriptor() {
        let script = "readlink /proc/$$/fd/0; for fd in /proc/$$/fd/*; do readlink $fd; done; true";
        let output = run(script, Stdin::DevNull).expect("run");
        let mut lines = output.lines();
        assert_eq!(lines.next(), Some("/dev/null"), "{output}");
        let nulls = lines.filter(|l| *l == "/dev/null").count();
        assert_eq!(nulls, 1 + inherited_dev_nulls(), "{output}");
    }

    #[test]
    fn an_exec_that_fails_is_reported_and_its_child_reaped() {
        let argv = [c"nothing".as_ptr(), ptr::null()];
        let envp = [ptr::null()];
        let (_reader, writer) = io::pipe().expect("pipe");
        let error = Exec {
            path: c"/parity/no/such/program",
            argv: &argv,
            envp: &envp,
            cwd: c"/",
            output: writer.as_raw_fd(),
            stdin: Stdin::DevNull,
            session: false,
        }
        .start()
        .expect_err("started");
        assert_eq!(error.kind(), io::ErrorKind::NotFound);
        // SAFETY: a non-blocking wait for any child, to see none is left.
        let left = unsafe { libc::waitpid(-1, ptr::null_mut(), libc::WNOHANG) };
        assert!(left <= 0, "child {left} left unreaped");
    }
}

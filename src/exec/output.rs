//! A job's output: read from the step pipes, masked, sent to the job's log
//! file and handed to the console one chunk of whole lines at a time, so
//! parallel jobs never interleave mid-line.

use super::logbook::{JobLog, LogWriter};
use super::Observer;
use crate::secrets::{MaskStream, SecretSet};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::io::{self, PipeReader, PipeWriter, Read};
use std::os::fd::BorrowedFd;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The most one read takes from a step's pipe.
const CHUNK: usize = 64 * 1024;
/// A step's first read: most steps write little, and a buffer of `CHUNK`
/// cost zeroing 64 KiB for every step. A read that fills the buffer doubles
/// it, up to `CHUNK`.
const FIRST_READ: usize = 4 * 1024;
/// A line longer than this is passed on in pieces rather than held forever.
const MAX_LINE: usize = 64 * 1024;

/// Where one job's output goes: its log file and the console.
pub(crate) struct JobSink {
    job: usize,
    log: Mutex<LogWriter>,
    console: Arc<dyn Observer>,
    secrets: SecretSet,
}

impl JobSink {
    pub(crate) fn new(
        job: usize,
        log: JobLog,
        console: Arc<dyn Observer>,
        secrets: SecretSet,
    ) -> Arc<Self> {
        Arc::new(JobSink {
            job,
            log: Mutex::new(LogWriter::new(log)),
            console,
            secrets,
        })
    }

    /// A line of parity's own (a step header), in the log and on the console.
    pub(crate) fn note(&self, line: &str) {
        let line = self.log_only(line);
        self.console.note(self.job, &line);
    }

    /// A line of parity's own for the log file alone (the console says it
    /// another way). Masked, since it may quote a command.
    pub(crate) fn log_only(&self, line: &str) -> String {
        let line = self.secrets.mask_str(line);
        self.log().write(&[line.as_bytes(), b"\n"]);
        line
    }

    /// The job ended: see [`LogWriter::close`].
    pub(crate) fn close(&self) {
        self.log().close();
    }

    fn log(&self) -> std::sync::MutexGuard<'_, LogWriter> {
        self.log
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self, masked: &[u8], partial: &mut Vec<u8>, at_end: bool) {
        self.log().write(&[masked]);
        match memchr::memrchr(b'\n', masked) {
            Some(last) => {
                if partial.is_empty() {
                    self.console.output(self.job, &masked[..=last]);
                } else {
                    partial.extend_from_slice(&masked[..=last]);
                    self.console.output(self.job, partial);
                    partial.clear();
                }
                partial.extend_from_slice(&masked[last + 1..]);
            }
            None => partial.extend_from_slice(masked),
        }
        if at_end && !partial.is_empty() {
            // The next step's header must start a line of its own.
            self.log().write(&[b"\n"]);
        }
        if (at_end && !partial.is_empty()) || partial.len() > MAX_LINE {
            partial.push(b'\n');
            self.console.output(self.job, partial);
            partial.clear();
        }
    }
}

/// Turns a stream of output chunks into masked whole lines for a sink.
struct LineReader {
    sink: Arc<JobSink>,
    buf: Vec<u8>,
    masked: Vec<u8>,
    /// The start of a line whose end has not come yet.
    partial: Vec<u8>,
    mask: MaskStream,
}

impl LineReader {
    fn new(sink: Arc<JobSink>) -> LineReader {
        LineReader {
            mask: sink.secrets.stream(),
            sink,
            buf: vec![0u8; FIRST_READ],
            masked: Vec::new(),
            partial: Vec::new(),
        }
    }

    /// One `read` of `source`, passed on: false at the end of the stream
    /// (or an error, which ends it too).
    fn read_once(&mut self, source: &mut impl Read) -> bool {
        loop {
            match source.read(&mut self.buf) {
                Ok(0) => return false,
                Ok(n) => {
                    self.masked.clear();
                    self.mask.push(&self.buf[..n], &mut self.masked);
                    self.sink.write(&self.masked, &mut self.partial, false);
                    if n == self.buf.len() && n < CHUNK {
                        self.buf.resize(n * 2, 0);
                    }
                    return true;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return false,
            }
        }
    }

    /// The stream ended: what the mask held back, and an unfinished line.
    fn finish(mut self) {
        self.masked.clear();
        self.mask.finish(&mut self.masked);
        self.sink.write(&self.masked, &mut self.partial, true);
    }
}

/// Reads a stream on its own thread until every writer closed it.
pub(crate) struct Pump {
    done: mpsc::Receiver<()>,
}

impl Pump {
    /// Any reader will do: a step's pipe, or a container's output stream.
    pub(crate) fn start(
        source: impl Read + Send + 'static,
        sink: Arc<JobSink>,
    ) -> io::Result<Pump> {
        Pump::resume(source, LineReader::new(sink))
    }

    fn resume(mut source: impl Read + Send + 'static, mut lines: LineReader) -> io::Result<Pump> {
        let (tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("parity-output".into())
            .spawn(move || {
                while lines.read_once(&mut source) {}
                lines.finish();
                let _ = tx.send(());
            })?;
        Ok(Pump { done })
    }

    /// Waits up to `limit` for the stream to end; false when something still
    /// holds it open (a process the step left running in the background).
    pub(crate) fn wait(&self, limit: Duration) -> bool {
        !matches!(
            self.done.recv_timeout(limit),
            Err(mpsc::RecvTimeoutError::Timeout)
        )
    }
}

/// Reads a step's pipe on the job's own thread until the step exits, as
/// `exited` (the step's pidfd) tells: no thread per step, and the output
/// read the moment it comes.
///
/// `held` is parity's own copy of the pipe's write end, closed once the
/// step has exited. Without it, the pipe closing early in the shell's exit
/// woke this thread, which then slept again in `waitpid` until the exit was
/// complete: two wake-ups a step where one will do (bench/README.md).
///
/// Once the step has exited, the pipe is read until it closes, which it
/// does at once unless something the step left running in the background
/// holds it (or, for a moment, a process another thread of parity is
/// starting, which inherits it until its `exec`). Still open after
/// [`HELD_OPEN`], a [`Pump`] goes on reading it for the job's log.
pub(crate) fn follow(
    mut pipe: PipeReader,
    held: PipeWriter,
    exited: BorrowedFd<'_>,
    sink: Arc<JobSink>,
) -> io::Result<Option<Pump>> {
    let mut lines = LineReader::new(sink);
    let mut exited_at: Option<Instant> = None;
    let mut held = Some(held);
    loop {
        let mut fds = [
            PollFd::new(&pipe, PollFlags::IN),
            PollFd::new(&exited, PollFlags::IN),
        ];
        // After the exit, the pidfd stays readable: only the pipe is watched.
        let (watched, timeout) = match exited_at {
            None => (&mut fds[..], None),
            Some(at) => {
                let left = HELD_OPEN.saturating_sub(at.elapsed());
                (&mut fds[..1], Timespec::try_from(left).ok())
            }
        };
        match poll(watched, timeout.as_ref()) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        if exited_at.is_none() && !fds[1].revents().is_empty() {
            exited_at = Some(Instant::now());
            drop(held.take());
        }
        if !fds[0].revents().is_empty() {
            // Readable or hung up: this read does not block.
            if !lines.read_once(&mut pipe) {
                lines.finish();
                return Ok(None);
            }
        } else if exited_at.is_some_and(|at| at.elapsed() >= HELD_OPEN) {
            return Pump::resume(pipe, lines).map(Some);
        }
    }
}

/// How long a step's pipe may stay open after the step exited before
/// parity takes it for held by a background process.
const HELD_OPEN: Duration = Duration::from_millis(20);

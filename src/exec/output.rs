//! A job's output: read from the step pipes, masked, sent to the job's log
//! file and handed to the console one chunk of whole lines at a time, so
//! parallel jobs never interleave mid-line.

use super::logbook::{JobLog, LogWriter};
use super::Observer;
use crate::secrets::{MaskStream, SecretSet};
use rustix::event::{poll, PollFd, PollFlags, Timespec};
use std::cell::RefCell;
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

/// What one read got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Got {
    Some,
    /// Nothing for now (a pipe read without blocking).
    None,
    /// The end of the stream.
    End,
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

    /// One `read` of `source`, passed on.
    fn read_once(&mut self, source: &mut impl Read) -> Got {
        loop {
            match source.read(&mut self.buf) {
                Ok(0) => return Got::End,
                Ok(n) => {
                    self.masked.clear();
                    self.mask.push(&self.buf[..n], &mut self.masked);
                    self.sink.write(&self.masked, &mut self.partial, false);
                    if n == self.buf.len() && n < CHUNK {
                        self.buf.resize(n * 2, 0);
                    }
                    return Got::Some;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Got::None,
                // An error ends the stream too.
                Err(_) => return Got::End,
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
                while lines.read_once(&mut source) != Got::End {}
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

/// A step's output, read on the job's own thread while the step runs: no
/// thread per step, and the output read the moment it comes.
///
/// The pipe serves one step after another on the same thread while the
/// steps leave nothing behind: making and closing a pipe for every step
/// cost about 12 µs of kernel time between two steps (bench/README.md). parity
/// holds the pipe's write end itself, so the pipe never ends while the step
/// runs: the step's pidfd says when it exited, and what it wrote by then is
/// in the pipe. Holding it also spares a wake-up: the pipe closing early in
/// the shell's exit woke this thread, which then slept again in `waitpid`
/// until the exit was complete.
pub(crate) struct StepOutput {
    /// Read without blocking: once the step has exited, what it left is
    /// read until the pipe is empty.
    reader: PipeReader,
    writer: PipeWriter,
    lines: LineReader,
}

thread_local! {
    /// The pipe the thread's last step left unused by anything else.
    static SPARE: RefCell<Option<(PipeReader, PipeWriter)>> = const { RefCell::new(None) };
}

impl StepOutput {
    /// The thread's spare pipe, or a new one.
    pub(crate) fn open(sink: Arc<JobSink>) -> io::Result<StepOutput> {
        let (reader, writer) = match SPARE.take() {
            Some(pipe) => pipe,
            None => {
                let (reader, writer) = io::pipe()?;
                rustix::io::ioctl_fionbio(&reader, true)?;
                (reader, writer)
            }
        };
        Ok(StepOutput {
            reader,
            writer,
            lines: LineReader::new(sink),
        })
    }

    /// The end the step writes to.
    pub(crate) fn writer(&self) -> &PipeWriter {
        &self.writer
    }

    /// Reads until `exited` (the step's pidfd) says the step exited, and
    /// then what it left in the pipe.
    pub(crate) fn follow(&mut self, exited: BorrowedFd<'_>) -> io::Result<()> {
        loop {
            let mut fds = [
                PollFd::new(&self.reader, PollFlags::IN),
                PollFd::new(&exited, PollFlags::IN),
            ];
            match poll(&mut fds, None) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            if !fds[1].revents().is_empty() {
                while self.lines.read_once(&mut self.reader) == Got::Some {}
                return Ok(());
            }
            if !fds[0].revents().is_empty() {
                self.lines.read_once(&mut self.reader);
            }
        }
    }

    /// The step has exited and been reaped. When parity has no child
    /// process left (`alone`), nothing else can hold the pipe (orphans come
    /// to parity, the subreaper), and the thread keeps it for its next step.
    /// Otherwise parity's write end is closed and the pipe read until it
    /// closes, which it does at once unless something the step left running
    /// in the background holds it (or, for a moment, a process another
    /// thread of parity is starting, which inherits it until its `exec`).
    /// Still open after [`HELD_OPEN`], a [`Pump`] goes on reading it for
    /// the job's log.
    pub(crate) fn finish(self, alone: bool) -> io::Result<Option<Pump>> {
        let StepOutput {
            mut reader,
            writer,
            mut lines,
        } = self;
        if alone {
            lines.finish();
            SPARE.set(Some((reader, writer)));
            return Ok(None);
        }
        drop(writer);
        let since = Instant::now();
        loop {
            let left = HELD_OPEN.saturating_sub(since.elapsed());
            let mut fds = [PollFd::new(&reader, PollFlags::IN)];
            match poll(&mut fds, Timespec::try_from(left).ok().as_ref()) {
                Ok(_) => {}
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
            if !fds[0].revents().is_empty() {
                if lines.read_once(&mut reader) == Got::End {
                    lines.finish();
                    return Ok(None);
                }
            } else if since.elapsed() >= HELD_OPEN {
                return pump(reader, lines).map(Some);
            }
        }
    }

    /// A thread reads the output until every writer closed the pipe: for
    /// a step whose exit parity cannot watch (no pidfd).
    pub(crate) fn pump(self) -> io::Result<Pump> {
        let StepOutput { reader, lines, .. } = self;
        pump(reader, lines)
    }
}

/// Hands a step's pipe, parity's write end closed, to a [`Pump`].
fn pump(reader: PipeReader, lines: LineReader) -> io::Result<Pump> {
    rustix::io::ioctl_fionbio(&reader, false)?;
    Pump::resume(reader, lines)
}

/// How long a step's pipe may stay open after the step exited before
/// parity takes it for held by a background process.
const HELD_OPEN: Duration = Duration::from_millis(20);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::logbook::Logbook;
    use crate::exec::outcome::Outcome;
    use proptest::prelude::*;
    use std::collections::VecDeque;

    /// The console's side: what each `output` call was handed.
    #[derive(Default)]
    struct Console(Mutex<Vec<Vec<u8>>>);

    impl Observer for Console {
        fn job_started(&self, _job: usize) {}
        fn note(&self, _job: usize, _line: &str) {}
        fn output(&self, _job: usize, lines: &[u8]) {
            self.0.lock().expect("console").push(lines.to_vec());
        }
        fn job_finished(&self, _: usize, _: &Outcome, _: Duration, _: Option<&JobLog>) {}
        fn warn(&self, _message: &str) {}
    }

    /// A stream that hands out its chunks one read at a time.
    struct Reads(VecDeque<Vec<u8>>);

    impl Read for Reads {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some(mut chunk) = self.0.pop_front() else {
                return Ok(0);
            };
            let n = chunk.len().min(buf.len());
            buf[..n].copy_from_slice(&chunk[..n]);
            if n < chunk.len() {
                self.0.push_front(chunk.split_off(n));
            }
            Ok(n)
        }
    }

    proptest! {
        /// However a step's output is cut into reads, the console is only
        /// ever handed whole lines, and the log holds every byte in order.
        #[test]
        fn the_console_gets_whole_lines_and_the_log_everything(
            text in "[ab\n]{0,120}",
            cuts in prop::collection::vec(0usize..=120, 0..8),
        ) {
            let dir = tempfile::tempdir().expect("tempdir");
            let book = Logbook::start(vec![dir.path().join("job.log")]).expect("logbook");
            let console = Arc::new(Console::default());
            let sink = JobSink::new(0, book.log(0), console.clone(), SecretSet::default());
            let mut cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= text.len()).collect();
            cuts.sort_unstable();
            cuts.push(text.len());
            let mut at = 0;
            let mut reads = Reads(
                cuts.into_iter()
                    .map(|cut| {
                        let chunk = text.as_bytes()[at..cut].to_vec();
                        at = cut;
                        chunk
                    })
                    .filter(|chunk| !chunk.is_empty())
                    .collect(),
            );
            let mut lines = LineReader::new(Arc::clone(&sink));
            while lines.read_once(&mut reads) == Got::Some {}
            lines.finish();
            sink.close();

            // A last line without its newline gets one, on both sides.
            let mut whole = text.clone().into_bytes();
            if !whole.is_empty() && !whole.ends_with(b"\n") {
                whole.push(b'\n');
            }
            let handed = console.0.lock().expect("console").clone();
            for piece in &handed {
                prop_assert!(piece.ends_with(b"\n"), "a piece of a line: {piece:?}");
            }
            prop_assert_eq!(handed.concat(), whole.clone());
            let log = book.log(0);
            prop_assert_eq!(log.read().expect("log").into_bytes(), whole);
        }
    }
}

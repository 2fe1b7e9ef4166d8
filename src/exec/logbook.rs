//! The run's job logs, written on a thread of their own.
//!
//! Creating a file and writing to it for the first time cost tens of
//! microseconds each on a journaling file system, and both sat between one
//! job's end and the next one's start, where every microsecond is paid once
//! per job (bench/README.md, "per-step overhead"). A job hands its masked
//! output to the log thread instead, in one piece when it ends, unless it
//! writes a lot ([`LogWriter`]). Whoever reads a log while the run goes on
//! (a failing job's output on a terminal, the cache storing a passed job's
//! log) first waits for it with [`JobLog::settled`].
//!
//! Handing a log over does not wake the log thread. Woken at a job's end,
//! the log thread was runnable on the worker's CPU just as the worker
//! started the next shell, and the kernel then placed the shell on the
//! other CPU, cold, at most job ends. Woken once the next shell ran, it
//! made the worker, which had just been woken by the shell's `exec`, pay
//! for waking another CPU while the shell waited to finish its `exec`
//! (bench/README.md). While logs keep coming, the thread looks every
//! [`LATEST`] instead, on its own timer; after a quiet spell it sleeps, and
//! the first log handed over after that wakes it. Waiting for a log wakes
//! it too, and so does a worker about to wait for work.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// A job's log is held in memory up to this size, then written as it comes.
const HOLD: usize = 64 * 1024;

/// Chunks queued at most: a job that floods its output waits for the disk
/// rather than filling parity's memory.
const QUEUED: usize = 16;

/// How long a log handed over may wait for a nudge that does not come
/// (a job whose services take a while to start).
const LATEST: Duration = Duration::from_millis(10);

/// Bytes for one job's log; `last` closes the file once they are written.
struct Entry {
    job: usize,
    bytes: Vec<u8>,
    last: bool,
}

/// How far one job's log got.
#[derive(Debug, Default)]
struct Progress {
    sent: u64,
    written: u64,
    /// The first thing that went wrong writing it.
    error: Option<String>,
}

impl Progress {
    fn unwritten(&self) -> bool {
        self.written < self.sent
    }

    /// How writing it ended, once nothing more will be written.
    fn outcome(&self) -> Result<(), String> {
        match &self.error {
            Some(error) => Err(error.clone()),
            None if self.unwritten() => Err(WRITER_GONE.into()),
            None => Ok(()),
        }
    }
}

const WRITER_GONE: &str = "parity's log writer stopped";

/// What the jobs and the log thread share.
struct Shared {
    state: Mutex<Book>,
    /// The log thread waits here for a nudge.
    nudged: Condvar,
    /// Readers wait here for writes, senders for room in the queue.
    written: Condvar,
}

struct Book {
    queue: VecDeque<Entry>,
    progress: Vec<Progress>,
    /// False once the logbook is gone: the thread writes what is queued
    /// and ends.
    open: bool,
    /// The thread sleeps until woken, nothing having come for [`LATEST`]:
    /// the next log handed over wakes it.
    asleep: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Book> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Every job's log, and the thread that writes them.
pub(crate) struct Logbook {
    paths: Vec<PathBuf>,
    shared: Arc<Shared>,
    /// Waiters stop waiting for a thread that is gone (a bug in it).
    thread: JoinHandle<()>,
}

impl Logbook {
    /// Starts the log thread; `paths[i]` is job `i`'s log. The thread ends
    /// when the logbook and every [`JobLog`] of it are gone.
    pub(crate) fn start(paths: Vec<PathBuf>) -> io::Result<Arc<Logbook>> {
        let shared = Arc::new(Shared {
            state: Mutex::new(Book {
                queue: VecDeque::new(),
                progress: (0..paths.len()).map(|_| Progress::default()).collect(),
                open: true,
                asleep: false,
            }),
            nudged: Condvar::new(),
            written: Condvar::new(),
        });
        let writer = Writer {
            files: paths.iter().map(|_| None).collect(),
            created: vec![false; paths.len()],
            paths: paths.clone(),
        };
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name("parity-logs".into())
                .spawn(move || {
                    super::give_way(super::GiveWay::OnWaking);
                    writer.run(&shared)
                })?
        };
        Ok(Arc::new(Logbook {
            paths,
            shared,
            thread,
        }))
    }

    /// Job `job`'s log.
    pub(crate) fn log(self: &Arc<Self>, job: usize) -> JobLog {
        JobLog {
            book: Arc::clone(self),
            job,
        }
    }

    /// Has the log thread write what was handed over now: call when the
    /// moment is good (the worker is about to wait).
    pub(crate) fn nudge(&self) {
        if !self.shared.lock().queue.is_empty() {
            self.shared.nudged.notify_one();
        }
    }

    /// Waits until everything sent so far is written, and says which logs
    /// could not be, and why.
    pub(crate) fn settle_all(&self) -> Vec<(&Path, String)> {
        self.wait_until(|jobs| !jobs.iter().any(Progress::unwritten))
            .progress
            .iter()
            .zip(&self.paths)
            .filter_map(|(p, path)| Some((path.as_path(), p.outcome().err()?)))
            .collect()
    }

    /// Waits until `done` says so, or the log thread is gone.
    fn wait_until(&self, done: impl Fn(&[Progress]) -> bool) -> MutexGuard<'_, Book> {
        let mut state = self.shared.lock();
        while !done(&state.progress) && !self.thread.is_finished() {
            self.shared.nudged.notify_one();
            // Woken at each write; the timeout only notices a thread gone.
            state = match self
                .shared
                .written
                .wait_timeout(state, Duration::from_millis(100))
            {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        state
    }
}

impl Drop for Logbook {
    fn drop(&mut self) {
        self.shared.lock().open = false;
        self.shared.nudged.notify_one();
    }
}

/// One job's log file.
#[derive(Clone)]
pub struct JobLog {
    book: Arc<Logbook>,
    job: usize,
}

impl JobLog {
    pub fn path(&self) -> &Path {
        &self.book.paths[self.job]
    }

    /// Queues `bytes` for the file; `last` closes it afterwards (a later
    /// send appends). Waits only when the log thread is that far behind.
    pub(crate) fn send(&self, bytes: Vec<u8>, last: bool) {
        let shared = &self.book.shared;
        let mut state = shared.lock();
        while state.queue.len() >= QUEUED && !self.book.thread.is_finished() {
            shared.nudged.notify_one();
            state = match shared
                .written
                .wait_timeout(state, Duration::from_millis(100))
            {
                Ok((guard, _)) => guard,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        let job = &mut state.progress[self.job];
        job.sent += 1;
        if self.book.thread.is_finished() {
            // The log thread is gone: nothing will be written.
            job.written += 1;
            job.error.get_or_insert_with(|| WRITER_GONE.into());
            return;
        }
        state.queue.push_back(Entry {
            job: self.job,
            bytes,
            last,
        });
        if state.asleep {
            shared.nudged.notify_one();
        }
    }

    /// See [`Logbook::nudge`].
    pub(crate) fn nudge(&self) {
        self.book.nudge();
    }

    /// Waits until everything sent for this log is in the file.
    pub(crate) fn settled(&self) -> Result<(), String> {
        self.book
            .wait_until(|jobs| !jobs[self.job].unwritten())
            .progress[self.job]
            .outcome()
    }

    /// The whole log, once everything sent for it is written.
    pub fn read(&self) -> io::Result<String> {
        self.settled().map_err(io::Error::other)?;
        std::fs::read_to_string(self.path())
    }
}

/// What a running job writes to its log.
///
/// A job's log is held until the job ends and then sent to the log thread
/// whole. A job that writes more than [`HOLD`] writes its log itself from
/// then on, as before the log thread: for a flood of output, the hop to
/// another thread would cost more than the writes it saves.
pub(crate) struct LogWriter {
    log: JobLog,
    state: State,
}

enum State {
    Held(Vec<u8>),
    /// The file is this job's own, the log thread done with it.
    Direct(BufWriter<File>),
    /// The job ended: what still comes (from a process that holds the job's
    /// output) goes to the log thread at once, and is appended.
    Closed,
}

impl LogWriter {
    pub(crate) fn new(log: JobLog) -> LogWriter {
        LogWriter {
            log,
            state: State::Held(Vec::new()),
        }
    }

    pub(crate) fn write(&mut self, parts: &[&[u8]]) {
        self.state = match std::mem::replace(&mut self.state, State::Closed) {
            State::Held(mut held) => {
                parts.iter().for_each(|part| held.extend_from_slice(part));
                if held.len() < HOLD {
                    State::Held(held)
                } else {
                    self.take_over(held)
                }
            }
            State::Direct(mut file) => match parts.iter().try_for_each(|p| file.write_all(p)) {
                Ok(()) => State::Direct(file),
                Err(_) => {
                    // The log thread tries again, and says why it cannot.
                    let mut rest = unflushed(file);
                    parts.iter().for_each(|part| rest.extend_from_slice(part));
                    self.log.send(rest, false);
                    State::Held(Vec::new())
                }
            },
            State::Closed => {
                self.log.send(parts.concat(), true);
                State::Closed
            }
        };
    }

    /// The job ended: what is held or buffered goes to the log thread, which
    /// writes and closes the file while the next job starts.
    pub(crate) fn close(&mut self) {
        let rest = match std::mem::replace(&mut self.state, State::Closed) {
            State::Held(held) => held,
            State::Direct(file) => unflushed(file),
            State::Closed => return,
        };
        self.log.send(rest, true);
    }

    /// Sends what is held and waits for the log thread to write and close
    /// the file, then opens it to append to it directly.
    fn take_over(&self, held: Vec<u8>) -> State {
        self.log.send(held, true);
        let opened = self.log.settled().and_then(|()| {
            OpenOptions::new()
                .append(true)
                .open(self.log.path())
                .map_err(|e| e.to_string())
        });
        match opened {
            Ok(file) => State::Direct(BufWriter::with_capacity(HOLD, file)),
            // The log thread goes on trying, and reporting.
            Err(_) => State::Held(Vec::new()),
        }
    }
}

/// Closes a file without flushing it: what its buffer still holds.
fn unflushed(file: BufWriter<File>) -> Vec<u8> {
    file.into_parts().1.unwrap_or_default()
}

/// A job whose thread ended without closing its log (parity panicked in
/// it) still leaves what it wrote.
impl Drop for LogWriter {
    fn drop(&mut self) {
        self.close();
    }
}

/// The log thread's side.
struct Writer {
    paths: Vec<PathBuf>,
    /// The open files: a job's is closed after its end.
    files: Vec<Option<File>>,
    /// Files created already: a late writer (a process the job left
    /// holding its output) appends to its closed file.
    created: Vec<bool>,
}

impl Writer {
    fn run(mut self, shared: &Shared) {
        let mut state = shared.lock();
        loop {
            let Some(entry) = state.queue.pop_front() else {
                if !state.open {
                    return;
                }
                state = if state.asleep {
                    let mut state = match shared.nudged.wait(state) {
                        Ok(guard) => guard,
                        Err(poisoned) => poisoned.into_inner(),
                    };
                    state.asleep = false;
                    state
                } else {
                    let mut state = match shared.nudged.wait_timeout(state, LATEST) {
                        Ok((guard, _)) => guard,
                        Err(poisoned) => poisoned.into_inner().0,
                    };
                    state.asleep = state.queue.is_empty() && state.open;
                    state
                };
                continue;
            };
            drop(state);
            let result = self.write(&entry);
            if entry.last {
                self.files[entry.job] = None;
            }
            state = shared.lock();
            let job = &mut state.progress[entry.job];
            job.written += 1;
            if let Err(e) = result {
                job.error.get_or_insert_with(|| e.to_string());
            }
            shared.written.notify_all();
        }
    }

    fn write(&mut self, entry: &Entry) -> io::Result<()> {
        let path = &self.paths[entry.job];
        let file = match &mut self.files[entry.job] {
            Some(file) => file,
            closed => closed.insert(if self.created[entry.job] {
                OpenOptions::new().append(true).open(path)?
            } else {
                File::create(path)?
            }),
        };
        self.created[entry.job] = true;
        file.write_all(&entry.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_log_holds_what_was_sent_in_order_once_settled() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = vec![dir.path().join("a.log"), dir.path().join("b.log")];
        let book = Logbook::start(paths.clone()).expect("start");
        let (a, b) = (book.log(0), book.log(1));
        a.send(b"one\n".to_vec(), false);
        b.send(b"other\n".to_vec(), true);
        a.send(b"two\n".to_vec(), true);
        assert_eq!(a.read().expect("read a"), "one\ntwo\n");
        // A late writer appends to the closed file.
        b.send(b"late\n".to_vec(), true);
        assert!(book.settle_all().is_empty());
        assert_eq!(
            std::fs::read_to_string(&paths[1]).expect("b"),
            "other\nlate\n"
        );
    }

    #[test]
    fn a_writer_holds_a_short_log_and_writes_a_long_one_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let paths = vec![dir.path().join("short.log"), dir.path().join("long.log")];
        let book = Logbook::start(paths.clone()).expect("start");

        let mut short = LogWriter::new(book.log(0));
        short.write(&[b"a\n"]);
        assert!(!paths[0].exists(), "held until the job ends");
        short.close();
        short.write(&[b"late\n"]);

        let mut long = LogWriter::new(book.log(1));
        long.write(&[&vec![b'x'; HOLD]]);
        let size = std::fs::metadata(&paths[1]).expect("long.log").len();
        assert_eq!(size, HOLD as u64, "written once it held {HOLD} bytes");
        long.write(&[b"\n", b"end\n"]);
        long.close();

        assert!(book.settle_all().is_empty());
        let read = |path: &Path| std::fs::read_to_string(path).expect("read");
        assert_eq!(read(&paths[0]), "a\nlate\n");
        let text = read(&paths[1]);
        assert_eq!(text.len(), HOLD + 5);
        assert!(text.ends_with("x\nend\n"));
    }

    #[test]
    fn a_log_nobody_nudges_for_is_written_all_the_same() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.log");
        let book = Logbook::start(vec![path.clone()]).expect("start");
        let log = book.log(0);
        let written = |text: &str| {
            let deadline = std::time::Instant::now() + LATEST * 40;
            while std::fs::read_to_string(&path).ok().as_deref() != Some(text) {
                assert!(std::time::Instant::now() < deadline, "never written");
                std::thread::sleep(Duration::from_millis(2));
            }
        };
        // While logs come, the thread looks on its own.
        log.send(b"one\n".to_vec(), false);
        written("one\n");
        // After a quiet spell it sleeps, and the next log wakes it.
        let deadline = std::time::Instant::now() + LATEST * 40;
        while !book.shared.lock().asleep {
            assert!(std::time::Instant::now() < deadline, "never asleep");
            std::thread::sleep(Duration::from_millis(2));
        }
        log.send(b"two\n".to_vec(), true);
        written("one\ntwo\n");
    }

    #[test]
    fn a_sender_ahead_of_the_writer_waits_for_room_and_loses_nothing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("a.log");
        let book = Logbook::start(vec![path.clone()]).expect("start");
        let log = book.log(0);
        let lines: Vec<String> = (0..QUEUED * 3).map(|i| format!("{i}\n")).collect();
        for line in &lines {
            log.send(line.clone().into_bytes(), false);
        }
        assert!(book.settle_all().is_empty());
        assert_eq!(std::fs::read_to_string(&path).expect("a"), lines.concat());
    }

    #[test]
    fn a_log_that_cannot_be_created_says_why() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("missing").join("a.log");
        let book = Logbook::start(vec![path.clone()]).expect("start");
        let log = book.log(0);
        log.send(b"lost\n".to_vec(), true);
        assert!(log.settled().is_err());
        let failed = book.settle_all();
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].0, path);
    }
}

//! A job's output: read from the step pipes, masked, written to the job's log
//! file and handed to the console one chunk of whole lines at a time, so
//! parallel jobs never interleave mid-line.

use super::Observer;
use crate::secrets::SecretSet;
use std::fs::File;
use std::io::{self, BufWriter, Read, Write};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const CHUNK: usize = 64 * 1024;
/// A line longer than this is passed on in pieces rather than held forever.
const MAX_LINE: usize = 64 * 1024;

/// Where one job's output goes: its log file and the console.
pub(crate) struct JobSink {
    job: usize,
    log: Mutex<BufWriter<File>>,
    console: Arc<dyn Observer>,
    secrets: SecretSet,
}

impl JobSink {
    pub(crate) fn new(
        job: usize,
        log: File,
        console: Arc<dyn Observer>,
        secrets: SecretSet,
    ) -> Arc<Self> {
        Arc::new(JobSink {
            job,
            log: Mutex::new(BufWriter::with_capacity(CHUNK, log)),
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
        if let Ok(mut log) = self.log.lock() {
            let _ = writeln!(log, "{line}");
        }
        line
    }

    pub(crate) fn flush(&self) {
        if let Ok(mut log) = self.log.lock() {
            let _ = log.flush();
        }
    }

    fn write(&self, masked: &[u8], partial: &mut Vec<u8>, at_end: bool) {
        if let Ok(mut log) = self.log.lock() {
            let _ = log.write_all(masked);
        }
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
            if let Ok(mut log) = self.log.lock() {
                let _ = log.write_all(b"\n");
            }
        }
        if (at_end && !partial.is_empty()) || partial.len() > MAX_LINE {
            partial.push(b'\n');
            self.console.output(self.job, partial);
            partial.clear();
        }
    }
}

/// Reads one step's pipe on its own thread until every writer closed it.
pub(crate) struct Pump {
    done: mpsc::Receiver<()>,
}

impl Pump {
    /// Any reader will do: a step's pipe, or a container's output stream.
    pub(crate) fn start(
        mut pipe: impl Read + Send + 'static,
        sink: Arc<JobSink>,
    ) -> io::Result<Pump> {
        let (tx, done) = mpsc::channel();
        std::thread::Builder::new()
            .name("parity-output".into())
            .spawn(move || {
                let mut buf = vec![0u8; CHUNK];
                let mut masked = Vec::with_capacity(CHUNK);
                let mut partial = Vec::new();
                let mut mask = sink.secrets.stream();
                loop {
                    match pipe.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => {
                            masked.clear();
                            mask.push(&buf[..n], &mut masked);
                            sink.write(&masked, &mut partial, false);
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    }
                }
                masked.clear();
                mask.finish(&mut masked);
                sink.write(&masked, &mut partial, true);
                let _ = tx.send(());
            })?;
        Ok(Pump { done })
    }

    /// Waits up to `limit` for the pipe to close; false when something still
    /// holds it open (a process the step left running in the background).
    pub(crate) fn wait(&self, limit: Duration) -> bool {
        !matches!(
            self.done.recv_timeout(limit),
            Err(mpsc::RecvTimeoutError::Timeout)
        )
    }
}

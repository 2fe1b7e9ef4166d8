//! A service's log file: written through the secret mask (by parity, or by
//! a relay for a service left running), read back for its tail and for
//! `log` readiness probes.

use super::relay::Relay;
use crate::secrets::SecretSet;
use regex::Regex;
use std::fs::{File, OpenOptions};
use std::io::{self, PipeWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// How many log lines a failure shows.
pub(crate) const TAIL_LINES: usize = 20;

/// What writes a service's log from its output pipe, masked: a thread of
/// parity's, or, for a service `services up` leaves running, a relay
/// process (`relay.rs`) that outlives parity with it.
pub(crate) enum LogWriter {
    Thread(JoinHandle<()>),
    Relay(Relay),
}

impl LogWriter {
    /// Starts the writer of service `name`'s log at `path`; the service's
    /// output goes to the returned pipe end.
    pub(crate) fn start(
        name: &str,
        path: &Path,
        secrets: &SecretSet,
        detached: bool,
    ) -> io::Result<(PipeWriter, LogWriter)> {
        if detached {
            let (writer, relay) = Relay::start(name, path, secrets)?;
            return Ok((writer, LogWriter::Relay(relay)));
        }
        let (mut reader, writer) = io::pipe()?;
        let mut file = OpenOptions::new().append(true).create(true).open(path)?;
        let secrets = secrets.clone();
        let thread = std::thread::Builder::new()
            .name("parity-service-log".into())
            .spawn(move || {
                let _ = copy_masked(&mut reader, &mut file, &secrets);
            })?;
        Ok((writer, LogWriter::Thread(thread)))
    }

    /// Whether it has written everything: the service and all it started
    /// closed the pipe.
    pub(crate) fn is_finished(&mut self) -> bool {
        match self {
            LogWriter::Thread(thread) => thread.is_finished(),
            LogWriter::Relay(relay) => relay.is_finished(),
        }
    }

    /// The relay process, for the state file.
    pub(crate) fn relay(&self) -> Option<&Relay> {
        match self {
            LogWriter::Thread(_) => None,
            LogWriter::Relay(relay) => Some(relay),
        }
    }
}

/// Copies `input` to `output` masked until the end of `input`, writing what
/// each read brings at once, so probes and tails see lines as soon as the
/// server writes them. Reading goes on when writing fails (a full disk):
/// a server must never block on, or die of, a pipe nobody drains. Returns
/// a read error, else the first write error.
pub(crate) fn copy_masked(
    input: &mut impl Read,
    output: &mut impl Write,
    secrets: &SecretSet,
) -> io::Result<()> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut masked = Vec::with_capacity(buf.len());
    let mut mask = secrets.stream();
    let mut write = |bytes: &[u8]| output.write_all(bytes).and_then(|()| output.flush());
    let mut written = Ok(());
    let read = loop {
        match input.read(&mut buf) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                masked.clear();
                mask.push(&buf[..n], &mut masked);
                written = written.and(write(&masked));
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Err(e),
        }
    };
    masked.clear();
    mask.finish(&mut masked);
    read.and(written).and(write(&masked))
}

/// The last `lines` lines of a log, masked: the log is masked already, but
/// masked again here in case its service was left running by a parity that
/// wrote such logs unmasked.
pub(crate) fn tail(path: &Path, lines: usize, secrets: &SecretSet) -> Vec<String> {
    const WINDOW: u64 = 64 * 1024;
    let Ok(mut file) = File::open(path) else {
        return Vec::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let start = len.saturating_sub(WINDOW);
    if file.seek(SeekFrom::Start(start)).is_err() {
        return Vec::new();
    }
    let mut bytes = Vec::new();
    if file.read_to_end(&mut bytes).is_err() {
        return Vec::new();
    }
    let text = String::from_utf8_lossy(&bytes);
    let mut all: Vec<&str> = text.lines().collect();
    if start > 0 && !all.is_empty() {
        all.remove(0); // cut mid-line by the window
    }
    let from = all.len().saturating_sub(lines);
    all[from..].iter().map(|l| secrets.mask_str(l)).collect()
}

/// Writes a log to `out`, masked. With `follow`, goes on writing what is
/// appended, like `tail -f`, until writing fails (the reader went away) or
/// parity is interrupted.
pub(crate) fn print(
    path: &Path,
    secrets: &SecretSet,
    follow: bool,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut masked = Vec::with_capacity(buf.len());
    let mut mask = secrets.stream();
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            if !follow {
                break;
            }
            out.flush()?;
            std::thread::sleep(std::time::Duration::from_millis(200));
            continue;
        }
        masked.clear();
        mask.push(&buf[..n], &mut masked);
        out.write_all(&masked)?;
    }
    masked.clear();
    mask.finish(&mut masked);
    out.write_all(&masked)?;
    out.flush()
}

/// Counts lines matching a pattern as a log grows, for `ready = { log = … }`.
pub(crate) struct LogWatch {
    path: PathBuf,
    pattern: Regex,
    offset: u64,
    partial: Vec<u8>,
    pub(crate) seen: u32,
}

impl LogWatch {
    pub(crate) fn new(path: PathBuf, pattern: Regex) -> LogWatch {
        LogWatch {
            path,
            pattern,
            offset: 0,
            partial: Vec::new(),
            seen: 0,
        }
    }

    /// Reads what was appended since the last call; returns the match count.
    pub(crate) fn poll(&mut self) -> u32 {
        let Ok(mut file) = File::open(&self.path) else {
            return self.seen;
        };
        if file.seek(SeekFrom::Start(self.offset)).is_err() {
            return self.seen;
        }
        let mut fresh = Vec::new();
        let Ok(n) = file.read_to_end(&mut fresh) else {
            return self.seen;
        };
        self.offset += n as u64;
        self.partial.extend_from_slice(&fresh);
        while let Some(end) = memchr::memchr(b'\n', &self.partial) {
            let line: Vec<u8> = self.partial.drain(..=end).collect();
            if self.pattern.is_match(&String::from_utf8_lossy(&line)) {
                self.seen += 1;
            }
        }
        self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pumped_output_is_masked_and_tail_keeps_the_last_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db.log");
        let (mut writer, log) =
            LogWriter::start("db", &path, &SecretSet::new(["hunter22"]), false).unwrap();
        for i in 0..30 {
            writeln!(writer, "line {i} pw=hunter22").unwrap();
        }
        drop(writer);
        let LogWriter::Thread(thread) = log else {
            panic!("a thread writes the log while parity runs");
        };
        thread.join().unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("hunter22"));
        let last = tail(&path, 3, &SecretSet::default());
        assert_eq!(last, ["line 27 pw=***", "line 28 pw=***", "line 29 pw=***"]);
    }

    #[test]
    fn log_watch_counts_whole_lines_across_polls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.log");
        let mut watch = LogWatch::new(path.clone(), Regex::new("ready").unwrap());
        assert_eq!(watch.poll(), 0);
        std::fs::write(&path, "starting\nrea").unwrap();
        assert_eq!(watch.poll(), 0);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"dy\nready again\n").unwrap();
        assert_eq!(watch.poll(), 2);
    }
}

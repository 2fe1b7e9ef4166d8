//! The log writer of a service that `parity services up` leaves running.
//!
//! While parity runs, a thread of its own masks a service's output into its
//! log. A service left running outlives parity and that thread; writing its
//! log itself, it would write the secrets too, and only what parity shows
//! of the log would be masked. So parity starts a copy of itself in its own
//! process group (`parity service-log NAME`, a hidden command) that reads
//! the service's output pipe and appends it, masked, to the log, until the
//! service and everything it started have closed the pipe.
//!
//! The secrets reach the relay first on that pipe, as one JSON line, before
//! the service starts: never in an argument list or environment, which other
//! processes can read.

use super::identity::Identity;
use super::log::copy_masked;
use crate::exec::{own_group, MARKER_VAR};
use crate::secrets::SecretSet;
use std::fs::OpenOptions;
use std::io::{self, BufRead, BufReader, PipeWriter, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The hidden command that runs a relay.
pub const COMMAND: &str = "service-log";

/// A relay process, parity's child until parity exits.
pub(crate) struct Relay {
    child: Child,
}

impl Relay {
    /// Starts the relay of service `name`, appending to `log`. The service's
    /// output goes to the returned pipe end, which already carries the
    /// secrets, so the service must be started after this returns.
    pub(crate) fn start(
        name: &str,
        log: &Path,
        secrets: &SecretSet,
    ) -> io::Result<(PipeWriter, Relay)> {
        let (reader, mut writer) = io::pipe()?;
        let file = OpenOptions::new().append(true).open(log)?;
        // `/proc/self/exe` is this very binary even if it was replaced on
        // disk since parity started (a `cargo install` meanwhile).
        let mut command = Command::new("/proc/self/exe");
        // It needs no variable, and so holds none of the secrets a shell
        // exported; only the marker that lets a job's end find it, when a
        // step ran `services up`.
        command.env_clear();
        if let Some(marker) = std::env::var_os(MARKER_VAR) {
            command.env(MARKER_VAR, marker);
        }
        command
            .arg0("parity")
            .args([COMMAND, name])
            .stdin(reader)
            .stdout(file)
            .stderr(Stdio::null())
            .current_dir("/");
        // Out of the terminal's foreground group: Ctrl-C in the shell that
        // ran `services up` must not stop the service's log.
        own_group(&mut command);
        let child = command.spawn()?;
        let mut relay = Relay { child };
        if let Err(e) = header(secrets).and_then(|line| writer.write_all(&line)) {
            relay.stop();
            return Err(e);
        }
        Ok((writer, relay))
    }

    /// The relay as a state file records it, so `services down` can wait
    /// for it to write the service's last lines.
    pub(crate) fn identity(&self) -> Option<Identity> {
        Identity::of(self.child.id() as i32)
    }

    /// Whether it has ended (it does once nothing can write to its pipe).
    pub(crate) fn is_finished(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Ends a relay whose service never started.
    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The first line on a relay's pipe: the values to mask, as a JSON array.
/// JSON escapes line breaks, so the line ends at the first newline.
fn header(secrets: &SecretSet) -> io::Result<Vec<u8>> {
    let mut line = serde_json::to_vec(secrets.patterns())?;
    line.push(b'\n');
    Ok(line)
}

/// The relay's body: reads the secrets, then copies `input` to `output`
/// masked until the end of `input`.
pub fn serve(input: impl Read, mut output: impl Write) -> io::Result<()> {
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    input.read_until(b'\n', &mut line)?;
    let values: Vec<String> = serde_json::from_slice(&line).map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("the relay's first line is not its secrets: {e}"),
        )
    })?;
    copy_masked(&mut input, &mut output, &SecretSet::new(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serve_masks_what_follows_the_header_even_across_reads() {
        let secrets = SecretSet::new(["hunter22", "two\nlines here"]);
        let mut input = header(&secrets).unwrap();
        input.extend_from_slice(b"pw=hunter22\nkey: two\nlines here\n");
        // One byte per read: every secret is cut.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let mut out = Vec::new();
        serve(Trickle(&input), &mut out).unwrap();
        assert_eq!(String::from_utf8(out).unwrap(), "pw=***\nkey: ***\n");
    }

    #[test]
    fn a_relay_without_its_header_copies_nothing() {
        let mut out = Vec::new();
        let error = serve(&b"hunter22\n"[..], &mut out).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert!(out.is_empty());
    }
}

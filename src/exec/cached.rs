//! The cache around one job: look it up before it starts, replay its log
//! and restore its outputs on a hit, store its result after it passed.
//!
//! Wrapping the whole job here keeps the cache out of the job's own code:
//! a hit starts no process, no service and no container.

use super::job::JobRun;
use super::outcome::Outcome;
use crate::cache::{CacheSession, Hit};
use std::time::Instant;

/// Console chunks stay below this, always ending at a line break.
const CHUNK: usize = 64 * 1024;

/// Runs `job`, or replays it when the cache has its result.
pub(crate) fn run(cache: Option<&CacheSession>, job: JobRun<'_>) -> Outcome {
    let Some(cache) = cache else {
        return job.run();
    };
    if cache.key(job.index).is_none() {
        return job.run();
    }
    let observer = job.observer.clone();
    let name = job.job.name.clone();
    let warn = |message: &str| observer.warn(&format!("{name}: {message}"));
    if let Some(hit) = cache.restore(job.index, &warn) {
        replay(&job, &hit);
        return Outcome::Cached { remote: hit.remote };
    }
    let (index, log) = (job.index, job.log.clone());
    let started = Instant::now();
    let outcome = job.run();
    if outcome == Outcome::Passed {
        // A log that could not be written is the warning `record` gives.
        let _ = log.settled();
        if let Err(path) = cache.record(index, log.path(), started.elapsed(), &warn) {
            return Outcome::OutputMissing { path };
        }
    }
    outcome
}

/// Writes the cached log to this run's log file and shows it as the job's
/// output, masked with this machine's secrets.
fn replay(job: &JobRun<'_>, hit: &Hit) {
    let mut note = format!(
        "parity: cached: replaying the log of an earlier run (key {}",
        &hit.key[..hit.key.len().min(16)]
    );
    if hit.remote {
        note.push_str(", from the remote cache");
    }
    if hit.written + hit.unchanged > 0 {
        note.push_str(&format!(
            "; {} output{} restored, {} already up to date",
            hit.written,
            if hit.written == 1 { "" } else { "s" },
            hit.unchanged
        ));
    }
    note.push(')');
    let mut masked = Vec::with_capacity(hit.log.len());
    let mut mask = job.secrets.stream();
    mask.push(&hit.log, &mut masked);
    mask.finish(&mut masked);
    if !masked.is_empty() && !masked.ends_with(b"\n") {
        masked.push(b'\n');
    }
    let mut log = format!("{note}\n").into_bytes();
    log.extend_from_slice(&masked);
    job.log.send(log, true);
    job.observer.note(job.index, &note);
    let mut rest = masked.as_slice();
    while !rest.is_empty() {
        let cut = if rest.len() <= CHUNK {
            rest.len()
        } else {
            memchr::memrchr(b'\n', &rest[..CHUNK]).map_or(CHUNK, |at| at + 1)
        };
        job.observer.output(job.index, &rest[..cut]);
        rest = &rest[cut..];
    }
}

//! The environment's lock, held as a "deploying" entry at the ledger's tip.
//!
//! Taking it is a compare-and-swap of the tip, so of two machines only one
//! wins; the loser waits and tries again, or fails with `--no-wait`. The
//! holder renews its lease while it runs. A holder that died stops renewing,
//! and the lock is broken once its lease has run out, judged two ways so
//! that clock skew between machines cannot break a live lock early:
//!
//! - this waiter saw the ledger unchanged for a whole lease (its own
//!   monotonic clock, no skew at all), or
//! - by the wall clock the lease ran out more than another whole lease ago
//!   (a lock long dead before this waiter came along).

use super::entry::{now_ms, Event, Live, Lock, Result as DeployResult, State};
use super::guard::{self, Freshness};
use super::identity::Actor;
use super::ledger::{entry, Ledger, Snapshot};
use super::{git::Git, DeployError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Gives up recording after this many lost races in a row.
const MAX_CONFLICTS: u32 = 200;

/// What a deploy asks the lock for.
#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) id: String,
    pub(crate) commit: String,
    pub(crate) rollback: bool,
    pub(crate) actor: Actor,
    pub(crate) lease: Duration,
    pub(crate) wait: bool,
}

/// What the waiting loop tells the person watching.
pub(crate) enum Waiting<'a> {
    /// Someone else holds the lock (said once per holder).
    Held(&'a Lock),
    /// Its lease ran out: it is being broken.
    Breaking(&'a Lock),
}

/// A lock this process holds.
pub(crate) struct Held {
    ledger: Arc<Ledger>,
    pub(crate) lock: Lock,
    pub(crate) freshness: Freshness,
    /// What was live when the lock was taken.
    pub(crate) previous: Option<Live>,
    /// The ledger as this process last wrote it.
    last: Arc<Mutex<Snapshot>>,
}

/// How often a waiter looks at the ledger: often enough that a released
/// lock is taken quickly, rarely enough that many waiters stay cheap.
fn poll_interval(lease: Duration) -> Duration {
    jitter((lease / 10).clamp(Duration::from_millis(50), Duration::from_millis(400)))
}

/// ±25%, so waiters that started together do not poll in lockstep.
fn jitter(base: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
        ^ std::process::id().rotate_left(13);
    let factor = 0.75 + f64::from(nanos % 1000) / 2000.0;
    base.mul_f64(factor)
}

/// Whether `lock` may be broken; `unchanged_for` is how long this process
/// has seen the ledger at the same tip.
pub(crate) fn expired(lock: &Lock, unchanged_for: Duration, now_ms: u64) -> bool {
    unchanged_for >= lock.lease() || now_ms > lock.lease_until_ms().saturating_add(lock.lease_ms)
}

/// Takes the lock, waiting for it when `request.wait`. The stale-commit guard
/// is checked against each state read, so a commit that became stale while
/// waiting is refused, and the state the lock is taken on is the one the
/// guard passed (the swap fails if it changed in between). Setting `stop`
/// (a signal) ends the wait.
pub(crate) fn acquire(
    ledger: Arc<Ledger>,
    git: &Git,
    request: &Request,
    stop: &AtomicBool,
    mut on_wait: impl FnMut(Waiting<'_>),
) -> Result<Held, DeployError> {
    let environment = ledger.environment().to_owned();
    let mut seen: Option<(Option<String>, Instant)> = None;
    let mut told: Option<String> = None;
    loop {
        if stop.load(Ordering::SeqCst) {
            return Err(DeployError::Interrupted);
        }
        let snapshot = ledger.snapshot()?;
        let freshness = guard::freshness(
            git,
            &environment,
            &request.commit,
            snapshot.state.live.as_ref(),
            request.rollback,
        )?;
        let since = match &seen {
            Some((tip, since)) if *tip == snapshot.tip => *since,
            _ => {
                let now = Instant::now();
                seen = Some((snapshot.tip.clone(), now));
                now
            }
        };
        let broke = match &snapshot.state.lock {
            None => None,
            Some(lock) if expired(lock, since.elapsed(), now_ms()) => {
                on_wait(Waiting::Breaking(lock));
                Some(lock.clone())
            }
            Some(lock) => {
                if !request.wait {
                    return Err(DeployError::Locked {
                        environment,
                        holder: lock.describe(),
                    });
                }
                if told.as_deref() != Some(lock.id.as_str()) {
                    on_wait(Waiting::Held(lock));
                    told = Some(lock.id.clone());
                }
                std::thread::sleep(poll_interval(request.lease));
                continue;
            }
        };
        let now = now_ms();
        let lock = Lock {
            id: request.id.clone(),
            commit: request.commit.clone(),
            rollback: freshness == Freshness::Rollback,
            actor: request.actor.clone(),
            since_ms: now,
            renewed_ms: now,
            lease_ms: u64::try_from(request.lease.as_millis()).unwrap_or(u64::MAX),
        };
        let state = State {
            live: snapshot.state.live.clone(),
            lock: Some(lock.clone()),
        };
        let mut record = entry(&environment, Event::Lock, &request.actor, state.clone());
        record.deploy = Some(lock.id.clone());
        record.commit = Some(lock.commit.clone());
        record.rollback = lock.rollback;
        record.broke = broke;
        if let Some(tip) = ledger.append(&snapshot, &record, Some(&request.commit))? {
            return Ok(Held {
                ledger,
                lock,
                freshness,
                previous: snapshot.state.live,
                last: Arc::new(Mutex::new(Snapshot {
                    tip: Some(tip),
                    state,
                })),
            });
        }
        // Lost the race: someone wrote first. Look again soon.
        std::thread::sleep(jitter(Duration::from_millis(30)));
    }
}

/// What the renewing thread reports.
pub(crate) enum Renewal {
    /// A renewal could not be written; it is retried.
    Trouble(String),
    /// The lock is no longer ours: its lease ran out and someone broke it,
    /// or someone ran `unlock --force`.
    Lost(Option<Lock>),
}

/// The thread that keeps the lease alive; stop it before `finish`.
pub(crate) struct Renewer {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<()>,
}

impl Renewer {
    pub(crate) fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.thread.join();
    }
}

impl Held {
    /// Renews the lease every third of it, on a thread.
    pub(crate) fn renew(
        &self,
        on_event: impl Fn(Renewal) + Send + 'static,
    ) -> std::io::Result<Renewer> {
        let (stop, stopped) = mpsc::channel::<()>();
        let ledger = Arc::clone(&self.ledger);
        let last = Arc::clone(&self.last);
        let lock = self.lock.clone();
        let every = (lock.lease() / 3).max(Duration::from_millis(10));
        let thread = std::thread::Builder::new()
            .name("parity-lease".into())
            .spawn(move || {
                let mut wait = every;
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(wait) {
                    wait = every;
                    match renew_once(&ledger, &last, &lock) {
                        Ok(true) => {}
                        Ok(false) => {
                            let holder = ledger.snapshot().ok().and_then(|s| s.state.lock);
                            on_event(Renewal::Lost(holder));
                            return;
                        }
                        Err(e) => {
                            on_event(Renewal::Trouble(e.to_string()));
                            wait = every / 3;
                        }
                    }
                }
            })?;
        Ok(Renewer { stop, thread })
    }

    /// Records how the deploy ended and releases the lock. A success makes
    /// the commit live; a failure leaves live where it was. Returns the
    /// state recorded.
    pub(crate) fn finish(
        self,
        result: DeployResult,
        detail: Option<String>,
        duration: Duration,
    ) -> Result<State, DeployError> {
        let environment = self.ledger.environment().to_owned();
        let mut snapshot = lock(&self.last).clone();
        let mut conflicts = 0;
        let mut failures = 0;
        loop {
            let ours = snapshot
                .state
                .lock
                .as_ref()
                .is_some_and(|l| l.id == self.lock.id);
            let state = if ours {
                State {
                    live: match result {
                        DeployResult::Succeeded => Some(Live {
                            commit: self.lock.commit.clone(),
                            deploy: self.lock.id.clone(),
                            actor: self.lock.actor.clone(),
                            at_ms: now_ms(),
                        }),
                        DeployResult::Failed => snapshot.state.live.clone(),
                    },
                    lock: None,
                }
            } else {
                // The lock was broken under us: record the outcome, but the
                // environment's state is no longer ours to change.
                snapshot.state.clone()
            };
            let mut record = entry(&environment, Event::Finish, &self.lock.actor, state.clone());
            record.deploy = Some(self.lock.id.clone());
            record.commit = Some(self.lock.commit.clone());
            record.rollback = self.lock.rollback;
            record.result = Some(result);
            record.duration_ms = Some(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
            record.detail = match (&detail, ours) {
                (_, false) => Some(format!(
                    "{}the lock was broken before the deploy finished, so live was not changed",
                    detail
                        .as_deref()
                        .map(|d| format!("{d}; "))
                        .unwrap_or_default()
                )),
                (detail, true) => detail.clone(),
            };
            match self.ledger.append(&snapshot, &record, None) {
                Ok(Some(_)) => return Ok(state),
                Ok(None) => {
                    conflicts += 1;
                    if conflicts >= MAX_CONFLICTS {
                        return Err(DeployError::Contention {
                            reference: self.ledger.store().reference().to_owned(),
                            attempts: conflicts,
                        });
                    }
                }
                // The deploy already happened: keep trying to record it for
                // a lease's time before giving up.
                Err(e) => {
                    failures += 1;
                    if Duration::from_millis(500) * failures
                        > self.lock.lease().max(Duration::from_secs(5))
                    {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
            }
            snapshot = match self.ledger.snapshot() {
                Ok(s) => s,
                Err(e) => {
                    failures += 1;
                    if Duration::from_millis(500) * failures
                        > self.lock.lease().max(Duration::from_secs(5))
                    {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_millis(500));
                    snapshot
                }
            };
        }
    }
}

/// One renewal: `Ok(false)` when the lock turned out not to be ours.
fn renew_once(ledger: &Ledger, last: &Mutex<Snapshot>, ours: &Lock) -> Result<bool, DeployError> {
    let mut last = lock(last);
    let mut snapshot = last.clone();
    for _ in 0..MAX_CONFLICTS {
        let Some(mut held) = snapshot.state.lock.clone().filter(|l| l.id == ours.id) else {
            return Ok(false);
        };
        held.renewed_ms = now_ms();
        let state = State {
            live: snapshot.state.live.clone(),
            lock: Some(held),
        };
        let mut record = entry(
            ledger.environment(),
            Event::Renew,
            &ours.actor,
            state.clone(),
        );
        record.deploy = Some(ours.id.clone());
        record.commit = Some(ours.commit.clone());
        if let Some(tip) = ledger.append(&snapshot, &record, None)? {
            *last = Snapshot {
                tip: Some(tip),
                state,
            };
            return Ok(true);
        }
        snapshot = ledger.snapshot()?;
    }
    Err(DeployError::Contention {
        reference: ledger.store().reference().to_owned(),
        attempts: MAX_CONFLICTS,
    })
}

/// Clears whatever lock the environment has and records who did it.
/// `Ok(None)` when there was no lock.
pub(crate) fn unlock(ledger: &Ledger, actor: &Actor) -> Result<Option<Lock>, DeployError> {
    for _ in 0..MAX_CONFLICTS {
        let snapshot = ledger.snapshot()?;
        let Some(held) = snapshot.state.lock.clone() else {
            return Ok(None);
        };
        let state = State {
            live: snapshot.state.live.clone(),
            lock: None,
        };
        let mut record = entry(ledger.environment(), Event::Unlock, actor, state);
        record.deploy = Some(held.id.clone());
        record.commit = Some(held.commit.clone());
        record.broke = Some(held.clone());
        if ledger.append(&snapshot, &record, None)?.is_some() {
            return Ok(Some(held));
        }
    }
    Err(DeployError::Contention {
        reference: ledger.store().reference().to_owned(),
        attempts: MAX_CONFLICTS,
    })
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::identity::Trigger;

    fn held(renewed_ms: u64, lease_ms: u64) -> Lock {
        Lock {
            id: "d".into(),
            commit: "c".into(),
            rollback: false,
            actor: Actor {
                by: "a".into(),
                host: "h".into(),
                trigger: Trigger::Manual,
                ci_url: None,
            },
            since_ms: renewed_ms,
            renewed_ms,
            lease_ms,
        }
    }

    #[test]
    fn a_lease_expires_by_observation_or_long_past_wall_clock() {
        let lock = held(100_000, 10_000);
        // Fresh by both clocks.
        assert!(!expired(&lock, Duration::from_secs(9), 105_000));
        // Seen unchanged for a whole lease: broken, whatever the clocks say.
        assert!(expired(&lock, Duration::from_secs(10), 0));
        // Just past its wall-clock lease: could be skew, not broken yet.
        assert!(!expired(&lock, Duration::ZERO, 111_000));
        // A whole further lease past it: dead long ago.
        assert!(expired(&lock, Duration::ZERO, 120_001));
    }

    #[test]
    fn polling_stays_within_bounds() {
        for lease in [
            Duration::from_millis(100),
            Duration::from_secs(2),
            Duration::from_secs(600),
        ] {
            let poll = poll_interval(lease);
            assert!(
                poll >= Duration::from_millis(37) && poll <= Duration::from_millis(500),
                "{poll:?}"
            );
        }
    }
}

//! One ledger entry: a git commit whose message is a summary line and a JSON
//! record of the event, plus the environment's state after it.
//!
//! Carrying the whole state (live commit, lock) in every entry means the tip
//! alone answers "what is live, who holds the lock", and a compare-and-swap
//! on the tip is a compare-and-swap on the state.

use super::git::short;
use super::identity::Actor;
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The record format; bumped only for changes old readers would misread.
pub(crate) const FORMAT: u32 = 1;

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Event {
    /// The ledger's first commit: a root for the first-parent chain.
    Create,
    /// A deploy took the lock and is about to run ("deploying").
    Lock,
    /// The running deploy extended its lease.
    Renew,
    /// The deploy ended and released the lock.
    Finish,
    /// `parity deploy unlock --force` cleared someone's lock.
    Unlock,
}

/// How a deploy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Result {
    Succeeded,
    Failed,
}

/// A held lock: which deploy, of what, by whom, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lock {
    /// The deploy's id, unique across machines.
    pub id: String,
    pub commit: String,
    #[serde(default)]
    pub rollback: bool,
    pub actor: Actor,
    pub since_ms: u64,
    /// The holder's clock at its last renewal.
    pub renewed_ms: u64,
    pub lease_ms: u64,
}

impl Lock {
    pub fn lease(&self) -> Duration {
        Duration::from_millis(self.lease_ms)
    }

    /// When the lease runs out by the holder's clock.
    pub fn lease_until_ms(&self) -> u64 {
        self.renewed_ms.saturating_add(self.lease_ms)
    }

    /// `deploy 1a2b… of abc12345 by Alice <a@x> on laptop (manual) since …`.
    pub fn describe(&self) -> String {
        format!(
            "deploying {} by {} since {}, lease until {}",
            short(&self.commit),
            self.actor.describe(),
            timestamp(self.since_ms),
            timestamp(self.lease_until_ms()),
        )
    }
}

/// The commit that is live: the last one deployed successfully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Live {
    pub commit: String,
    /// The deploy that put it there.
    pub deploy: String,
    pub actor: Actor,
    pub at_ms: u64,
}

/// The environment's state after an entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    #[serde(default)]
    pub live: Option<Live>,
    #[serde(default)]
    pub lock: Option<Lock>,
}

/// One entry, as stored in a ledger commit's message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub format: u32,
    pub environment: String,
    pub event: Event,
    /// Who wrote this entry, from where.
    pub actor: Actor,
    pub at_ms: u64,
    /// The deploy this entry is about (lock, renew, finish).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deploy: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub rollback: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Result>,
    /// Why it failed, in a sentence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<u64>,
    /// Another deploy's lock this entry cleared: expired, or `unlock --force`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub broke: Option<Lock>,
    /// The state after this entry.
    pub state: State,
}

impl Entry {
    /// The commit message: a line `git log --oneline` shows, then the record.
    pub fn message(&self) -> String {
        let json = serde_json::to_string_pretty(self).unwrap_or_default();
        format!("{}\n\n{json}\n", self.summary())
    }

    /// Reads a message written by `message`.
    pub fn parse(message: &str) -> std::result::Result<Entry, String> {
        let (_, json) = message
            .split_once("\n\n")
            .ok_or_else(|| "no record after the summary line".to_owned())?;
        let entry: Entry = serde_json::from_str(json.trim()).map_err(|e| e.to_string())?;
        if entry.format > FORMAT {
            return Err(format!(
                "written in ledger format {}, newer than this parity reads ({FORMAT}); upgrade parity",
                entry.format
            ));
        }
        Ok(entry)
    }

    fn summary(&self) -> String {
        let commit = self.commit.as_deref().map(short).unwrap_or_default();
        let env = &self.environment;
        match self.event {
            Event::Create => format!("{env}: ledger created"),
            Event::Lock => format!(
                "{env}: deploying {commit}{} ({})",
                if self.rollback { " (rollback)" } else { "" },
                self.actor.trigger.as_str()
            ),
            Event::Renew => format!("{env}: lease renewed for {commit}"),
            Event::Finish => match self.result {
                Some(Result::Succeeded) => format!("{env}: deployed {commit}"),
                _ => format!("{env}: deploy of {commit} failed"),
            },
            Event::Unlock => format!("{env}: unlocked by {}", self.actor.by),
        }
    }
}

/// Milliseconds since the Unix epoch, by this machine's clock.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// `2026-11-27T09:20:24Z`.
pub(crate) fn timestamp(ms: u64) -> String {
    humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_millis(ms)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::identity::Trigger;

    fn actor() -> Actor {
        Actor {
            by: "Ada <ada@example.com>".into(),
            host: "laptop".into(),
            trigger: Trigger::Manual,
            ci_url: None,
        }
    }

    #[test]
    fn message_round_trips_and_reads_in_git_log() {
        let lock = Lock {
            id: "d1".into(),
            commit: "0123456789abcdef0123456789abcdef01234567".into(),
            rollback: false,
            actor: actor(),
            since_ms: 1_000,
            renewed_ms: 2_000,
            lease_ms: 120_000,
        };
        let entry = Entry {
            format: FORMAT,
            environment: "production".into(),
            event: Event::Lock,
            actor: actor(),
            at_ms: 1_000,
            deploy: Some("d1".into()),
            commit: Some(lock.commit.clone()),
            rollback: false,
            result: None,
            detail: None,
            duration_ms: None,
            broke: None,
            state: State {
                live: None,
                lock: Some(lock),
            },
        };
        let message = entry.message();
        assert!(message.starts_with("production: deploying 01234567 (manual)\n\n{"));
        assert_eq!(Entry::parse(&message).unwrap(), entry);
        assert!(Entry::parse("just a line").is_err());
        let future = message.replace("\"format\": 1", "\"format\": 99");
        assert!(Entry::parse(&future)
            .unwrap_err()
            .contains("upgrade parity"));
    }
}

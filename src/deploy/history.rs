//! The ledger read as people ask about it: one row per deploy (its lock,
//! renewals and result folded together), newest first.

use super::entry::{timestamp, Entry, Event, Result as DeployResult};
use super::git::short;
use super::identity::Actor;
use serde::Serialize;

/// How a deploy stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Succeeded,
    Failed,
    /// Holds the lock now.
    Deploying,
    /// Its holder vanished and the lock was broken (expired or forced).
    Abandoned,
    /// Not a deploy: `parity deploy unlock --force`.
    Unlocked,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Failed => "failed",
            Status::Deploying => "deploying",
            Status::Abandoned => "abandoned",
            Status::Unlocked => "unlocked",
        }
    }
}

/// One deploy (or forced unlock) as `parity deploy log` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Record {
    pub id: String,
    pub environment: String,
    pub status: Status,
    pub commit: Option<String>,
    pub rollback: bool,
    #[serde(flatten)]
    pub actor: Actor,
    pub started_ms: u64,
    pub finished_ms: Option<u64>,
    pub duration_ms: Option<u64>,
    pub detail: Option<String>,
}

/// Folds entries (oldest first) into records (newest first).
pub(crate) fn records(entries: &[(String, Entry)]) -> Vec<Record> {
    let mut records: Vec<Record> = Vec::new();
    let find = |records: &mut Vec<Record>, id: &str| records.iter().rposition(|r| r.id == id);
    for (commit, entry) in entries {
        match entry.event {
            Event::Create | Event::Renew => {}
            Event::Lock => {
                if let Some(broken) = &entry.broke {
                    if let Some(i) = find(&mut records, &broken.id) {
                        if records[i].status == Status::Deploying {
                            records[i].status = Status::Abandoned;
                            records[i].detail = Some(format!(
                                "its lease expired; the lock was broken by {}",
                                entry.actor.describe()
                            ));
                        }
                    }
                }
                records.push(Record {
                    id: entry.deploy.clone().unwrap_or_else(|| commit.clone()),
                    environment: entry.environment.clone(),
                    status: Status::Deploying,
                    commit: entry.commit.clone(),
                    rollback: entry.rollback,
                    actor: entry.actor.clone(),
                    started_ms: entry.at_ms,
                    finished_ms: None,
                    duration_ms: None,
                    detail: None,
                });
            }
            Event::Finish => {
                let Some(i) = entry
                    .deploy
                    .as_deref()
                    .and_then(|id| find(&mut records, id))
                else {
                    continue;
                };
                let record = &mut records[i];
                record.status = match entry.result {
                    Some(DeployResult::Succeeded) => Status::Succeeded,
                    _ => Status::Failed,
                };
                record.finished_ms = Some(entry.at_ms);
                record.duration_ms = entry.duration_ms;
                record.detail = entry.detail.clone();
            }
            Event::Unlock => {
                let mut detail = None;
                if let Some(broken) = &entry.broke {
                    if let Some(i) = find(&mut records, &broken.id) {
                        if records[i].status == Status::Deploying {
                            records[i].status = Status::Abandoned;
                            records[i].detail =
                                Some(format!("unlocked with --force by {}", entry.actor.by));
                        }
                    }
                    detail = Some(format!("cleared the lock of {}", broken.describe()));
                }
                records.push(Record {
                    id: commit.clone(),
                    environment: entry.environment.clone(),
                    status: Status::Unlocked,
                    commit: entry.commit.clone(),
                    rollback: false,
                    actor: entry.actor.clone(),
                    started_ms: entry.at_ms,
                    finished_ms: Some(entry.at_ms),
                    duration_ms: None,
                    detail,
                });
            }
        }
    }
    records.reverse();
    records
}

/// One line per record, aligned: when, result, commit, time, who.
pub(crate) fn render(records: &[Record]) -> String {
    let mut out = String::new();
    for record in records {
        let duration = record
            .duration_ms
            .map(|ms| crate::report::short_duration(std::time::Duration::from_millis(ms)))
            .unwrap_or_else(|| "-".to_owned());
        let commit = record.commit.as_deref().map(short).unwrap_or("-");
        let mut line = format!(
            "{}  {:<9}  {:<8}  {:>7}  {}",
            timestamp(record.started_ms),
            record.status.as_str(),
            commit,
            duration,
            record.actor.describe()
        );
        if record.rollback {
            line.push_str("  [rollback]");
        }
        if let Some(detail) = &record.detail {
            line.push_str(&format!("\n    {detail}"));
        }
        out.push_str(&line);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::entry::{Lock, State, FORMAT};
    use crate::deploy::identity::Trigger;

    fn actor(by: &str) -> Actor {
        Actor {
            by: by.into(),
            host: "h".into(),
            trigger: Trigger::Manual,
            ci_url: None,
        }
    }

    fn lock(id: &str) -> Lock {
        Lock {
            id: id.into(),
            commit: format!("{id}-commit"),
            rollback: false,
            actor: actor(id),
            since_ms: 0,
            renewed_ms: 0,
            lease_ms: 1000,
        }
    }

    fn entry(event: Event, id: &str, at_ms: u64) -> (String, Entry) {
        let entry = Entry {
            format: FORMAT,
            environment: "prod".into(),
            event,
            actor: actor(id),
            at_ms,
            deploy: Some(id.into()),
            commit: Some(format!("{id}-commit")),
            rollback: false,
            result: None,
            detail: None,
            duration_ms: None,
            broke: None,
            state: State::default(),
        };
        (format!("ledger-{at_ms}"), entry)
    }

    #[test]
    fn folds_events_into_deploys_newest_first() {
        let mut finish = entry(Event::Finish, "a", 3);
        finish.1.result = Some(DeployResult::Succeeded);
        finish.1.duration_ms = Some(1500);
        let mut breaker = entry(Event::Lock, "c", 6);
        breaker.1.broke = Some(lock("b"));
        let mut unlock = entry(Event::Unlock, "admin", 7);
        unlock.1.broke = Some(lock("c"));
        let entries = vec![
            entry(Event::Create, "a", 0),
            entry(Event::Lock, "a", 1),
            entry(Event::Renew, "a", 2),
            finish,
            entry(Event::Lock, "b", 4),
            entry(Event::Renew, "b", 5),
            breaker,
            unlock,
        ];
        let rows = records(&entries);
        let summary: Vec<(&str, Status)> = rows.iter().map(|r| (r.id.as_str(), r.status)).collect();
        assert_eq!(
            summary,
            [
                ("ledger-7", Status::Unlocked),
                ("c", Status::Abandoned),
                ("b", Status::Abandoned),
                ("a", Status::Succeeded),
            ]
        );
        assert_eq!(rows[3].duration_ms, Some(1500));
        assert!(rows[2]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("lease expired"));
        assert!(rows[1]
            .detail
            .as_deref()
            .unwrap_or_default()
            .contains("--force by admin"));
        let text = render(&rows);
        assert!(text.contains("succeeded  a-commit"), "{text}");
    }
}

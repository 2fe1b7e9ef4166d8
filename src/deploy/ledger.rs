//! An environment's ledger: `refs/parity/deploys/NAME`, a first-parent chain
//! of commits, one per event, each holding an [`Entry`].
//!
//! Entries are written with `commit-tree` on the previous tip and published
//! with the store's compare-and-swap; nothing here touches a work tree, an
//! index or a branch. A lock entry has the deployed commit as its second
//! parent: fetching the ledger then brings the deployed commits along (the
//! stale-commit guard needs them), and they stay reachable after branches
//! are rewritten.

use super::entry::{Entry, Event, State, FORMAT};
use super::git::Git;
use super::identity::Actor;
use super::store::Store;
use super::DeployError;
use std::sync::OnceLock;

/// The ledger as of one read: its tip and the state there.
#[derive(Debug, Clone)]
pub(crate) struct Snapshot {
    pub(crate) tip: Option<String>,
    pub(crate) state: State,
}

pub(crate) struct Ledger {
    git: Git,
    store: Store,
    environment: String,
    empty_tree: OnceLock<String>,
}

impl Ledger {
    pub(crate) fn new(git: &Git, store: Store, environment: &str) -> Ledger {
        Ledger {
            git: git.clone(),
            store,
            environment: environment.to_owned(),
            empty_tree: OnceLock::new(),
        }
    }

    pub(crate) fn store(&self) -> &Store {
        &self.store
    }

    pub(crate) fn environment(&self) -> &str {
        &self.environment
    }

    /// Reads the tip where the ledger lives (the remote, when there is one).
    pub(crate) fn snapshot(&self) -> Result<Snapshot, DeployError> {
        let tip = self.store.tip()?;
        let state = match &tip {
            Some(tip) => self.read(tip)?.state,
            None => State::default(),
        };
        Ok(Snapshot { tip, state })
    }

    pub(crate) fn read(&self, commit: &str) -> Result<Entry, DeployError> {
        let message = self.git.run(&["log", "-1", "--format=%B", commit, "--"])?;
        Entry::parse(&message).map_err(|reason| self.corrupt(commit, reason))
    }

    /// Every entry from the first to `tip`, oldest first.
    pub(crate) fn history(&self, tip: &str) -> Result<Vec<(String, Entry)>, DeployError> {
        let text = self
            .git
            .run(&["log", "--first-parent", "--format=%H%x00%B%x1e", tip, "--"])?;
        let mut entries = Vec::new();
        for record in text.split('\x1e') {
            let record = record.trim_start_matches('\n');
            let Some((commit, message)) = record.split_once('\0') else {
                continue;
            };
            let entry = Entry::parse(message).map_err(|reason| self.corrupt(commit, reason))?;
            entries.push((commit.to_owned(), entry));
        }
        entries.reverse();
        Ok(entries)
    }

    /// Publishes `entry` on top of `expected` (a new ledger starts with a
    /// root entry). `Ok(None)` when the ledger moved since `expected` was
    /// read: read it again and decide again.
    pub(crate) fn append(
        &self,
        expected: &Snapshot,
        entry: &Entry,
        deployed: Option<&str>,
    ) -> Result<Option<String>, DeployError> {
        let parent = match &expected.tip {
            Some(tip) => tip.clone(),
            None => {
                let root = Entry {
                    format: FORMAT,
                    environment: self.environment.clone(),
                    event: Event::Create,
                    actor: entry.actor.clone(),
                    at_ms: entry.at_ms,
                    deploy: None,
                    commit: None,
                    rollback: false,
                    result: None,
                    detail: None,
                    duration_ms: None,
                    broke: None,
                    state: State::default(),
                };
                self.commit(&root, &[])?
            }
        };
        let mut parents = vec![parent.as_str()];
        parents.extend(deployed);
        let new = self.commit(entry, &parents)?;
        Ok(self
            .store
            .swap(expected.tip.as_deref(), &new)?
            .then_some(new))
    }

    fn commit(&self, entry: &Entry, parents: &[&str]) -> Result<String, DeployError> {
        let tree = self.empty_tree()?;
        let message = entry.message();
        let mut args = vec![
            "commit-tree",
            "--no-gpg-sign",
            tree.as_str(),
            "-m",
            message.as_str(),
        ];
        for parent in parents {
            args.extend(["-p", parent]);
        }
        let (name, email) = entry.actor.git_identity();
        let env = identity_env(&name, &email);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        self.git.run_env(&args, &env)
    }

    fn empty_tree(&self) -> Result<String, DeployError> {
        if let Some(tree) = self.empty_tree.get() {
            return Ok(tree.clone());
        }
        // `mktree` with no input writes the empty tree in this repository's
        // hash (SHA-1 or SHA-256).
        let tree = self.git.run(&["mktree"])?;
        Ok(self.empty_tree.get_or_init(|| tree).clone())
    }

    fn corrupt(&self, commit: &str, reason: String) -> DeployError {
        DeployError::Corrupt {
            commit: commit.to_owned(),
            reference: self.store.reference().to_owned(),
            reason,
        }
    }
}

/// Entries are authored by whoever deploys, even when git has no
/// `user.name` configured (a fresh CI runner).
fn identity_env<'a>(name: &'a str, email: &'a str) -> [(&'static str, String); 4] {
    [
        ("GIT_AUTHOR_NAME", name.to_owned()),
        ("GIT_AUTHOR_EMAIL", email.to_owned()),
        ("GIT_COMMITTER_NAME", name.to_owned()),
        ("GIT_COMMITTER_EMAIL", email.to_owned()),
    ]
}

/// A fresh entry by `actor`, now, carrying `state` forward unchanged.
pub(crate) fn entry(environment: &str, event: Event, actor: &Actor, state: State) -> Entry {
    Entry {
        format: FORMAT,
        environment: environment.to_owned(),
        event,
        actor: actor.clone(),
        at_ms: super::entry::now_ms(),
        deploy: None,
        commit: None,
        rollback: false,
        result: None,
        detail: None,
        duration_ms: None,
        broke: None,
        state,
    }
}

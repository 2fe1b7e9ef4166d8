//! One run's view of the cache: every key computed before the first job
//! starts (one walk, each file hashed once), then a lookup before each job
//! and a store after each pass.
//!
//! Keys are computed up front because what a need produces is already
//! represented by the need's key: a job's key covers its own inputs and the
//! keys of what it needs, never files its needs write during the run.

use super::digest::BlobId;
use super::digest::{hex, unhex32};
use super::entry::{ActionEntry, OutputEntry};
use super::error::CacheError;
use super::explain::{Explanation, Found, Manifest, Manifests};
use super::key::{fingerprints, Fingerprint, KeyContext, KeyState};
use super::outputs::OutputStamps;
use super::outputs::{self, CollectedKind, RestoreError};
use super::remote::{self, Remote, RemoteError, DEFAULT_TOKEN_VAR};
use super::stat_cache::{now_ns, Stamp, StatCache};
use super::store::{Store, DEFAULT_MAX_SIZE};
use super::walk::Snapshot;
use crate::exec::{Plan, RunOptions};
use crate::pipeline::{placeholder::render_known, Pipeline};
use indexmap::IndexMap;
use nix::fcntl::Flock;
use std::collections::HashSet;
use std::fs::File;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// What the command line decides about the cache.
#[derive(Debug, Clone, Default)]
pub struct CacheSettings {
    /// `--cache-only-read`: use hits, record nothing.
    pub read_only: bool,
    /// The runner image of each job (by `[jobs.NAME]`) that runs in a
    /// container: part of its key, so a native result never stands in for
    /// one from the CI image.
    pub runner_images: std::collections::HashMap<String, String>,
}

struct RemoteState {
    remote: Remote,
    writable: bool,
    down: AtomicBool,
    /// One warning for the whole run, however many requests fail.
    warned_down: AtomicBool,
    warned_status: AtomicBool,
}

/// A hit, restored: the log to replay and what was put back.
#[derive(Debug)]
pub struct Hit {
    pub log: Vec<u8>,
    pub remote: bool,
    pub key: String,
    pub written: usize,
    pub unchanged: usize,
    /// How long the job took when it ran.
    pub saved: Duration,
}

pub struct CacheSession {
    root: PathBuf,
    store: Option<Store>,
    lock: Mutex<Option<Flock<File>>>,
    remote: Option<RemoteState>,
    jobs: Vec<KeyState>,
    names: Vec<String>,
    /// Each job's `outputs`, matrix values filled in.
    outputs: Vec<Vec<String>>,
    read_only: bool,
    max_size: u64,
    manifests: Manifests,
    snapshot: Snapshot,
    /// Input and output hashes by stamp, saved again at the end of the run.
    stat_cache: Mutex<StatCache>,
    stat_path: PathBuf,
    /// Blobs downloaded and verified in this run: not hashed a second time.
    verified: Mutex<HashSet<String>>,
    stored: AtomicBool,
    /// Things worth telling before the run starts.
    pub warnings: Vec<String>,
}

impl CacheSession {
    /// Computes every key of the plan. Only a job that declares `inputs`,
    /// and whose needs are all cacheable, gets one.
    /// `options` made `plan`: keys are computed over the plan with every
    /// need included (`--no-deps` and `--matrix` leave needs out of the run,
    /// not out of a key).
    pub fn open(
        pipeline: &Pipeline,
        plan: &Plan,
        options: &RunOptions,
        ambient: &IndexMap<String, String>,
        settings: &CacheSettings,
    ) -> Result<CacheSession, CacheError> {
        let root = pipeline.root.clone();
        let state_dir = root.join(crate::report::STATE_DIR);
        let mut session = CacheSession {
            root: root.clone(),
            store: None,
            lock: Mutex::new(None),
            remote: None,
            jobs: Vec::new(),
            names: plan.jobs.iter().map(|j| j.name.clone()).collect(),
            outputs: plan
                .jobs
                .iter()
                .map(|j| {
                    pipeline.jobs[&j.job]
                        .outputs
                        .iter()
                        .map(|o| {
                            render_known(o, |name| {
                                j.matrix.get(name.strip_prefix("matrix.")?).cloned()
                            })
                        })
                        .collect()
                })
                .collect(),
            read_only: settings.read_only,
            max_size: pipeline.cache.max_size.unwrap_or(DEFAULT_MAX_SIZE),
            manifests: Manifests::new(&state_dir),
            snapshot: Snapshot::default(),
            stat_cache: Mutex::new(StatCache::default()),
            stat_path: state_dir.join("cache").join("stat"),
            verified: Mutex::new(HashSet::new()),
            stored: AtomicBool::new(false),
            warnings: Vec::new(),
        };
        // Before planning every job for the keys: most pipelines cache nothing.
        if !plan
            .jobs
            .iter()
            .any(|j| !pipeline.jobs[&j.job].inputs.is_empty())
        {
            session.jobs = plan
                .jobs
                .iter()
                .map(|_| KeyState::NotCacheable("it declares no `inputs`".into()))
                .collect();
            return Ok(session);
        }
        let full = RunOptions {
            targets: plan.jobs.iter().map(|j| j.name.clone()).collect(),
            matrix: Vec::new(),
            no_deps: false,
            ..options.clone()
        };
        let key_plan = Plan::new(pipeline, &full, ambient).ok();
        let key_plan = key_plan.as_ref().unwrap_or(plan);
        let candidates: Vec<usize> = (0..key_plan.jobs.len())
            .filter(|&i| !pipeline.jobs[&key_plan.jobs[i].job].inputs.is_empty())
            .collect();

        let base = Store::default_base()?;
        let store = Store::open(&base)?;
        *lock(&session.lock) = store.lock(false, true)?;
        ensure_state_dir(&state_dir);
        let stat_path = session.stat_path.clone();
        let mut stat_cache = StatCache::load(&stat_path);
        let globs = candidates
            .iter()
            .flat_map(|&i| pipeline.jobs[&key_plan.jobs[i].job].inputs.iter());
        let snapshot = Snapshot::take(&root, globs, &mut stat_cache)?;
        let files = &snapshot.files;
        let current = |p: &Path| {
            files
                .binary_search_by(|f| f.path.as_os_str().as_bytes().cmp(p.as_os_str().as_bytes()))
                .is_ok()
        };
        if let Err(e) = stat_cache.save(&stat_path, &root, current) {
            session.warnings.push(format!(
                "cannot save the stat cache {}: {e}",
                stat_path.display()
            ));
        }
        for glob in &snapshot.unmatched {
            let jobs: Vec<&str> = candidates
                .iter()
                .map(|&i| &key_plan.jobs[i])
                .filter(|j| pipeline.jobs[&j.job].inputs.contains(glob))
                .map(|j| j.name.as_str())
                .collect();
            session.warnings.push(format!(
                "input `{glob}` of {} matches no file",
                jobs.iter()
                    .map(|j| format!("`{j}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }

        let ctx = KeyContext {
            pipeline,
            snapshot: &snapshot,
            ambient,
            runner_images: &settings.runner_images,
        };
        let mut keyed: Vec<Option<KeyState>> = fingerprints(pipeline, key_plan, &ctx)
            .into_iter()
            .map(Some)
            .collect();
        session.jobs = plan
            .jobs
            .iter()
            .map(|job| {
                key_plan
                    .jobs
                    .iter()
                    .position(|k| k.name == job.name)
                    .and_then(|at| keyed[at].take())
                    .unwrap_or_else(|| {
                        KeyState::NotCacheable("parity could not work out its needs".into())
                    })
            })
            .collect();
        session.snapshot = snapshot;
        session.stat_cache = Mutex::new(stat_cache);
        session.remote =
            remote::configure(pipeline, ambient, settings.read_only, &mut session.warnings).map(
                |(remote, writable)| RemoteState {
                    remote,
                    writable,
                    down: AtomicBool::new(false),
                    warned_down: AtomicBool::new(false),
                    warned_status: AtomicBool::new(false),
                },
            );
        session.store = Some(store);
        Ok(session)
    }

    /// The job's key, if it has one.
    pub fn key(&self, index: usize) -> Option<&str> {
        match self.jobs.get(index)? {
            KeyState::Keyed(fp) => Some(&fp.key),
            KeyState::NotCacheable(_) => None,
        }
    }

    /// Bytes hashed because the stat cache could not vouch for them.
    pub fn hashed_bytes(&self) -> u64 {
        self.snapshot.hashed_bytes
    }

    /// Looks the job up, locally then remotely, and on a hit restores its
    /// outputs. `None` is a miss: run the job. Problems become warnings.
    pub fn restore(&self, index: usize, warn: &dyn Fn(&str)) -> Option<Hit> {
        let KeyState::Keyed(fp) = self.jobs.get(index)? else {
            return None;
        };
        let store = self.store.as_ref()?;
        let key = fp.key.as_str();
        if let Some(bytes) = store.read_ac(key) {
            match ActionEntry::parse(&bytes, key) {
                Ok(entry) if entry.blobs().all(|b| store.blob_exists(b)) => {
                    match self.apply(store, &entry, false) {
                        Ok(hit) => return Some(self.hit(index, fp, hit)),
                        Err(e) => {
                            warn(&format!("{e}; running the job instead"));
                            store.remove_ac(key);
                        }
                    }
                }
                Ok(_) => {} // blobs evicted: the remote may still have them
                Err(why) => {
                    warn(&format!(
                        "local cache entry {key} is unusable ({why}); running the job instead"
                    ));
                    store.remove_ac(key);
                }
            }
        }
        let state = self
            .remote
            .as_ref()
            .filter(|r| !r.down.load(Ordering::Relaxed))?;
        let bytes = match state.remote.get_ac(key) {
            Ok(Some(bytes)) => bytes,
            Ok(None) => return None,
            Err(e) => {
                self.remote_failed(state, e, warn);
                return None;
            }
        };
        let entry = match ActionEntry::parse(&bytes, key) {
            Ok(entry) => entry,
            Err(why) => {
                warn(&format!(
                    "remote cache entry {}/ac/{key} is unusable ({why}); running the job instead",
                    state.remote.base()
                ));
                return None;
            }
        };
        for blob in entry.blobs() {
            if store.has_blob(blob) {
                continue;
            }
            match state.remote.get_blob(blob, store) {
                Ok(true) => {
                    lock(&self.verified).insert(blob.sha256.clone());
                }
                Ok(false) => {
                    warn(&format!(
                        "remote cache entry {key} refers to blob {} that the cache no longer has; running the job instead",
                        blob.sha256
                    ));
                    return None;
                }
                Err(e) => {
                    self.remote_failed(state, e, warn);
                    return None;
                }
            }
        }
        if !self.read_only {
            let _ = store.write_ac(key, &bytes);
        }
        match self.apply(store, &entry, true) {
            Ok(hit) => Some(self.hit(index, fp, hit)),
            Err(e) => {
                warn(&format!("{e}; running the job instead"));
                store.remove_ac(key);
                None
            }
        }
    }

    fn hit(&self, index: usize, fp: &Fingerprint, hit: Hit) -> Hit {
        self.record_manifest(index, fp);
        hit
    }

    fn apply(&self, store: &Store, entry: &ActionEntry, remote: bool) -> Result<Hit, RestoreError> {
        let log = store.read_blob(&entry.log).map_err(|e| {
            store.remove_blob(&entry.log);
            let why = match e {
                super::store::PutError::Corrupt(why) => why,
                super::store::PutError::Io(e) => e.to_string(),
            };
            RestoreError::Corrupt {
                path: "the job's log".into(),
                why,
            }
        })?;
        let verified = lock(&self.verified).clone();
        let trusted = |b: &BlobId| verified.contains(&b.sha256);
        let restored = outputs::restore(&self.root, &entry.outputs, store, &trusted, self)?;
        Ok(Hit {
            log,
            remote,
            key: entry.key.clone(),
            written: restored.written,
            unchanged: restored.unchanged,
            saved: Duration::from_millis(entry.duration_ms),
        })
    }

    /// Stores a passed job's log and outputs under its key. A declared
    /// output that does not exist is the error; anything else that goes
    /// wrong is a warning, since the job itself passed.
    pub fn record(
        &self,
        index: usize,
        log: &Path,
        duration: Duration,
        warn: &dyn Fn(&str),
    ) -> Result<(), String> {
        let Some(KeyState::Keyed(fp)) = self.jobs.get(index) else {
            return Ok(());
        };
        let collected = outputs::collect(&self.root, &self.outputs[index])?;
        self.record_manifest(index, fp);
        let Some(store) = self.store.as_ref().filter(|_| !self.read_only) else {
            return Ok(());
        };
        let mut paths: Vec<(BlobId, PathBuf)> = Vec::new();
        let stored = (|| -> std::io::Result<ActionEntry> {
            let log_id = store.put_file(log)?;
            paths.push((log_id.clone(), store.cas_path(&log_id.sha256)));
            let mut outputs = Vec::new();
            for item in &collected {
                let path = item.path.to_string_lossy().into_owned();
                match &item.kind {
                    CollectedKind::File { mode } => {
                        let full = self.root.join(&item.path);
                        let (meta, seen) = (full.symlink_metadata()?, now_ns());
                        let id = store.put_file(&full)?;
                        OutputStamps::learn(self, &item.path, Stamp::of(&meta), seen, &id.sha256);
                        paths.push((id.clone(), store.cas_path(&id.sha256)));
                        outputs.push(OutputEntry {
                            path,
                            mode: Some(*mode),
                            blob: Some(id),
                            symlink: None,
                        });
                    }
                    CollectedKind::Symlink(target) => outputs.push(OutputEntry {
                        path,
                        mode: None,
                        blob: None,
                        symlink: Some(target.to_string_lossy().into_owned()),
                    }),
                }
            }
            let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
            let entry = ActionEntry::new(&fp.key, &self.names[index], millis, log_id, outputs);
            store.write_ac(&fp.key, &entry.to_bytes())?;
            Ok(entry)
        })();
        let entry = match stored {
            Ok(entry) => entry,
            Err(e) => {
                warn(&format!(
                    "cannot store the result in {}: {e}",
                    store.dir().display()
                ));
                return Ok(());
            }
        };
        self.stored.store(true, Ordering::Relaxed);
        if let Some(state) = self.remote.as_ref().filter(|r| r.writable) {
            for (id, path) in &paths {
                if state.down.load(Ordering::Relaxed) {
                    return Ok(());
                }
                if let Err(e) = state.remote.put_blob(id, path) {
                    self.remote_failed(state, e, warn);
                    return Ok(());
                }
            }
            if let Err(e) = state.remote.put_ac(&fp.key, &entry.to_bytes()) {
                self.remote_failed(state, e, warn);
            }
        }
        Ok(())
    }

    fn record_manifest(&self, index: usize, fp: &Fingerprint) {
        let name = &self.names[index];
        if self.manifests.key(name).as_deref() != Some(fp.key.as_str()) {
            self.manifests
                .save(&Manifest::new(name, fp, &self.snapshot));
        }
    }

    fn remote_failed(&self, state: &RemoteState, error: RemoteError, warn: &dyn Fn(&str)) {
        match error {
            RemoteError::Unreachable(why) => {
                state.down.store(true, Ordering::Relaxed);
                if !state.warned_down.swap(true, Ordering::Relaxed) {
                    warn(&format!(
                        "remote cache unreachable ({why}); continuing with the local cache only"
                    ));
                }
            }
            RemoteError::Status { .. } if !state.warned_status.swap(true, Ordering::Relaxed) => {
                warn(&format!(
                    "remote cache: {error}; check the URL and the credential (the variable \
                     `[cache] token_env` names, else {DEFAULT_TOKEN_VAR}); continuing without it where it refuses"
                ));
            }
            RemoteError::Status { .. } => {}
            RemoteError::Corrupt(why) => warn(&format!(
                "remote cache blob is corrupt ({why}); running the job instead"
            )),
            RemoteError::Local(e) => warn(&format!("cannot store a downloaded blob locally: {e}")),
        }
    }

    /// Why each instance of `name` (a job or one instance) will or will not
    /// be a hit. `None` when the plan has no such job.
    pub fn explain(&self, name: &str, plan: &Plan) -> Option<Vec<Explanation>> {
        let indices: Vec<usize> = (0..plan.jobs.len())
            .filter(|&i| plan.jobs[i].name == name)
            .chain(
                (0..plan.jobs.len())
                    .filter(|&i| plan.jobs[i].job == name && plan.jobs[i].name != name),
            )
            .collect();
        if indices.is_empty() {
            return None;
        }
        let explanations = indices
            .into_iter()
            .map(|i| {
                let job = self.names[i].clone();
                let fp = match &self.jobs[i] {
                    KeyState::NotCacheable(reason) => {
                        return Explanation::NotCacheable {
                            job,
                            reason: reason.clone(),
                        }
                    }
                    KeyState::Keyed(fp) => fp,
                };
                let found = self.found(&fp.key);
                let key = fp.key.clone();
                match self.manifests.load(&job) {
                    None => Explanation::NoHistory { job, key, found },
                    Some(before) if before.key == key => Explanation::Unchanged {
                        job,
                        key,
                        since: before.recorded,
                        found,
                    },
                    Some(before) => {
                        let changes =
                            Manifest::new(&job, fp, &self.snapshot).changes_since(&before);
                        Explanation::Changed {
                            job,
                            key,
                            since: before.recorded,
                            changes,
                            found,
                        }
                    }
                }
            })
            .collect();
        Some(explanations)
    }

    fn found(&self, key: &str) -> Found {
        let Some(store) = &self.store else {
            return Found::Nowhere;
        };
        if store.read_ac(key).is_some() {
            return Found::Local;
        }
        match &self.remote {
            None => Found::Nowhere,
            Some(state) => match state.remote.get_ac(key) {
                Ok(Some(_)) => Found::Remote,
                Ok(None) => Found::Nowhere,
                Err(_) => Found::Unknown,
            },
        }
    }

    /// Ends the run's use of the store: when this run stored something and
    /// the store is over its limit, evicts what was used least recently,
    /// unless another run holds the store (it will be collected later).
    pub fn finish(&self) {
        let files = &self.snapshot.files;
        let current = |p: &Path| {
            files
                .binary_search_by(|f| f.path.as_os_str().as_bytes().cmp(p.as_os_str().as_bytes()))
                .is_ok()
        };
        if self.store.is_some() {
            let _ = lock(&self.stat_cache).save(&self.stat_path, &self.root, current);
        }
        lock(&self.lock).take();
        let Some(store) = &self.store else { return };
        if !self.stored.load(Ordering::Relaxed) {
            return;
        }
        if let Ok(Some(_exclusive)) = store.lock(true, false) {
            if store.size() > self.max_size {
                store.gc(self.max_size);
            }
        }
    }
}

impl OutputStamps for CacheSession {
    fn known(&self, rel: &Path, stamp: &Stamp) -> Option<String> {
        lock(&self.stat_cache)
            .get_output(rel, stamp)
            .map(|h| hex(&h))
    }

    fn learn(&self, rel: &Path, stamp: Stamp, seen_at_ns: i64, sha256: &str) {
        if let Some(bytes) = unhex32(sha256) {
            lock(&self.stat_cache).learn_output(rel, stamp, seen_at_ns, bytes);
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// `.parity/` with the `.gitignore` that keeps it out of `git status`.
fn ensure_state_dir(state_dir: &Path) {
    let _ = std::fs::create_dir_all(state_dir.join("cache"));
    let ignore = state_dir.join(".gitignore");
    if !ignore.exists() {
        let _ = std::fs::write(ignore, "*\n");
    }
}

//! A job's cache key: BLAKE3 over a canonical encoding of everything that
//! decides what the job does, and nothing from the ambient environment.
//!
//! Each part is digested on its own and kept in a `Fingerprint`, so
//! `explain` can name the part that changed instead of only saying that
//! the key did. Every field is length-prefixed, so no two different inputs
//! encode to the same bytes.

use super::walk::Snapshot;
use crate::exec::{Plan, PlannedJob};
use crate::pipeline::Pipeline;
use indexmap::IndexMap;
use std::os::unix::ffi::OsStrExt;

/// Bumped whenever the encoding changes, so old entries are never misread.
const VERSION: &[u8] = b"parity-job-key-v1";

/// A canonical, length-prefixed byte stream into BLAKE3.
pub(crate) struct Canon(blake3::Hasher);

impl Canon {
    pub(crate) fn new(domain: &str) -> Canon {
        let mut canon = Canon(blake3::Hasher::new());
        canon.bytes(VERSION);
        canon.bytes(domain.as_bytes());
        canon
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) -> &mut Canon {
        self.0.update(&(bytes.len() as u64).to_le_bytes());
        self.0.update(bytes);
        self
    }

    pub(crate) fn list<'a>(
        &mut self,
        items: impl ExactSizeIterator<Item = &'a [u8]>,
    ) -> &mut Canon {
        self.0.update(&(items.len() as u64).to_le_bytes());
        for item in items {
            self.bytes(item);
        }
        self
    }

    pub(crate) fn finish(&self) -> [u8; 32] {
        *self.0.finalize().as_bytes()
    }
}

fn digest_strings<'a>(domain: &str, items: impl ExactSizeIterator<Item = &'a str>) -> [u8; 32] {
    Canon::new(domain).list(items.map(str::as_bytes)).finish()
}

/// Everything a job's key covers, part by part.
#[derive(Debug, Clone)]
pub(crate) struct Fingerprint {
    /// Parts of the definition, in a fixed order: (name, digest).
    pub(crate) parts: Vec<(&'static str, [u8; 32])>,
    /// The job's own env values (pipeline `[env]`, job `env`, matrix), by name.
    pub(crate) env: Vec<(String, [u8; 32])>,
    /// `cache_env` values from the environment; `None` when unset.
    pub(crate) cache_env: Vec<(String, Option<[u8; 32]>)>,
    /// Needed jobs by name, with their keys.
    pub(crate) needs: Vec<(String, String)>,
    /// Indices into the snapshot's files.
    pub(crate) files: Vec<usize>,
    /// 64 hex digits.
    pub(crate) key: String,
}

/// Whether a job has a key, and if not, why.
pub(crate) enum KeyState {
    NotCacheable(String),
    Keyed(Box<Fingerprint>),
}

/// What a key depends on beyond the job itself.
pub(crate) struct KeyContext<'a> {
    pub(crate) pipeline: &'a Pipeline,
    pub(crate) snapshot: &'a Snapshot,
    /// The process environment with env files over it: read only for the
    /// names a job lists in `cache_env`.
    pub(crate) ambient: &'a IndexMap<String, String>,
    /// Each job's runner image (by `[jobs.NAME]`) when it runs in a container.
    pub(crate) runner_images: &'a std::collections::HashMap<String, String>,
}

impl Fingerprint {
    /// `needs` are the needed jobs' names and keys.
    pub(crate) fn new(
        ctx: &KeyContext<'_>,
        job: &PlannedJob,
        needs: Vec<(String, String)>,
    ) -> Fingerprint {
        let pipeline = ctx.pipeline;
        let definition = &pipeline.jobs[&job.job];
        let cwd = job.cwd.strip_prefix(&pipeline.root).unwrap_or(&job.cwd);
        let mut tools: Vec<String> = pipeline
            .tools
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        tools.sort();
        let matrix: Vec<String> = job.matrix.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let parts = vec![
            ("job", digest_strings("job", [job.job.as_str()].into_iter())),
            (
                "matrix",
                digest_strings("matrix", matrix.iter().map(String::as_str)),
            ),
            (
                "steps",
                digest_strings("steps", job.steps.iter().map(String::as_str)),
            ),
            (
                "shell",
                digest_strings("shell", job.shell.iter().map(String::as_str)),
            ),
            (
                "working directory",
                Canon::new("cwd").bytes(cwd.as_os_str().as_bytes()).finish(),
            ),
            (
                "services",
                digest_strings("services", job.services.iter().map(String::as_str)),
            ),
            (
                "outputs",
                digest_strings("outputs", definition.outputs.iter().map(String::as_str)),
            ),
            (
                "tools",
                digest_strings("tools", tools.iter().map(String::as_str)),
            ),
            (
                "platform",
                digest_strings(
                    "platform",
                    [std::env::consts::OS, std::env::consts::ARCH].into_iter(),
                ),
            ),
            (
                "runner image",
                digest_strings(
                    "runner",
                    [ctx.runner_images
                        .get(&job.job)
                        .map_or("native", String::as_str)]
                    .into_iter(),
                ),
            ),
        ];

        // The env a step sees from the pipeline: later entries win.
        let mut effective: IndexMap<&str, &str> = IndexMap::new();
        for (name, value) in &job.env {
            effective.insert(name, value);
        }
        let mut env: Vec<(String, [u8; 32])> = effective
            .iter()
            .map(|(name, value)| ((*name).to_owned(), value_digest(name, value)))
            .collect();
        env.sort();
        let mut cache_env: Vec<(String, Option<[u8; 32]>)> = definition
            .cache_env
            .iter()
            .map(|name| {
                (
                    name.clone(),
                    ctx.ambient.get(name).map(|v| value_digest(name, v)),
                )
            })
            .collect();
        cache_env.sort();
        cache_env.dedup();
        let mut needs = needs;
        needs.sort();

        let files = ctx.snapshot.select(&definition.inputs);
        let mut canon = Canon::new("files");
        for &i in &files {
            let file = &ctx.snapshot.files[i];
            canon
                .bytes(file.path.as_os_str().as_bytes())
                .bytes(&[file.kind.tag()])
                .bytes(&file.hash);
        }
        let files_digest = canon.finish();

        let mut canon = Canon::new("job");
        for (name, digest) in &parts {
            canon.bytes(name.as_bytes()).bytes(digest);
        }
        canon.bytes(b"env").bytes(&(env.len() as u64).to_le_bytes());
        for (name, digest) in &env {
            canon.bytes(name.as_bytes()).bytes(digest);
        }
        canon
            .bytes(b"cache_env")
            .bytes(&(cache_env.len() as u64).to_le_bytes());
        for (name, digest) in &cache_env {
            canon.bytes(name.as_bytes());
            match digest {
                Some(d) => canon.bytes(b"set").bytes(d),
                None => canon.bytes(b"unset"),
            };
        }
        canon
            .bytes(b"needs")
            .bytes(&(needs.len() as u64).to_le_bytes());
        for (name, key) in &needs {
            canon.bytes(name.as_bytes()).bytes(key.as_bytes());
        }
        canon.bytes(b"files").bytes(&files_digest);
        Fingerprint {
            parts,
            env,
            cache_env,
            needs,
            files,
            key: super::digest::hex(&canon.finish()),
        }
    }
}

/// A value's digest, never the value: `cache_env` may name a secret, and
/// manifests are written to disk.
fn value_digest(name: &str, value: &str) -> [u8; 32] {
    Canon::new("env")
        .bytes(name.as_bytes())
        .bytes(value.as_bytes())
        .finish()
}

/// Keys in dependency order: a job is keyed once all it needs are.
pub(crate) fn fingerprints(
    pipeline: &Pipeline,
    plan: &Plan,
    ctx: &KeyContext<'_>,
) -> Vec<KeyState> {
    let graph = pipeline.instances();
    let mut states: Vec<Option<KeyState>> = plan.jobs.iter().map(|_| None).collect();
    let mut progressed = true;
    while progressed {
        progressed = false;
        for (i, job) in plan.jobs.iter().enumerate() {
            if states[i].is_some() || job.needs.iter().any(|&n| states[n].is_none()) {
                continue;
            }
            progressed = true;
            let definition = &pipeline.jobs[&job.job];
            let expected = graph
                .instances
                .iter()
                .find(|inst| inst.name == job.name)
                .map_or(job.needs.len(), |inst| inst.needs.len());
            let blocked = job.needs.iter().find_map(|&n| match &states[n] {
                Some(KeyState::NotCacheable(_)) => Some(plan.jobs[n].name.clone()),
                _ => None,
            });
            states[i] = Some(if definition.inputs.is_empty() {
                KeyState::NotCacheable("it declares no `inputs`".into())
            } else if expected != job.needs.len() {
                KeyState::NotCacheable("some of the jobs it needs are missing from the plan".into())
            } else if let Some(need) = blocked {
                KeyState::NotCacheable(format!("it needs `{need}`, which is not cacheable"))
            } else {
                let needs = job
                    .needs
                    .iter()
                    .filter_map(|&n| match &states[n] {
                        Some(KeyState::Keyed(fp)) => {
                            Some((plan.jobs[n].name.clone(), fp.key.clone()))
                        }
                        _ => None,
                    })
                    .collect();
                KeyState::Keyed(Box::new(Fingerprint::new(ctx, job, needs)))
            });
        }
    }
    states
        .into_iter()
        .map(|s| s.unwrap_or_else(|| KeyState::NotCacheable("its needs form a cycle".into())))
        .collect()
}

//! `parity cache stats|gc|explain`, and the cache set-up `parity run` uses.

use super::Cli;
use crate::cache::{self, CacheSession, CacheSettings, LocalCache};
use crate::error::Error;
use crate::exec::{Observer, Plan, RunOptions};
use crate::exit_code;
use crate::pipeline::Pipeline;
use crate::report::{errln, outln, print_json, print_out};
use indexmap::IndexMap;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub(super) struct CacheArgs {
    #[command(subcommand)]
    command: CacheCommand,
}

#[derive(Debug, clap::Subcommand)]
enum CacheCommand {
    /// Where the local cache is, how much it holds, and its size limit.
    Stats {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Evict the least recently used entries until the cache fits its limit.
    Gc {
        /// The limit to collect down to (default: `[cache] max_size`, else 10GiB), e.g. `500MB`.
        #[arg(long, value_name = "SIZE")]
        max_size: Option<String>,
    },
    /// Say whether a job would be a hit, and what changed since its last hit.
    Explain {
        /// A job, or one matrix instance of it.
        #[arg(value_name = "JOB", required = true)]
        jobs: Vec<String>,
    },
}

pub(super) fn cache(cli: &Cli, args: &CacheArgs) -> Result<i32, Error> {
    match &args.command {
        CacheCommand::Stats { json } => {
            let limit = configured_limit(cli);
            let stats = LocalCache::open()?.stats(limit);
            if *json {
                print_json(&stats);
            } else {
                let ago = |t: Option<u64>| t.map_or("-".to_owned(), age);
                outln!("local cache  {}", stats.dir.display());
                outln!("entries      {} jobs, {} blobs", stats.entries, stats.blobs);
                outln!(
                    "size         {} of {} ({}%)",
                    bytes(stats.bytes),
                    bytes(stats.limit),
                    percent(stats.bytes, stats.limit)
                );
                outln!("least recent {}", ago(stats.oldest_use));
                outln!("most recent  {}", ago(stats.newest_use));
            }
            Ok(exit_code::SUCCESS)
        }
        CacheCommand::Gc { max_size } => {
            let limit = match max_size {
                Some(text) => cache::parse_size(text)?,
                None => configured_limit(cli),
            };
            let report = LocalCache::open()?.gc(limit)?;
            outln!(
                "removed {} file{} ({}); the cache holds {} of {}",
                report.removed_files,
                if report.removed_files == 1 { "" } else { "s" },
                bytes(report.removed_bytes),
                bytes(report.bytes_after),
                bytes(limit)
            );
            Ok(exit_code::SUCCESS)
        }
        CacheCommand::Explain { jobs } => {
            let pipeline = cli.pipeline()?;
            let mut ambient: IndexMap<String, String> = std::env::vars().collect();
            ambient.extend(crate::env_file::load(&pipeline.root, &[])?);
            let options = RunOptions {
                targets: jobs.clone(),
                parallelism: 1,
                ..RunOptions::default()
            };
            let plan = Plan::new(&pipeline, &options, &ambient)?;
            let settings = CacheSettings {
                read_only: true,
                ..CacheSettings::default()
            };
            let session = CacheSession::open(&pipeline, &plan, &options, &ambient, &settings)?;
            for warning in &session.warnings {
                errln!("warning: {warning}");
            }
            print_out(&explanations(jobs, Some(&session), &plan)?);
            Ok(exit_code::SUCCESS)
        }
    }
}

/// The cache for a run: `None` with `--no-cache`, or when the local store
/// cannot be used (one warning: the run goes on without a cache).
pub(super) fn open_for_run(
    pipeline: &Pipeline,
    plan: &Plan,
    options: &RunOptions,
    ambient: &IndexMap<String, String>,
    settings: Option<CacheSettings>,
    observer: &dyn Observer,
) -> Option<Arc<CacheSession>> {
    let settings = settings?;
    match CacheSession::open(pipeline, plan, options, ambient, &settings) {
        Ok(session) => {
            for warning in &session.warnings {
                observer.warn(warning);
            }
            Some(Arc::new(session))
        }
        Err(error) => {
            let report = format!("{:?}", miette::Report::new(error));
            observer.warn(&format!("the cache is off for this run: {}", report.trim()));
            None
        }
    }
}

/// The image each containerised job of `plan` runs in, by `[jobs.NAME]`.
pub(super) fn runner_images(
    plan: &Plan,
    sandbox: Option<&crate::container::ContainerSandbox>,
) -> std::collections::HashMap<String, String> {
    let Some(sandbox) = sandbox else {
        return Default::default();
    };
    plan.jobs
        .iter()
        .enumerate()
        .filter_map(|(i, job)| Some((job.job.clone(), sandbox.spec(i, job, &[])?.image)))
        .collect()
}

/// The text `--explain` prints for each named job.
pub(super) fn explanations(
    names: &[String],
    session: Option<&CacheSession>,
    plan: &Plan,
) -> Result<String, Error> {
    let mut out = String::new();
    for name in names {
        let Some(session) = session else {
            out.push_str(&format!("{name}: runs: the cache is off (--no-cache)\n"));
            continue;
        };
        let found = session
            .explain(name, plan)
            .ok_or_else(|| cache::CacheError::UnknownJob {
                name: name.clone(),
                help: crate::pipeline::suggest(name, plan.jobs.iter().map(|j| &j.job)).or_else(
                    || {
                        Some(
                            "`parity list` shows the jobs; --explain names a job of this run"
                                .into(),
                        )
                    },
                ),
            })?;
        for explanation in found {
            let text = explanation.to_string();
            out.push_str(&text);
            if !text.ends_with('\n') {
                out.push('\n');
            }
        }
    }
    Ok(out)
}

fn configured_limit(cli: &Cli) -> u64 {
    cli.pipeline()
        .ok()
        .and_then(|p| p.cache.max_size)
        .unwrap_or(cache::DEFAULT_MAX_SIZE)
}

fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

fn percent(part: u64, whole: u64) -> u64 {
    part.saturating_mul(100).checked_div(whole).unwrap_or(0)
}

fn age(epoch_secs: u64) -> String {
    let then = std::time::UNIX_EPOCH + std::time::Duration::from_secs(epoch_secs);
    let ago = std::time::SystemTime::now()
        .duration_since(then)
        .unwrap_or_default();
    format!("{} ago", crate::report::short_duration(ago))
}

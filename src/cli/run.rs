//! `parity run`: plan the selected jobs, run them, print the summary.

use super::Cli;
use crate::error::Error;
use crate::exec::{self, Observer, Plan, RunContext, RunOptions};
use crate::report::record::{Invocation, ServiceTiming};
use crate::report::{
    actions, errln, fingerprint, summary_table, Console, Finished, Insight, InsightError, RunDir,
    Style,
};
use crate::{env_file, exit_code, secrets};
use indexmap::IndexMap;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, clap::Args)]
pub(super) struct RunArgs {
    /// Jobs to run (with everything they need); default: the whole pipeline.
    #[arg(value_name = "JOB")]
    jobs: Vec<String>,

    /// Also a job to run; the form generated CI workflows use.
    #[arg(long = "job", value_name = "JOB")]
    job_flags: Vec<String>,

    /// Jobs run at once (default: the number of CPUs).
    #[arg(long = "jobs", short = 'j', value_name = "N", value_parser = at_least_one)]
    parallelism: Option<usize>,

    /// Run every job whose needs passed instead of stopping at the first failure.
    #[arg(long, short = 'k')]
    keep_going: bool,

    /// A `[profiles.NAME]` of the pipeline: jobs to skip, switches to enable.
    #[arg(long, value_name = "NAME")]
    profile: Option<String>,

    /// Turn on a switch, as if its variable were set to 1.
    #[arg(long, value_name = "SWITCH")]
    enable: Vec<String>,

    /// Run publish jobs for real instead of with DRY_RUN=1.
    #[arg(long)]
    publish: bool,

    /// Only matrix instances with this value, e.g. `--matrix python=3.12`.
    #[arg(long, value_name = "KEY=VALUE", value_parser = parse_pair)]
    matrix: Vec<(String, String)>,

    /// Read variables from this dotenv file too (after .env.ci.local).
    #[arg(long, value_name = "PATH")]
    env_file: Vec<PathBuf>,

    /// Run only the named jobs, not what they need: a generated CI workflow
    /// runs each need in a CI job of its own.
    #[arg(long)]
    no_deps: bool,

    /// Run every job, even those whose inputs did not change.
    #[arg(long)]
    no_cache: bool,

    /// Use cached results but record none, locally or remotely.
    #[arg(long, conflicts_with = "no_cache")]
    cache_only_read: bool,

    /// Say why JOB will run or be a hit: what changed since its last hit.
    #[arg(long, value_name = "JOB")]
    explain: Vec<String>,

    /// Stream every line on a terminal too, prefixed by its job.
    #[arg(long, short = 'v')]
    verbose: bool,

    /// Run every job inside the runner image (`[runner]`), the repository
    /// mounted at the same path.
    #[arg(long)]
    pub(super) container: bool,

    /// Where services run: `auto` (natively where the program is installed,
    /// else as a container), `native` or `container`.
    #[arg(long, value_name = "MODE", value_enum, default_value_t)]
    services: crate::container::service::ServicesMode,

    /// Run the selected jobs on the host and in the runner container, and
    /// report the jobs whose verdicts differ.
    #[arg(long, conflicts_with = "container")]
    pub(super) compare: bool,

    /// Build the runner image even when an image of the same hash exists.
    #[arg(long)]
    rebuild: bool,

    /// Also write the JUnit report here (it is always in the run directory).
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
}

/// `--jobs`: a count of jobs that can run at once; zero would run nothing.
fn at_least_one(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("at least 1 job must be able to run".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("not a number of jobs ({e})")),
    }
}

fn parse_pair(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("expected KEY=VALUE, got `{text}`")),
    }
}

pub(super) fn run(cli: &Cli, args: &RunArgs) -> Result<i32, Error> {
    if args.compare {
        return super::compare::compare(cli, args);
    }
    run_in(cli, args, None).map(|(code, _)| code)
}

/// One run; `container` overrides `--container` and the profile (for
/// `--compare`, which also turns the cache off so both runs really run).
pub(super) fn run_in(
    cli: &Cli,
    args: &RunArgs,
    container: Option<bool>,
) -> Result<(i32, Vec<crate::exec::JobResult>), Error> {
    let pipeline = cli.pipeline()?;
    for note in crate::services::recover(&pipeline.root) {
        errln!("warning: {note}");
    }
    let env_values = env_file::load(&pipeline.root, &args.env_file)?;
    let mut ambient: IndexMap<String, String> = std::env::vars().collect();
    ambient.extend(env_values.clone());

    let profile = args.profile.as_ref().and_then(|p| pipeline.profiles.get(p));
    let options = RunOptions {
        targets: args.jobs.iter().chain(&args.job_flags).cloned().collect(),
        parallelism: args.parallelism.unwrap_or_else(default_parallelism),
        keep_going: args.keep_going || profile.is_some_and(|p| p.keep_going),
        profile: args.profile.clone(),
        enable: args.enable.clone(),
        publish: args.publish,
        matrix: args.matrix.clone(),
        no_deps: args.no_deps,
    };
    let mut plan = Plan::new(&pipeline, &options, &ambient)?;
    let secrets = secrets::collect(&pipeline, &ambient, &env_values);
    let dry_run = |job: &str| !options.publish && pipeline.jobs.get(job).is_some_and(|j| j.publish);
    let for_real = plan
        .jobs
        .iter()
        .filter(|j| j.skip.is_none() && !dry_run(&j.job));
    secrets::check_required(&pipeline, for_real.map(|j| j.job.as_str()), &ambient)?;

    let run_dir = RunDir::create(&pipeline.root).map_err(|source| Error::RunDir {
        path: pipeline.root.clone(),
        source,
    })?;
    let names: Vec<String> = plan.jobs.iter().map(|j| j.name.clone()).collect();
    let runnable = plan.jobs.iter().filter(|j| j.skip.is_none()).count();
    let style = Style::detect(args.verbose);
    let console = Arc::new(
        Console::new(
            style,
            names.clone(),
            options.parallelism == 1 || runnable <= 1,
        )
        .masking(secrets.set.clone())
        .dry_runs(plan.jobs.iter().map(|j| j.dry_run).collect()),
    );
    if style == Style::Actions {
        actions::add_masks(&secrets.set);
    }
    for short in &secrets.too_short {
        console.warn(&short.to_string());
    }

    let container_options = crate::container::ContainerOptions {
        container: container
            .unwrap_or(args.container || profile.is_some_and(|p| p.container == Some(true))),
        services: args.services,
        rebuild: args.rebuild,
    };
    let say = |line: &str| console.print(&format!("parity: {line}\n"));
    let labels = crate::container::Labels::new(&run_dir.id, &pipeline.root);
    let containers = crate::container::prepare(
        &pipeline,
        &mut plan,
        &container_options,
        &labels,
        &run_dir.path,
        &ambient,
        &say,
    )?;

    let runner_images = super::cache::runner_images(&plan, containers.sandbox.as_deref());
    let cache_settings =
        (!args.no_cache && container.is_none()).then(|| crate::cache::CacheSettings {
            read_only: args.cache_only_read,
            runner_images: runner_images.clone(),
        });
    let cache = super::cache::open_for_run(
        &pipeline,
        &plan,
        &options,
        &ambient,
        cache_settings,
        console.as_ref(),
    );
    if !args.explain.is_empty() {
        console.print(&super::cache::explanations(
            &args.explain,
            cache.as_deref(),
            &plan,
        )?);
    }

    let mut env: Vec<(String, String)> = env_values.clone().into_iter().collect();
    env.push(("PARITY_RUN_ID".into(), run_dir.id.clone()));
    let mut ctx = RunContext {
        run_id: run_dir.id.clone(),
        logs: run_dir.log_paths(&names),
        env,
        secrets: secrets.set.clone(),
        parallelism: options.parallelism,
        keep_going: options.keep_going,
        sandbox: containers
            .sandbox
            .clone()
            .map(|s| s as Arc<dyn crate::exec::Sandbox>),
        cache: cache.clone(),
        services: None,
    };
    let pool = crate::services::ServicePool::new(
        &pipeline,
        &plan,
        &run_dir.path,
        &run_dir.id,
        ctx.env.clone(),
        ctx.secrets.clone(),
        Some(&containers.native),
    )?;
    ctx.services = Some(Arc::new(pool));
    if style != Style::Interactive {
        console.print(&format!(
            "parity: {runnable} job{} to run, {} at a time; logs in {}\n",
            if runnable == 1 { "" } else { "s" },
            options.parallelism,
            run_dir.display()
        ));
    }
    let insight = Insight::start(
        &pipeline,
        &run_dir,
        fingerprint::Inputs::new(
            &pipeline,
            &ambient,
            &env_values,
            &secrets.set,
            runner_images.into_values().collect(),
        ),
        &secrets.set,
        console.clone(),
        plan.jobs.len(),
    );
    let summary = exec::run(&plan, &ctx, insight.observer()).map_err(Error::Start)?;
    drop(containers);
    if let Some(cache) = &cache {
        cache.finish();
    }
    let invocation = Invocation {
        targets: options.targets.clone(),
        profile: options.profile.clone(),
        enable: options.enable.clone(),
        matrix: options
            .matrix
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect(),
        keep_going: options.keep_going,
        parallelism: options.parallelism,
        publish: options.publish,
    };
    let finished = Finished {
        run_dir: &run_dir,
        plan: &plan,
        summary: &summary,
        logs: &ctx.logs,
        invocation,
        services: service_timings(ctx.services.as_deref()),
        junit: args.junit.as_deref(),
    };
    let summarize = || {
        console.print(&format!(
            "\n{}\n{} in {} · logs: {}\n",
            summary_table(&summary.results),
            verdict(summary.exit_code()),
            crate::report::short_duration(summary.duration),
            run_dir.display()
        ));
        if let Err(e) = actions::write_results(
            &summary.results,
            verdict(summary.exit_code()),
            summary.duration,
            &secrets.set,
        ) {
            console.warn(&format!("cannot write the step summary or outputs: {e}"));
        }
    };
    insight
        .finish(finished, console.as_ref(), summarize)
        .map_err(InsightError::from)?;
    // The run is over and parity exits next: freeing the pipeline and the
    // plan string by string took a quarter of a millisecond for 200 jobs.
    std::mem::forget((pipeline, plan));
    Ok((summary.exit_code(), summary.results))
}

/// When each service started, was ready and stopped, for the run record.
fn service_timings(pool: Option<&crate::services::ServicePool>) -> Vec<ServiceTiming> {
    let lifetimes = pool.map(|pool| pool.lifetimes()).unwrap_or_default();
    lifetimes
        .into_iter()
        .map(|l| ServiceTiming {
            name: l.name,
            kind: l.kind.to_owned(),
            port: l.port,
            started: l.started,
            ready: l.ready,
            stopped: l.stopped,
            log: Some(l.log),
        })
        .collect()
}

fn verdict(code: i32) -> &'static str {
    match code {
        exit_code::SUCCESS => "passed",
        exit_code::INTERRUPTED => "interrupted",
        _ => "failed",
    }
}

fn default_parallelism() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

//! `parity deploy NAME`: check the commit, run the needs, take the lock,
//! run the steps while renewing the lease, record the result.

use super::checkout::Checkout;
use super::entry::{Result as DeployResult, State};
use super::git::{short, Git};
use super::guard;
use super::identity::Actor;
use super::ledger::Ledger;
use super::lock::{self, Renewal, Waiting};
use super::store::{choose_place, Place, Store};
use super::{file_lock, DeployError};
use crate::exec::{self, Outcome, Plan, PlannedJob, RunContext, RunOptions};
use crate::exit_code;
use crate::pipeline::{Deploy, Pipeline};
use crate::report::{errln, print_out, Console, RunDir, Style};
use crate::services::ServicePool;
use crate::{env_file, secrets};
use indexmap::IndexMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the user asked for on the command line.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub environment: String,
    /// A revision to deploy; default HEAD.
    pub commit: Option<String>,
    /// Deploy even when the commit is older than the live one.
    pub rollback: bool,
    /// Wait for a held lock instead of failing at once.
    pub wait: bool,
    /// Overrides the environment's `lease`.
    pub lease: Option<Duration>,
    /// The remote holding the ledger; default `origin` or the only remote.
    pub remote: Option<String>,
    pub env_files: Vec<PathBuf>,
    pub verbose: bool,
}

/// Opens the repository around `pipeline` and the ledger of `environment`.
pub(crate) fn open(
    pipeline: &Pipeline,
    environment: &str,
    remote: Option<&str>,
) -> Result<(Git, Arc<Ledger>), DeployError> {
    let git = Git::new(&pipeline.root);
    let inside = git.output(&["rev-parse", "--git-dir"], &[])?;
    if !inside.success() {
        return Err(DeployError::NotARepository {
            path: pipeline.root.clone(),
        });
    }
    let place = choose_place(&git, remote)?;
    let store = Store::new(&git, place, crate::pipeline::ledger_ref(environment));
    let ledger = Arc::new(Ledger::new(&git, store, environment));
    Ok((git, ledger))
}

pub(crate) fn environment<'p>(
    pipeline: &'p Pipeline,
    name: &str,
) -> Result<&'p Deploy, DeployError> {
    pipeline
        .deploys
        .get(name)
        .ok_or_else(|| DeployError::UnknownEnvironment {
            name: name.to_owned(),
            help: crate::pipeline::suggest(name, pipeline.deploys.keys()).or_else(|| {
                Some(if pipeline.deploys.is_empty() {
                    format!("{} has no `[deploy.NAME]` table", pipeline.path.display())
                } else {
                    let names: Vec<&str> = pipeline.deploys.keys().map(String::as_str).collect();
                    format!("environments: {}", names.join(", "))
                })
            }),
        })
}

/// Deploys and returns the exit code: 0 deployed, 1 the deploy (or a need)
/// failed, 130 interrupted. Refusals are errors.
pub fn deploy(pipeline: &Pipeline, request: &Request) -> Result<i32, DeployError> {
    // Signals become a flag for the whole deploy: while waiting, it ends the
    // wait and the temporary checkout is still removed; once the lock is
    // held, the scheduler stops the steps and the ending is recorded.
    let interrupted = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        signal_hook::flag::register(signal, Arc::clone(&interrupted))
            .map_err(DeployError::io("listen for signals"))?;
    }
    match deploy_with(pipeline, request, &interrupted) {
        // A git command that died of the same Ctrl-C is no error of its own.
        Err(_) if interrupted.load(Ordering::SeqCst) => Err(DeployError::Interrupted),
        other => other,
    }
}

fn deploy_with(
    pipeline: &Pipeline,
    request: &Request,
    interrupted: &Arc<AtomicBool>,
) -> Result<i32, DeployError> {
    let name = request.environment.as_str();
    environment(pipeline, name)?;
    let (git, ledger) = open(pipeline, name, request.remote.as_deref())?;
    let rev = request.commit.as_deref().unwrap_or("HEAD");
    let commit = git
        .commit_sha(rev)?
        .ok_or_else(|| DeployError::UnknownCommit {
            rev: rev.to_owned(),
        })?;
    let actor = Actor::detect(&git);
    let place = ledger.store().place().clone();

    // Refuse early what the lock would refuse later, before needs run.
    let target = environment(pipeline, name)?;
    if let Some(branch) = &target.branch {
        guard::on_branch(&git, &place, name, branch, &commit)?;
    }
    let before = ledger.snapshot()?;
    guard::freshness(
        &git,
        name,
        &commit,
        before.state.live.as_ref(),
        request.rollback,
    )?;

    let run_dir = RunDir::create(&pipeline.root).map_err(DeployError::io(format!(
        "create a run directory under {}",
        pipeline.root.display()
    )))?;
    let id = deploy_id(&run_dir.id);
    // The deploy runs with the pipeline file of the commit it deploys.
    let checkout = Checkout::prepare(
        &git,
        &pipeline.path,
        &commit,
        request.commit.is_some(),
        &format!("{name}-{id}"),
    )?;
    let at_commit;
    let pipeline_here = match checkout.temporary() {
        Some(_) => {
            at_commit = Pipeline::load(&checkout.pipeline)?;
            &at_commit
        }
        None => pipeline,
    };
    let target = environment(pipeline_here, name)?;
    let lease = request.lease.unwrap_or(target.lease);

    let env_values = env_file::load(&pipeline.root, &request.env_files)?;
    let mut ambient: IndexMap<String, String> = std::env::vars().collect();
    ambient.extend(env_values.clone());
    let secrets = secrets::collect(pipeline_here, &ambient, &env_values).set;
    let mut base_env: Vec<(String, String)> = env_values.into_iter().collect();
    base_env.push(("PARITY_RUN_ID".into(), run_dir.id.clone()));

    print_out(&format!(
        "parity: deploying {} to {name} ({}){}\n",
        short(&commit),
        actor.describe(),
        checkout
            .temporary()
            .map(|p| format!(" from a clean checkout in {}", p.display()))
            .unwrap_or_default()
    ));

    if !target.needs.is_empty() {
        let code = run_needs(
            pipeline_here,
            target,
            &ambient,
            &run_dir,
            &base_env,
            &secrets,
            request.verbose,
        )?;
        if code != exit_code::SUCCESS {
            print_out(&format!(
                "parity: not deploying to {name}: a job it needs did not pass\n"
            ));
            return Ok(code);
        }
    }

    let doing = format!("deploying {} to {name}", short(&commit));
    let _local = file_lock::lock(&git, name, request.wait, &doing, interrupted, |holder| {
        print_out(&format!("parity: waiting for {holder}\n"));
    })?;
    let lock_request = lock::Request {
        id,
        commit: commit.clone(),
        rollback: request.rollback,
        actor: actor.clone(),
        lease,
        wait: request.wait,
    };
    let held = lock::acquire(
        Arc::clone(&ledger),
        &git,
        &lock_request,
        interrupted,
        |event| match event {
            Waiting::Held(lock) => print_out(&format!(
                "parity: {name} is locked, {}; waiting (--no-wait fails instead)\n",
                lock.describe()
            )),
            Waiting::Breaking(lock) => print_out(&format!(
                "parity: the lock on {name} outlived its lease ({}); breaking it\n",
                lock.describe()
            )),
        },
    )?;
    let previous = held.previous.clone();
    print_out(&format!(
        "parity: locked {name} (live: {}{}); lease {}\n",
        previous
            .as_ref()
            .map(|l| short(&l.commit))
            .unwrap_or("nothing yet"),
        match held.freshness {
            guard::Freshness::Rollback => "; rolling back on purpose",
            guard::Freshness::Same => "; redeploying the live commit",
            guard::Freshness::First | guard::Freshness::Newer => "",
        },
        humantime::format_duration(lease)
    ));

    let lost = Arc::new(AtomicBool::new(false));
    let renewing = {
        let lost = Arc::clone(&lost);
        let name = name.to_owned();
        held.renew(move |event| match event {
            Renewal::Trouble(why) => errln!("warning: cannot renew the lease on {name}: {why}"),
            Renewal::Lost(holder) => {
                errln!(
                    "error: the lock on {name} was taken over{}; stopping the deploy",
                    holder
                        .map(|l| format!(" ({})", l.describe()))
                        .unwrap_or_default()
                );
                lost.store(true, Ordering::SeqCst);
                // The scheduler turns SIGTERM into stopping the running steps.
                let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM);
            }
        })
    };
    let renewer = match renewing {
        Ok(renewer) => renewer,
        Err(e) => {
            // Without renewal the lock would expire under the steps: give it
            // back, recorded, rather than run unprotected.
            let why = format!("cannot start the lease renewal thread: {e}");
            held.finish(DeployResult::Failed, Some(why), Duration::ZERO)?;
            return Err(DeployError::io("start the lease renewal thread")(e));
        }
    };

    let started = Instant::now();
    let mut job = PlannedJob::standalone(
        &format!("deploy {name}"),
        target.steps.clone(),
        target.shell.clone(),
        step_env(pipeline_here, target, &commit, &held),
        pipeline_here.root.clone(),
    );
    job.timeout = target.timeout;
    job.services = target.services.clone();
    let ran = if interrupted.load(Ordering::SeqCst) {
        Ok(Outcome::Cancelled { interrupted: true })
    } else {
        run_steps(
            pipeline_here,
            job,
            &run_dir,
            base_env,
            secrets,
            request.verbose,
        )
    };
    let duration = started.elapsed();
    renewer.stop();

    let lost = lost.load(Ordering::SeqCst);
    let (result, detail) = match &ran {
        _ if lost => (
            DeployResult::Failed,
            Some("stopped: the lock was taken over".to_owned()),
        ),
        Ok(Outcome::Passed) => (DeployResult::Succeeded, None),
        Ok(other) => (
            DeployResult::Failed,
            Some(other.detail().unwrap_or_else(|| other.label().to_owned())),
        ),
        // Services that would not start, say: the lock is still released
        // and the attempt recorded before the error is reported.
        Err(e) => (
            DeployResult::Failed,
            Some(format!("the steps could not run: {e}")),
        ),
    };
    let state = held.finish(result, detail.clone(), duration)?;
    let outcome = ran?;
    report_end(
        name,
        &commit,
        result,
        detail.as_deref(),
        duration,
        previous.map(|l| l.commit),
        &state,
        &place,
        &ledger,
    );
    Ok(match (result, &outcome) {
        (DeployResult::Succeeded, _) => exit_code::SUCCESS,
        (_, Outcome::Cancelled { interrupted: true }) if !lost => exit_code::INTERRUPTED,
        _ => exit_code::FAILED,
    })
}

/// Unique across machines: the run id (time and salt) and this process.
fn deploy_id(run_id: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{run_id}-{}-{nanos:08x}", std::process::id())
}

/// What deploy steps see besides the pipeline's env: which environment,
/// which commit, what was live, and how it was triggered.
fn step_env(
    pipeline: &Pipeline,
    target: &Deploy,
    commit: &str,
    held: &lock::Held,
) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = pipeline
        .env
        .iter()
        .chain(&target.env)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    env.extend([
        ("PARITY_DEPLOY_ENVIRONMENT".to_owned(), target.name.clone()),
        ("PARITY_DEPLOY_COMMIT".to_owned(), commit.to_owned()),
        (
            "PARITY_DEPLOY_PREVIOUS".to_owned(),
            held.previous
                .as_ref()
                .map(|l| l.commit.clone())
                .unwrap_or_default(),
        ),
        (
            "PARITY_DEPLOY_ROLLBACK".to_owned(),
            if held.lock.rollback { "1" } else { "0" }.to_owned(),
        ),
        (
            "PARITY_DEPLOY_TRIGGER".to_owned(),
            held.lock.actor.trigger.as_str().to_owned(),
        ),
        ("PARITY_DEPLOY_ID".to_owned(), held.lock.id.clone()),
    ]);
    env
}

fn run_needs(
    pipeline: &Pipeline,
    target: &Deploy,
    ambient: &IndexMap<String, String>,
    run_dir: &RunDir,
    base_env: &[(String, String)],
    secrets: &crate::secrets::SecretSet,
    verbose: bool,
) -> Result<i32, DeployError> {
    let options = RunOptions {
        targets: target.needs.clone(),
        parallelism: std::thread::available_parallelism().map_or(1, |n| n.get()),
        ..RunOptions::default()
    };
    let plan = Plan::new(pipeline, &options, ambient)?;
    let names: Vec<String> = plan.jobs.iter().map(|j| j.name.clone()).collect();
    print_out(&format!(
        "parity: first the jobs {} needs: {}\n",
        target.name,
        names.join(", ")
    ));
    let console = Arc::new(Console::new(
        Style::detect(verbose),
        names.clone(),
        names.len() <= 1,
    ));
    let ctx = context(
        pipeline,
        &plan,
        run_dir,
        base_env.to_vec(),
        secrets.clone(),
        options.parallelism,
    )?;
    let summary = exec::run(&plan, &ctx, console)
        .map_err(DeployError::io("run the jobs the deploy needs"))?;
    Ok(summary.exit_code())
}

fn run_steps(
    pipeline: &Pipeline,
    job: PlannedJob,
    run_dir: &RunDir,
    env: Vec<(String, String)>,
    secrets: crate::secrets::SecretSet,
    verbose: bool,
) -> Result<Outcome, DeployError> {
    let names = vec![job.name.clone()];
    let console = Arc::new(Console::new(Style::detect(verbose), names, true));
    let plan = Plan { jobs: vec![job] };
    let ctx = context(pipeline, &plan, run_dir, env, secrets, 1)?;
    let summary =
        exec::run(&plan, &ctx, console).map_err(DeployError::io("run the deploy steps"))?;
    Ok(summary
        .results
        .into_iter()
        .next()
        .map(|r| r.outcome)
        .unwrap_or(Outcome::Cancelled { interrupted: true }))
}

/// The one place deploys build a `RunContext`: needs and steps run on this
/// host with native services, without the cache (a later change may let
/// needs be cache hits). The scheduler stops the services when it ends.
fn context(
    pipeline: &Pipeline,
    plan: &Plan,
    run_dir: &RunDir,
    env: Vec<(String, String)>,
    secrets: crate::secrets::SecretSet,
    parallelism: usize,
) -> Result<RunContext, DeployError> {
    let names: Vec<String> = plan.jobs.iter().map(|j| j.name.clone()).collect();
    let services = ServicePool::new(
        pipeline,
        plan,
        &run_dir.path,
        &run_dir.id,
        env.clone(),
        secrets.clone(),
        None,
    )?;
    Ok(RunContext {
        run_id: run_dir.id.clone(),
        logs: run_dir.log_paths(&names),
        env,
        secrets,
        parallelism,
        keep_going: false,
        services: Some(Arc::new(services)),
        sandbox: None,
        cache: None,
    })
}

#[expect(
    clippy::too_many_arguments,
    reason = "one summary line from everything the deploy learned"
)]
fn report_end(
    name: &str,
    commit: &str,
    result: DeployResult,
    detail: Option<&str>,
    duration: Duration,
    previous: Option<String>,
    state: &State,
    place: &Place,
    ledger: &Ledger,
) {
    let recorded = match place {
        Place::Remote(remote) => {
            format!("recorded in {} on `{remote}`", ledger.store().reference())
        }
        Place::Local => format!(
            "recorded in {} (no remote: this clone only)",
            ledger.store().reference()
        ),
    };
    let live = state
        .live
        .as_ref()
        .map(|l| short(&l.commit).to_owned())
        .unwrap_or_else(|| "nothing".into());
    let took = crate::report::short_duration(duration);
    let text = match result {
        DeployResult::Succeeded => format!(
            "parity: deployed {} to {name} in {took} (was {}); {recorded}\n",
            short(commit),
            previous.as_deref().map(short).unwrap_or("nothing"),
        ),
        DeployResult::Failed => format!(
            "parity: deploy of {} to {name} failed after {took}: {}; {name} stays at {live}; {recorded}\n",
            short(commit),
            detail.unwrap_or("failed"),
        ),
    };
    print_out(&text);
}

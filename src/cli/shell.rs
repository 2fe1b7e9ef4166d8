//! `parity shell`: an interactive shell in the runner image, the repository
//! mounted at the same path and the services' env set, for reproducing a
//! CI failure by hand.

use super::Cli;
use crate::container::compose;
use crate::container::image::{self, BuildOutput, Wanted};
use crate::container::service::{self, Placement, ServiceContainers, ServicesMode};
use crate::container::{caller_user, mount_root, sweep, Engine, JobSpec, Labels};
use crate::error::Error;
use crate::exec::GRACE;
use crate::report::errln;
use crate::{env_file, exit_code};
use indexmap::IndexMap;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
use std::io::IsTerminal;
use std::process::{Command, ExitStatus};
use std::sync::atomic::AtomicBool;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub(super) struct ShellArgs {
    /// Start none of the pipeline's services.
    #[arg(long)]
    no_services: bool,

    /// Build the runner image even when an image of the same hash exists.
    #[arg(long)]
    rebuild: bool,

    /// Run this command instead of an interactive bash.
    #[arg(trailing_var_arg = true, value_name = "COMMAND")]
    command: Vec<String>,
}

pub(super) fn shell(cli: &Cli, args: &ShellArgs) -> Result<i32, Error> {
    let pipeline = cli.pipeline()?;
    let engine = Engine::detect()?;
    sweep(&engine, &pipeline.root);
    let wanted = Wanted::for_instance(&pipeline, &IndexMap::new())?;
    image::ensure(&engine, &wanted, args.rebuild, BuildOutput::Terminal)?;

    let run = format!("shell-{}", std::process::id());
    let labels = Labels::new(&run, &pipeline.root);
    let mut env: IndexMap<String, String> = env_file::load(&pipeline.root, &[])?;
    env.extend(pipeline.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    let mut services = None;
    if !args.no_services {
        let compose = match &pipeline.compose {
            Some(path) => compose::load(&pipeline.root.join(path)).map_err(Error::from)?,
            None => IndexMap::new(),
        };
        let mut names: Vec<String> = pipeline.services.keys().cloned().collect();
        names.extend(
            compose
                .keys()
                .filter(|n| !pipeline.services.contains_key(*n))
                .cloned(),
        );
        let mut started = ServiceContainers::new(&engine, format!("parity-{run}"));
        let dir = tempfile::tempdir().map_err(Error::Start)?;
        let say = |line: &str| errln!("parity: {line}");
        for name in service::start_order(&pipeline, &names) {
            match service::place(&pipeline, &compose, &name, ServicesMode::Container, true) {
                Ok(Placement::Container(definition)) => {
                    started.start(&definition, &labels, dir.path(), &say)?
                }
                Ok(Placement::Native) => {}
                Err(e) => errln!("parity: not starting `{name}`: {e}"),
            }
        }
        for running in &started.running {
            let prefix = crate::services::env_prefix(&running.service.name);
            env.insert(format!("{prefix}_HOST"), running.inside.host.clone());
            env.insert(format!("{prefix}_PORT"), running.inside.port.to_string());
            env.insert(format!("{prefix}_URL"), running.inside.url.clone());
        }
        if !started.running.is_empty() {
            started.create_network(&labels)?;
            services = Some(started);
        }
    }

    let mount = mount_root(&pipeline.root);
    let cwd = std::env::current_dir().map_err(Error::Start)?;
    let workdir = if cwd.starts_with(&mount) {
        cwd
    } else {
        pipeline.root.clone()
    };
    let spec = JobSpec {
        name: format!("parity-{run}"),
        image: wanted.reference().to_owned(),
        mount,
        workdir,
        env: env.into_iter().collect(),
        labels: labels
            .args()
            .chunks(2)
            .filter_map(|p| {
                p.get(1)?
                    .split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            })
            .collect(),
        network: services.as_ref().map(|s| s.network.clone()),
        user: Some(caller_user()),
        socket: None,
        gpus: pipeline.runner.as_ref().and_then(|r| r.gpus.clone()),
    };
    let mut command = engine.command();
    command.args(spec.run_args(false)).arg("--interactive");
    if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
        command.arg("--tty");
    }
    command.args(["--entrypoint", "bash", &spec.image]);
    if !args.command.is_empty() {
        command
            .arg("-c")
            .arg(shlex::try_join(args.command.iter().map(String::as_str)).unwrap_or_default());
    }
    command.envs(spec.client_env());
    let status = foreground(command, &engine, &spec.name);
    drop(services);
    Ok(status?.code().unwrap_or(exit_code::FAILED))
}

/// Runs the engine's client to its end, and parity lives on to stop the
/// services. Ctrl-C belongs to the shell inside (the terminal sends it to
/// the client too, which hands it on), so parity ignores it. SIGTERM and
/// SIGHUP sent to parity alone go to the client, which hands them to the
/// shell; a shell that ignores them (an interactive bash and SIGTERM) has
/// its container removed after the grace period. So is a container whose
/// client ended before it could hand a signal on.
fn foreground(mut command: Command, engine: &Engine, container: &str) -> Result<ExitStatus, Error> {
    let ignored = Arc::new(AtomicBool::new(false));
    let _ = signal_hook::flag::register(SIGINT, ignored);
    let mut signals = Signals::new([SIGTERM, SIGHUP]).map_err(Error::Start)?;
    let handle = signals.handle();
    let mut client = command.spawn().map_err(Error::Start)?;
    let pid = Pid::from_raw(client.id() as i32);
    let (done, ended) = mpsc::channel::<()>();
    let remove = || {
        let _ = engine.output(["rm", "--force", container]);
        // The client's `--rm` may be removing it already, which `rm` does
        // not wait for: parity ends once it is gone.
        let deadline = Instant::now() + GRACE;
        while engine.succeeds(["container", "inspect", container]) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    };
    let (signalled, status) = std::thread::scope(|scope| {
        let forwarding = scope.spawn(move || {
            let mut signalled = false;
            for signal in signals.forever() {
                if let Ok(signal) = Signal::try_from(signal) {
                    let _ = kill(pid, signal);
                }
                if !signalled {
                    signalled = true;
                    if ended.recv_timeout(GRACE) == Err(RecvTimeoutError::Timeout) {
                        remove();
                    }
                }
            }
            signalled
        });
        let status = client.wait();
        let _ = done.send(());
        handle.close();
        (forwarding.join().unwrap_or(true), status)
    });
    if signalled {
        remove();
    }
    status.map_err(Error::Start)
}

//! `parity hook install|uninstall`: the pre-push hook that runs the fast
//! profile before every push.

use super::Cli;
use crate::ci::hook::{self, Installed, Removed};
use crate::error::Error;
use crate::exit_code;
use crate::report::{errln, outln};

#[derive(Debug, clap::Args)]
pub(super) struct HookArgs {
    #[command(subcommand)]
    action: HookAction,
}

#[derive(Debug, clap::Subcommand)]
enum HookAction {
    /// Write a pre-push hook (where core.hooksPath says) that runs
    /// `parity run --profile fast`; PARITY_SKIP_HOOK=1 lets a push through.
    Install {
        /// Replace a pre-push hook parity did not write (it is kept, and
        /// `parity hook uninstall` puts it back).
        #[arg(long)]
        force: bool,
    },
    /// Remove the hook parity installed, and only that.
    Uninstall,
}

pub(super) fn hook(cli: &Cli, args: &HookArgs) -> Result<i32, Error> {
    let pipeline = cli.pipeline()?;
    match args.action {
        HookAction::Install { force } => {
            let (paths, outcome) = hook::install(&pipeline, force)?;
            let path = paths.hook.display();
            match outcome {
                Installed::Created => outln!("installed {path}"),
                Installed::Updated => outln!("updated {path}"),
                Installed::Replaced => outln!(
                    "installed {path}; the hook it replaced is kept as {} and `parity hook uninstall` puts it back",
                    paths.backup.display()
                ),
            }
            if pipeline.profiles.contains_key(hook::PROFILE) {
                outln!("every `git push` now runs `parity run --profile {}` first; PARITY_SKIP_HOOK=1 git push skips it", hook::PROFILE);
            } else {
                outln!("every `git push` now runs `parity run` first; PARITY_SKIP_HOOK=1 git push skips it");
                errln!(
                    "warning: parity.toml has no [profiles.{0}], so the hook runs the whole pipeline; \
                     add one (`[profiles.{0}]` with `skip = [\"slow-job\"]`) and run `parity hook install` again",
                    hook::PROFILE
                );
            }
        }
        HookAction::Uninstall => {
            let (paths, outcome) = hook::uninstall(&pipeline)?;
            let path = paths.hook.display();
            match outcome {
                Removed::Removed => outln!("removed {path}"),
                Removed::Restored => {
                    outln!("removed parity's hook and put back the one it had replaced at {path}")
                }
                Removed::NotInstalled => outln!("no pre-push hook at {path}; nothing to remove"),
                Removed::NotOurs => outln!("{path} was not written by parity; left it alone"),
            }
        }
    }
    Ok(exit_code::SUCCESS)
}

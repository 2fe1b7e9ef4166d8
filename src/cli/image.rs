//! `parity image build` / `parity image ls`: the runner image, tagged by the
//! hash of its Dockerfile, build args and copied files.

use super::Cli;
use crate::container::image::{self, BuildOutput, Readiness, Wanted};
use crate::container::{sweep, Engine};
use crate::error::Error;
use crate::exit_code;
use crate::report::outln;
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub(super) struct ImageArgs {
    #[command(subcommand)]
    command: ImageCommand,
}

#[derive(Debug, clap::Subcommand)]
enum ImageCommand {
    /// Build the runner image (one per matrix value it depends on), unless
    /// an image of the same hash exists.
    Build {
        /// Build even when an image of the same hash exists.
        #[arg(long)]
        rebuild: bool,
    },
    /// The runner images built for this pipeline; `*` marks the current ones.
    Ls,
}

pub(super) fn image(cli: &Cli, args: &ImageArgs) -> Result<i32, Error> {
    let pipeline = cli.pipeline()?;
    let wanted = Wanted::all(&pipeline)?;
    let engine = Engine::detect()?;
    match args.command {
        ImageCommand::Build { rebuild } => {
            sweep(&engine, &pipeline.root);
            for image in &wanted {
                let started = Instant::now();
                let done = image::ensure(&engine, image, rebuild, BuildOutput::Terminal)?;
                let tag = image.reference();
                match done {
                    Readiness::Named => {
                        outln!("{tag}: a named image; the engine pulls it when missing")
                    }
                    Readiness::Present => outln!("{tag} is up to date"),
                    Readiness::Built => {
                        outln!("built {tag} in {:.1}s", started.elapsed().as_secs_f64())
                    }
                }
            }
        }
        ImageCommand::Ls => {
            let current: Vec<&str> = wanted.iter().map(Wanted::reference).collect();
            let listed = image::list(&engine, &pipeline.root)?;
            if listed.is_empty() {
                outln!(
                    "no runner image built yet for {}; `parity image build` builds it",
                    pipeline.root.display()
                );
                return Ok(exit_code::SUCCESS);
            }
            let width = listed.iter().map(|l| l.tag.len()).max().unwrap_or(3);
            outln!("  {:width$}  {:12}  {:16}  size", "tag", "id", "created");
            for row in listed {
                let mark = if current.contains(&row.tag.as_str()) {
                    '*'
                } else {
                    ' '
                };
                outln!(
                    "{mark} {:width$}  {:12}  {:16}  {}",
                    row.tag,
                    row.id,
                    row.created,
                    row.size
                );
            }
        }
    }
    Ok(exit_code::SUCCESS)
}

//! `parity gen github|gitea|gitlab`: write the CI file that runs each
//! pipeline job with `parity run --job`.

use super::Cli;
use crate::ci::{self, Flavor};
use crate::error::Error;
use crate::exit_code;
use crate::report::{outln, print_out};
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub(super) struct GenArgs {
    /// The CI system to write for.
    #[arg(value_enum)]
    target: Target,

    /// Where to write it (default: .github/workflows/parity.yml,
    /// .gitea/workflows/parity.yml or .gitlab-ci.yml at the repository root).
    #[arg(long, short = 'o', value_name = "PATH")]
    output: Option<PathBuf>,

    /// Print the file instead of writing it.
    #[arg(long)]
    stdout: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Target {
    /// GitHub Actions
    Github,
    /// Gitea Actions (GitHub's syntax, under .gitea/workflows)
    Gitea,
    /// GitLab CI/CD
    Gitlab,
    /// .devcontainer/devcontainer.json for the runner image
    Devcontainer,
}

pub(super) fn gen(cli: &Cli, args: &GenArgs) -> Result<i32, Error> {
    let pipeline = cli.pipeline()?;
    let flavor = match args.target {
        Target::Devcontainer => return super::devcontainer::devcontainer(&pipeline, args.stdout),
        Target::Github => Flavor::Github,
        Target::Gitea => Flavor::Gitea,
        Target::Gitlab => Flavor::Gitlab,
    };
    let output = match &args.output {
        Some(path) => Some(std::env::current_dir().map_err(Error::Start)?.join(path)),
        None => None,
    };
    let generated = ci::generate(&pipeline, flavor, output.as_deref())?;
    if args.stdout {
        print_out(&generated.text);
        return Ok(exit_code::SUCCESS);
    }
    let current = std::fs::read_to_string(&generated.path).ok();
    if current.as_deref() == Some(generated.text.as_str()) {
        outln!("{} is up to date", generated.display);
        return Ok(exit_code::SUCCESS);
    }
    generated.write()?;
    outln!(
        "{} {}: commit it; `parity check` fails when it and parity.toml drift apart",
        if current.is_some() {
            "updated"
        } else {
            "wrote"
        },
        generated.display
    );
    Ok(exit_code::SUCCESS)
}

//! `parity gen devcontainer`: `.devcontainer/devcontainer.json` for the
//! runner image, so an editor opens the same image `--container` runs.

use crate::container::devcontainer;
use crate::error::Error;
use crate::exit_code;
use crate::pipeline::Pipeline;
use crate::report::{outln, print_out};

pub(super) fn devcontainer(pipeline: &Pipeline, stdout: bool) -> Result<i32, Error> {
    let text = devcontainer::render(pipeline)?;
    if stdout {
        print_out(&text);
        return Ok(exit_code::SUCCESS);
    }
    let path = pipeline.root.join(devcontainer::PATH);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
        outln!("{} is up to date", devcontainer::PATH);
        return Ok(exit_code::SUCCESS);
    }
    devcontainer::write(pipeline)?;
    outln!(
        "wrote {}: editors open the runner image with it",
        devcontainer::PATH
    );
    Ok(exit_code::SUCCESS)
}

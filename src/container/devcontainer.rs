//! `.devcontainer/devcontainer.json` for the runner image, so an editor's
//! dev container is the same image `parity run --container` uses.

use super::image::Wanted;
use super::ContainerError;
use crate::pipeline::{Pipeline, RunnerSource};
use serde_json::{json, Map, Value};
use std::path::{Component, Path, PathBuf};

/// Where the file goes, relative to the pipeline root.
pub const PATH: &str = ".devcontainer/devcontainer.json";

/// The devcontainer.json text for the pipeline's runner.
pub fn render(pipeline: &Pipeline) -> Result<String, ContainerError> {
    let runner = pipeline.runner.as_ref().ok_or(ContainerError::NoRunner)?;
    let folder = pipeline.root.join(".devcontainer");
    let name = pipeline
        .root
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "project".into());
    let mut doc = Map::new();
    doc.insert("name".into(), json!(format!("{name} (parity runner)")));
    // Matrix placeholders take the first instance's values: an editor
    // opens one container.
    let first = Wanted::all(pipeline)?.into_iter().next();
    match (&runner.source, first) {
        (RunnerSource::Image(_), Some(Wanted::Named(image))) => {
            doc.insert("image".into(), json!(image));
        }
        (RunnerSource::Dockerfile { path, context }, Some(Wanted::Built(build))) => {
            let mut b = Map::new();
            b.insert(
                "dockerfile".into(),
                json!(relative(&folder, &pipeline.root.join(path))),
            );
            b.insert(
                "context".into(),
                json!(relative(&folder, &pipeline.root.join(context))),
            );
            if !build.args.is_empty() {
                let args: Map<String, Value> = build
                    .args
                    .iter()
                    .map(|(k, v)| (k.clone(), json!(v)))
                    .collect();
                b.insert("args".into(), Value::Object(args));
            }
            doc.insert("build".into(), Value::Object(b));
        }
        _ => return Err(ContainerError::NoRunner),
    }
    // The checkout at the same path inside as outside, as in `--container`.
    doc.insert(
        "workspaceMount".into(),
        json!("source=${localWorkspaceFolder},target=${localWorkspaceFolder},type=bind"),
    );
    doc.insert("workspaceFolder".into(), json!("${localWorkspaceFolder}"));
    let env: Map<String, Value> = pipeline
        .env
        .iter()
        .filter(|(_, v)| !v.contains("{{"))
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    if !env.is_empty() {
        doc.insert("containerEnv".into(), Value::Object(env));
    }
    let mut run_args = Vec::new();
    if let Some(gpus) = &runner.gpus {
        run_args.extend([json!("--gpus"), json!(gpus)]);
    }
    if !run_args.is_empty() {
        doc.insert("runArgs".into(), Value::Array(run_args));
    }
    if runner.mount_docker_socket {
        doc.insert(
            "mounts".into(),
            json!(["source=/var/run/docker.sock,target=/var/run/docker.sock,type=bind"]),
        );
    }
    // Files the editor's terminal writes belong to the host user, as with
    // `--container`'s `--user`.
    doc.insert("updateRemoteUserUID".into(), json!(true));
    let mut text = serde_json::to_string_pretty(&Value::Object(doc)).unwrap_or_default();
    text.push('\n');
    Ok(text)
}

/// Writes the file; returns its path.
pub fn write(pipeline: &Pipeline) -> Result<PathBuf, ContainerError> {
    let text = render(pipeline)?;
    let path = pipeline.root.join(PATH);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|source| ContainerError::Write {
            path: dir.to_owned(),
            source,
        })?;
    }
    std::fs::write(&path, text).map_err(|source| ContainerError::Write {
        path: path.clone(),
        source,
    })?;
    Ok(path)
}

/// `to` relative to the directory `from`, both absolute.
fn relative(from: &Path, to: &Path) -> String {
    let from: Vec<Component> = from.components().collect();
    let to: Vec<Component> = to
        .components()
        .filter(|c| *c != Component::CurDir)
        .collect();
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".into(); from.len() - common];
    parts.extend(
        to[common..]
            .iter()
            .map(|c| c.as_os_str().to_string_lossy().into_owned()),
    );
    if parts.is_empty() {
        ".".into()
    } else {
        parts.join("/")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative(Path::new("/r/.devcontainer"), Path::new("/r/ci/Dockerfile")),
            "../ci/Dockerfile"
        );
        assert_eq!(
            relative(Path::new("/r/.devcontainer"), Path::new("/r/.")),
            ".."
        );
    }
}

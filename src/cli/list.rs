//! `parity list`: the jobs, what they need, switches and matrix instances.

use super::Cli;
use crate::error::Error;
use crate::exit_code;
use crate::pipeline::Job;
use crate::report::{print_json, print_out};

#[derive(Debug, clap::Args)]
pub(super) struct ListArgs {
    /// Print JSON: one object per job instance.
    #[arg(long)]
    json: bool,
}

pub(super) fn list(cli: &Cli, args: &ListArgs) -> Result<i32, Error> {
    let pipeline = cli.pipeline()?;
    let graph = pipeline.instances();
    if args.json {
        let rows: Vec<serde_json::Value> = graph
            .instances
            .iter()
            .map(|instance| {
                let job = &pipeline.jobs[&instance.job];
                serde_json::json!({
                    "name": instance.name,
                    "job": instance.job,
                    "matrix": instance.matrix,
                    "needs": job.needs,
                    "switch": job.switch,
                    "services": job.services,
                    "publish": job.publish,
                    "timeout_secs": job.timeout.map(|t| t.as_secs()),
                    "steps": job.steps,
                })
            })
            .collect();
        print_json(&rows);
        return Ok(exit_code::SUCCESS);
    }
    if pipeline.jobs.is_empty() {
        print_out(&format!(
            "{} has no jobs: add a [jobs.NAME] table with run = \"…\"\n",
            pipeline.path.display()
        ));
        return Ok(exit_code::SUCCESS);
    }
    let width = pipeline
        .jobs
        .keys()
        .map(|n| n.chars().count())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for job in pipeline.jobs.values() {
        let notes = notes(job).join(" · ");
        out.push_str(format!("{:<width$}  {notes}", job.name).trim_end());
        out.push('\n');
        if job.matrix.is_some() {
            for instance in graph.instances.iter().filter(|i| i.job == job.name) {
                out.push_str(&format!("  {}\n", instance.name));
            }
        }
    }
    print_out(&out);
    Ok(exit_code::SUCCESS)
}

fn notes(job: &Job) -> Vec<String> {
    let mut notes = Vec::new();
    if !job.needs.is_empty() {
        notes.push(format!("needs {}", job.needs.join(", ")));
    }
    if let Some(switch) = &job.switch {
        notes.push(format!("switch {switch}"));
    }
    if let Some(matrix) = &job.matrix {
        let count = matrix.expand().len();
        let plural = if count == 1 { "" } else { "s" };
        notes.push(format!("matrix: {count} instance{plural}"));
    }
    if !job.services.is_empty() {
        notes.push(format!("services {}", job.services.join(", ")));
    }
    if let Some(timeout) = job.timeout {
        notes.push(format!("timeout {}", humantime::format_duration(timeout)));
    }
    if job.publish {
        notes.push("publish (DRY_RUN=1 unless --publish)".into());
    }
    notes
}

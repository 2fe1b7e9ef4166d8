//! The run as a picture: one self-contained HTML file (no network, no
//! external scripts or fonts) with a Gantt chart of jobs and services, the
//! critical path outlined, each bar opening that job's log; the summary
//! table; and the environment fingerprint.

use super::duration::short;
use super::record::{JobRecord, RunRecord};
use html_escape::{encode_double_quoted_attribute as attr, encode_text as text};
use std::collections::HashSet;
use std::fmt::Write;
use std::path::Path;
use std::time::Duration;

/// The file name inside a run directory.
pub const FILE_NAME: &str = "report.html";

/// How much of each log is embedded: the end of it. The whole log stays in
/// the run directory.
const LOG_TAIL: usize = 256 * 1024;

const STYLE: &str = include_str!("html.css");

/// Opens the log a bar links to, for browsers that do not open a `<details>`
/// on fragment navigation by themselves.
const SCRIPT: &str = r#"
function openTarget() {
  var id = decodeURIComponent(location.hash.slice(1));
  var el = id && document.getElementById(id);
  if (el && el.tagName === "DETAILS") { el.open = true; el.scrollIntoView(); }
}
window.addEventListener("hashchange", openTarget);
openTarget();
"#;

/// Renders the page. `run_dir` is where the job logs are read from.
pub fn render(record: &RunRecord, run_dir: &Path) -> String {
    let critical = critical_path(record);
    let total = total_ms(record);
    let mut out = String::with_capacity(64 * 1024);
    let _ = writeln!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>parity run {id} — {result}</title><style>{STYLE}</style></head><body>",
        id = text(&record.id),
        result = text(&record.result),
    );
    header(&mut out, record);
    out.push_str("<section id=\"timeline\"><h2>Timeline</h2><div class=\"gantt\">\n");
    axis(&mut out, total);
    for (index, job) in record.jobs.iter().enumerate() {
        job_row(
            &mut out,
            record,
            index,
            job,
            total,
            critical.contains(&index),
        );
    }
    if !record.services.is_empty() {
        out.push_str("<div class=\"section-label\">services</div>\n");
        for service in &record.services {
            let end = service.end_ms.unwrap_or(total);
            let title = match service.ready_ms {
                Some(ready) => format!(
                    "{}: ready after {}",
                    service.name,
                    short(Duration::from_millis(
                        ready.saturating_sub(service.start_ms)
                    ))
                ),
                None => format!("{}: {}", service.name, service.result),
            };
            let _ = write!(
                out,
                "<div class=\"row service\"><span class=\"label\">{name}</span><div class=\"track\">\
                 <span class=\"bar service {result}\" data-service=\"{name_attr}\" title=\"{title}\" style=\"{pos}\">",
                name = text(&service.name),
                name_attr = attr(&service.name),
                result = attr(&service.result),
                title = attr(&title),
                pos = position(service.start_ms, end, total),
            );
            if let Some(ready) = service.ready_ms {
                let span = end.saturating_sub(service.start_ms).max(1);
                let at = ready.saturating_sub(service.start_ms) as f64 * 100.0 / span as f64;
                let _ = write!(out, "<span class=\"ready\" style=\"left:{at:.3}%\"></span>");
            }
            out.push_str("</span></div></div>\n");
        }
    }
    out.push_str(
        "<p class=\"legend\"><i style=\"background:var(--passed)\"></i>passed\
         <i style=\"background:var(--failed)\"></i>failed\
         <i style=\"background:var(--timed_out)\"></i>timed out\
         <i style=\"background:var(--cancelled)\"></i>cancelled\
         <i style=\"background:var(--cached)\"></i>cache hit\
         <i style=\"background:var(--skipped)\"></i>skipped\
         <i style=\"box-shadow:0 0 0 2px var(--critical)\"></i>critical path",
    );
    if !record.services.is_empty() {
        out.push_str("<i style=\"background:var(--service)\"></i>service, white tick when ready");
    }
    out.push_str("</p>\n");
    out.push_str("</div></section>\n");
    summary(&mut out, record);
    logs(&mut out, record, run_dir);
    fingerprint(&mut out, record);
    let _ = writeln!(out, "<script>{SCRIPT}</script>\n</body></html>");
    out
}

fn header(out: &mut String, record: &RunRecord) {
    let git = &record.fingerprint.git;
    let commit = match (&git.commit, git.dirty) {
        (Some(commit), Some(true)) => {
            format!(" · commit {} (dirty)", commit.get(..12).unwrap_or(commit))
        }
        (Some(commit), _) => format!(" · commit {}", commit.get(..12).unwrap_or(commit)),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "<header><h1>parity run <code>{id}</code> <span class=\"verdict {result}\">{result_text}</span></h1>\
         <div class=\"meta\">started {started} · took {took} · {jobs} job{s}{commit} · parity {version}</div></header>",
        id = text(&record.id),
        result = attr(&record.result),
        result_text = text(&record.result),
        started = text(&record.started_at),
        took = short(Duration::from_millis(record.duration_ms)),
        jobs = record.jobs.len(),
        s = if record.jobs.len() == 1 { "" } else { "s" },
        commit = text(&commit),
        version = text(&record.parity_version),
    );
}

fn axis(out: &mut String, total: u64) {
    out.push_str("<div class=\"axis\">");
    for quarter in 0..=4u64 {
        let at = total * quarter / 4;
        let _ = write!(
            out,
            "<span style=\"left:{}%\">{}</span>",
            quarter * 25,
            short(Duration::from_millis(at))
        );
    }
    out.push_str("</div>\n");
}

fn job_row(
    out: &mut String,
    record: &RunRecord,
    index: usize,
    job: &JobRecord,
    total: u64,
    critical: bool,
) {
    let (start, end) = match (job.start_ms, job.end_ms) {
        (Some(start), Some(end)) => (start, end),
        (Some(start), None) => (start, total),
        // Never ran: a marker where it would have started.
        _ => {
            let at = job
                .needs
                .iter()
                .filter_map(|need| record.jobs.iter().find(|j| &j.name == need))
                .filter_map(|j| j.end_ms)
                .max()
                .unwrap_or(0);
            (at, at)
        }
    };
    let mut classes = vec!["bar", job.result.as_str()];
    if job.cache_hit && job.result != "cached" {
        classes.push("cached");
    }
    if critical {
        classes.push("critical");
    }
    let mut title = format!("{}: {}", job.name, job.result.replace('_', " "));
    if job.start_ms.is_some() {
        title.push_str(&format!(
            " in {}",
            short(Duration::from_millis(job.duration_ms))
        ));
    }
    if let Some(detail) = &job.detail {
        title.push_str(&format!(" — {detail}"));
    }
    if critical {
        title.push_str(" (critical path)");
    }
    let label = if job.start_ms.is_some() {
        short(Duration::from_millis(job.duration_ms))
    } else {
        String::new()
    };
    let _ = write!(
        out,
        "<div class=\"row\"><span class=\"label\" title=\"{name_attr}\">{name}</span><div class=\"track\">\
         <a class=\"{classes}\" href=\"#log-{index}\" data-job=\"{name_attr}\" title=\"{title}\" style=\"{pos}\">",
        name = text(&job.name),
        name_attr = attr(&job.name),
        classes = classes.join(" "),
        title = attr(&title),
        pos = position(start, end, total),
    );
    let span = end.saturating_sub(start).max(1);
    for step in job.steps.iter().skip(1) {
        if let Some(step_start) = step.start_ms {
            let at = step_start.saturating_sub(start) as f64 * 100.0 / span as f64;
            let _ = write!(
                out,
                "<span class=\"step\" style=\"left:{at:.3}%\" title=\"{}\"></span>",
                attr(&format!("step {}: {}", step.index + 1, step.command))
            );
        }
    }
    let _ = writeln!(out, "{}</a></div></div>", text(&label));
}

fn position(start: u64, end: u64, total: u64) -> String {
    let total = total.max(1) as f64;
    let left = start as f64 * 100.0 / total;
    let width = end.saturating_sub(start) as f64 * 100.0 / total;
    format!("left:{left:.3}%;width:{width:.3}%")
}

fn summary(out: &mut String, record: &RunRecord) {
    out.push_str("<section id=\"summary\"><h2>Summary</h2><table><tr><th>job</th><th>result</th><th>time</th><th>detail</th></tr>\n");
    for (index, job) in record.jobs.iter().enumerate() {
        let time = if job.start_ms.is_some() {
            short(Duration::from_millis(job.duration_ms))
        } else {
            "-".to_owned()
        };
        let _ = writeln!(
            out,
            "<tr><td><a href=\"#log-{index}\">{name}</a></td><td class=\"result {result}\">{result_text}{cache}</td>\
             <td>{time}</td><td>{detail}</td></tr>",
            name = text(&job.name),
            result = attr(&job.result),
            result_text = text(&job.result.replace('_', " ")),
            cache = if job.cache_hit && job.result != "cached" { " (cache hit)" } else { "" },
            detail = text(job.detail.as_deref().unwrap_or("")),
        );
    }
    out.push_str("</table></section>\n");
}

fn logs(out: &mut String, record: &RunRecord, run_dir: &Path) {
    out.push_str("<section id=\"logs\"><h2>Logs</h2>\n");
    for (index, job) in record.jobs.iter().enumerate() {
        let body = match record.log_path(run_dir, job) {
            Some(path) => match std::fs::read(&path) {
                Ok(bytes) if bytes.len() > LOG_TAIL => {
                    let tail =
                        String::from_utf8_lossy(&bytes[bytes.len() - LOG_TAIL..]).into_owned();
                    format!(
                        "[… the first {} bytes are in {}]\n{tail}",
                        bytes.len() - LOG_TAIL,
                        path.display()
                    )
                }
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => format!("(cannot read {}: {e})", path.display()),
            },
            None => format!(
                "(no log: {})",
                job.detail.as_deref().unwrap_or("the job did not run")
            ),
        };
        let _ = writeln!(
            out,
            "<details id=\"log-{index}\"><summary>{name} — {result}</summary><pre>{body}</pre></details>",
            name = text(&job.name),
            result = text(&job.result.replace('_', " ")),
            body = text(&body),
        );
    }
    out.push_str("</section>\n");
}

fn fingerprint(out: &mut String, record: &RunRecord) {
    let fp = &record.fingerprint;
    out.push_str("<section id=\"fingerprint\"><h2>Environment</h2><table>\n");
    let mut row = |key: &str, value: String| {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>{}</td></tr>",
            text(key),
            text(&value)
        );
    };
    row(
        "os",
        fp.os.name.clone().unwrap_or_else(|| fp.os.family.clone()),
    );
    row("kernel", fp.os.kernel.clone().unwrap_or_default());
    row("arch", fp.os.arch.clone());
    row("cpus", fp.machine.cpus.to_string());
    if let Some(bytes) = fp.machine.memory_bytes {
        row(
            "memory",
            format!("{:.1} GiB", bytes as f64 / (1u64 << 30) as f64),
        );
    }
    row(
        "container",
        match (&fp.container.image, fp.container.inside) {
            (Some(image), _) => image.clone(),
            (None, true) => "inside a container (image unknown)".into(),
            (None, false) => "none".into(),
        },
    );
    row(
        "ci",
        fp.ci.clone().unwrap_or_else(|| "no (a local run)".into()),
    );
    let git = match (&fp.git.commit, fp.git.dirty) {
        (Some(commit), dirty) => format!(
            "{commit}{}{}",
            fp.git
                .branch
                .as_ref()
                .map(|b| format!(" on {b}"))
                .unwrap_or_default(),
            if dirty == Some(true) {
                ", with uncommitted changes"
            } else {
                ""
            }
        ),
        (None, _) => "not a git repository".into(),
    };
    row("git", git);
    row("parity", fp.parity_version.clone());
    out.push_str("</table>\n<h3>Tools</h3><table><tr><th>tool</th><th>version</th><th>pinned</th><th>output</th></tr>\n");
    for (name, tool) in &fp.tools {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td></tr>",
            text(name),
            text(tool.version.as_deref().unwrap_or("-")),
            text(tool.pinned.as_deref().unwrap_or("")),
            text(
                tool.output
                    .as_deref()
                    .or(tool.error.as_deref())
                    .unwrap_or("")
            ),
        );
    }
    out.push_str("</table>\n<h3>Variables parity.toml names</h3><table>\n");
    for (name, value) in &fp.env.values {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td><code>{}</code></td></tr>",
            text(name),
            text(value.as_deref().unwrap_or("(unset)"))
        );
    }
    for name in &fp.env.withheld {
        let _ = writeln!(
            out,
            "<tr><th>{}</th><td>(withheld: secret)</td></tr>",
            text(name)
        );
    }
    let _ = write!(
        out,
        "</table>\n<details><summary>{} variables set (names only)</summary><div class=\"names\">",
        fp.env.names.len()
    );
    for name in &fp.env.names {
        let _ = write!(out, "{}<br>", text(name));
    }
    out.push_str("</div></details></section>\n");
}

/// The length of the chart: the run, or the last bar if something ended later.
fn total_ms(record: &RunRecord) -> u64 {
    let ends = record.jobs.iter().filter_map(|j| j.end_ms);
    let service_ends = record
        .services
        .iter()
        .filter_map(|s| s.end_ms.or(s.ready_ms));
    ends.chain(service_ends)
        .fold(record.duration_ms, u64::max)
        .max(1)
}

/// The chain of jobs that set the run's length: from the job that ended
/// last, back through whichever of its needs ended last, to a job that
/// needed nothing that ran.
pub fn critical_path(record: &RunRecord) -> HashSet<usize> {
    let mut path = HashSet::new();
    let ran = |i: &usize| record.jobs[*i].end_ms.is_some() && record.jobs[*i].start_ms.is_some();
    let mut current = (0..record.jobs.len())
        .filter(ran)
        .max_by_key(|&i| record.jobs[i].end_ms);
    while let Some(index) = current {
        if !path.insert(index) {
            break;
        }
        let job = &record.jobs[index];
        current = job
            .needs
            .iter()
            .filter_map(|need| record.jobs.iter().position(|j| &j.name == need))
            .filter(ran)
            .max_by_key(|&i| record.jobs[i].end_ms);
    }
    path
}

/// Writes the page to `path`.
pub fn write(record: &RunRecord, run_dir: &Path, path: &Path) -> std::io::Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, render(record, run_dir))
}

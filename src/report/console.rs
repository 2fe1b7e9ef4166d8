//! Showing a run to a person: a live view on a terminal, prefixed lines in
//! plain logs, folded groups under GitHub/Gitea Actions.

use super::duration::short;
use crate::exec::{JobLog, Observer, Outcome};
use crate::secrets::SecretSet;
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Duration;

/// How output is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// A terminal: one live line per running job; failing output in full.
    Interactive,
    /// A log file or CI without folding: every line, prefixed `[job]`.
    Plain,
    /// GitHub or Gitea Actions: each job folded into a `::group::`.
    Actions,
    /// GitLab CI: each job folded into a collapsible section.
    GitLab,
}

impl Style {
    /// Picks the style from where stdout goes and which CI this is.
    pub fn detect(verbose: bool) -> Style {
        let actions = ["GITHUB_ACTIONS", "GITEA_ACTIONS"]
            .iter()
            .any(|var| std::env::var(var).is_ok_and(|v| v == "true"));
        if actions {
            Style::Actions
        } else if std::env::var("GITLAB_CI").is_ok_and(|v| v == "true") {
            Style::GitLab
        } else if std::io::stdout().is_terminal() && !verbose && !is_ci::cached() {
            Style::Interactive
        } else {
            Style::Plain
        }
    }
}

pub struct Console {
    style: Style,
    names: Vec<String>,
    /// `[name] `, ready to put in front of each output line.
    prefixes: Vec<Vec<u8>>,
    /// Under Actions: one job runs at a time, so its group can stream live;
    /// otherwise each group is written from the log when the job ends.
    stream_groups: bool,
    live: Option<Live>,
    /// Masks what the console writes itself: status lines, the summary,
    /// warnings. Job output arrives masked already.
    secrets: SecretSet,
    /// The publish jobs that run with `DRY_RUN=1`, by index.
    dry_runs: Vec<bool>,
}

struct Live {
    multi: MultiProgress,
    bars: Mutex<HashMap<usize, ProgressBar>>,
}

impl Console {
    pub fn new(style: Style, names: Vec<String>, one_at_a_time: bool) -> Console {
        let prefixes = names
            .iter()
            .map(|n| format!("[{n}] ").into_bytes())
            .collect();
        let live = (style == Style::Interactive).then(|| Live {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            bars: Mutex::new(HashMap::new()),
        });
        Console {
            style,
            names,
            prefixes,
            stream_groups: one_at_a_time,
            live,
            secrets: SecretSet::default(),
            dry_runs: Vec::new(),
        }
    }

    pub fn style(&self) -> Style {
        self.style
    }

    /// Prints a block of text without tearing the live view.
    /// Hides these values in everything the console writes itself.
    pub fn masking(mut self, secrets: SecretSet) -> Console {
        self.secrets = secrets;
        self
    }

    /// Which jobs are publish jobs running dry: their status line says so.
    pub fn dry_runs(mut self, dry_runs: Vec<bool>) -> Console {
        self.dry_runs = dry_runs;
        self
    }

    pub fn print(&self, text: &str) {
        let text = &self.secrets.mask_str(text);
        match &self.live {
            Some(live) => live.multi.suspend(|| print_out(text)),
            None => print_out(text),
        }
    }

    /// Opens a job's fold: `::group::` under Actions, a GitLab section
    /// (collapsed when asked) otherwise.
    fn group_open(&self, job: usize, collapsed: bool) -> String {
        match self.style {
            Style::GitLab => format!(
                "\x1b[0Ksection_start:{}:parity_job_{job}{}\r\x1b[0K{}\n",
                unix_now(),
                if collapsed { "[collapsed=true]" } else { "" },
                self.names[job]
            ),
            _ => format!("::group::{}\n", self.names[job]),
        }
    }

    fn group_close(&self, job: usize) -> String {
        match self.style {
            Style::GitLab => format!(
                "\x1b[0Ksection_end:{}:parity_job_{job}\r\x1b[0K\n",
                unix_now()
            ),
            _ => "::endgroup::\n".to_owned(),
        }
    }

    fn status_line(&self, job: usize, outcome: &Outcome, duration: Duration) -> String {
        let name = &self.names[job];
        let (mark, color) = match outcome {
            Outcome::Passed => ("✔", console::Color::Green),
            Outcome::Failed { .. } | Outcome::TimedOut(_) | Outcome::OutputMissing { .. } => {
                ("✘", console::Color::Red)
            }
            Outcome::Cancelled { .. } => ("■", console::Color::Yellow),
            Outcome::Skipped(_) => ("–", console::Color::Cyan),
            Outcome::Cached { .. } => ("✔", console::Color::Green),
        };
        let name = self.secrets.mask_str(name);
        let mut line = format!("{mark} {name} {}", outcome.label());
        if !matches!(outcome, Outcome::Skipped(_)) {
            line.push_str(&format!(" in {}", short(duration)));
        }
        let dry_run = self.dry_runs.get(job).copied().unwrap_or(false);
        if let Some(detail) = outcome.detail_of(dry_run) {
            line.push_str(&format!(": {}", self.secrets.mask_str(&detail)));
        }
        if self.style == Style::Interactive {
            console::style(line).fg(color).to_string()
        } else {
            line
        }
    }
}

impl Observer for Console {
    fn job_started(&self, job: usize) {
        match (&self.live, self.style) {
            (Some(live), _) => {
                let bar = live.multi.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template(
                        "{spinner:.cyan} {prefix:.bold} {elapsed:>4} {wide_msg:.dim}",
                    )
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.set_prefix(self.names[job].clone());
                bar.enable_steady_tick(Duration::from_millis(100));
                if let Ok(mut bars) = live.bars.lock() {
                    bars.insert(job, bar);
                }
            }
            (None, Style::Actions | Style::GitLab) if self.stream_groups => {
                print_out(&self.group_open(job, false));
            }
            (None, _) => print_out(&format!("▶ {}\n", self.names[job])),
        }
    }

    fn note(&self, job: usize, line: &str) {
        match self.style {
            Style::Interactive => {}
            Style::Actions | Style::GitLab if !self.stream_groups => {}
            _ => self.output(job, format!("{line}\n").as_bytes()),
        }
    }

    fn output(&self, job: usize, lines: &[u8]) {
        match self.style {
            Style::Interactive => {
                let last = lines
                    .split(|&b| b == b'\n')
                    .rev()
                    .find(|l| !l.iter().all(u8::is_ascii_whitespace));
                if let (Some(live), Some(last)) = (&self.live, last) {
                    if let Some(bar) = live.bars.lock().ok().and_then(|b| b.get(&job).cloned()) {
                        bar.set_message(String::from_utf8_lossy(last).trim().to_owned());
                    }
                }
            }
            Style::Actions | Style::GitLab if self.stream_groups => {
                let _ = std::io::stdout().lock().write_all(lines);
            }
            Style::Actions | Style::GitLab => {}
            Style::Plain => {
                let prefix = &self.prefixes[job];
                let ends: Vec<usize> = memchr::memchr_iter(b'\n', lines).collect();
                let mut buffer = Vec::with_capacity(lines.len() + (ends.len() + 1) * prefix.len());
                let mut start = 0;
                for end in ends {
                    buffer.extend_from_slice(prefix);
                    buffer.extend_from_slice(&lines[start..=end]);
                    start = end + 1;
                }
                if start < lines.len() {
                    buffer.extend_from_slice(prefix);
                    buffer.extend_from_slice(&lines[start..]);
                }
                let _ = std::io::stdout().lock().write_all(&buffer);
            }
        }
    }

    fn job_finished(
        &self,
        job: usize,
        outcome: &Outcome,
        duration: Duration,
        log: Option<&JobLog>,
    ) {
        let status = self.status_line(job, outcome, duration);
        match &self.live {
            Some(live) => {
                if let Some(bar) = live.bars.lock().ok().and_then(|mut b| b.remove(&job)) {
                    bar.finish_and_clear();
                    live.multi.remove(&bar);
                }
                let mut text = format!("{status}\n");
                if outcome.is_failure() {
                    if let Some(log) = log {
                        text.push_str(&framed_log(&self.names[job], log));
                    }
                }
                live.multi.suspend(|| print_out(&text));
            }
            None if matches!(self.style, Style::Actions | Style::GitLab) => {
                let mut text = String::new();
                if log.is_some() && !self.stream_groups {
                    text.push_str(&self.group_open(job, !outcome.is_failure()));
                    if let Some(log) = log {
                        text.push_str(&log.read().unwrap_or_default());
                    }
                }
                if log.is_some() {
                    text.push_str(&self.group_close(job));
                }
                text.push_str(&status);
                text.push('\n');
                if outcome.is_failure() && self.style == Style::Actions {
                    let detail = self.secrets.mask_str(&outcome.detail().unwrap_or_default());
                    text.push_str(&format!(
                        "::error title={} {}::{detail}\n",
                        self.names[job],
                        outcome.label()
                    ));
                }
                print_out(&text);
            }
            None => print_out(&format!("{status}\n")),
        }
    }

    fn warn(&self, message: &str) {
        let message = self.secrets.mask_str(message);
        let line = match self.style {
            Style::Actions => format!("::warning::{message}"),
            Style::Interactive => console::style(format!("warning: {message}"))
                .yellow()
                .to_string(),
            Style::Plain | Style::GitLab => format!("warning: {message}"),
        };
        match &self.live {
            Some(live) => live.multi.suspend(|| print_err(&format!("{line}\n"))),
            None => print_err(&format!("{line}\n")),
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A failing job's whole log, between two rules, for the terminal view.
fn framed_log(name: &str, log: &JobLog) -> String {
    let path = log.path().display();
    let body = log
        .read()
        .unwrap_or_else(|e| format!("(cannot read {path}: {e})\n"));
    let rule = console::style(format!("── {name} ──")).dim();
    let end = console::style(format!("── end of {name} · {path} ──")).dim();
    let mut text = format!("{rule}\n{body}");
    if !body.ends_with('\n') && !body.is_empty() {
        text.push('\n');
    }
    text.push_str(&format!("{end}\n"));
    text
}

/// Writes to stdout, ignoring a closed pipe (`parity list | head`): the
/// reader has what it wanted, and that is no reason to panic.
pub fn print_out(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// Writes to stderr, ignoring a closed pipe (`parity run 2>&1 | head`), as
/// [`print_out`] does for stdout.
pub fn print_err(text: &str) {
    let mut err = std::io::stderr().lock();
    let _ = err.write_all(text.as_bytes());
    let _ = err.flush();
}

/// `println!` for parity's own answers, through [`print_out`]: a closed pipe
/// (`parity cache stats | head -1`) ends the output, never in a panic.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::report::print_out(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use outln;

/// `eprintln!` through [`print_err`], for the same reason.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::report::print_err(&format!("{}\n", format_args!($($arg)*)))
    };
}
pub(crate) use errln;

/// A command's `--json` answer: pretty-printed, on stdout, as [`print_out`].
pub fn print_json(value: &impl serde::Serialize) {
    print_out(&format!(
        "{}\n",
        serde_json::to_string_pretty(value).unwrap_or_default()
    ));
}

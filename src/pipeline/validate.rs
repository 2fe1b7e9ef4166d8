//! Raw file → validated `Pipeline`, collecting every problem with its span so
//! one run of `parity list` shows them all.

use super::error::{did_you_mean, from_toml, Problem, Source};
use super::file::{
    RawCache, RawJob, RawPipeline, RawProfile, RawReady, RawRunner, RawService, ScalarString,
    SpannedStr,
};
use super::placeholder;
use super::{
    Cache, CacheWrite, Job, Pipeline, Preset, Probe, Profile, Ready, Runner, RunnerSource, Secrets,
    Service, ServiceKind, DEFAULT_SHELL,
};
use indexmap::{IndexMap, IndexSet};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

mod deploy;
mod matrix;

/// Fields a service exposes to placeholders as `{{services.NAME.FIELD}}`.
pub(crate) const SERVICE_FIELDS: [&str; 4] = ["host", "port", "url", "data_dir"];

struct Validator<'a> {
    src: &'a Source,
    text: &'a str,
    problems: Vec<Problem>,
}

pub(super) fn validate(path: &Path, src: &Source) -> Result<Pipeline, Vec<Problem>> {
    let text: &str = src.inner();
    let raw: RawPipeline = toml::from_str(text).map_err(|e| vec![from_toml(src, &e)])?;
    let mut v = Validator {
        src,
        text,
        problems: Vec::new(),
    };
    if *raw.version.get_ref() != 1 {
        v.problem(
            raw.version.span(),
            format!("unsupported pipeline version {}", raw.version.get_ref()),
            "this parity reads version 1",
        );
    }
    let root = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_owned();
    let env = v.env(&raw.env, &[]);
    let mut services = v.services(&raw.services);
    // A compose file's services are used like `[services.*]` of the same
    // name; a `[services.NAME]` of the file's own wins.
    if let Some(file) = &raw.compose {
        match crate::container::compose::pipeline_services(&root.join(file.get_ref())) {
            Ok(found) => {
                for service in found {
                    services.entry(service.name.clone()).or_insert(service);
                }
            }
            Err(e) => v.problem(file.span(), e.to_string(), "cannot use this compose file"),
        }
    }
    let jobs = v.jobs(&raw.jobs, &services);
    v.job_cycles(&raw.jobs);
    let profiles = v.profiles(&raw.profiles, &jobs);
    let secrets = Secrets {
        required: raw
            .secrets
            .as_ref()
            .map(|s| v.env_names(&s.required))
            .unwrap_or_default(),
        optional: raw
            .secrets
            .as_ref()
            .map(|s| v.env_names(&s.optional))
            .unwrap_or_default(),
    };
    let declared: Vec<String> = secrets
        .required
        .iter()
        .chain(&secrets.optional)
        .cloned()
        .collect();
    for job in raw.jobs.values() {
        v.known(&job.secrets, declared.as_slice(), "secret", "secrets");
    }
    let deploys = v.deploys(&raw.deploy, &jobs, &services);
    let runner = raw.runner.as_ref().and_then(|r| v.runner(r));
    let cache = raw.cache.as_ref().map(|c| v.cache(c)).unwrap_or_default();
    if !v.problems.is_empty() {
        return Err(v.problems);
    }
    Ok(Pipeline {
        path: path.to_owned(),
        root,
        tools: raw.tools.into_iter().map(|(k, v)| (k, v.0)).collect(),
        env,
        secrets,
        profiles,
        services,
        jobs,
        runner,
        cache,
        compose: raw.compose.map(|c| c.into_inner().into()),
        deploys,
    })
}

impl Validator<'_> {
    fn problem(
        &mut self,
        span: std::ops::Range<usize>,
        message: impl Into<String>,
        label: impl Into<String>,
    ) {
        self.problems
            .push(Problem::new(self.src, span, message, label));
    }

    fn push(&mut self, problem: Problem) {
        self.problems.push(problem);
    }

    /// Checks `names` against the known ones, with a suggestion for typos,
    /// and that none is listed twice.
    fn known(
        &mut self,
        names: &[SpannedStr],
        known: &(impl Names + ?Sized),
        what: &str,
        key: &str,
    ) {
        for (index, name) in names.iter().enumerate() {
            if names[..index].iter().any(|n| n.get_ref() == name.get_ref()) {
                self.problem(
                    name.span(),
                    format!("`{key}` lists `{}` twice", name.get_ref()),
                    "listed before",
                );
                continue;
            }
            if known.has(name.get_ref()) {
                continue;
            }
            let help = did_you_mean(name.get_ref(), known.each());
            self.push(
                Problem::new(
                    self.src,
                    name.span(),
                    format!("unknown {what} `{}` in `{key}`", name.get_ref()),
                    format!("no {what} of that name"),
                )
                .with_optional_help(help),
            );
        }
    }

    fn duration(&mut self, value: &SpannedStr) -> Option<Duration> {
        match humantime::parse_duration(value.get_ref()) {
            Ok(d) if !d.is_zero() => Some(d),
            Ok(_) => {
                self.problem(value.span(), "a duration of zero", "must be longer than 0s");
                None
            }
            Err(_) => {
                self.push(
                    Problem::new(
                        self.src,
                        value.span(),
                        format!("bad duration `{}`", value.get_ref()),
                        "not a duration",
                    )
                    .with_help("write durations like \"90s\", \"20m\" or \"1h 30m\""),
                );
                None
            }
        }
    }

    fn steps(&mut self, run: &Spanned<super::file::Steps>) -> Vec<String> {
        let steps = &run.get_ref().0;
        if steps.is_empty() || steps.iter().all(|s| s.trim().is_empty()) {
            self.push(
                Problem::new(self.src, run.span(), "empty `run`", "nothing to run")
                    .with_help("give a command, or a list of commands run in order"),
            );
        } else if let Some(blank) = steps.iter().position(|s| s.trim().is_empty()) {
            self.push(
                Problem::new(
                    self.src,
                    run.span(),
                    "an empty step in `run`",
                    format!("step {} has nothing to run", blank + 1),
                )
                .with_help("remove it, or give it a command"),
            );
        }
        steps.clone()
    }

    fn env_names(&mut self, names: &[SpannedStr]) -> Vec<String> {
        for name in names {
            if !is_env_name(name.get_ref()) {
                self.problem(
                    name.span(),
                    format!("`{}` is not an environment variable name", name.get_ref()),
                    "letters, digits and `_`, not starting with a digit",
                );
            }
        }
        names.iter().map(|n| n.get_ref().clone()).collect()
    }

    fn env(
        &mut self,
        raw: &IndexMap<SpannedStr, Spanned<ScalarString>>,
        allowed: &[Allowed<'_>],
    ) -> IndexMap<String, String> {
        raw.iter()
            .map(|(key, value)| {
                let (name, text) = (key.get_ref(), &value.get_ref().0);
                // What no program could be given: `A=B = "x"` would arrive
                // as `A` with the value `B=x`.
                let flaw = if name.is_empty() {
                    Some("an empty name")
                } else if name.contains('=') {
                    Some("a name cannot hold `=`")
                } else if name.contains('\0') {
                    Some("a name cannot hold a NUL byte")
                } else {
                    None
                };
                if let Some(flaw) = flaw {
                    self.push(
                        Problem::new(
                            self.src,
                            key.span(),
                            format!("`{}` cannot be a variable's name", name.escape_default()),
                            flaw,
                        )
                        .with_help("a variable's name is usually letters, digits and `_`"),
                    );
                }
                if text.contains('\0') {
                    self.problem(
                        value.span(),
                        format!("the value of `{name}` holds a NUL byte"),
                        "no program can be given this",
                    );
                }
                self.placeholders(value.span(), text, allowed);
                (name.clone(), text.clone())
            })
            .collect()
    }

    /// Checks every `{{…}}` in `template` names something `allowed` offers.
    fn placeholders(
        &mut self,
        span: std::ops::Range<usize>,
        template: &str,
        allowed: &[Allowed<'_>],
    ) {
        match placeholder::scan(template) {
            Err(e) => {
                let span = self.inner_span(span, template, e.range);
                self.problem(span, "bad placeholder", e.message);
            }
            Ok(found) => {
                for p in found {
                    if let Err(hint) = check_placeholder(p.name, allowed) {
                        let span = self.inner_span(span.clone(), template, p.range);
                        self.push(
                            Problem::new(
                                self.src,
                                span,
                                format!("unknown placeholder `{{{{{}}}}}`", p.name),
                                "parity has no value for this",
                            )
                            .with_help(hint),
                        );
                    }
                }
            }
        }
    }

    /// The span of `range` inside a string value, when the value is written
    /// literally between quotes; otherwise the whole value.
    fn inner_span(
        &self,
        value_span: std::ops::Range<usize>,
        value: &str,
        range: std::ops::Range<usize>,
    ) -> std::ops::Range<usize> {
        let written = self.text.get(value_span.clone()).unwrap_or_default();
        let quoted =
            written.len() == value.len() + 2 && written.get(1..written.len() - 1) == Some(value);
        if quoted {
            value_span.start + 1 + range.start..value_span.start + 1 + range.end
        } else {
            value_span
        }
    }

    fn runner(&mut self, raw: &RawRunner) -> Option<Runner> {
        let source = match (&raw.image, &raw.dockerfile) {
            (Some(image), None) => RunnerSource::Image(image.get_ref().clone()),
            (None, Some(dockerfile)) => RunnerSource::Dockerfile {
                path: dockerfile.get_ref().into(),
                context: raw
                    .context
                    .as_ref()
                    .map_or_else(|| ".".into(), |c| c.get_ref().into()),
            },
            (Some(image), Some(_)) => {
                self.push(
                    Problem::new(
                        self.src,
                        image.span(),
                        "`[runner]` sets both `image` and `dockerfile`",
                        "one too many",
                    )
                    .with_help("use `image` for a prebuilt image, `dockerfile` to build one"),
                );
                return None;
            }
            (None, None) => {
                self.problem(
                    0..0,
                    "`[runner]` needs `image` or `dockerfile`",
                    "no runner image",
                );
                return None;
            }
        };
        Some(Runner {
            source,
            build_args: raw
                .build_args
                .iter()
                .map(|(k, v)| (k.clone(), v.0.clone()))
                .collect(),
            mount_docker_socket: raw.mount_docker_socket,
            gpus: raw.gpus.clone(),
        })
    }

    fn cache(&mut self, raw: &RawCache) -> Cache {
        let write = match raw.write.as_ref().map(|w| (w, w.get_ref().as_str())) {
            None | Some((_, "ci")) => CacheWrite::Ci,
            Some((_, "always")) => CacheWrite::Always,
            Some((_, "never")) => CacheWrite::Never,
            Some((w, other)) => {
                self.push(
                    Problem::new(
                        self.src,
                        w.span(),
                        format!("unknown cache write policy `{other}`"),
                        "not a policy",
                    )
                    .with_help("`ci` (only where CI=true), `always` or `never`"),
                );
                CacheWrite::Ci
            }
        };
        if let Some(remote) = &raw.remote {
            let url = remote.get_ref();
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                self.problem(
                    remote.span(),
                    "the remote cache must be an http:// or https:// URL",
                    "not an HTTP URL",
                );
            }
        }
        let max_size = raw
            .max_size
            .as_ref()
            .and_then(|size| match parse_size(size.get_ref()) {
                Some(bytes) => Some(bytes),
                None => {
                    self.push(
                        Problem::new(
                            self.src,
                            size.span(),
                            format!("bad size `{}`", size.get_ref()),
                            "not a size",
                        )
                        .with_help("write sizes like \"500MB\", \"10GB\" or \"2GiB\""),
                    );
                    None
                }
            });
        Cache {
            remote: raw
                .remote
                .as_ref()
                .map(|r| r.get_ref().trim_end_matches('/').to_owned()),
            write,
            max_size,
            token_env: raw.token_env.clone(),
            timeout: raw.timeout.as_ref().and_then(|t| self.duration(t)),
        }
    }

    fn services(&mut self, raw: &IndexMap<SpannedStr, RawService>) -> IndexMap<String, Service> {
        let names: Vec<String> = raw.keys().map(|k| k.get_ref().clone()).collect();
        let mut services = IndexMap::new();
        for (name, service) in raw {
            let allowed = [Allowed::Own, Allowed::Services(&names)];
            if let Some(s) = self.service(name, service, &names, &allowed) {
                services.insert(name.get_ref().clone(), s);
            }
        }
        self.service_cycles(raw);
        self.service_prefixes(raw);
        services
    }

    /// Two services whose names differ only in case or punctuation (`a-b`,
    /// `a b`) would export the same `A_B_*` variables to jobs, and share a
    /// log and a state file, so that stopping one would lose the other.
    fn service_prefixes(&mut self, raw: &IndexMap<SpannedStr, RawService>) {
        let mut first: HashMap<String, &str> = HashMap::new();
        for name in raw.keys() {
            let prefix = crate::services::env_prefix(name.get_ref());
            let Some(earlier) = first.get(&prefix) else {
                first.insert(prefix, name.get_ref());
                continue;
            };
            let problem = Problem::new(
                self.src,
                name.span(),
                format!(
                    "services `{earlier}` and `{}` would both set {prefix}_HOST, {prefix}_PORT and {prefix}_URL",
                    name.get_ref()
                ),
                "named like an earlier service",
            )
            .with_help("rename one of them: names that differ only in case or punctuation are the same name to jobs");
            self.push(problem);
        }
    }

    fn service(
        &mut self,
        name: &SpannedStr,
        raw: &RawService,
        names: &[String],
        allowed: &[Allowed<'_>],
    ) -> Option<Service> {
        self.known(&raw.needs, names, "service", "needs");
        let chosen: Vec<&SpannedStr> = [&raw.preset, &raw.command, &raw.image]
            .into_iter()
            .flatten()
            .collect();
        let kind = match (&raw.preset, &raw.command, &raw.image) {
            _ if chosen.len() > 1 => {
                self.push(
                    Problem::new(
                        self.src,
                        chosen[1].span(),
                        format!(
                            "service `{}` sets more than one of `preset`, `command`, `image`",
                            name.get_ref()
                        ),
                        "second way to start it",
                    )
                    .with_help("a service is a preset, a command or an image; keep one"),
                );
                return None;
            }
            (Some(preset), _, _) => match Preset::ALL.iter().find(|(n, _)| n == preset.get_ref()) {
                Some((_, p)) => ServiceKind::Preset(*p),
                None => {
                    let help = did_you_mean(preset.get_ref(), Preset::ALL.iter().map(|(n, _)| *n))
                        .unwrap_or_else(|| {
                            "presets: postgres, redis; anything else takes `command`".into()
                        });
                    self.push(
                        Problem::new(
                            self.src,
                            preset.span(),
                            format!("unknown preset `{}`", preset.get_ref()),
                            "no such preset",
                        )
                        .with_help(help),
                    );
                    return None;
                }
            },
            (_, Some(command), _) => {
                self.placeholders(command.span(), command.get_ref(), allowed);
                ServiceKind::Command(command.get_ref().clone())
            }
            (_, _, Some(image)) => ServiceKind::Image(image.get_ref().clone()),
            (None, None, None) => {
                self.push(
                    Problem::new(
                        self.src,
                        name.span(),
                        format!("service `{}` has nothing to start", name.get_ref()),
                        "no `preset`, `command` or `image`",
                    )
                    .with_help("add `preset = \"postgres\"`, `command = \"…\"` or `image = \"…\"`"),
                );
                return None;
            }
        };
        let port = match &raw.port {
            Some(p) => match u16::try_from(*p.get_ref()) {
                Ok(port) if port > 0 => Some(port),
                _ => {
                    self.problem(
                        p.span(),
                        format!("port {} is out of range", p.get_ref()),
                        "ports are 1 to 65535",
                    );
                    None
                }
            },
            None => None,
        };
        let ready = raw.ready.as_ref().and_then(|r| self.ready(r, allowed));
        Some(Service {
            name: name.get_ref().clone(),
            kind,
            port,
            env: self.env(&raw.env, allowed),
            needs: raw.needs.iter().map(|n| n.get_ref().clone()).collect(),
            ready,
            data_dir: raw.data_dir.as_ref().map(|d| d.get_ref().clone()),
            ports: raw.ports.iter().map(|p| p.get_ref().clone()).collect(),
        })
    }

    fn ready(&mut self, raw: &RawReady, allowed: &[Allowed<'_>]) -> Option<Ready> {
        let given: Vec<&SpannedStr> = [&raw.exec, &raw.tcp, &raw.http, &raw.log]
            .into_iter()
            .flatten()
            .collect();
        if given.len() != 1 {
            let span = given.get(1).map(|s| s.span()).unwrap_or(0..0);
            self.push(
                Problem::new(
                    self.src,
                    span,
                    "a readiness probe needs exactly one of `exec`, `tcp`, `http`, `log`",
                    "here",
                )
                .with_help("for example `ready = { tcp = \"127.0.0.1:{{port}}\" }`"),
            );
            return None;
        }
        for probe in &given {
            self.placeholders(probe.span(), probe.get_ref(), allowed);
        }
        let probe = if let Some(exec) = &raw.exec {
            Probe::Exec(exec.get_ref().clone())
        } else if let Some(tcp) = &raw.tcp {
            Probe::Tcp(tcp.get_ref().clone())
        } else if let Some(http) = &raw.http {
            let status = raw.status.as_ref().map(|s| *s.get_ref()).unwrap_or(200);
            Probe::Http {
                url: http.get_ref().clone(),
                status: u16::try_from(status).unwrap_or(200),
            }
        } else {
            let log = raw.log.as_ref()?;
            // Placeholders are filled when the service starts; any value
            // stands in for them here.
            let stand_in = placeholder::render_known(log.get_ref(), |_| Some("0".into()));
            if let Err(e) = regex::Regex::new(&stand_in) {
                let why = e.to_string();
                let reason = why
                    .lines()
                    .last()
                    .unwrap_or("invalid")
                    .trim()
                    .trim_start_matches("error: ")
                    .to_owned();
                self.push(
                    Problem::new(
                        self.src,
                        log.span(),
                        format!("`{}` is not a regular expression", log.get_ref()),
                        reason,
                    )
                    .with_help("`log` is a regex matched against each line of the service's output; escape literal characters such as `(` or `.` with `\\`"),
                );
                return None;
            }
            Probe::Log {
                pattern: log.get_ref().clone(),
                times: raw
                    .times
                    .as_ref()
                    .map_or(1, |t| u32::try_from(*t.get_ref()).unwrap_or(1)),
            }
        };
        let interval = raw
            .interval
            .as_ref()
            .and_then(|i| self.duration(i))
            .unwrap_or(Duration::from_millis(100));
        let timeout = raw
            .timeout
            .as_ref()
            .and_then(|t| self.duration(t))
            .unwrap_or(Duration::from_secs(60));
        Some(Ready {
            probe,
            interval,
            timeout,
        })
    }

    fn service_cycles(&mut self, raw: &IndexMap<SpannedStr, RawService>) {
        let edges = raw
            .iter()
            .map(|(name, s)| (name.get_ref().as_str(), s.needs.as_slice()))
            .collect();
        self.cycles(edges, "service");
    }

    fn jobs(
        &mut self,
        raw: &IndexMap<SpannedStr, RawJob>,
        services: &IndexMap<String, Service>,
    ) -> IndexMap<String, Job> {
        let job_names: IndexSet<String> = raw.keys().map(|k| k.get_ref().clone()).collect();
        let service_names: Vec<String> = services.keys().cloned().collect();
        raw.iter()
            .map(|(name, job)| {
                let job = self.job(name, job, &job_names, &service_names);
                (name.get_ref().clone(), job)
            })
            .collect()
    }

    fn job(
        &mut self,
        name: &SpannedStr,
        raw: &RawJob,
        job_names: &IndexSet<String>,
        service_names: &[String],
    ) -> Job {
        if name.get_ref().contains(['(', ')', ',', '=']) {
            self.problem(
                name.span(),
                format!(
                    "job name `{}` uses a character reserved for matrix names",
                    name.get_ref()
                ),
                "`(`, `)`, `,` and `=` name matrix instances",
            );
        }
        self.known(&raw.needs, job_names, "job", "needs");
        self.known(&raw.services, service_names, "service", "services");
        let matrix = raw.matrix.as_ref().and_then(|m| self.matrix(m));
        // Taken before the matrix is checked further, so that a flawed
        // matrix does not make its placeholders unknown too.
        let matrix_keys: Vec<String> = matrix
            .as_ref()
            .map(|m| m.keys().map(str::to_owned).collect())
            .unwrap_or_default();
        let matrix = match (&raw.matrix, matrix) {
            (Some(written), Some(built)) if self.matrix_runs(name.get_ref(), written, &built) => {
                Some(built)
            }
            _ => None,
        };
        let allowed = [
            Allowed::Matrix(&matrix_keys),
            Allowed::Services(service_names),
        ];
        let steps = self.steps(&raw.run);
        // Spans of list items are not kept by serde, so placeholder errors in
        // a step list point at the whole `run` value.
        for step in &steps {
            self.placeholders(raw.run.span(), step, &allowed);
        }
        let shell = self.shell(raw.shell.as_ref());
        if let Some(switch) = &raw.switch {
            self.env_names(std::slice::from_ref(switch));
        }
        let working_directory = raw.working_directory.as_ref().map(|dir| {
            if Path::new(dir.get_ref()).is_absolute() || dir.get_ref().split('/').any(|c| c == "..")
            {
                self.problem(
                    dir.span(),
                    "`working_directory` must stay inside the repository",
                    "a relative path without `..`",
                );
            }
            dir.get_ref().into()
        });
        Job {
            name: name.get_ref().clone(),
            needs: raw.needs.iter().map(|n| n.get_ref().clone()).collect(),
            steps,
            env: self.env(&raw.env, &allowed),
            switch: raw.switch.as_ref().map(|s| s.get_ref().clone()),
            timeout: raw.timeout.as_ref().and_then(|t| self.duration(t)),
            shell,
            matrix,
            publish: raw.publish,
            services: raw.services.iter().map(|s| s.get_ref().clone()).collect(),
            inputs: self.globs(&raw.inputs),
            outputs: raw.outputs.iter().map(|o| o.get_ref().clone()).collect(),
            cache_env: self.env_names(&raw.cache_env),
            runs_on: raw.runs_on.clone(),
            container: raw.container,
            working_directory,
            secrets: raw.secrets.iter().map(|s| s.get_ref().clone()).collect(),
        }
    }

    /// A job's or deploy's `shell`, split into a program and its arguments.
    fn shell(&mut self, raw: Option<&SpannedStr>) -> Vec<String> {
        match raw {
            Some(shell) => match shlex::split(shell.get_ref()) {
                // `python3 -c -c STEP` would run the code `-c`.
                Some(mut words) if words.len() > 1 && words.last().is_some_and(|w| w == "-c") => {
                    words.pop();
                    self.push(
                        Problem::new(
                            self.src,
                            shell.span(),
                            "`shell` ends with `-c`",
                            "parity adds `-c STEP` itself",
                        )
                        .with_help(format!(
                            "write shell = \"{}\"",
                            shlex::try_join(words.iter().map(String::as_str)).unwrap_or_default()
                        )),
                    );
                    words
                }
                Some(words) if !words.is_empty() => words,
                _ => {
                    self.problem(
                        shell.span(),
                        "bad `shell`",
                        "expected a program and its arguments, like \"bash -e\"",
                    );
                    Vec::new()
                }
            },
            None => DEFAULT_SHELL.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn globs(&mut self, globs: &[SpannedStr]) -> Vec<String> {
        for glob in globs {
            if let Err(e) = globset::Glob::new(glob.get_ref()) {
                self.problem(
                    glob.span(),
                    format!("bad glob `{}`", glob.get_ref()),
                    e.kind().to_string(),
                );
            }
        }
        globs.iter().map(|g| g.get_ref().clone()).collect()
    }

    fn job_cycles(&mut self, raw: &IndexMap<SpannedStr, RawJob>) {
        let edges = raw
            .iter()
            .map(|(name, job)| (name.get_ref().as_str(), job.needs.as_slice()))
            .collect();
        self.cycles(edges, "job");
    }

    /// Finds cycles by depth-first search and names each whole cycle.
    fn cycles(&mut self, edges: IndexMap<&str, &[SpannedStr]>, what: &str) {
        #[derive(Clone, Copy, PartialEq)]
        enum Mark {
            New,
            Active,
            Done,
        }
        let mut marks: IndexMap<&str, Mark> = edges.keys().map(|k| (*k, Mark::New)).collect();
        let mut found = Vec::new();
        for start in edges.keys() {
            if marks[start] != Mark::New {
                continue;
            }
            // Iterative DFS: (node, next edge index); `path` is the active chain.
            let mut stack: Vec<(&str, usize)> = vec![(start, 0)];
            marks.insert(start, Mark::Active);
            while let Some((node, index)) = stack.last_mut() {
                let needs = edges[*node];
                if *index == needs.len() {
                    marks.insert(node, Mark::Done);
                    stack.pop();
                    continue;
                }
                let need = &needs[*index];
                *index += 1;
                let target = need.get_ref().as_str();
                match marks.get(target).copied() {
                    Some(Mark::New) => {
                        marks.insert(target, Mark::Active);
                        stack.push((edges.get_key_value(target).map_or(target, |(k, _)| k), 0));
                    }
                    Some(Mark::Active) => {
                        let from = stack.iter().position(|(n, _)| *n == target).unwrap_or(0);
                        let mut cycle: Vec<&str> = stack[from..].iter().map(|(n, _)| *n).collect();
                        cycle.push(target);
                        found.push((need.span(), cycle.join(" → ")));
                    }
                    _ => {}
                }
            }
        }
        for (span, cycle) in found {
            self.push(
                Problem::new(
                    self.src,
                    span,
                    format!("{what} dependency cycle: {cycle}"),
                    "this closes the cycle",
                )
                .with_help("remove one `needs` entry on the cycle"),
            );
        }
    }

    fn profiles(
        &mut self,
        raw: &IndexMap<SpannedStr, RawProfile>,
        jobs: &IndexMap<String, Job>,
    ) -> IndexMap<String, Profile> {
        let switches: Vec<String> = jobs.values().filter_map(|j| j.switch.clone()).collect();
        raw.iter()
            .map(|(name, p)| {
                self.known(&p.skip, jobs, "job", "skip");
                self.known(&p.only, jobs, "job", "only");
                self.known(&p.enable, switches.as_slice(), "switch", "enable");
                let profile = Profile {
                    skip: p.skip.iter().map(|s| s.get_ref().clone()).collect(),
                    only: p.only.iter().map(|s| s.get_ref().clone()).collect(),
                    enable: self.env_names(&p.enable),
                    container: p.container,
                    keep_going: p.keep_going,
                };
                (name.get_ref().clone(), profile)
            })
            .collect()
    }
}

/// What a placeholder may name in a given place.
enum Allowed<'a> {
    /// A service's own `port`, `host`, `url`, `data_dir`.
    Own,
    /// `services.NAME.FIELD` for these service names.
    Services(&'a [String]),
    /// `matrix.KEY` for these keys.
    Matrix(&'a [String]),
}

/// Names a list in the file may refer to (jobs, services, switches). Each
/// entry is looked up; only an unknown one lists them all, for a
/// suggestion. A 1,000-job pipeline has some 3,000 `needs`: looking each
/// up by scanning the jobs took half of `parity list`.
trait Names {
    fn has(&self, name: &str) -> bool;
    fn each(&self) -> impl Iterator<Item = &str>;
}

/// A few names (services, switches): scanned.
impl Names for [String] {
    fn has(&self, name: &str) -> bool {
        self.iter().any(|n| n == name)
    }

    fn each(&self) -> impl Iterator<Item = &str> {
        self.iter().map(String::as_str)
    }
}

impl Names for IndexSet<String> {
    fn has(&self, name: &str) -> bool {
        self.contains(name)
    }

    fn each(&self) -> impl Iterator<Item = &str> {
        self.iter().map(String::as_str)
    }
}

impl<V> Names for IndexMap<String, V> {
    fn has(&self, name: &str) -> bool {
        self.contains_key(name)
    }

    fn each(&self) -> impl Iterator<Item = &str> {
        self.keys().map(String::as_str)
    }
}

/// `Ok` when `name` is offered by `allowed`; else a hint for the user.
fn check_placeholder(name: &str, allowed: &[Allowed<'_>]) -> Result<(), String> {
    let mut offered: Vec<String> = Vec::new();
    for scope in allowed {
        match scope {
            Allowed::Own => {
                if SERVICE_FIELDS.contains(&name) {
                    return Ok(());
                }
                offered.extend(SERVICE_FIELDS.iter().map(|f| f.to_string()));
            }
            Allowed::Services(names) => {
                if let Some(rest) = name.strip_prefix("services.") {
                    if let Some((service, field)) = rest.split_once('.') {
                        if names.iter().any(|n| n == service) && SERVICE_FIELDS.contains(&field) {
                            return Ok(());
                        }
                    }
                }
                for service in names.iter() {
                    offered.extend(
                        SERVICE_FIELDS
                            .iter()
                            .map(|f| format!("services.{service}.{f}")),
                    );
                }
            }
            Allowed::Matrix(keys) => {
                if let Some(key) = name.strip_prefix("matrix.") {
                    if keys.iter().any(|k| k == key) {
                        return Ok(());
                    }
                }
                offered.extend(keys.iter().map(|k| format!("matrix.{k}")));
            }
        }
    }
    Err(
        did_you_mean(name, offered.iter().map(String::as_str)).unwrap_or_else(|| {
            let available = if offered.is_empty() {
                "no placeholders are available here; `$VAR` is left to the shell".to_owned()
            } else {
                format!(
                    "available here: {}",
                    offered
                        .iter()
                        .map(|o| format!("{{{{{o}}}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            format!("{available}; for a literal `{{{{` (a Go template), write `{{{{{{{{`")
        }),
    )
}

/// `500MB`, `10GB`, `2GiB`, `1024` (bytes).
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "kib" => 1 << 10,
        "mb" => 1_000_000,
        "mib" => 1 << 20,
        "gb" => 1_000_000_000,
        "gib" => 1 << 30,
        "tb" => 1_000_000_000_000,
        "tib" => 1 << 40,
        _ => return None,
    };
    Some((number * scale as f64) as u64)
}

pub(crate) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

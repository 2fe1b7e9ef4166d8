//! Container mode against the real engine on this machine: jobs in the
//! runner image, the image's hash tag, Ctrl-C, container services, and the
//! same verdict on the host and in the container.
//!
//! No registry can be reached, so the base image is built here: a root
//! filesystem of `busybox` (from Debian's busybox-static, for the shell
//! tools and `httpd`) plus the host's `bash` with its libraries, imported
//! with `docker import` and cached by tag, so it is built once per machine.
//! Every test returns early, saying so, where no engine answers.

use crate::harness::{Test, PARITY};
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Whether `docker` answers; prints why a test is skipped when it does not.
fn engine() -> bool {
    let answers = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|o| o.status.success() && !o.stdout.is_empty());
    if !answers {
        eprintln!("SKIPPED: no container engine answers here (docker version failed)");
    }
    answers
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn docker_quiet(args: &[&str]) -> String {
    Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// The base image's tag; its name changes with the host's bash and
/// busybox, so a stale cache is never used.
fn base_image() -> String {
    let stamp = |p: &str| {
        std::fs::metadata(p)
            .map(|m| {
                format!(
                    "{}-{}",
                    m.len(),
                    m.modified()
                        .map(|t| t
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_secs()))
                        .unwrap_or(0)
                )
            })
            .unwrap_or_else(|_| "none".into())
    };
    let key = format!("{}{}", stamp("/bin/bash"), stamp("/bin/busybox"));
    let tag = format!("parity-test-base:{:x}", fnv(&key));
    if !docker_quiet(&["image", "inspect", "--format", "{{.Id}}", &tag]).is_empty() {
        return tag;
    }
    // Tests run in parallel processes: one builds, the others wait.
    let lock = std::fs::File::create(std::env::temp_dir().join("parity-test-base.lock"))
        .expect("lock file");
    let _guard = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("lock the base image build");
    if !docker_quiet(&["image", "inspect", "--format", "{{.Id}}", &tag]).is_empty() {
        return tag;
    }
    let root = tempfile::tempdir().expect("rootfs dir");
    build_rootfs(root.path());
    let mut tar = Command::new("tar")
        .args(["-C"])
        .arg(root.path())
        .args(["-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .expect("tar");
    let status = Command::new("docker")
        .args([
            "import",
            "--change",
            "ENV PATH=/usr/local/bin:/usr/bin:/bin",
            "-",
            &tag,
        ])
        .stdin(tar.stdout.take().expect("tar stdout"))
        .stdout(Stdio::null())
        .status()
        .expect("docker import");
    assert!(
        tar.wait().expect("tar").success(),
        "tar of the rootfs failed"
    );
    assert!(status.success(), "docker import failed");
    tag
}

/// busybox (every applet as a link) and the host's bash with the shared
/// libraries it loads.
fn build_rootfs(root: &Path) {
    for dir in ["bin", "tmp", "etc", "www"] {
        std::fs::create_dir_all(root.join(dir)).expect("mkdir");
    }
    let mut perms = std::fs::metadata(root.join("tmp"))
        .expect("tmp")
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o1777);
    std::fs::set_permissions(root.join("tmp"), perms).expect("chmod tmp");
    assert!(
        Path::new("/bin/busybox").exists(),
        "the container tests need /bin/busybox: install Debian's busybox-static"
    );
    std::fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy busybox");
    let applets = Command::new("/bin/busybox")
        .arg("--list")
        .output()
        .expect("busybox --list");
    for applet in String::from_utf8_lossy(&applets.stdout).lines() {
        let link = root.join("bin").join(applet);
        if !link.exists() {
            let _ = std::os::unix::fs::symlink("busybox", link);
        }
    }
    let _ = std::fs::remove_file(root.join("bin/bash"));
    std::fs::copy("/bin/bash", root.join("bin/bash")).expect("copy bash");
    let ldd = Command::new("ldd").arg("/bin/bash").output().expect("ldd");
    for word in String::from_utf8_lossy(&ldd.stdout).split_whitespace() {
        if word.starts_with('/') {
            let target = root.join(word.trim_start_matches('/'));
            std::fs::create_dir_all(target.parent().expect("parent")).expect("mkdir lib");
            std::fs::copy(word, &target).expect("copy library");
        }
    }
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n").expect("passwd");
    std::fs::write(root.join("etc/group"), "root:x:0:\n").expect("group");
}

fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// Containers (running or not) that a run in `dir` left.
fn containers_of(dir: &Path) -> String {
    docker_quiet(&[
        "ps",
        "--all",
        "--filter",
        &format!("label=parity.root={}", dir.display()),
        "--format",
        "{{.Names}}",
    ])
}

/// A project directory of the test's own, for tests that must know it
/// before parity runs (to chown it, or to watch its containers).
fn project(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix("parity-container-")
        .tempdir()
        .expect("temp dir");
    for (path, text) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, crate::harness::unindent(text)).expect("write");
    }
    dir
}

fn runner(image: &str) -> String {
    format!("[runner]\nimage = \"{image}\"\n")
}

#[test]
fn job_sees_the_mounted_repository_and_its_env() {
    if !engine() {
        return;
    }
    let base = base_image();
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            {}
            [env]
            GREETING = "hello"
            [jobs.look]
            env = {{ LEVEL = "job" }}
            run = [
              "test -f parity.toml && echo mounted at $PWD",
              "echo $GREETING $LEVEL $FROM_FILE",
              "grep -q -e docker-init -e catatonit -e tini /proc/1/comm && echo in-container",
              "(sleep 0.2; echo from-background) & echo started",
              "sleep 0.5; echo second-step",
            ]
            "#,
            runner(&base).replace('\n', "\n            ")
        ))
        .file(".env.ci.local", "FROM_FILE=from-env-file\n")
        .args(["run", "--container"])
        .run();
    out.status(0).result("look", "passed");
    let log = out.log("look");
    assert!(
        log.contains(&format!("mounted at {}", out.path().display())),
        "{log}"
    );
    assert!(log.contains("hello job from-env-file"), "{log}");
    assert!(log.contains("in-container"), "{log}");
    assert!(
        log.contains("from-background"),
        "a background process of one step outlives it\n{log}"
    );
    assert_eq!(
        containers_of(out.path()),
        "",
        "the job's container is removed"
    );
    // The run record names the environment the job ran in: the image, by
    // tag and by content id.
    let record: serde_json::Value =
        serde_json::from_str(&out.read(".parity/runs/latest/run.json")).expect("run.json");
    let image = &record["fingerprint"]["container"];
    assert_eq!(image["image"], base.as_str(), "{image}");
    assert_eq!(
        image["image_id"],
        docker(&["image", "inspect", "--format", "{{.Id}}", &base]).as_str(),
        "{image}"
    );
}

#[test]
fn files_written_in_the_container_belong_to_the_caller() {
    if !engine() {
        return;
    }
    let base = base_image();
    let test = project(&[(
        "parity.toml",
        &format!("version = 1\n{}[jobs.write]\nrun = \"mkdir -p out && echo data > out/file.txt && id -u\"\n", runner(&base)),
    )]);
    let dir = test.path().to_owned();
    // As root, run parity as an ordinary user who may use the engine, so
    // "owned by the caller" is not trivially root.
    let (uid, gid) = if nix::unistd::getuid().is_root() {
        (4242, 4242)
    } else {
        (
            nix::unistd::getuid().as_raw(),
            nix::unistd::getgid().as_raw(),
        )
    };
    let mut command = if nix::unistd::getuid().is_root() {
        let docker_gid = std::fs::metadata("/var/run/docker.sock")
            .map(|m| std::os::unix::fs::MetadataExt::gid(&m))
            .unwrap_or(0);
        chown_tree(&dir, uid, gid);
        let mut c = Command::new("setpriv");
        c.args([
            format!("--reuid={uid}"),
            format!("--regid={gid}"),
            format!("--groups={docker_gid}"),
            "--".to_owned(),
        ])
        .arg(PARITY);
        c
    } else {
        Command::new(PARITY)
    };
    let out = command
        .args(["run", "--container"])
        .current_dir(&dir)
        .env("HOME", &dir)
        .stdin(Stdio::null())
        .output()
        .expect("run parity");
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    let meta = std::fs::metadata(dir.join("out/file.txt")).expect("the job wrote out/file.txt");
    assert_eq!(
        (
            std::os::unix::fs::MetadataExt::uid(&meta),
            std::os::unix::fs::MetadataExt::gid(&meta)
        ),
        (uid, gid),
        "{text}"
    );
    let dir_meta = std::fs::metadata(dir.join("out")).expect("out/");
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&dir_meta), uid);
    drop(test);
}

fn chown_tree(dir: &Path, uid: u32, gid: u32) {
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(dir)
        .status()
        .expect("chown");
    assert!(status.success());
}

/// `parity image build` in `dir`, and the tags of this project's images.
fn build_and_list(dir: &Path) -> (Output2, Vec<String>) {
    let out = Command::new(PARITY)
        .args(["image", "build"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("parity image build");
    let tags = docker_quiet(&[
        "images",
        "--filter",
        &format!("label=parity.runner={}", dir.display()),
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    let mut tags: Vec<String> = tags.lines().map(str::to_owned).collect();
    tags.sort();
    (
        Output2 {
            code: out.status.code(),
            text: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        },
        tags,
    )
}

struct Output2 {
    code: Option<i32>,
    text: String,
}

fn remove_images(dir: &Path) {
    let ids = docker_quiet(&[
        "images",
        "--quiet",
        "--filter",
        &format!("label=parity.runner={}", dir.display()),
    ]);
    for id in ids.lines().collect::<std::collections::BTreeSet<_>>() {
        docker_quiet(&["rmi", "--force", id]);
    }
}

#[test]
fn dockerfile_change_rebuilds_and_no_change_does_not() {
    if !engine() {
        return;
    }
    let base = base_image();
    let test = project(&[
        ("parity.toml", "version = 1\n[runner]\ndockerfile = \"ci/runner.Dockerfile\"\n[jobs.deps]\nrun = \"cat /deps.txt\"\n"),
        ("ci/runner.Dockerfile", &format!("FROM {base}\nCOPY deps.txt /deps.txt\n")),
        ("deps.txt", "lib==1\n"),
        ("src/main.sh", "echo one\n"),
    ]);
    let dir = test.path().to_owned();

    let (first, tags) = build_and_list(&dir);
    assert_eq!(first.code, Some(0), "{}", first.text);
    assert!(
        first.text.contains("built parity-runner-"),
        "{}",
        first.text
    );
    assert_eq!(tags.len(), 1, "{tags:?}");

    let started = Instant::now();
    let (second, again) = build_and_list(&dir);
    assert!(second.text.contains("is up to date"), "{}", second.text);
    assert_eq!(again, tags, "an unchanged Dockerfile builds nothing");
    assert!(started.elapsed() < Duration::from_secs(5));

    std::fs::write(dir.join("src/main.sh"), "echo two\n").expect("edit source");
    let (third, same) = build_and_list(&dir);
    assert!(
        third.text.contains("is up to date"),
        "source is mounted, not built in: {}",
        third.text
    );
    assert_eq!(same, tags);

    std::fs::write(dir.join("deps.txt"), "lib==2\n").expect("edit deps");
    let (fourth, more) = build_and_list(&dir);
    assert!(
        fourth.text.contains("built parity-runner-"),
        "{}",
        fourth.text
    );
    assert_eq!(more.len(), 2, "a copied file changed: a new tag {more:?}");

    let run = Command::new(PARITY)
        .args(["run", "--container"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .expect("run");
    let text = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{text}");
    assert!(
        !text.contains("building runner image"),
        "the run reuses the built image\n{text}"
    );
    let log = std::fs::read_to_string(dir.join(".parity/runs/latest/deps.log")).expect("log");
    assert!(log.contains("lib==2"), "{log}");

    let ls = Command::new(PARITY)
        .args(["image", "ls"])
        .current_dir(&dir)
        .output()
        .expect("ls");
    let listed = String::from_utf8_lossy(&ls.stdout);
    assert_eq!(
        listed.lines().filter(|l| l.starts_with('*')).count(),
        1,
        "{listed}"
    );
    remove_images(&dir);
}

#[test]
fn matrix_value_selects_the_image() {
    if !engine() {
        return;
    }
    let base = base_image();
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [runner]
            dockerfile = "Dockerfile"
            build_args = { FLAVOR = "{{matrix.flavor}}" }
            [jobs.which]
            matrix = { flavor = ["sweet", "sour"] }
            # `{{{{` is a literal `{{` in the container too.
            run = "test \"$(cat /flavor)\" = {{matrix.flavor}} && echo '{{{{.Names}}' | grep -qxF '{''{.Names}}' && echo flavor-ok"
            "#,
        )
        .file(
            "Dockerfile",
            &format!("FROM {base}\nARG FLAVOR\nRUN echo $FLAVOR > /flavor\n"),
        )
        .args(["run", "--container"])
        .run();
    out.status(0)
        .result("which (flavor=sweet)", "passed")
        .result("which (flavor=sour)", "passed");
    remove_images(out.path());
}

#[test]
fn ctrl_c_kills_and_removes_the_container() {
    if !engine() {
        return;
    }
    let base = base_image();
    let test = project(&[(
        "parity.toml",
        &format!(
            "version = 1\n{}[jobs.slow]\nrun = \"echo started; sleep 300\"\n",
            runner(&base)
        ),
    )]);
    let dir = test.path().to_owned();
    let mut running = Command::new(PARITY)
        .args(["run", "--container"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start parity");
    let deadline = Instant::now() + Duration::from_secs(30);
    while containers_of(&dir).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the job's container never started"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(300));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(running.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .expect("signal");
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(status) = running.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = running.kill();
            panic!("parity did not stop after Ctrl-C");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(130));
    let log = std::fs::read_to_string(dir.join(".parity/runs/latest/slow.log")).expect("log");
    assert!(log.contains("started"), "{log}");
    assert_eq!(containers_of(&dir), "", "no container is left");
}

#[test]
fn timeout_stops_the_container() {
    if !engine() {
        return;
    }
    let base = base_image();
    let out = Test::new()
        .pipeline(&format!(
            "version = 1\n{}[jobs.slow]\nrun = \"sleep 300\"\ntimeout = \"1s\"\n",
            runner(&base)
        ))
        .args(["run", "--container"])
        .run();
    out.status(1).result("slow", "timed out");
    assert!(out.elapsed < Duration::from_secs(20), "{out}");
    assert_eq!(containers_of(out.path()), "");
}

/// A service image: busybox httpd that starts serving only after a delay,
/// so a job that is not held back by the healthcheck would fail.
fn slow_web_image(base: &str) -> String {
    let tag = format!("{base}-slowweb").replace("parity-test-base:", "parity-test-slowweb:");
    if docker_quiet(&["image", "inspect", "--format", "{{.Id}}", &tag]).is_empty() {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(
            dir.path().join("Dockerfile"),
            format!(
                "FROM {base}\nCMD [\"sh\", \"-c\", \"sleep 2; echo ready > /www/index.html; exec httpd -f -p 8080 -h /www\"]\n"
            ),
        )
        .expect("Dockerfile");
        docker(&[
            "build",
            "--quiet",
            "--tag",
            &tag,
            &dir.path().display().to_string(),
        ]);
    }
    tag
}

/// The base image and the slow web image, or `None` where no engine
/// answers (said by [`engine`]).
fn base_and_web() -> Option<(String, String)> {
    if !engine() {
        return None;
    }
    let base = base_image();
    let web = slow_web_image(&base);
    Some((base, web))
}

/// A compose file whose service `web` runs `web` (see `slow_web_image`),
/// healthy once it answers.
fn web_compose(web: &str) -> String {
    format!(
        "services:\n  web:\n    image: {web}\n    ports: [\"8080\"]\n    healthcheck:\n      test: [\"CMD\", \"wget\", \"-q\", \"-O-\", \"http://127.0.0.1:8080/\"]\n      interval: 1s\n      retries: 30\n"
    )
}

#[test]
fn container_service_healthcheck_gates_the_jobs() {
    let Some((base, web)) = base_and_web() else {
        return;
    };
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            compose = "docker/docker-compose.ci.yml"
            [runner]
            image = "{base}"
            [jobs.inside]
            container = true
            services = ["web"]
            run = ["wget -q -O- http://web:8080/", "wget -q -O- $WEB_URL/ && echo $WEB_HOST:$WEB_PORT", "echo {{{{services.web.url}}}}"]
            [jobs.outside]
            container = false
            services = ["web"]
            run = ["curl -fsS $WEB_URL/", "echo $WEB_HOST {{{{services.web.host}}}}"]
            "#
        ))
        .file(
            "docker/docker-compose.ci.yml",
            &web_compose(&web),
        )
        .args(["run"])
        .run();
    out.status(0)
        .result("inside", "passed")
        .result("outside", "passed");
    let inside = out.log("inside");
    assert!(inside.contains("ready"), "{inside}");
    assert!(
        inside.contains("web:8080"),
        "jobs in containers reach services by name\n{inside}"
    );
    assert!(inside.contains("http://web:8080"), "{inside}");
    let outside = out.log("outside");
    assert!(outside.contains("ready"), "{outside}");
    assert!(
        outside.contains("127.0.0.1 127.0.0.1"),
        "the host reaches services by published port\n{outside}"
    );
    assert_eq!(
        containers_of(out.path()),
        "",
        "service containers are removed"
    );
    assert_eq!(networks_of(out.path()), "", "the run's network is removed");
}

/// A pipeline whose runner is `base` and whose one container service,
/// `web`, answers on port 8080 once its healthcheck passes.
fn with_web_service(base: &str, web: &str) -> Test {
    Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            compose = "docker/docker-compose.ci.yml"
            [runner]
            image = "{base}"
            [env]
            GREETING = "hello"
            [jobs.t]
            run = "true"
            "#
        ))
        .file("docker/docker-compose.ci.yml", &web_compose(web))
}

fn networks_of(dir: &Path) -> String {
    docker_quiet(&[
        "network",
        "ls",
        "--filter",
        &format!("label=parity.root={}", dir.display()),
        "--quiet",
    ])
}

#[test]
fn shell_runs_in_the_runner_with_the_services_then_removes_them() {
    let Some((base, web)) = base_and_web() else {
        return;
    };
    let out = with_web_service(&base, &web)
        .file("notes.txt", "from the repository\n")
        .args([
            "shell",
            "--",
            "bash",
            "-c",
            "cat notes.txt; echo $GREETING $WEB_HOST:$WEB_PORT; wget -q -O- $WEB_URL/; exit 7",
        ])
        .run();
    out.status(7)
        .stdout_contains("from the repository\n")
        .stdout_contains("hello web:8080\n")
        .stdout_contains("ready\n");
    assert_eq!(containers_of(out.path()), "", "no container is left");
    assert_eq!(networks_of(out.path()), "", "the network is removed");
}

#[test]
fn shell_stopped_by_sigterm_or_sighup_removes_its_containers() {
    let Some((base, web)) = base_and_web() else {
        return;
    };
    // Signalled as soon as its container exists, the shell may not have
    // started yet: the client then ends without handing the signal on.
    // Signalled once it runs, a shell that ignores the signal has its
    // container removed after the grace period.
    for (signal, command, wait_for) in [
        (Signal::SIGHUP, "sleep 300", None),
        (
            Signal::SIGTERM,
            "trap '' TERM; touch started; sleep 300",
            Some("started"),
        ),
    ] {
        let running = with_web_service(&base, &web)
            .args(["shell", "--", "bash", "-c", command])
            .spawn();
        let dir = running.path().to_owned();
        let deadline = Instant::now() + Duration::from_secs(60);
        // The service's container and then the shell's (and what it writes).
        while containers_of(&dir).lines().count() < 2
            || wait_for.is_some_and(|file| !dir.join(file).exists())
        {
            assert!(Instant::now() < deadline, "the shell never started");
            std::thread::sleep(Duration::from_millis(50));
        }
        running.signal(signal);
        let out = running.finish(Duration::from_secs(30));
        assert!(out.code.is_some(), "{signal}: parity ended\n{out}");
        assert_eq!(containers_of(&dir), "", "{signal}: no container is left");
        assert_eq!(networks_of(&dir), "", "{signal}: the network is removed");
    }
}

#[test]
fn same_pipeline_passes_on_the_host_and_in_the_container() {
    if !engine() {
        return;
    }
    let base = base_image();
    let out = Test::new()
        .pipeline(&format!(
            r#"
            version = 1
            {}
            [jobs.build]
            run = ["mkdir -p out", "echo built > out/artifact"]
            [jobs.test]
            needs = ["build"]
            run = "grep -q built out/artifact"
            "#,
            runner(&base).replace('\n', "\n            ")
        ))
        .args(["run", "--compare"])
        .run();
    out.status(0).stdout_contains("same verdict for every job");
}

#[test]
fn compare_names_the_job_whose_verdict_differs() {
    if !engine() {
        return;
    }
    let base = base_image();
    let out = Test::new()
        .pipeline(&format!(
            "version = 1\n{}[jobs.portable]\nrun = \"true\"\n[jobs.hostonly]\nrun = \"test -n \\\"$ONLY_ON_THE_HOST\\\"\"\n",
            runner(&base)
        ))
        // The host's environment is not passed into containers wholesale.
        .env("ONLY_ON_THE_HOST", "1")
        .args(["run", "--compare", "--keep-going"])
        .run();
    out.status(1).stdout_contains("1 job differs");
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("hostonly") && l.contains("differs")),
        "{out}"
    );
}

#[test]
fn unreachable_engine_is_a_clear_error() {
    let out = Test::new()
        .pipeline("version = 1\n[runner]\nimage = \"x\"\n[jobs.a]\nrun = \"true\"\n")
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("PARITY_ENGINE", "docker")
        .args(["run", "--container"])
        .run();
    if which("docker").is_none() {
        return;
    }
    out.status(1)
        .stderr_contains("docker: cannot connect to the Docker daemon")
        .stderr_contains("run without --container");
}

#[test]
fn unknown_engine_is_bad_usage() {
    Test::new()
        .pipeline("version = 1\n[runner]\nimage = \"x\"\n[jobs.a]\nrun = \"true\"\n")
        .env("PARITY_ENGINE", "no-such-engine-here")
        .args(["run", "--container"])
        .run()
        .status(2)
        .stderr_contains("PARITY_ENGINE=no-such-engine-here");
}

#[test]
fn devcontainer_names_the_runner_dockerfile() {
    let out = Test::new()
        .pipeline("version = 1\n[runner]\ndockerfile = \"ci/runner.Dockerfile\"\nbuild_args = { PY = \"3.12\" }\n[jobs.a]\nrun = \"true\"\n")
        .file("ci/runner.Dockerfile", "FROM scratch\n")
        .args(["gen", "devcontainer"])
        .run();
    out.status(0);
    let json: serde_json::Value =
        serde_json::from_str(&out.read(".devcontainer/devcontainer.json")).expect("valid JSON");
    assert_eq!(json["build"]["dockerfile"], "../ci/runner.Dockerfile");
    assert_eq!(json["build"]["context"], "..");
    assert_eq!(json["build"]["args"]["PY"], "3.12");
}

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_string_lossy()
        .split(':')
        .map(|dir| Path::new(dir).join(program))
        .find(|p| p.is_file())
}

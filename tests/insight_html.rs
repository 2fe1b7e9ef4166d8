//! The HTML timeline, opened in a real browser: headless Chromium renders a
//! bar for every job, and the page asks the network for nothing.

use crate::harness::Test;
use crate::insight::again;
use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Hosts Chromium itself calls in the background (clock, component and
/// account services), whatever page it shows. Anything else through the
/// proxy came from the page. Font and script CDNs are deliberately absent.
const BROWSER_OWN: &[&str] = &[
    "clients2.google.com",
    "update.googleapis.com",
    "redirector.gvt1.com",
    "accounts.google.com",
    "optimizationguide-pa.googleapis.com",
    "safebrowsingohttpgateway.googleapis.com",
    "content-autofill.googleapis.com",
    "edgedl.me.gvt1.com",
    "www.google.com",
];

/// The host a proxied request goes to: `CONNECT host:443` or `GET http://host/…`.
fn requested_host(first_line: &str) -> String {
    let target = first_line.split_whitespace().nth(1).unwrap_or_default();
    let target = target.split_once("://").map_or(target, |(_, rest)| rest);
    let authority = target.split('/').next().unwrap_or_default();
    authority
        .rsplit_once(':')
        .map_or(authority, |(host, _)| host)
        .to_owned()
}

/// Records the host of every request the proxy receives until `stop`.
fn watch(proxy: TcpListener, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut hosts = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            match proxy.accept() {
                Ok((mut connection, _)) => {
                    let _ = connection.set_read_timeout(Some(Duration::from_secs(2)));
                    let mut head = [0u8; 512];
                    let read = connection.read(&mut head).unwrap_or(0);
                    let text = String::from_utf8_lossy(&head[..read]).into_owned();
                    hosts.push(requested_host(text.lines().next().unwrap_or_default()));
                }
                Err(_) => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        hosts
    })
}

fn chromium() -> Option<&'static str> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|name| which_on_path(name));
    if found.is_none() {
        eprintln!("SKIPPED: no chromium on PATH (apt-get install -y chromium); the HTML report was not opened in a browser");
    }
    found
}

fn which_on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(name).is_file()))
}

#[test]
fn every_job_has_a_bar_and_the_page_requests_nothing() {
    let out = Test::new()
        .pipeline(
            r#"
            version = 1
            [jobs.lint]
            run = ["echo lint", "sleep 0.3"]
            [jobs.test]
            needs = ["lint"]
            run = "echo test {{matrix.os}} && sleep 0.2"
            matrix = { os = ["linux", "bsd"] }
            [jobs.docs]
            run = "echo '<script>alert(1)</script> & friends'"
            [jobs.broken]
            needs = ["lint"]
            run = "exit 3"
            [jobs.after]
            needs = ["broken"]
            run = "true"
            "#,
        )
        .args(["run", "--keep-going"])
        .run();
    out.status(1);
    let written = again(out.path(), &["report", "-o", "timeline.html"], &[]);
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let page = out.read("timeline.html");
    assert!(
        !page.contains("http://") && !page.contains("https://"),
        "the page references a URL"
    );
    assert!(
        !page.contains("<script>alert"),
        "job output must be escaped"
    );
    let names = [
        "lint",
        "test (os=linux)",
        "test (os=bsd)",
        "docs",
        "broken",
        "after",
    ];

    let Some(browser) = chromium() else { return };
    // Any request the page made would go through this proxy: none may.
    let proxy = TcpListener::bind("127.0.0.1:0").expect("bind a proxy port");
    proxy.set_nonblocking(true).expect("nonblocking");
    let port = proxy.local_addr().expect("address").port();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch(proxy, Arc::clone(&stop));
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--no-first-run",
            &format!("--proxy-server=http://127.0.0.1:{port}"),
            "--proxy-bypass-list=<-loopback>",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
        ])
        .arg(out.path().join("timeline.html"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromium");
    let mut stdout = child.stdout.take().expect("piped");
    let reader = std::thread::spawn(move || {
        let mut dom = String::new();
        let _ = stdout.read_to_string(&mut dom);
        dom
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish within 60s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let dom = reader.join().expect("read the DOM");
    stop.store(true, Ordering::Relaxed);
    let hosts = watcher.join().expect("proxy watcher");
    let from_page: Vec<&String> = hosts
        .iter()
        .filter(|h| !BROWSER_OWN.contains(&h.as_str()))
        .collect();
    assert!(
        from_page.is_empty(),
        "the page made network requests to {from_page:?}"
    );

    assert!(
        dom.contains("class=\"gantt\""),
        "no chart in the DOM:\n{dom}"
    );
    for name in names {
        let attribute = format!("data-job=\"{name}\"");
        let bar = dom
            .split('<')
            .find(|tag| tag.starts_with("a ") && tag.contains(&attribute))
            .unwrap_or_else(|| panic!("no bar for {name} in the DOM:\n{dom}"));
        assert!(bar.contains("class=\"bar "), "{bar}");
        assert!(bar.contains("href=\"#log-"), "a bar opens its log: {bar}");
    }
    let class_of = |name: &str| {
        let attribute = format!("data-job=\"{name}\"");
        dom.split('<')
            .find(|tag| tag.contains(&attribute))
            .and_then(|tag| tag.split("class=\"").nth(1))
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(
        class_of("broken").contains("failed"),
        "{}",
        class_of("broken")
    );
    assert!(
        class_of("after").contains("skipped"),
        "{}",
        class_of("after")
    );
    assert!(
        class_of("lint").contains("critical"),
        "lint starts the longest chain: {}",
        class_of("lint")
    );
    assert!(
        !class_of("docs").contains("critical"),
        "{}",
        class_of("docs")
    );
    assert!(dom.contains("id=\"log-0\""), "logs are embedded");
    assert!(
        dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "escaped output is shown"
    );
}

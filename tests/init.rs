//! `parity init` on small repositories of each kind: the file it writes is
//! one `parity list` accepts and `parity run` passes on, and it never
//! overwrites a pipeline.

use crate::harness::{Output, Test};
use crate::insight::again;
use std::path::Path;

/// Settings that keep package managers off the network in tests: the sample
/// repositories have no dependencies to fetch.
const OFFLINE: &[(&str, &str)] = &[
    ("PIP_DISABLE_PIP_VERSION_CHECK", "1"),
    ("PIP_NO_INDEX", "1"),
    ("npm_config_audit", "false"),
    ("npm_config_fund", "false"),
    ("npm_config_update_notifier", "false"),
    ("npm_config_offline", "true"),
    ("GOFLAGS", "-mod=mod"),
    ("GOTOOLCHAIN", "local"),
];

/// `parity init`, then `parity list`, then (when `run`) `parity run`; returns
/// the written pipeline.
#[track_caller]
fn init_list_run(test: Test, run: bool) -> (Output, String) {
    let out = test.args(["init"]).run();
    out.status(0).stdout_contains("wrote parity.toml");
    let pipeline = out.read("parity.toml");
    let list = again(out.path(), &["list"], OFFLINE);
    assert!(
        list.status.success(),
        "parity list rejects what init wrote:\n{pipeline}\n{}",
        String::from_utf8_lossy(&list.stderr)
    );
    if run {
        let ran = again(out.path(), &["run", "--jobs", "1"], OFFLINE);
        assert!(
            ran.status.success(),
            "parity run fails on what init wrote:\n{pipeline}\n{}\n{}",
            String::from_utf8_lossy(&ran.stdout),
            String::from_utf8_lossy(&ran.stderr)
        );
    }
    (out, pipeline)
}

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).is_file()))
}

#[test]
fn a_cargo_crate() {
    let test = Test::new()
        .file(
            "Cargo.toml",
            "[package]\nname = \"sample\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
        )
        .file(
            "src/lib.rs",
            "//! A sample.\n\n/// Adds.\npub fn add(a: u32, b: u32) -> u32 {\n    a + b\n}\n\n#[cfg(test)]\nmod tests {\n    #[test]\n    fn adds() {\n        assert_eq!(super::add(2, 2), 4);\n    }\n}\n",
        )
        .env("CARGO_TARGET_DIR", &std::env::temp_dir().join("parity-init-sample-target").display().to_string());
    let (out, pipeline) = init_list_run(test, true);
    assert!(
        pipeline.contains("[jobs.test]") && pipeline.contains("cargo test"),
        "{pipeline}"
    );
    // The commented-out `inputs` hints land in their own job once uncommented.
    let uncommented = pipeline.replace("# inputs = ", "inputs = ");
    std::fs::write(out.path().join("parity.toml"), uncommented).expect("write");
    let list = again(out.path(), &["list"], &[]);
    assert!(
        list.status.success(),
        "{}",
        String::from_utf8_lossy(&list.stderr)
    );
    assert!(
        pipeline.contains("rust = \""),
        "the rustc found here is pinned:\n{pipeline}"
    );
}

#[test]
fn a_python_project_with_requirements() {
    let venv = std::process::Command::new("python3")
        .args(["-c", "import venv, ensurepip"])
        .output()
        .is_ok_and(|o| o.status.success());
    let test = Test::new()
        .file("requirements.txt", "# no third-party packages yet\n")
        .file("sample/__init__.py", "def double(x):\n    return 2 * x\n")
        .file("tests/__init__.py", "")
        .file(
            "tests/test_double.py",
            "import unittest\nfrom sample import double\n\n\nclass DoubleTest(unittest.TestCase):\n    def test_double(self):\n        self.assertEqual(double(2), 4)\n",
        );
    if !venv {
        eprintln!("SKIPPED running the python sample: python3 has no venv/ensurepip (apt-get install python3-venv)");
    }
    let (_, pipeline) = init_list_run(test, venv);
    assert!(pipeline.contains("python3 -m venv .venv"), "{pipeline}");
    assert!(
        pipeline.contains("pip install -r requirements.txt"),
        "{pipeline}"
    );
    assert!(pipeline.contains("unittest discover"), "{pipeline}");
}

#[test]
fn a_node_project_with_a_lockfile() {
    let test = Test::new()
        .file(
            "package.json",
            r#"{ "name": "sample", "version": "1.0.0", "scripts": { "lint": "node --check index.js", "test": "node test.js" } }"#,
        )
        .file(
            "package-lock.json",
            r#"{ "name": "sample", "version": "1.0.0", "lockfileVersion": 3, "requires": true, "packages": { "": { "name": "sample", "version": "1.0.0" } } }"#,
        )
        .file("index.js", "module.exports = (a, b) => a + b;\n")
        .file("test.js", "const add = require('./index.js');\nif (add(2, 2) !== 4) process.exit(1);\n");
    let runs = on_path("node") && on_path("npm");
    if !runs {
        eprintln!("SKIPPED running the node sample: node or npm is not installed");
    }
    let (_, pipeline) = init_list_run(test, runs);
    for expected in ["npm ci", "npm run lint", "npm run test", "node = \""] {
        assert!(
            pipeline.contains(expected),
            "no {expected:?} in:\n{pipeline}"
        );
    }
}

#[test]
fn a_go_module() {
    let test = Test::new()
        .file("go.mod", "module example.com/sample\n\ngo 1.19\n")
        .file("add.go", "package sample\n\nfunc Add(a, b int) int { return a + b }\n")
        .file(
            "add_test.go",
            "package sample\n\nimport \"testing\"\n\nfunc TestAdd(t *testing.T) {\n\tif Add(2, 2) != 4 {\n\t\tt.Fatal(\"2+2\")\n\t}\n}\n",
        );
    let runs = on_path("go");
    if !runs {
        eprintln!("SKIPPED running the go sample: go is not installed (apt-get install golang-go)");
    }
    let (_, pipeline) = init_list_run(test, runs);
    for expected in ["go vet ./...", "go test ./...", "go = \"1.19\""] {
        assert!(
            pipeline.contains(expected),
            "no {expected:?} in:\n{pipeline}"
        );
    }
}

#[test]
fn makefile_targets_become_jobs() {
    let test = Test::new().file(
        "Makefile",
        ".PHONY: lint test\nCC := cc\n\nlint:\n\t@echo linted\n\ntest: lint\n\t@echo tested\n\ninstall:\n\t@false\n",
    );
    let (_, pipeline) = init_list_run(test, true);
    assert!(
        pipeline.contains("run = \"make lint\"") && pipeline.contains("run = \"make test\""),
        "{pipeline}"
    );
    assert!(!pipeline.contains("make install"), "{pipeline}");
}

#[test]
fn compose_postgres_and_redis_become_presets() {
    let test = Test::new()
        .file("Makefile", "test:\n\t@echo \"db on $$DB_PORT, cache on $$CACHE_PORT\"\n")
        .file(
            "docker-compose.yml",
            "services:\n  db:\n    image: postgres:16-alpine\n    environment:\n      POSTGRES_DB: app\n      POSTGRES_PASSWORD: example\n    ports: [\"5432:5432\"]\n  cache:\n    image: redis:7\n  web:\n    build: .\n",
        );
    let (_, pipeline) = init_list_run(test, false);
    for expected in [
        "[services.db]\npreset = \"postgres\"",
        "POSTGRES_DB = \"app\"",
        "[services.cache]\npreset = \"redis\"",
        "services = [\"db\", \"cache\"]",
        "docker-compose.yml line 2",
    ] {
        assert!(
            pipeline.contains(expected),
            "no {expected:?} in:\n{pipeline}"
        );
    }
    assert!(!pipeline.contains("[services.web]"), "{pipeline}");
}

#[test]
fn an_empty_repository_gets_a_pipeline_that_runs() {
    let (_, pipeline) = init_list_run(Test::new(), true);
    assert!(pipeline.contains("[jobs.hello]"), "{pipeline}");
}

#[test]
fn init_never_overwrites_a_pipeline() {
    let out = Test::new()
        .pipeline("version = 1\n[jobs.mine]\nrun = 'true'\n")
        .args(["init"])
        .run();
    out.status(2).stderr_contains("already exists");
    assert!(out.read("parity.toml").contains("[jobs.mine]"));
    let printed = again(out.path(), &["init", "--stdout"], &[]);
    assert!(printed.status.success());
    assert!(String::from_utf8_lossy(&printed.stdout).contains("version = 1"));
    assert!(
        out.read("parity.toml").contains("[jobs.mine]"),
        "--stdout writes nothing"
    );
}

#[test]
fn a_missing_workflow_is_a_usage_error() {
    let out = Test::new().args(["init", "--from", "nope.yml"]).run();
    out.status(2).stderr_contains("cannot read the workflow");
    assert!(!Path::new(&out.path().join("parity.toml")).exists());
}

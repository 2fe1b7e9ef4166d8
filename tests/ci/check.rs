//! `parity check`: exit 1 with a readable diff when a generated file is
//! stale, with a list when a workflow step bypasses parity; 0 when in sync.

use super::{git, git_init, parity, tempdir, write};

const PIPELINE: &str = r#"
version = 1
[jobs.lint]
run = "cargo fmt --check"
[jobs.test]
needs = ["lint"]
run = "cargo test"
"#;

fn generated() -> tempfile::TempDir {
    let dir = tempdir();
    write(dir.path(), "parity.toml", PIPELINE);
    parity(dir.path(), &["gen", "github"]).status(0);
    dir
}

#[test]
fn in_sync_passes() {
    let dir = generated();
    parity(dir.path(), &["check"])
        .status(0)
        .stdout_has("✔ .github/workflows/parity.yml is up to date");
}

#[test]
fn an_edited_workflow_fails_with_the_diff() {
    let dir = generated();
    let path = dir.path().join(".github/workflows/parity.yml");
    let text = std::fs::read_to_string(&path).unwrap();
    let edited = text.replacen("runs-on: ubuntu-latest", "runs-on: ubuntu-22.04", 1);
    assert_ne!(text, edited);
    std::fs::write(&path, edited).unwrap();
    parity(dir.path(), &["check"])
        .status(1)
        .stdout_has("✘ .github/workflows/parity.yml is stale against parity.toml:")
        .stdout_has("--- .github/workflows/parity.yml (committed)")
        .stdout_has("+++ .github/workflows/parity.yml (from parity.toml)")
        .stdout_has("-    runs-on: ubuntu-22.04\n")
        .stdout_has("+    runs-on: ubuntu-latest\n")
        .stdout_has("bring it up to date with `parity gen github`");
}

#[test]
fn an_edited_pipeline_makes_the_workflow_stale() {
    let dir = generated();
    let mut pipeline = super::super::harness::unindent(PIPELINE);
    pipeline.push_str("[jobs.docs]\nrun = \"mkdocs build\"\n");
    std::fs::write(dir.path().join("parity.toml"), pipeline).unwrap();
    let ran = parity(dir.path(), &["check"]);
    ran.status(1)
        .stdout_has("+  docs:\n")
        .stdout_has("+        run: parity run --job docs --no-deps");
    // Regenerating brings it back in sync.
    parity(dir.path(), &["gen", "github"])
        .status(0)
        .stdout_has("updated .github/workflows/parity.yml");
    parity(dir.path(), &["check"]).status(0);
}

#[test]
fn adding_or_editing_a_deploy_makes_the_workflow_stale() {
    let dir = generated();
    let mut pipeline = super::super::harness::unindent(PIPELINE);
    pipeline.push_str("[deploy.production]\nneeds = [\"test\"]\nrun = \"./deploy.sh\"\n");
    std::fs::write(dir.path().join("parity.toml"), &pipeline).unwrap();
    parity(dir.path(), &["check"])
        .status(1)
        .stdout_has("+  deploy-production:\n")
        .stdout_has("+        run: parity deploy production --commit ${{ github.sha }}");
    // Written anew: the deploy step is parity's own, not a bypass.
    parity(dir.path(), &["gen", "github"]).status(0);
    parity(dir.path(), &["check"])
        .status(0)
        .stdout_has("✔ .github/workflows/parity.yml is up to date");
    let edited = pipeline.replace(
        "[deploy.production]\n",
        "[deploy.production]\nbranch = \"release\"\n",
    );
    std::fs::write(dir.path().join("parity.toml"), edited).unwrap();
    parity(dir.path(), &["check"])
        .status(1)
        .stdout_has("+    if: ${{ !failure() && !cancelled() && github.event_name == 'push' && github.ref == 'refs/heads/release' }}");
}

#[test]
fn steps_that_bypass_parity_are_listed() {
    let dir = generated();
    write(
        dir.path(),
        ".github/workflows/release.yml",
        r#"
        name: release
        on: push
        jobs:
          build:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v4
              - name: Tests
                run: parity run --job test
              - name: Build
                run: |
                  cargo build --release
                  strip target/release/app
        "#,
    );
    let ran = parity(dir.path(), &["check"]);
    ran.status(1)
        .stdout_has("✔ .github/workflows/parity.yml is up to date")
        .stdout_has("✘ workflow steps run commands outside parity")
        .stdout_has(".github/workflows/release.yml:12: job `build`, step `Build`: cargo build --release\n")
        .stdout_has(".github/workflows/release.yml:13: job `build`, step `Build`: strip target/release/app\n");
    assert!(!ran.stdout.contains("parity run --job test\n"), "{ran}");
}

#[test]
fn gitlab_scripts_that_bypass_parity_are_listed() {
    let dir = tempdir();
    write(dir.path(), "parity.toml", PIPELINE);
    write(
        dir.path(),
        ".gitlab-ci.yml",
        r#"
        lint:
          script:
            - parity run --job lint
            - make lint
        "#,
    );
    parity(dir.path(), &["check"])
        .status(1)
        .stdout_has(".gitlab-ci.yml:4: job `lint`, step `script`: make lint");
}

#[test]
fn under_actions_problems_are_annotated() {
    let dir = generated();
    write(
        dir.path(),
        ".github/workflows/other.yml",
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make\n",
    );
    super::parity_env(dir.path(), &["check"], &[("GITHUB_ACTIONS", "true")])
        .status(1)
        .stdout_has("::error file=.github/workflows/other.yml,line=6,title=bypasses parity::`make` runs outside parity");
}

#[test]
fn nothing_generated_is_not_a_failure() {
    let dir = tempdir();
    write(dir.path(), "parity.toml", PIPELINE);
    parity(dir.path(), &["check"])
        .status(0)
        .stdout_has("no generated workflow found");
}

#[test]
fn a_tracked_env_file_is_warned_about() {
    let dir = generated();
    git_init(dir.path());
    write(dir.path(), ".env.ci.local", "NPM_TOKEN=abcdef\n");
    git(dir.path(), &["add", "-f", ".env.ci.local", "parity.toml"]);
    parity(dir.path(), &["check"])
        .status(0)
        .stderr_has("warning: .env.ci.local is tracked by git")
        .stderr_has("git rm --cached .env.ci.local");
}

#[test]
fn an_unreadable_workflow_is_bad_input() {
    let dir = generated();
    write(dir.path(), ".github/workflows/broken.yml", "jobs: [\n");
    parity(dir.path(), &["check"])
        .status(2)
        .stderr_has("broken.yml");
}

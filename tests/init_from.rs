//! `parity init --from` on sample GitHub Actions workflows: what translates
//! runs and passes; what does not is a comment naming its line.

use crate::harness::Test;
use crate::insight::again;

#[track_caller]
fn import(test: Test) -> (crate::harness::Output, String) {
    let out = test
        .args(["init", "--from", ".github/workflows/ci.yml"])
        .run();
    out.status(0);
    let pipeline = out.read("parity.toml");
    let list = again(out.path(), &["list"], &[]);
    assert!(
        list.status.success(),
        "parity list rejects the import:\n{pipeline}\n{}",
        String::from_utf8_lossy(&list.stderr)
    );
    (out, pipeline)
}

#[track_caller]
fn run_passes(out: &crate::harness::Output, pipeline: &str, env: &[(&str, &str)]) -> String {
    let ran = again(out.path(), &["run", "--jobs", "2"], env);
    let stdout = String::from_utf8_lossy(&ran.stdout).into_owned();
    assert!(
        ran.status.success(),
        "parity run fails on the import:\n{pipeline}\n{stdout}\n{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    stdout
}

const MATRIX_WORKFLOW: &str = r#"name: CI
on: [push, pull_request]
env:
  GREETING: hello
jobs:
  lint:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - name: Say hello
        run: echo "$GREETING from lint"
      - uses: docker/build-push-action@v5
        with:
          push: false
  test:
    needs: lint
    runs-on: ubuntu-latest
    timeout-minutes: 15
    strategy:
      fail-fast: false
      matrix:
        flavor: [plain, full]
        level: [1, 2]
        exclude:
          - flavor: plain
            level: 2
    env:
      MODE: strict
    steps:
      - uses: actions/checkout@v4
      - run: |
          test "$MODE" = strict
          echo "testing ${{ matrix.flavor }} at ${{ matrix.level }}" > ../result-${{ matrix.flavor }}-${{ matrix.level }}.txt
        working-directory: web
      - run: test -f ../result-${{ matrix.flavor }}-${{ matrix.level }}.txt && test "$(basename "$PWD")" = web
        working-directory: ./web
        env:
          EXTRA: "${{ env.GREETING }} again"
      - run: echo "commit ${{ github.sha }}"
      - name: Only on main
        if: github.ref == 'refs/heads/main'
        run: echo "$TOKEN_NAME" > /dev/null
        env:
          TOKEN_NAME: ${{ secrets.DEPLOY_TOKEN }}
  root:
    needs: [lint, test]
    runs-on: ${{ matrix.os }}
    defaults:
      run:
        working-directory: web
    steps:
      - run: test "$(basename "$PWD")" = web
      - run: printf '%s\n' '{{.Names}} {{ json . }}' > ../go-template.txt
"#;

#[test]
fn matrix_working_directory_env_and_untranslatable_lines() {
    let (out, pipeline) = import(
        Test::new()
            .file(".github/workflows/ci.yml", MATRIX_WORKFLOW)
            .file("web/.keep", ""),
    );
    for expected in [
        "python = \"3.12\"",
        "GREETING = \"hello\"",
        "[jobs.test]",
        "needs = [\"lint\"]",
        "timeout = \"15m\"",
        "flavor = [\"plain\", \"full\"]",
        "exclude = [{ flavor = \"plain\", level = \"2\" }]",
        "working_directory = \"web\"",
        "MODE = \"strict\"",
        "{{matrix.flavor}}",
        "export EXTRA=\"${GREETING} again\"",
        "optional = [\"DEPLOY_TOKEN\"]",
        "needs = [\"lint\", \"test\"]",
    ] {
        assert!(
            pipeline.contains(expected),
            "no {expected:?} in:\n{pipeline}"
        );
    }
    // Never dropped in silence: each untranslated part names its line.
    for expected in [
        "# line 15: uses: docker/build-push-action@v5 — not translated",
        "# line 23: strategy.fail-fast: false",
        "# line 42: `${{ github.sha }}` cannot be resolved outside GitHub Actions; step not translated:",
        "#   echo \"commit ${{ github.sha }}\"",
        "# line 44: if: github.ref == 'refs/heads/main' — not evaluated",
        "# line 50: runs-on: ${{ matrix.os }} — parity runs on this machine",
    ] {
        assert!(pipeline.contains(expected), "no comment {expected:?} in:\n{pipeline}");
    }
    let listed = again(out.path(), &["list"], &[]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("test (flavor=full, level=2)")
            && !listed.contains("test (flavor=plain, level=2)"),
        "{listed}"
    );
    run_passes(&out, &pipeline, &[]);
    // A Go template's braces are escaped, not taken for placeholders.
    assert!(
        pipeline.contains("'{{{{.Names}} {{{{ json . }}'"),
        "{pipeline}"
    );
    assert_eq!(out.read("go-template.txt"), "{{.Names}} {{ json . }}\n");
    for name in ["plain-1", "full-1", "full-2"] {
        assert!(
            out.exists(&format!("result-{name}.txt")),
            "the matrix instance {name} ran in web/"
        );
    }
}

const SERVICES_WORKFLOW: &str = r#"on: push
jobs:
  integration:
    runs-on: ubuntu-latest
    services:
      postgres:
        image: postgres:16
        env:
          POSTGRES_USER: app
          POSTGRES_PASSWORD: secret-pw
          POSTGRES_DB: appdb
        ports:
          - 5432
        options: >-
          --health-cmd pg_isready
          --health-interval 10s
      redis:
        image: redis:7-alpine
        ports:
          - 6379
      mysql:
        image: mysql:8
    env:
      DATABASE_URL: postgres://app:secret-pw@localhost:${{ job.services.postgres.ports[5432] }}/appdb
    steps:
      - uses: actions/checkout@v4
      - run: test -n "$POSTGRES_PORT" && test -n "$REDIS_PORT"
      - run: |
          pg_isready -h 127.0.0.1 -p ${{ job.services.postgres.ports[5432] }}
          PGPASSWORD=secret-pw psql -h 127.0.0.1 -p ${{ job.services.postgres.ports['5432'] }} -U app -d appdb -c 'select 1'
      - run: redis-cli -p ${{ job.services.redis.ports[6379] }} ping | grep PONG
"#;

/// GitHub would run `1` and `"1"`, and an entry included twice, as two
/// jobs of one name; parity refuses that, so the import keeps one.
const REPEATED_MATRIX_WORKFLOW: &str = r#"name: CI
on: push
jobs:
  test:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        v: [1, "1", 2]
        include:
          - v: 3
          - v: 3
    steps:
      - run: echo "v=${{ matrix.v }}"
"#;

#[test]
fn a_matrix_value_or_entry_listed_twice_is_kept_once() {
    let (out, pipeline) =
        import(Test::new().file(".github/workflows/ci.yml", REPEATED_MATRIX_WORKFLOW));
    for expected in [
        "# line 8: matrix.v: 1 — listed twice, kept once",
        "# line 11: matrix.include: {v: 3} — listed twice, kept once",
        r#"matrix = { v = ["1", "2"], include = [{ v = "3" }] }"#,
    ] {
        assert!(
            pipeline.contains(expected),
            "{expected:?} missing:\n{pipeline}"
        );
    }
    let stdout = run_passes(&out, &pipeline, &[]);
    for v in ["1", "2", "3"] {
        assert_eq!(stdout.matches(&format!("] v={v}\n")).count(), 1, "{stdout}");
    }
}

#[test]
fn services_become_presets() {
    let (out, pipeline) = import(Test::new().file(".github/workflows/ci.yml", SERVICES_WORKFLOW));
    for expected in [
        "[services.postgres]\npreset = \"postgres\"",
        "POSTGRES_DB = \"appdb\"",
        "[services.redis]\npreset = \"redis\"",
        "services = [\"postgres\", \"redis\"]",
        "DATABASE_URL = \"postgres://app:secret-pw@localhost:{{services.postgres.port}}/appdb\"",
        "pg_isready -h 127.0.0.1 -p ${POSTGRES_PORT}",
        "redis-cli -p ${REDIS_PORT} ping",
        "the preset has its own readiness check",
        "line 21: services.mysql: image mysql:8 — only postgres and redis become presets",
    ] {
        assert!(
            pipeline.contains(expected),
            "no {expected:?} in:\n{pipeline}"
        );
    }
    // Real postgres and redis, started by parity (.ci/run installs them).
    run_passes(&out, &pipeline, &[]);
}

#!/usr/bin/env bash
# Services start-up benchmarks (figures in bench/README.md, "Services").
#
# 1. PostgreSQL start to ready, side by side in one hyperfine run:
#    - cold: initdb + `pg_ctl start -w`, what a hand-written script does;
#    - parity: `parity services up db` with a warm template cluster;
#    - floor: `pg_ctl start -w` on an existing cluster (no initdb, no copy).
# 2. `parity services up` for postgres + redis + a small HTTP server against
#    a start-native-services.sh-style script that polls with `sleep 1`.
#
# Usage: bench/services.sh [RUNS]   (needs hyperfine, postgresql, redis-server,
# python3; builds parity in release mode). Runs as root or as a normal user.
set -euo pipefail
RUNS=${1:-15}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
cargo build --release --quiet --manifest-path "$REPO/Cargo.toml"
PARITY="$REPO/target/release/parity"
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
WORK=$(mktemp -d /tmp/parity-bench-services.XXXXXX)
chmod 755 "$WORK"
export XDG_CACHE_HOME="$WORK/cache"
# As root the servers run as `postgres`, as parity's preset does.
if [ "$(id -u)" = 0 ]; then AS_PG="runuser -u postgres --"; PGUSER_OWN=postgres; else AS_PG=""; PGUSER_OWN=$(id -un); fi
export PGBIN AS_PG PGUSER_OWN WORK PARITY

mkdir -p "$WORK/one" "$WORK/three"
cat > "$WORK/one/parity.toml" <<'TOML'
version = 1
[services.db]
preset = "postgres"
[jobs.t]
run = "true"
TOML
cat > "$WORK/three/parity.toml" <<'TOML'
version = 1
[services.db]
preset = "postgres"
[services.cache]
preset = "redis"
[services.web]
command = "python3 -m http.server {{port}} --bind 127.0.0.1"
ready = { http = "http://127.0.0.1:{{port}}/", interval = "20ms" }
[jobs.t]
run = "true"
TOML
# Warm the template cache once.
(cd "$WORK/one" && "$PARITY" services up >/dev/null && "$PARITY" services down >/dev/null)

cat > "$WORK/stop.sh" <<'SH'
# Stops whatever the previous timed run started (hyperfine 1.15 has no per-run teardown).
for d in "$WORK/cold" "$WORK/floor" "$WORK/script/pg"; do
  [ -f "$d/postmaster.pid" ] && $AS_PG "$PGBIN/pg_ctl" -D "$d" -m immediate stop >/dev/null 2>&1 || true
done
[ -f "$WORK/script/redis.pid" ] && kill "$(cat "$WORK/script/redis.pid")" 2>/dev/null || true
[ -f "$WORK/script/web.pid" ] && kill "$(cat "$WORK/script/web.pid")" 2>/dev/null || true
(cd "$WORK/one" && "$PARITY" services down >/dev/null 2>&1) || true
(cd "$WORK/three" && "$PARITY" services down >/dev/null 2>&1) || true
SH
# A cluster to start bare, copied fresh before each run.
mkdir "$WORK/seed" && chown "$PGUSER_OWN" "$WORK/seed"
$AS_PG "$PGBIN/initdb" -D "$WORK/seed" -U postgres -A trust --no-sync >/dev/null

cat > "$WORK/script.sh" <<'SH'
# What start-native-services.sh scripts do: initdb, start everything, poll every second.
set -e
D="$WORK/script"; rm -rf "$D"; mkdir -p "$D/pg"; chmod 755 "$D"; chown "$PGUSER_OWN" "$D/pg"
$AS_PG "$PGBIN/initdb" -D "$D/pg" -U postgres -A trust --no-sync >/dev/null
$AS_PG "$PGBIN/pg_ctl" -D "$D/pg" -o "-p 54329 -k $D/pg -c fsync=off" -l "$D/pg/log" start >/dev/null
redis-server --port 63799 --save '' --appendonly no --daemonize yes --pidfile "$D/redis.pid" --logfile "$D/redis.log" >/dev/null
python3 -m http.server 8799 --bind 127.0.0.1 >"$D/web.log" 2>&1 & echo $! > "$D/web.pid"
until "$PGBIN/pg_isready" -q -h 127.0.0.1 -p 54329 && redis-cli -p 63799 ping >/dev/null 2>&1 \
      && curl -fs -o /dev/null http://127.0.0.1:8799/; do sleep 1; done
SH

PG_OPTS="-p 54328 -c fsync=off -c listen_addresses=localhost"
hyperfine --runs "$RUNS" --shell bash --export-markdown "$WORK/postgres.md" \
  --prepare "source $WORK/stop.sh; rm -rf $WORK/cold; mkdir $WORK/cold; chown $PGUSER_OWN $WORK/cold" \
  -n "cold: initdb + pg_ctl start -w" \
  "$AS_PG $PGBIN/initdb -D $WORK/cold -U postgres -A trust --no-sync >/dev/null && $AS_PG $PGBIN/pg_ctl -D $WORK/cold -o '$PG_OPTS -k $WORK/cold' -w -l $WORK/cold/log start >/dev/null" \
  --prepare "source $WORK/stop.sh" \
  -n "parity services up db (warm template)" \
  "cd $WORK/one && $PARITY services up db >/dev/null" \
  --prepare "source $WORK/stop.sh; rm -rf $WORK/floor; cp -a $WORK/seed $WORK/floor" \
  -n "floor: pg_ctl start -w, existing cluster" \
  "$AS_PG $PGBIN/pg_ctl -D $WORK/floor -o '$PG_OPTS -k $WORK/floor' -w -l $WORK/floor/log start >/dev/null"

hyperfine --runs "$RUNS" --shell bash --export-markdown "$WORK/three.md" \
  --prepare "source $WORK/stop.sh" \
  -n "start-native-services.sh (sleep 1 polling)" "source $WORK/script.sh" \
  --prepare "source $WORK/stop.sh" \
  -n "parity services up (postgres + redis + http)" "cd $WORK/three && $PARITY services up >/dev/null"

source "$WORK/stop.sh"
cat "$WORK/postgres.md" "$WORK/three.md"
rm -rf "$WORK"

#!/usr/bin/env bash
# Secret masking on the log path: one job prints 1 GiB of log lines, and
# `parity run` carries them through its pipe, the masking stream, the job's
# log file and the console (stdout to /dev/null), with
#
#   none    no secrets configured
#   twenty  20 secrets configured (none of them in the output: the usual case)
#   hits    20 secrets, one of them on every line (worst case; not a goal)
#
#   bench/masking.sh             # 5 runs of each after a warm-up
#   RUNS=10 bench/masking.sh
#
# Goal: `twenty` keeps at least 70 % of `none`'s throughput. hyperfine's
# Markdown and JSON go to bench/results/ (or $PARITY_BENCH_OUT); a missed goal
# exits 1. Needs hyperfine and jq; builds the release binary of the work tree
# unless PARITY_BIN names one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${PARITY_BENCH_OUT:-$ROOT/bench/results}
RUNS=${RUNS:-5}
GOAL=0.70
BYTES=$((1024 * 1024 * 1024))

die() { printf 'bench: %s\n' "$*" >&2; exit 2; }
for tool in hyperfine jq awk yes head base64; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' not found on PATH (apt-get install hyperfine jq)"
done

if [[ -z ${PARITY_BIN:-} ]]; then
    (cd "$ROOT" && cargo build --release --quiet)
    PARITY_BIN=$ROOT/target/release/parity
fi
[[ -x $PARITY_BIN ]] || die "no parity binary at $PARITY_BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parity-bench-masking.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK"/{none,twenty,hits} "$OUT"

LINE='INFO request handled in 12ms: GET /api/v1/items?page=3 status=200 bytes=5120 user=alice trace=9f8e7d6c5b4a'
HIT_LINE='INFO request handled in 12ms: GET /api/v1/items?page=3 token=$TOKEN_07 status=200 bytes=5120 user=alice'
names=$(for i in $(seq -w 1 20); do printf '"TOKEN_%s", ' "$i"; done)
names=${names%, }
for i in $(seq -w 1 20); do
    # 24 characters of base64 from 18 random bytes, minus characters dotenv would quote.
    printf 'TOKEN_%s=%s\n' "$i" "$(head -c 18 /dev/urandom | base64 | tr -d '/+=')"
done >"$WORK/secrets.env"

cat >"$WORK/none/parity.toml" <<EOF
version = 1
[jobs.spew]
run = "head -c $BYTES < <(yes '$LINE')"
EOF
cat >"$WORK/twenty/parity.toml" <<EOF
version = 1
[secrets]
required = [$names]
[jobs.spew]
run = "head -c $BYTES < <(yes '$LINE')"
EOF
cat >"$WORK/hits/parity.toml" <<EOF
version = 1
[secrets]
required = [$names]
[jobs.spew]
run = "head -c $BYTES < <(yes \"$HIT_LINE\")"
EOF
cp "$WORK/secrets.env" "$WORK/twenty/.env.ci.local"
cp "$WORK/secrets.env" "$WORK/hits/.env.ci.local"

cmd() { printf 'cd %q && %q run --jobs 1 >/dev/null' "$WORK/$1" "$PARITY_BIN"; }
hyperfine --warmup 1 --runs "$RUNS" \
    --prepare "rm -rf '$WORK'/none/.parity '$WORK'/twenty/.parity '$WORK'/hits/.parity" \
    --command-name none "$(cmd none)" \
    --command-name twenty "$(cmd twenty)" \
    --command-name hits "$(cmd hits)" \
    --export-json "$OUT/masking.json" --export-markdown "$OUT/masking.md"

# The masked log really is masked: no value of secrets.env in it.
rm -rf "$WORK/hits/.parity"
(cd "$WORK/hits" && "$PARITY_BIN" run --jobs 1 >/dev/null)
while IFS='=' read -r _ value; do
    if grep -qF -- "$value" "$WORK/hits/.parity/runs/latest/spew.log"; then
        die "a secret value is in the log: masking failed"
    fi
done <"$WORK/secrets.env"

mean() { jq -r --arg n "$1" '.results[] | select(.command == $n) | .mean' "$OUT/masking.json"; }
NONE=$(mean none)
TWENTY=$(mean twenty)
HITS=$(mean hits)
awk -v none="$NONE" -v twenty="$TWENTY" -v hits="$HITS" -v bytes="$BYTES" -v goal="$GOAL" '
function mibs(t) { return bytes / 1048576 / t }
BEGIN {
    ratio = none / twenty
    printf "\nthroughput, 1 GiB through parity run (mean of the runs):\n"
    printf "  no secrets               %7.1f MiB/s  (%.2f s)\n", mibs(none), none
    printf "  20 secrets               %7.1f MiB/s  (%.2f s)  %.0f %% of none  goal >= %.0f %%\n", mibs(twenty), twenty, 100 * ratio, 100 * goal
    printf "  20 secrets, one per line %7.1f MiB/s  (%.2f s)  %.0f %% of none  (worst case, no goal)\n", mibs(hits), hits, 100 * none / hits
    exit (ratio >= goal) ? 0 : 1
}' || { printf 'bench: masking missed its goal\n' >&2; exit 1; }

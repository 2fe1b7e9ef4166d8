#!/usr/bin/env bash
# Benchmarks for parity's core runner, side by side with its peers.
#
#   bench/run.sh                 # all four: steps dag logs list
#   bench/run.sh steps list      # a subset
#   bench/run.sh --rev HEAD      # a clean export of a commit, not the work tree
#   bench/run.sh --wait-idle 900 # first wait (up to 900 s) for idle CPUs
#   bench/run.sh --nice -10      # on a shared machine: run at a higher CPU
#                                # priority (root; autogroup-aware, restored)
#   bench/run.sh --bin PATH      # measure that binary, build nothing (A/B)
#
# Builds the release binary (of the work tree, or with --rev of `git archive
# REV` into target/bench-rev/), generates every input in a temporary directory
# (removed on exit), runs hyperfine, and prints each figure against its goal.
# hyperfine's Markdown and JSON exports, the machine description and a summary
# go to target/bench/run/ (or $PARITY_BENCH_OUT). PARITY_BENCH_STRICT=1 makes a
# missed goal exit 1; PARITY_BENCH_PAIRS sets how many interleaved pairs the
# steps benchmark runs (40). See bench/README.md for the goals and results.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${PARITY_BENCH_OUT:-$ROOT/target/bench/run}
STRICT=${PARITY_BENCH_STRICT:-0}
ALL=(steps dag logs list)

die() { printf 'bench: %s\n' "$*" >&2; exit 2; }
say() { printf '\n== %s\n' "$*"; }

# ---------------------------------------------------------------- arguments
REV=
BIN=
WAIT_IDLE=0
NICE=
SELECTED=()
while [[ $# -gt 0 ]]; do
    case $1 in
        steps | dag | logs | list) SELECTED+=("$1") ;;
        --rev) [[ $# -ge 2 ]] || die "--rev needs a commit"; REV=$2; shift ;;
        --rev=*) REV=${1#--rev=} ;;
        --bin) [[ $# -ge 2 ]] || die "--bin needs a path"; BIN=$2; shift ;;
        --nice) [[ $# -ge 2 && $2 =~ ^-?[0-9]+$ ]] || die "--nice needs a niceness (-20..19)"; NICE=$2; shift ;;
        --wait-idle) [[ $# -ge 2 && $2 =~ ^[0-9]+$ ]] || die "--wait-idle needs seconds"; WAIT_IDLE=$2; shift ;;
        -h | --help) sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (benchmarks: ${ALL[*]}; options: --rev REV, --bin PATH, --wait-idle SECS, --nice N)" ;;
    esac
    shift
done
if [[ ${#SELECTED[@]} -eq 0 ]]; then SELECTED=("${ALL[@]}"); fi
selected() { [[ " ${SELECTED[*]} " == *" $1 "* ]]; }

# ---------------------------------------------------------------- tools
need() { # name, how to get it
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found on PATH; $2"
}
if [[ -z $BIN ]]; then need cargo "install Rust (https://rustup.rs)"; fi
need hyperfine "apt-get install hyperfine (or cargo install hyperfine)"
need jq "apt-get install jq"
need awk "apt-get install gawk"
need bash "it runs every step"
if selected steps; then
    JUST=${JUST:-$(command -v just 2>/dev/null || echo "$HOME/.cargo/bin/just")}
    [[ -x $JUST ]] || die "'just' not found on PATH nor at $JUST; cargo install just (or set JUST=/path/to/just)"
fi
if selected logs; then
    GNU_TIME=${GNU_TIME:-/usr/bin/time}
    "$GNU_TIME" -v true >/dev/null 2>&1 || die "GNU time not found at $GNU_TIME; apt-get install time (or set GNU_TIME)"
    need yes "apt-get install coreutils"
    need head "apt-get install coreutils"
fi

# ---------------------------------------------------------------- work dir
WORK=$(mktemp -d "${TMPDIR:-/tmp}/parity-bench.XXXXXX")
AUTOGROUP_NICE=   # the session's autogroup niceness to restore, if we changed it
SHM_DIRS=()       # inputs placed on tmpfs, removed with the rest
cleanup() {
    rm -rf "$WORK" "${SHM_DIRS[@]}"
    if [[ -n $AUTOGROUP_NICE ]]; then echo "$AUTOGROUP_NICE" >/proc/self/autogroup 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -p "$OUT"

# ---------------------------------------------------------------- machine load
# Share of all CPUs busy (any process) over one second, in percent. The
# machine may be shared: a busy figure next to a result says to distrust it.
cpu_busy() {
    local a b
    a=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $5 + $6, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9; exit }' /proc/stat)
    awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " ");
        t = y[2] - x[2]; if (t <= 0) { print 0; exit } printf "%.0f", 100 * (1 - (y[1] - x[1]) / t) }'
}

wait_idle() { # waits up to WAIT_IDLE seconds for 3 quiet seconds in a row (< 10 % busy)
    ((WAIT_IDLE > 0)) || return 0
    local deadline=$((SECONDS + WAIT_IDLE)) quiet=0 busy
    while ((SECONDS < deadline)); do
        busy=$(cpu_busy)
        if ((busy < 10)); then
            quiet=$((quiet + 1))
            if ((quiet >= 3)); then return 0; fi
        else
            quiet=0
            printf '  waiting for idle CPUs (%s %% busy)\r' "$busy"
        fi
    done
    printf '\n  still busy after %s s; measuring anyway\n' "$WAIT_IDLE"
}

# ---------------------------------------------------------------- priority
# Everything measured runs as a child of this script, so it inherits the
# niceness. With autogroup scheduling (most desktop kernels), niceness only
# counts inside the session's group; the group's own niceness is raised too.
if [[ -n $NICE ]]; then
    renice -n "$NICE" -p $$ >/dev/null 2>&1 || die "cannot renice to $NICE (needs root or CAP_SYS_NICE)"
    if [[ $(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo 0) == 1 && -w /proc/self/autogroup ]]; then
        AUTOGROUP_NICE=$(awk '{ print $3 }' /proc/self/autogroup)
        echo "$NICE" >/proc/self/autogroup || die "cannot set the autogroup niceness to $NICE"
    fi
fi

# ---------------------------------------------------------------- build
if [[ -n $BIN ]]; then
    [[ -z $REV ]] || die "--bin and --rev exclude each other"
    [[ -x $BIN ]] || die "--bin $BIN is not an executable"
    PARITY=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
    BUILT="$PARITY (given with --bin, not built)"
elif [[ -z $REV ]]; then
    say "building parity from the work tree (cargo build --release)"
    (cd "$ROOT" && cargo build --release --quiet) || die "cargo build --release failed in $ROOT"
    PARITY=$ROOT/target/release/parity
    BUILT="$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if ! git -C "$ROOT" diff --quiet HEAD -- src Cargo.toml Cargo.lock 2>/dev/null ||
        [[ -n $(git -C "$ROOT" ls-files --others --exclude-standard -- src 2>/dev/null) ]]; then
        BUILT+=" + uncommitted changes under src/"
    fi
else
    need git "apt-get install git"
    commit=$(git -C "$ROOT" rev-parse --verify "$REV^{commit}") || die "no commit '$REV'"
    say "building parity at ${commit:0:7} (git archive, cargo build --release)"
    mkdir -p "$WORK/src"
    # -m: files dated now, not at the commit's time, so cargo never takes an
    # older build of other sources in target/bench-rev for up to date.
    git -C "$ROOT" archive "$commit" | tar -x -m -C "$WORK/src"
    # A target directory of its own: never replaces the work tree's binary.
    (cd "$WORK/src" && CARGO_TARGET_DIR=$ROOT/target/bench-rev cargo build --release --quiet) ||
        die "cargo build --release failed at ${commit:0:7}"
    PARITY=$ROOT/target/bench-rev/release/parity
    BUILT="${commit:0:7} (clean export)"
fi
[[ -x $PARITY ]] || die "no binary at $PARITY after the build"

{
    echo "date:      $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "built:     $BUILT"
    echo "cpu:       $(nproc) cores, $(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
    echo "memory:    $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)"
    echo "kernel:    $(uname -sr)"
    echo "load:      $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) before the run"
    echo "priority:  niceness $(ps -o ni= -p $$ | tr -d ' ')$([[ -n $AUTOGROUP_NICE ]] && echo ", autogroup $(awk '{ print $3 }' /proc/self/autogroup)")"
    echo "rustc:     $(rustc --version 2>/dev/null || echo unknown)"
    echo "hyperfine: $(hyperfine --version)"
    echo "bash:      $(bash --version | head -n1)"
    if selected steps; then echo "just:      $("$JUST" --version)"; fi
} | tee "$OUT/machine.txt"

# ---------------------------------------------------------------- helpers
SUMMARY=()   # rows of the final table: benchmark|goal|measured|verdict
MISSED=0

# mean and stddev (seconds) of command $2 in hyperfine export $1
mean() { jq -r ".results[$2].mean" "$1"; }
stddev() { jq -r ".results[$2].stddev // 0" "$1"; }
# mean user + system CPU seconds of command $2 (the whole process tree)
cpu() { jq -r ".results[$2] | .user + .system" "$1"; }

# a / b with propagated relative error, printed as "1.23 ± 0.04"
ratio() { # mean_a sd_a mean_b sd_b
    awk -v a="$1" -v sa="$2" -v b="$3" -v sb="$4" \
        'BEGIN { r = a / b; e = r * sqrt((sa / a) ^ 2 + (sb / b) ^ 2); printf "%.2f ± %.2f", r, e }'
}

# verdict: passes when value <op> limit (op is <= or <)
verdict() { # value op limit
    if awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { exit !(op == "<=" ? v <= l : v < l) }'; then
        echo PASS
    else
        echo MISS
    fi
}

BUSY=?      # CPU busy (%) just before the current benchmark started

record() { # benchmark goal measured verdict
    SUMMARY+=("$1|$2|$3|$4|$BUSY")
    if [[ $4 == MISS ]]; then MISSED=$((MISSED + 1)); fi
    printf '  %-34s %-24s %s\n' "$2" "$3" "$4"
}

# Paired runs: hyperfine runs each command's runs back to back, so a slow
# spell of a shared machine (seen here: page cache reclaimed under the VM,
# twice the system time for a minute) lands on one command only. This
# alternates two commands (functions), $1 pairs, the first of a pair taking
# turns (what one run leaves behind, a log's writeback, lands on the other
# as often as not), and prints the median of the per-pair ratios a/b with
# the quartiles: "1.02 (0.99–1.05)".
paired() { # pairs function_a function_b
    local pairs=$1 a=$2 b=$3 i ta tb t0
    local -a ratios=()
    for ((i = 0; i < pairs; i++)); do
        if ((i % 2 == 0)); then
            t0=$EPOCHREALTIME; "$a"; ta=$(awk -v s="$t0" -v e="$EPOCHREALTIME" 'BEGIN { print e - s }')
            t0=$EPOCHREALTIME; "$b"; tb=$(awk -v s="$t0" -v e="$EPOCHREALTIME" 'BEGIN { print e - s }')
        else
            t0=$EPOCHREALTIME; "$b"; tb=$(awk -v s="$t0" -v e="$EPOCHREALTIME" 'BEGIN { print e - s }')
            t0=$EPOCHREALTIME; "$a"; ta=$(awk -v s="$t0" -v e="$EPOCHREALTIME" 'BEGIN { print e - s }')
        fi
        ratios+=("$(awk -v a="$ta" -v b="$tb" 'BEGIN { printf "%.6f", a / b }')")
    done
    printf '%s\n' "${ratios[@]}" | sort -g | awk '
        { r[NR] = $1 }
        END { q = int((NR + 1) / 4); if (q < 1) q = 1; printf "%.2f (%.2f–%.2f)", r[int((NR + 1) / 2)], r[q], r[NR + 1 - q] }'
}

ms() { awk -v s="$1" 'BEGIN { printf "%.1f ms", s * 1000 }'; }
secs() { awk -v s="$1" 'BEGIN { printf "%.3f s", s }'; }

# ---------------------------------------------------------------- 1. steps
bench_steps() {
    say "1. per-step overhead: 200 jobs of 'true', one at a time"
    local dir=$WORK/steps n=200 i
    mkdir -p "$dir"
    {
        echo 'version = 1'
        for ((i = 1; i <= n; i++)); do printf '\n[jobs.j%03d]\nrun = "true"\n' "$i"; done
    } >"$dir/parity.toml"
    {
        echo 'set shell := ["bash", "-eo", "pipefail", "-c"]'
        echo
        printf 'default:'
        for ((i = 1; i <= n; i++)); do printf ' j%03d' "$i"; done
        echo
        for ((i = 1; i <= n; i++)); do printf '\nj%03d:\n    true\n' "$i"; done
    } >"$dir/justfile"
    # Sanity: each runs all 200 and succeeds.
    "$PARITY" -f "$dir/parity.toml" run --jobs 1 >"$dir/check.out" || die "parity run failed (see $dir/check.out)"
    [[ $(find "$dir/.parity/runs/latest/" -name '*.log' | wc -l) -eq $n ]] || die "parity did not log all $n jobs"
    [[ $("$JUST" -f "$dir/justfile" 2>&1 >/dev/null | grep -c '^true$') -eq $n ]] || die "just did not run all $n recipes"

    # The same pipeline with its run directories on tmpfs, when /dev/shm is
    # one: the difference to the disk figure is what the disk's file system
    # charges for creating (and pruning) 200 log files a run.
    local shm=
    if [[ -d /dev/shm && -w /dev/shm ]] && df -P /dev/shm 2>/dev/null | awk 'NR == 2 && $4 > 1048576 { ok = 1 } END { exit !ok }'; then
        shm=$(mktemp -d /dev/shm/parity-bench-steps.XXXXXX)
        cp "$dir/parity.toml" "$shm/"
        SHM_DIRS+=("$shm")
    fi

    # Measure the steady state a user is in after a while: parity keeps the
    # last runs (PARITY_KEEP_RUNS, 50 by default) and prunes the oldest after
    # each run. Run until the number of kept runs stops growing (at most 80).
    local where kept previous fills
    for where in "$dir" $shm; do
        previous=-1 fills=0
        while ((fills < 80)); do
            "$PARITY" -f "$where/parity.toml" run --jobs 1 >/dev/null
            fills=$((fills + 1))
            kept=$(find "$where/.parity/runs" -mindepth 1 -maxdepth 1 -type d | wc -l)
            if ((kept == previous)); then break; fi
            previous=$kept
        done
        echo "  steady state in $where: $kept runs kept after $fills fill-up runs"
    done

    local json=$OUT/steps.json
    local extra=()
    if [[ -n $shm ]]; then
        extra=(-n "parity run --jobs 1, runs on tmpfs" "$PARITY -f $shm/parity.toml run --jobs 1")
    fi
    hyperfine -N --warmup 3 --min-runs 20 \
        --export-json "$json" --export-markdown "$OUT/steps.md" \
        -n "parity run --jobs 1" "$PARITY -f $dir/parity.toml run --jobs 1" \
        -n "just" "$JUST -f $dir/justfile" \
        -n "bash loop (bash -c true ×200)" "bash -c 'for i in {1..$n}; do bash -c true; done'" \
        "${extra[@]}"

    local p ps j js b bs r_just r_bash
    p=$(mean "$json" 0) ps=$(stddev "$json" 0)
    j=$(mean "$json" 1) js=$(stddev "$json" 1)
    b=$(mean "$json" 2) bs=$(stddev "$json" 2)
    r_just=$(ratio "$p" "$ps" "$j" "$js")
    r_bash=$(ratio "$p" "$ps" "$b" "$bs")
    echo
    printf '  parity %s · just %s · bash loop %s\n' "$(ms "$p")" "$(ms "$j")" "$(ms "$b")"
    if [[ -n $shm ]]; then
        local t ts
        t=$(mean "$json" 3) ts=$(stddev "$json" 3)
        printf '  runs on tmpfs: parity %s, %s× just, %s× the bash loop (not a goal: it shows the file system'"'"'s share)\n' \
            "$(ms "$t")" "$(ratio "$t" "$ts" "$j" "$js")" "$(ratio "$t" "$ts" "$b" "$bs")"
    fi
    printf '  CPU (user+sys, all processes): parity %s · just %s · bash loop %s; parity/just %s, parity/bash %s\n' \
        "$(ms "$(cpu "$json" 0)")" "$(ms "$(cpu "$json" 1)")" "$(ms "$(cpu "$json" 2)")" \
        "$(awk -v a="$(cpu "$json" 0)" -v b="$(cpu "$json" 1)" 'BEGIN { printf "%.2f×", a / b }')" \
        "$(awk -v a="$(cpu "$json" 0)" -v b="$(cpu "$json" 2)" 'BEGIN { printf "%.2f×", a / b }')"
    printf '  per step: parity %s, just %s, bash %s (extra over bash: %s)\n' \
        "$(awk -v t="$p" -v n=$n 'BEGIN { printf "%.2f ms", t * 1000 / n }')" \
        "$(awk -v t="$j" -v n=$n 'BEGIN { printf "%.2f ms", t * 1000 / n }')" \
        "$(awk -v t="$b" -v n=$n 'BEGIN { printf "%.2f ms", t * 1000 / n }')" \
        "$(awk -v p="$p" -v b="$b" -v n=$n 'BEGIN { printf "%.2f ms", (p - b) * 1000 / n }')"
    record steps "parity ≤ 1.0× just" "${r_just}×" "$(verdict "${r_just%% *}" '<=' 1.0)"
    record steps "parity ≤ 1.3× bash loop" "${r_bash}×" "$(verdict "${r_bash%% *}" '<=' 1.3)"

    # The same goal measured in interleaved pairs (see `paired`).
    run_parity() { "$PARITY" -f "$dir/parity.toml" run --jobs 1 >/dev/null 2>&1; }
    run_just() { "$JUST" -f "$dir/justfile" >/dev/null 2>&1; }
    local pairs=${PARITY_BENCH_PAIRS:-40} r_paired
    r_paired=$(paired "$pairs" run_parity run_just)
    record steps "parity ≤ 1.0× just, $pairs pairs" "median ${r_paired}×" "$(verdict "${r_paired%% *}" '<=' 1.0)"
}

# ---------------------------------------------------------------- 2. dag
bench_dag() {
    say "2. scheduling: 10 layers × 6 jobs of 'sleep 0.2', --jobs 8 (critical path 2.0 s)"
    local dir=$WORK/dag layers=10 width=6 l j k needs
    mkdir -p "$dir"
    {
        echo 'version = 1'
        for ((l = 0; l < layers; l++)); do
            needs=()
            if ((l > 0)); then
                for ((k = 0; k < width; k++)); do needs+=("\"l$((l - 1))_$k\""); done
            fi
            for ((j = 0; j < width; j++)); do
                printf '\n[jobs.l%d_%d]\nrun = "sleep 0.2"\n' "$l" "$j"
                if ((l > 0)); then printf 'needs = [%s]\n' "$(IFS=,; echo "${needs[*]}" | sed 's/,/, /g')"; fi
            done
        done
    } >"$dir/parity.toml"
    "$PARITY" -f "$dir/parity.toml" run --jobs 8 >"$dir/check.out" || die "parity run failed (see $dir/check.out)"
    [[ $(find "$dir/.parity/runs/latest/" -name '*.log' | wc -l) -eq $((layers * width)) ]] || die "parity did not log all jobs"

    # The floor: the same layers as a shell script, each layer's six steps
    # started at once by one shell, then `wait`.
    {
        echo '#!/usr/bin/env bash'
        echo "for ((l = 0; l < $layers; l++)); do"
        echo "    for ((j = 0; j < $width; j++)); do bash -eo pipefail -c 'sleep 0.2' & done"
        echo '    wait'
        echo 'done'
    } >"$dir/floor.sh"
    chmod +x "$dir/floor.sh"

    local json=$OUT/dag.json
    hyperfine -N --warmup 1 --runs 10 \
        --export-json "$json" --export-markdown "$OUT/dag.md" \
        -n "parity run --jobs 8 (60 × sleep 0.2, 10 layers)" "$PARITY -f $dir/parity.toml run --jobs 8" \
        -n "floor: the layers as a bash script (& + wait)" "$dir/floor.sh"
    local m max over floor
    m=$(mean "$json" 0)
    max=$(jq -r '.results[0].max' "$json")
    floor=$(mean "$json" 1)
    over=$(awk -v m="$m" 'BEGIN { printf "%.1f", (m / 2.0 - 1) * 100 }')
    echo
    printf '  mean %s (max %s): %s %% over the 2.0 s critical path\n' "$(secs "$m")" "$(secs "$max")" "$over"
    printf '  shell floor %s (+%s %%): parity adds %s per layer over it\n' "$(secs "$floor")" \
        "$(awk -v f="$floor" 'BEGIN { printf "%.1f", (f / 2.0 - 1) * 100 }')" \
        "$(awk -v m="$m" -v f="$floor" -v l=$layers 'BEGIN { printf "%.1f ms", (m - f) * 1000 / l }')"
    record dag "wall ≤ 2.2 s (critical path +10 %)" "$(secs "$m") (+${over} %)" "$(verdict "$m" '<=' 2.2)"
}

# ---------------------------------------------------------------- 3. logs
bench_logs() {
    say "3. log throughput: one step writing 1 GiB to stdout"
    local dir=$WORK/logs bytes=1073741824
    mkdir -p "$dir"
    local avail
    avail=$(df -Pk "$dir" | awk 'NR == 2 { print $4 }')
    ((avail > 3 * 1024 * 1024)) || die "need 3 GiB free under $dir for the log benchmark"
    # `|| true`: under pipefail, `yes` dying of SIGPIPE when `head` has had
    # enough would fail the step (exit 141).
    local step="{ yes \"\$(printf %099d 0)\" || true; } | head -c $bytes"
    printf 'version = 1\n\n[jobs.flood]\nrun = %s\n' "'$step'" >"$dir/parity.toml"
    # The same command in the same shell, straight to a file.
    printf '#!/usr/bin/env bash\nexec bash -eo pipefail -c %q >%q\n' "$step" "$dir/baseline.out" >"$dir/baseline.sh"
    # Between runs: drop the previous run's output, so page cache and disk
    # writeback do not carry over from one run to the next.
    printf '#!/usr/bin/env bash\nrm -rf %q %q\nsync\n' "$dir/.parity" "$dir/baseline.out" >"$dir/prepare.sh"
    chmod +x "$dir/baseline.sh" "$dir/prepare.sh"

    # Sanity and peak memory: one run each under GNU time.
    "$dir/prepare.sh"
    "$GNU_TIME" -v -o "$dir/parity.time" "$PARITY" -f "$dir/parity.toml" run --jobs 1 >/dev/null ||
        die "parity run failed: $(tail -n 3 "$dir/parity.time")"
    local log_size
    log_size=$(stat -c %s "$dir"/.parity/runs/latest/flood.log)
    ((log_size >= bytes)) || die "the job log holds $log_size bytes, expected at least $bytes"
    "$dir/prepare.sh"
    "$GNU_TIME" -v -o "$dir/baseline.time" "$dir/baseline.sh" || die "baseline failed"
    [[ $(stat -c %s "$dir/baseline.out") -eq $bytes ]] || die "baseline wrote the wrong size"
    local rss_kb base_rss_kb
    rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/parity.time")
    base_rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$dir/baseline.time")

    local json=$OUT/logs.json
    hyperfine -N --warmup 1 --runs 5 \
        --prepare "$dir/prepare.sh" \
        --export-json "$json" --export-markdown "$OUT/logs.md" \
        -n "parity run (1 GiB step, stdout to /dev/null)" "$PARITY -f $dir/parity.toml run --jobs 1" \
        -n "bash -eo pipefail -c STEP > file" "$dir/baseline.sh"
    local p ps b bs r
    p=$(mean "$json" 0) ps=$(stddev "$json" 0)
    b=$(mean "$json" 1) bs=$(stddev "$json" 1)
    r=$(ratio "$p" "$ps" "$b" "$bs")
    echo
    printf '  parity %s (%.0f MiB/s) · baseline %s (%.0f MiB/s)\n' \
        "$(secs "$p")" "$(awk -v p="$p" 'BEGIN { print 1024 / p }')" \
        "$(secs "$b")" "$(awk -v b="$b" 'BEGIN { print 1024 / b }')"
    printf '  CPU (user+sys, all processes): parity run %s · baseline %s\n' "$(secs "$(cpu "$json" 0)")" "$(secs "$(cpu "$json" 1)")"
    printf '  peak RSS: parity %s KiB, baseline (bash and its pipeline, largest process) %s KiB\n' "$rss_kb" "$base_rss_kb"
    record logs "wall ≤ 2× bash > file" "${r}×" "$(verdict "${r%% *}" '<=' 2.0)"
    record logs "peak RSS < 50 MiB" "$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f MiB", k / 1024 }')" \
        "$(verdict "$rss_kb" '<' $((50 * 1024)))"
}

# ---------------------------------------------------------------- 4. list
bench_list() {
    say "4. start-up: parity list on a 1,000-job pipeline"
    local dir=$WORK/list n=1000 i k
    mkdir -p "$dir"
    # Realistic shapes: two steps, an env table, up to three needs on
    # earlier jobs, a timeout on some, a switch on others.
    {
        echo 'version = 1'
        echo
        echo '[env]'
        echo 'RUST_LOG = "info"'
        for ((i = 0; i < n; i++)); do
            printf '\n[jobs.job%04d]\n' "$i"
            printf 'run = ["echo building part %d", "test -d . && echo part %d done"]\n' "$i" "$i"
            if ((i > 0)); then
                local needs=("\"job$(printf %04d $((i - 1)))\"")
                for k in 7 31; do
                    if ((i >= k)); then needs+=("\"job$(printf %04d $((i - k)))\""); fi
                done
                printf 'needs = [%s]\n' "$(IFS=,; echo "${needs[*]}" | sed 's/,/, /g')"
            fi
            if ((i % 10 == 0)); then printf 'timeout = "5m"\n'; fi
            if ((i % 25 == 0)); then printf 'switch = "RUN_PART_%d"\n' "$i"; fi
            printf '[jobs.job%04d.env]\nPART = "%d"\n' "$i" "$i"
        done
    } >"$dir/parity.toml"
    [[ $("$PARITY" -f "$dir/parity.toml" list | grep -o '^job[0-9]*' | sort -u | wc -l) -eq $n ]] ||
        die "parity list did not show $n jobs"

    local json=$OUT/list.json
    hyperfine -N --warmup 5 --min-runs 50 \
        --export-json "$json" --export-markdown "$OUT/list.md" \
        -n "parity list (1,000 jobs)" "$PARITY -f $dir/parity.toml list" \
        -n "parity --version (process start-up floor)" "$PARITY --version"
    local m
    m=$(mean "$json" 0)
    echo
    printf '  parity list %s (floor: parity --version %s)\n' "$(ms "$m")" "$(ms "$(mean "$json" 1)")"
    record list "mean < 50 ms" "$(ms "$m")" "$(verdict "$m" '<' 0.050)"
}

for name in "${ALL[@]}"; do
    if selected "$name"; then
        wait_idle
        BUSY=$(cpu_busy)
        if ((BUSY >= 10)); then
            printf '\nbench: warning: the CPUs were %s %% busy before "%s" started; expect noise\n' "$BUSY" "$name"
        fi
        "bench_$name"
    fi
done

# ---------------------------------------------------------------- summary
say "summary ($(nproc) cores; exports in $OUT)"
{
    echo "| benchmark | goal | measured | result | CPU busy before |"
    echo "| --- | --- | --- | --- | --- |"
    for row in "${SUMMARY[@]}"; do
        IFS='|' read -r b g m v busy <<<"$row"
        echo "| $b | $g | $m | $v | $busy % |"
    done
} | tee "$OUT/summary.md"
if ((MISSED > 0)); then
    echo "$MISSED goal(s) missed"
    if [[ $STRICT == 1 ]]; then exit 1; fi
fi
exit 0

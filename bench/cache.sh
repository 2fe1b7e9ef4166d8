#!/usr/bin/env bash
# Cache benchmarks, side by side with make, against the goals of the cache
# issue (see bench/README.md, "Cache"):
#
#   bench/cache.sh                 # all three: rerun hash remote
#   bench/cache.sh rerun           # a subset
#
# rerun   a generated repository of 20,000 input files and a 10-job pipeline:
#         a fully cached `parity run` against `make` deciding the same 20,000
#         prerequisites are up to date (hyperfine, one invocation, -N).
# hash    cold hashing throughput (no stat cache) on a generated 1 GiB tree.
# remote  a 100 MiB output restored from nginx (WebDAV PUT) on loopback into
#         an empty local store.
#
# Builds the release binary of the work tree (PARITY_BIN=path skips that),
# generates everything in a temporary directory (removed on exit) and prints
# each figure against its goal; hyperfine exports and a summary go to
# bench/results/ (or $PARITY_BENCH_OUT). PARITY_BENCH_STRICT=1 makes a missed
# goal exit 1. Needs hyperfine, make, nginx and python3.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
OUT=${PARITY_BENCH_OUT:-$ROOT/bench/results}
STRICT=${PARITY_BENCH_STRICT:-0}
ALL=(rerun hash remote)

die() { printf 'bench: %s\n' "$*" >&2; exit 2; }
say() { printf '\n== %s\n' "$*"; }

SELECTED=()
for arg in "$@"; do
    case $arg in
        rerun | hash | remote) SELECTED+=("$arg") ;;
        -h | --help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$arg' (benchmarks: ${ALL[*]})" ;;
    esac
done
[[ ${#SELECTED[@]} -gt 0 ]] || SELECTED=("${ALL[@]}")
for tool in hyperfine make python3; do
    command -v "$tool" >/dev/null || die "$tool is not installed (apt-get install $tool)"
done

if [[ -n ${PARITY_BIN:-} ]]; then
    BIN=$PARITY_BIN
else
    say "building the release binary"
    (cd "$ROOT" && cargo build --release --quiet)
    BIN=$ROOT/target/release/parity
fi
[[ -x $BIN ]] || die "no parity binary at $BIN"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/parity-bench-cache.XXXXXX")
NGINX_PID=
cleanup() {
    [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$OUT"
SUMMARY=$OUT/cache-summary.txt
: >"$SUMMARY"
MISSED=0

# Prints and records one figure against its goal.
verdict() { # name value goal-text ok(0/1)
    local mark="met"
    if [[ $4 != 1 ]]; then mark="MISSED"; MISSED=1; fi
    printf '%-58s %-22s goal %-16s %s\n' "$1" "$2" "$3" "$mark" | tee -a "$SUMMARY"
}

# The mean of command N (0-based) in a hyperfine JSON export, in ms.
mean_ms() { python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["mean"]*1000))' "$1" "$2"; }
median_ms() { python3 -c 'import json,sys; print("%.1f" % (json.load(open(sys.argv[1]))["results"][int(sys.argv[2])]["median"]*1000))' "$1" "$2"; }

# ------------------------------------------------------------------ rerun
bench_rerun() {
    say "rerun: 20,000 input files, 10 jobs, everything cached, against make"
    local repo=$WORK/repo
    python3 - "$repo" <<'PY'
import os, random, sys
repo = sys.argv[1]
rng = random.Random(42)
words = [b"alpha", b"beta", b"gamma", b"delta", b"let", b"fn", b"return", b"{", b"}", b"0x2a"]
parts, dirs, files = 10, 20, 100
make = ["all: " + " ".join(f"out/job-{p}.stamp" for p in range(parts)), ""]
toml = ["version = 1", ""]
for p in range(parts):
    names = []
    for d in range(dirs):
        folder = os.path.join(repo, "src", f"part-{p}", f"d{d:02}")
        os.makedirs(folder, exist_ok=True)
        for f in range(files):
            path = os.path.join(folder, f"f{f:03}.rs")
            size = rng.randint(200, 3000)
            body = b" ".join(rng.choice(words) for _ in range(size // 5))
            with open(path, "wb") as fh:
                fh.write(body)
            names.append(os.path.relpath(path, repo))
    needs = ' | out/job-0.stamp' if p else ''
    make.append(f"PART{p} := " + " ".join(names))
    make.append(f"out/job-{p}.stamp: $(PART{p}){needs}")
    make.append(f"\t@mkdir -p out && echo job {p} > $@")
    make.append("")
    toml += [f"[jobs.job-{p}]",
             f'run = "mkdir -p out && echo job {p} > out/job-{p}.txt"',
             f'inputs = ["src/part-{p}/**"]',
             f'outputs = ["out/job-{p}.txt"]']
    if p:
        toml.append('needs = ["job-0"]')
    toml.append("")
open(os.path.join(repo, "Makefile"), "w").write("\n".join(make))
open(os.path.join(repo, "parity.toml"), "w").write("\n".join(toml))
open(os.path.join(repo, ".gitignore"), "w").write("/out\n")
PY
    local count
    count=$(find "$repo/src" -type f | wc -l)
    export XDG_CACHE_HOME=$WORK/xdg-rerun
    local started ended
    started=$(date +%s%N)
    (cd "$repo" && "$BIN" run >/dev/null)
    ended=$(date +%s%N)
    printf 'first run (hash %s files, run 10 jobs, store): %d ms\n' "$count" $(((ended - started) / 1000000))
    (cd "$repo" && "$BIN" run >/dev/null && make -r -s all >/dev/null)
    (cd "$repo" && "$BIN" run | grep -c ' cached in ' | grep -qx 10) || die "the rerun was not fully cached"
    (cd "$repo" && make -r -q all) || die "make does not consider everything up to date"
    hyperfine -N --warmup 3 --runs 30 --export-json "$OUT/cache-rerun.json" --export-markdown "$OUT/cache-rerun.md" \
        -n "parity run (10 jobs cached)" "$BIN run --file $repo/parity.toml" \
        -n "make (20,000 prerequisites up to date)" "make -r -s -C $repo all"
    local parity make ratio
    parity=$(mean_ms "$OUT/cache-rerun.json" 0)
    make=$(mean_ms "$OUT/cache-rerun.json" 1)
    ratio=$(python3 -c "print('%.2f' % ($parity / $make))")
    verdict "fully cached rerun, 10 jobs, $count files" "$parity ms" "<= 150 ms" "$(python3 -c "print(int($parity <= 150))")"
    verdict "  against make ($make ms)" "${ratio}x" "<= 3x" "$(python3 -c "print(int($ratio <= 3))")"
}

# ------------------------------------------------------------------- hash
bench_hash() {
    say "hash: cold hashing of a 1 GiB tree (no stat cache)"
    local repo=$WORK/big
    mkdir -p "$repo/data/large" "$repo/data/small"
    for i in $(seq 1 16); do head -c $((32 << 20)) /dev/urandom >"$repo/data/large/$i.bin"; done
    for i in $(seq 1 512); do head -c $((1 << 20)) /dev/urandom >"$repo/data/small/$i.bin"; done
    printf 'version = 1\n[jobs.hash]\nrun = "true"\ninputs = ["data/**"]\n' >"$repo/parity.toml"
    local bytes
    bytes=$(du -sb "$repo/data" | cut -f1)
    export XDG_CACHE_HOME=$WORK/xdg-hash
    hyperfine -N --warmup 1 --runs 5 --prepare "rm -f $repo/.parity/cache/stat" \
        --export-json "$OUT/cache-hash.json" --export-markdown "$OUT/cache-hash.md" \
        -n "parity cache explain (walk + hash 1 GiB)" "$BIN cache explain hash --file $repo/parity.toml"
    local ms rate
    ms=$(median_ms "$OUT/cache-hash.json" 0)
    rate=$(python3 -c "print('%.2f' % ($bytes / ($ms / 1000) / 1e9))")
    verdict "cold hashing, $((bytes >> 20)) MiB, page cache warm" "$rate GB/s ($ms ms)" ">= 1 GB/s" "$(python3 -c "print(int($rate >= 1))")"
    if sync && echo 3 >/proc/sys/vm/drop_caches 2>/dev/null; then
        rm -f "$repo/.parity/cache/stat"
        local s e
        s=$(date +%s%N); "$BIN" cache explain hash --file "$repo/parity.toml" >/dev/null; e=$(date +%s%N)
        printf '(with the page cache dropped too: %.2f GB/s)\n' "$(python3 -c "print($bytes / (($e - $s) / 1e9) / 1e9)")" | tee -a "$SUMMARY"
    else
        echo "(the page cache cannot be dropped here: files are read from memory)" | tee -a "$SUMMARY"
    fi
}

# ----------------------------------------------------------------- remote
bench_remote() {
    say "remote: restore a 100 MiB output from nginx on loopback"
    command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || die "nginx is not installed (apt-get install nginx)"
    local nginx_bin=/usr/sbin/nginx
    command -v nginx >/dev/null && nginx_bin=$(command -v nginx)
    local ng=$WORK/nginx port
    mkdir -p "$ng/www/cache"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$ng/nginx.conf" <<CONF
daemon off; master_process off; worker_processes 1;
pid $ng/nginx.pid; error_log $ng/error.log warn;
events { worker_connections 256; }
http {
  access_log off; log_not_found off; client_max_body_size 0; sendfile on;
  client_body_temp_path $ng/body; proxy_temp_path $ng/proxy; fastcgi_temp_path $ng/fastcgi;
  uwsgi_temp_path $ng/uwsgi; scgi_temp_path $ng/scgi;
  server { listen 127.0.0.1:$port; root $ng/www;
    location /cache/ { dav_methods PUT; create_full_put_path on; } }
}
CONF
    "$nginx_bin" -p "$ng" -c "$ng/nginx.conf" &
    NGINX_PID=$!
    for _ in $(seq 100); do python3 -c "import socket; socket.create_connection(('127.0.0.1',$port))" 2>/dev/null && break; sleep 0.05; done
    local repo=$WORK/remote
    mkdir -p "$repo/src"
    echo 'fn main() {}' >"$repo/src/main.rs"
    printf '/out\n' >"$repo/.gitignore"
    cat >"$repo/parity.toml" <<'TOML'
version = 1
[jobs.package]
run = "mkdir -p out && head -c 104857600 /dev/urandom > out/big.bin"
inputs = ["src/**"]
outputs = ["out/big.bin"]
TOML
    export PARITY_CACHE_URL=http://127.0.0.1:$port/cache
    (cd "$repo" && CI=true XDG_CACHE_HOME=$WORK/xdg-ci "$BIN" run >/dev/null)
    [[ -n $(ls "$ng/www/cache/ac" 2>/dev/null) ]] || die "CI did not write to the remote cache"
    hyperfine -N --warmup 1 --runs 10 --prepare "rm -rf $WORK/xdg-laptop $repo/out" \
        --export-json "$OUT/cache-remote.json" --export-markdown "$OUT/cache-remote.md" \
        -n "parity run (100 MiB output from nginx, empty local store)" \
        "env CI=false XDG_CACHE_HOME=$WORK/xdg-laptop $BIN run --file $repo/parity.toml"
    (cd "$repo" && rm -rf "$WORK/xdg-laptop" out && CI=false XDG_CACHE_HOME=$WORK/xdg-laptop "$BIN" run | grep -q 'package  cached') \
        || die "the laptop run was not a remote hit"
    local ms rate
    ms=$(median_ms "$OUT/cache-remote.json" 0)
    rate=$(python3 -c "print('%.0f' % (104857600 / ($ms / 1000) / 1e6))")
    verdict "remote hit, 100 MiB output restored (whole run)" "$rate MB/s ($ms ms)" ">= 300 MB/s" "$(python3 -c "print(int($rate >= 300))")"
    unset PARITY_CACHE_URL
}

for bench in "${SELECTED[@]}"; do "bench_$bench"; done
say "summary ($SUMMARY)"
cat "$SUMMARY"
if [[ $STRICT == 1 && $MISSED == 1 ]]; then exit 1; fi

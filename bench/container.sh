#!/usr/bin/env bash
# Container mode against a hand-written `docker run`:
#  1. per-job overhead: `parity run --container` of a 3-step job against
#     `docker run --rm -v DIR:DIR -w DIR IMAGE sh -c 'step1 && step2 && step3'`
#     (target: ≤ 1.15×);
#  2. the runner-image check on a second run with an unchanged Dockerfile
#     (target: < 200 ms): `parity image build` when the image is up to date,
#     which is the whole check (hash the Dockerfile, its build args and the
#     files it copies; one `image inspect`) plus parity's start.
# Needs docker and /bin/busybox (Debian's busybox-static); builds its own
# base image (busybox + the host's bash), since no registry is reachable.
# Usage: bench/container.sh [ROUNDS]   (default 15)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-15}
parity=target/release/parity
[ -x "$parity" ] || cargo build --release --quiet
parity=$PWD/$parity

base=parity-bench-base:1
if ! docker image inspect "$base" >/dev/null 2>&1; then
  root=$(mktemp -d)
  mkdir -p "$root"/{bin,tmp,etc}; chmod 1777 "$root/tmp"
  cp /bin/busybox "$root/bin/"
  for a in $(/bin/busybox --list); do [ -e "$root/bin/$a" ] || ln -s busybox "$root/bin/$a"; done
  rm -f "$root/bin/bash"; cp /bin/bash "$root/bin/bash"
  for lib in $(ldd /bin/bash | grep -o '/[^ ]*'); do mkdir -p "$root$(dirname "$lib")"; cp -L "$lib" "$root$lib"; done
  echo 'root:x:0:0:root:/root:/bin/bash' > "$root/etc/passwd"
  tar -C "$root" -c . | docker import --change 'ENV PATH=/usr/bin:/bin' - "$base" >/dev/null
  rm -rf "$root"
fi

dir=$(mktemp -d /tmp/parity-bench-container.XXXX)
trap 'rm -rf "$dir"' EXIT
cat > "$dir/parity.toml" <<TOML
version = 1
[runner]
dockerfile = "runner.Dockerfile"
[jobs.build]
run = ["echo compiling > out.txt", "grep -q compiling out.txt", "echo done"]
TOML
printf 'FROM %s\nCOPY deps.txt /deps.txt\n' "$base" > "$dir/runner.Dockerfile"
echo 'dep==1' > "$dir/deps.txt"
(cd "$dir" && "$parity" image build >/dev/null 2>&1)
image=$(docker images --filter "label=parity.runner=$dir" --format '{{.Repository}}:{{.Tag}}' | head -1)

ms() { local s e; s=$(date +%s%N); "$@" >/dev/null 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

hand=(); ours=(); check=()
for _ in $(seq "$rounds"); do
  hand+=("$(ms docker run --rm -v "$dir:$dir" -w "$dir" "$image" sh -c 'echo compiling > out.txt && grep -q compiling out.txt && echo done')")
  ours+=("$(cd "$dir" && ms "$parity" run --container)")
  check+=("$(cd "$dir" && ms "$parity" image build)")
done
h=$(printf '%s\n' "${hand[@]}" | median)
o=$(printf '%s\n' "${ours[@]}" | median)
c=$(printf '%s\n' "${check[@]}" | median)
echo "rounds: $rounds (medians)"
echo "docker run --rm (hand-written, 3 steps in one sh -c): ${h} ms"
echo "parity run --container (3 steps, one container):      ${o} ms  ratio $(awk "BEGIN {printf \"%.2f\", $o/$h}")× (target ≤ 1.15×)"
echo "image check, unchanged Dockerfile (parity image build): ${c} ms (target < 200 ms)"
docker images --filter "label=parity.runner=$dir" -q | sort -u | xargs -r docker rmi -f >/dev/null

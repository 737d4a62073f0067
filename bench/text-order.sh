#!/usr/bin/env bash
# Remakes crates/nsjoin-cli/hot-text/{nsjoin,nsls}.ld, the lists of functions that
# optimised builds place together (crates/nsjoin-cli/build.rs), from traced runs of
# the static build:
#   bash bench/text-order.sh          (as root: the runs enter a sandbox)
# Each traced run is single-stepped through (bench/text-order/step-trace.c, parent
# and child up to the exec of the program) and every function it executed becomes
# one line of its binary's script (bench/text-order/hot_text.py says how). The runs
# are the ones BENCHMARKS.md measures: `nsjoin -t PID --net --uts --ipc --mount
# --pid /bin/true`, then the same with `-t docker://NAME` (whose functions only
# follow the first run's: a plain run's stay together), and a plain `nsls`. Needs
# Docker as scripts/docker.sh sets it up. Rerun it when the start-up path changes
# (the release test says when a run strays from its list); the commit shows the
# diff. Functions a list misses are not wrong, only spread out again: "Text
# layout" in BENCHMARKS.md shows the cost.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/sandbox.sh
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
[ "$(id -u)" -eq 0 ] || { echo "bench/text-order.sh: needs root (setns)" >&2; exit 1; }
[ "$(uname -m)" = x86_64 ] || { echo "bench/text-order.sh: the tracer reads x86_64 registers" >&2; exit 1; }
command -v gcc >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null; }

bash scripts/docker.sh
docker=/usr/bin/docker; [ -x $docker ] || docker=docker
name=nsjoin-text-order-$$
tmp=$(mktemp -d)
cleanup() {
  stop_sandbox
  $docker rm -f "$name" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
trap cleanup EXIT

# A list that does not exist yet starts empty (build.rs needs the file).
for b in nsjoin nsls; do
  f=crates/nsjoin-cli/hot-text/$b.ld
  [ -e "$f" ] || { mkdir -p "${f%/*}"; printf 'SECTIONS { .text.hot_run : { } } INSERT BEFORE .text;\n' >"$f"; }
done
bin=$(bash scripts/build-static.sh)
gcc -O2 -Wall -o "$tmp/step-trace" bench/text-order/step-trace.c
start_sandbox
"$tmp/step-trace" "$tmp/nsjoin-t-PID" "$bin/nsjoin" -t "$pid" --net --uts --ipc --mount --pid /bin/true
"$tmp/step-trace" "$tmp/nsls" "$bin/nsls" >/dev/null
stop_sandbox
$docker run -d --name "$name" nsjoin-busybox:latest sleep 100000 >/dev/null
# Single-stepped, the engine's answer takes far longer to read than the default
# deadline allows.
NSJOIN_ENGINE_TIMEOUT=600 "$tmp/step-trace" "$tmp/nsjoin-t-docker" "$bin/nsjoin" -t "docker://$name" --net --uts --ipc --mount --pid /bin/true

# The static C libraries a static build links: the C library, libm and libgcc.
archives=$(printf '%s:' "$(gcc -print-file-name=libc.a)" "$(gcc -print-file-name=libgcc.a)" \
  "$(gcc -print-file-name=libgcc_eh.a)" "$(dirname "$(gcc -print-file-name=libc.a)")"/libm-*.a)
write() { python3 bench/text-order/hot_text.py write "crates/nsjoin-cli/hot-text/$1.ld" "$archives" "${@:2}"; }
write nsjoin "$bin/nsjoin=$tmp/nsjoin-t-PID" "$bin/nsjoin=$tmp/nsjoin-t-docker"
write nsls "$bin/nsls=$tmp/nsls"

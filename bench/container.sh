#!/usr/bin/env bash
# How much resolving docker://NAME through the Engine API adds to a run, against
# giving the container's PID: nsjoin -t docker://NAME vs nsjoin -t PID, side by
# side with hyperfine in one run. Writes the section "docker:// resolution" of
# BENCHMARKS.md. Run as root from the repository: bash bench/container.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/section.sh

command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
bash scripts/docker.sh
docker=/usr/bin/docker; [ -x $docker ] || docker=docker
cargo build --release -q -p nsjoin-cli
bin=$PWD/target/release/nsjoin

name=nsjoin-bench-$$
$docker run -d --name "$name" nsjoin-busybox:latest sleep 100000 >/dev/null
trap '$docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
pid=$($docker inspect -f '{{.State.Pid}}' "$name")

json=$(mktemp)
hyperfine -N --warmup 20 --runs 300 --export-json "$json" \
  -n "nsjoin -t PID" "$bin -t $pid -n -u /bin/true" \
  -n "nsjoin -t docker://NAME" "$bin -t docker://$name -n -u /bin/true" >&2

body=$(mktemp)
python3 - "$json" >"$body" <<'PY'
import json, statistics, sys
runs = json.load(open(sys.argv[1]))["results"]
med = {r["command"]: statistics.median(r["times"]) * 1e3 for r in runs}
by_pid, by_name = med["nsjoin -t PID"], med["nsjoin -t docker://NAME"]
print("| command | median |")
print("|---|---|")
for name, ms in med.items():
    print(f"| `{name} -n -u /bin/true` | {ms:.2f} ms |")
print()
print(f"Resolving `docker://NAME` adds **{by_name - by_pid:.2f} ms** (goal: at most 5 ms): "
      "two HTTP requests on the Engine API socket (`/_ping`, then the inspect).")
PY
{
  echo "Command: \`bash bench/container.sh\` ($(date -u +%F), $(nproc) cores, $(uname -r), Docker $($docker version -f '{{.Server.Version}}'))."
  echo
  cat "$body"
} >"$body.md"
replace_section "docker:// resolution" "$body.md"
rm -f "$json" "$body" "$body.md"
echo "wrote the section \"docker:// resolution\" of BENCHMARKS.md" >&2

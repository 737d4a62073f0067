#!/usr/bin/env bash
# nsls against util-linux lsns with 3,000 extra processes: both listings (default
# and -J), side by side with hyperfine in one run. Writes the section
# "nsls vs lsns" of BENCHMARKS.md. Run as root from the repository:
#   bash bench/nsls.sh            (EXTRA=3000 RUNS=30 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/section.sh

EXTRA=${EXTRA:-3000}
RUNS=${RUNS:-30}
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
command -v lsns >/dev/null || { echo "bench/nsls.sh: lsns (util-linux) is missing" >&2; exit 1; }
cargo build --release -q -p nsjoin-cli --bin nsls
nsls=$PWD/target/release/nsls

# The extra processes: EXTRA sleeps, each killed on exit (error or not), by PID.
pids=()
tmp=$(mktemp -d)
cleanup() {
  if [ ${#pids[@]} -gt 0 ]; then kill "${pids[@]}" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
for _ in $(seq "$EXTRA"); do
  sleep 3600 </dev/null >/dev/null 2>&1 &
  pids+=($!)
done
procs=$(ls -d /proc/[0-9]* | wc -l)

hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$tmp/runs.json" \
  -n "nsls" "$nsls" \
  -n "lsns" "lsns" \
  -n "nsls -J" "$nsls -J" \
  -n "lsns -J" "lsns -J" >&2

python3 - "$tmp/runs.json" "$procs" "$EXTRA" "$RUNS" >"$tmp/body" <<'PY'
import json, sys
runs = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
procs, extra, n = sys.argv[2:]
print(f"{procs} processes ({extra} of them extra `sleep`s), {n} runs each, means ± σ:")
print()
print("| output | nsls | lsns | nsls / lsns |")
print("|---|---|---|---|")
worst = 0
for label, ours, theirs in [("default", "nsls", "lsns"), ("`-J`", "nsls -J", "lsns -J")]:
    a, b = runs[ours], runs[theirs]
    ratio = a["mean"] / b["mean"]
    worst = max(worst, ratio)
    print(f"| {label} | {a['mean']*1e3:.1f} ± {a['stddev']*1e3:.1f} ms "
          f"| {b['mean']*1e3:.1f} ± {b['stddev']*1e3:.1f} ms | {ratio:.2f} |")
print()
verdict = "met" if worst <= 0.5 else "NOT met"
print(f"Goal: nsls at most half of lsns' time (ratio ≤ 0.50): **{verdict}** "
      f"(worst ratio {worst:.2f}). nsls reads one readlink per process and kind "
      "plus its fd directory, on both cores; lsns opens every namespace of every "
      "process and links each process to the others in quadratic time.")
PY
{
  echo "Command: \`bash bench/nsls.sh\` ($(date -u +%F), $(nproc) cores, $(uname -r), $(lsns --version))."
  echo
  cat "$tmp/body"
} >"$tmp/body.md"
replace_section "nsls vs lsns" "$tmp/body.md"
cat "$tmp/body.md" >&2
echo "wrote the section \"nsls vs lsns\" of BENCHMARKS.md" >&2

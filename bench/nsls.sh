#!/usr/bin/env bash
# nsls against util-linux lsns with 3,000 extra processes: both listings (default
# and -J), side by side with hyperfine in one run, for both installed forms of
# nsls (`cargo build --release`, and the static build of scripts/build-static.sh
# that install.sh and the release tarball ship); then the peak RSS of each
# (/usr/bin/time, median of 5, page cache dropped first). Writes the section
# "nsls vs lsns" of BENCHMARKS.md. Run as root from the repository:
#   bash bench/nsls.sh            (EXTRA=3000 RUNS=30 by default)
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/section.sh

EXTRA=${EXTRA:-3000}
RUNS=${RUNS:-30}
command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
command -v lsns >/dev/null || { echo "bench/nsls.sh: lsns (util-linux) is missing" >&2; exit 1; }
cargo build --release -q --locked -p nsjoin-cli --bin nsls
nsls=$PWD/target/release/nsls
static=$(bash scripts/build-static.sh)/nsls

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
  -n "lsns -J" "lsns -J" \
  -n "nsls static" "$static" \
  -n "nsls static -J" "$static -J" >&2

# Peak RSS (KiB), median of 5 alternating runs, page cache dropped first.
sync; echo 3 >/proc/sys/vm/drop_caches
"$nsls" >/dev/null; "$static" >/dev/null; lsns >/dev/null
for _ in 1 2 3 4 5; do
  for c in nsls static lsns; do
    case $c in nsls) b=$nsls ;; static) b=$static ;; lsns) b=lsns ;; esac
    /usr/bin/time -f %M -o "$tmp/t" "$b" >/dev/null
    cat "$tmp/t" >>"$tmp/rss.$c"
  done
done

python3 - "$tmp/runs.json" "$procs" "$EXTRA" "$RUNS" "$tmp" >"$tmp/body" <<'PY'
import json, statistics, sys
runs = {r["command"]: r for r in json.load(open(sys.argv[1]))["results"]}
procs, extra, n, tmp = sys.argv[2:]
rss = {c: statistics.median(int(x) for x in open(f"{tmp}/rss.{c}").read().split())
       for c in ["nsls", "static", "lsns"]}
print(f"{procs} processes ({extra} of them extra `sleep`s), {n} runs each, means ± σ:")
print()
print("| output | nsls | lsns | nsls / lsns |")
print("|---|---|---|---|")
worst = 0
for label, ours, theirs in [("default", "nsls", "lsns"), ("`-J`", "nsls -J", "lsns -J"),
                            ("default, static", "nsls static", "lsns"),
                            ("`-J`, static", "nsls static -J", "lsns -J")]:
    a, b = runs[ours], runs[theirs]
    ratio = a["mean"] / b["mean"]
    worst = max(worst, ratio)
    print(f"| {label} | {a['mean']*1e3:.1f} ± {a['stddev']*1e3:.1f} ms "
          f"| {b['mean']*1e3:.1f} ± {b['stddev']*1e3:.1f} ms | {ratio:.2f} |")
print()
verdict = "met" if worst <= 0.2 else "NOT met"
print(f"Goal: nsls at most a fifth of lsns' time (ratio ≤ 0.20): **{verdict}** "
      f"(worst ratio {worst:.2f}). nsls reads one readlink per process and kind "
      "plus its fd directory, on both cores; lsns opens every namespace of every "
      "process and links each process to the others in quadratic time.")
print()
print("| peak RSS (median of 5, page cache dropped) | nsls, cargo build --release | nsls, static | lsns |")
print("|---|---|---|---|")
print(f"| default output | {rss['nsls']/1024:.2f} MiB | {rss['static']/1024:.2f} MiB | {rss['lsns']/1024:.2f} MiB |")
worst_rss = max(rss["nsls"], rss["static"]) / rss["lsns"]
print()
print(f"Goal: nsls' peak RSS at most lsns' (ratio ≤ 1.0): **{'met' if worst_rss <= 1 else 'NOT met'}** "
      f"(worst RSS ratio {worst_rss:.2f}).")
PY
{
  echo "Command: \`bash bench/nsls.sh\` ($(date -u +%F), $(nproc) cores, $(uname -r), $(lsns --version))."
  echo
  cat "$tmp/body"
} >"$tmp/body.md"
replace_section "nsls vs lsns" "$tmp/body.md"
cat "$tmp/body.md" >&2
echo "wrote the section \"nsls vs lsns\" of BENCHMARKS.md" >&2

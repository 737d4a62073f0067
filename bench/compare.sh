#!/usr/bin/env bash
# nsjoin against its peers, in one run on one machine. Run as root from the
# repository:   bash bench/compare.sh
#
#   1. the library's criterion micro-benchmarks (cargo bench --bench enter);
#   2. on a sandbox (a sleep in fresh namespaces, made with unshare): nsjoin (the
#      static-CRT release build scripts/install.sh makes, built into target/) vs
#      util-linux nsenter vs the original Python nsenter (nsenter==0.2 from PyPI in
#      a throwaway venv), the same `-t PID --net --uts --ipc --mnt --pid /bin/true`
#      for all three (the original's --all is broken), with hyperfine; and the peak
#      RSS of each (/usr/bin/time);
#   3. bench/container.sh (-t docker://NAME vs -t PID, on a real Docker container);
#   4. bench/nsls.sh (nsls vs lsns with 3,000 extra processes).
#
# Writes the sections "Summary", "Library micro-benchmarks (criterion)" and
# "nsjoin vs nsenter vs Python nsenter" of BENCHMARKS.md; 3 and 4 write their own.
# RUNS (default 200) sets hyperfine's runs per command; CRITERION=0 reuses the last
# criterion results in target/criterion instead of running them again.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/section.sh
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

RUNS=${RUNS:-200}
[ "$(id -u)" -eq 0 ] || { echo "bench/compare.sh: needs root (setns)" >&2; exit 1; }
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
[ -x /usr/bin/time ] || need+=(time)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

tmp=$(mktemp -d)
holder=
cleanup() {
  if [ -n "$holder" ]; then kill -KILL "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

load() { cut -d' ' -f1-3 /proc/loadavg; }
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)
machine="$(nproc) cores, ${cpu:-unknown CPU}, Linux $(uname -r)"

# 1. Criterion.
if [ "${CRITERION:-1}" != 0 ]; then
  crit_load_before=$(load)
  cargo bench -q -p nsjoin --bench enter -- --warm-up-time 1 --measurement-time 3 >&2
  crit_load="$crit_load_before → $(load)"
  crit_date=$(date -u +%F)
else
  crit_load="not recorded"
  crit_date="$(date -u -r target/criterion/raw_setns_pair_net/new/estimates.json +%F) (reused)"
fi

# 2. The three commands. nsjoin as scripts/install.sh builds it: static C runtime.
host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build -q --release -p nsjoin-cli --bin nsjoin --target "$host"
nsjoin=$PWD/target/$host/release/nsjoin
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --disable-pip-version-check nsenter==0.2 >&2
pynsenter=$tmp/venv/bin/nsenter

# The target: a sleep in fresh namespaces. --kill-child: it dies with its holder.
unshare --uts --net --ipc --pid --mount --cgroup --fork --kill-child sleep 100000 </dev/null &
holder=$!
pid=
for _ in $(seq 200); do
  pid=$(cut -d' ' -f1 "/proc/$holder/task/$holder/children" 2>/dev/null || true)
  [ -n "$pid" ] && [ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] && break
  sleep 0.01
done
[ -n "$pid" ] || { echo "bench/compare.sh: the sandbox did not start" >&2; exit 1; }

names=("nsjoin" "nsenter" "python nsenter")
cmds=(
  "$nsjoin -t $pid --net --uts --ipc --mount --pid /bin/true"
  "nsenter -t $pid --net --uts --ipc --mount --pid /bin/true"
  "$pynsenter -t $pid --net --uts --ipc --mnt --pid /bin/true"
)
for i in 0 1 2; do
  ${cmds[$i]} || { echo "bench/compare.sh: ${names[$i]} failed on the sandbox" >&2; exit 1; }
done

args=()
for i in 0 1 2; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
cmp_load_before=$(load)
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$tmp/cmp.json" "${args[@]}" >&2

# Peak RSS: /usr/bin/time's maximum resident set size (KiB), median of 30 runs.
for i in 0 1 2; do
  for _ in $(seq 30); do
    /usr/bin/time -f %M -o "$tmp/rss" ${cmds[$i]}
    cat "$tmp/rss"
  done >"$tmp/rss.$i"
done
cmp_load="$cmp_load_before → $(load)"

# unshare --fork ignores SIGTERM while it waits; SIGKILL, and --kill-child takes the sleep.
kill -KILL "$holder"; wait "$holder" 2>/dev/null || true; holder=

versions="$("$nsjoin" --version | head -1) (static CRT, $host), $(nsenter --version), Python nsenter 0.2 on Python $(python3 -c 'import platform; print(platform.python_version())'), $(hyperfine --version)"

# 3 and 4: their own scripts and sections.
bash bench/container.sh
bash bench/nsls.sh

# The sections.
python3 - "$tmp" "$RUNS" <<'PY'
import json, os, re, statistics, sys
tmp, runs_n = sys.argv[1:]
env = os.environ

def write(name, text):
    open(os.path.join(tmp, name), "w").write(text)

# Criterion medians (ns).
crit = {}
for bench_id in ["raw_setns_pair/net", "guard_cycle_preopened/net", "guard_cycle_home/net", "guard_cycle_oneshot/net",
                 "run_in/net", "spawn_true/all"]:
    f = f"target/criterion/{bench_id.replace('/', '_')}/new/estimates.json"
    try:
        e = json.load(open(f))
        crit[bench_id] = (e["median"]["point_estimate"], e["median"]["confidence_interval"])
    except FileNotFoundError:
        pass

def fmt_ns(ns):
    return f"{ns/1e3:.2f} µs" if ns < 1e6 else f"{ns/1e6:.2f} ms"

floor = crit.get("raw_setns_pair/net", (None,))[0]
lines = ["| id | median | 95% CI of the median | ÷ raw_setns_pair |", "|---|---|---|---|"]
for bench_id, (med, ci) in crit.items():
    ratio = f"{med/floor:.2f}" if floor else "–"
    lines.append(f"| `{bench_id}` | {fmt_ns(med)} | {fmt_ns(ci['lower_bound'])} – "
                 f"{fmt_ns(ci['upper_bound'])} | {ratio} |")
write("criterion.md", "\n".join(lines) + "\n")

# hyperfine medians (ms) and peak RSS (KiB).
res = {r["command"]: r for r in json.load(open(os.path.join(tmp, "cmp.json")))["results"]}
med = {k: statistics.median(r["times"]) * 1e3 for k, r in res.items()}
names = ["nsjoin", "nsenter", "python nsenter"]
rss = {}
for i, n in enumerate(names):
    vals = [int(x) for x in open(os.path.join(tmp, f"rss.{i}")).read().split()]
    rss[n] = statistics.median(vals)
lines = ["| command | median wall | mean ± σ | peak RSS (median) | wall ÷ nsjoin's | RSS ÷ nsjoin's |",
         "|---|---|---|---|---|---|"]
for n in names:
    r = res[n]
    lines.append(f"| {n} | {med[n]:.2f} ms | {r['mean']*1e3:.2f} ± {r['stddev']*1e3:.2f} ms "
                 f"| {rss[n]/1024:.2f} MiB | {med[n]/med['nsjoin']:.2f} | {rss[n]/rss['nsjoin']:.2f} |")
write("compare.md", "\n".join(lines) + "\n")

# Figures from the sections bench/container.sh and bench/nsls.sh just wrote.
md = open("BENCHMARKS.md").read()
m = re.search(r"Resolving `docker://NAME` adds \*\*([0-9.]+) ms\*\*", md)
docker_ms = float(m.group(1)) if m else None
m = re.search(r"\(worst ratio ([0-9.]+)\)", md)
nsls_ratio = float(m.group(1)) if m else None

def row(goal, measured, ok):
    return f"| {goal} | {measured} | {'met' if ok else '**missed**'} |"

rows = ["| goal | measured | |", "|---|---|---|"]
if floor:
    pre = crit["guard_cycle_preopened/net"][0] / floor
    one = crit["guard_cycle_oneshot/net"][0] / floor
    rows.append(row("`guard_cycle_preopened/net` ÷ `raw_setns_pair/net` ≤ 1.15", f"{pre:.2f}", pre <= 1.15))
    rows.append(row("`guard_cycle_oneshot/net` ÷ `raw_setns_pair/net` ≤ 3", f"{one:.2f}", one <= 3))
w = med["nsjoin"] / med["nsenter"]
rows.append(row("`nsjoin -t PID --net --uts --ipc --mount --pid /bin/true` wall ÷ nsenter's ≤ 1.0", f"{w:.2f}", w <= 1.0))
r = rss["nsjoin"] / rss["nsenter"]
rows.append(row("same, peak RSS ÷ nsenter's ≤ 1.1", f"{r:.2f}", r <= 1.1))
p = med["nsjoin"] / med["python nsenter"]
rows.append(row("same, wall ÷ original Python nsenter's ≤ 1/15 (0.067)", f"{p:.3f} (1/{1/p:.0f})", p <= 1/15))
if docker_ms is not None:
    rows.append(row("`-t docker://NAME` minus `-t PID` wall ≤ 5 ms", f"{docker_ms:.2f} ms", docker_ms <= 5))
if nsls_ratio is not None:
    rows.append(row("nsls ÷ lsns wall, 3,000 extra processes ≤ 0.5", f"{nsls_ratio:.2f}", nsls_ratio <= 0.5))
write("summary.md", "\n".join(rows) + "\n")
PY

{
  echo "Command: \`bash bench/compare.sh\` ($(date -u +%F), $machine). The first two rows are"
  echo "from its criterion run ($crit_date), the others from its hyperfine runs and from the"
  echo "sections of bench/container.sh and bench/nsls.sh it ran; details and the reasons for"
  echo "each miss in the sections below."
  echo
  cat "$tmp/summary.md"
} >"$tmp/summary.body"
replace_section "Summary" "$tmp/summary.body"

{
  echo "Command: \`cargo bench --bench enter -- --warm-up-time 1 --measurement-time 3\`, run by"
  echo "\`bash bench/compare.sh\` ($crit_date, $machine; load average $crit_load)."
  echo "Target: a \`sleep\` in fresh namespaces made by the bench. Medians per iteration:"
  echo
  cat "$tmp/criterion.md"
} >"$tmp/criterion.body"
[ -s "$tmp/criterion.md" ] && replace_section "Library micro-benchmarks (criterion)" "$tmp/criterion.body"

{
  echo "Command: \`bash bench/compare.sh\` ($(date -u +%F), $machine; load average $cmp_load)."
  echo "$versions."
  echo
  echo "Target: a \`sleep\` in fresh namespaces (\`unshare --uts --net --ipc --pid --mount --cgroup"
  echo "--fork\`). Each runs \`-t PID --net --uts --ipc --mount --pid /bin/true\` (the original"
  echo "spells it \`--mnt\`); hyperfine \`-N\`, 20 warm-up runs and $RUNS runs each, in one"
  echo "invocation; peak RSS is \`/usr/bin/time\`'s maximum resident set size, median of 30 runs."
  echo
  cat "$tmp/compare.md"
} >"$tmp/compare.body"
replace_section "nsjoin vs nsenter vs Python nsenter" "$tmp/compare.body"
sed -n '/^## Summary/,/^## [^S]/p' BENCHMARKS.md | head -n -1 >&2
echo "wrote BENCHMARKS.md" >&2

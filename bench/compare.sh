#!/usr/bin/env bash
# nsjoin against its peers and against the floor, in one run on one machine. Run as
# root from the repository:   bash bench/compare.sh
#
#   1. the library's criterion micro-benchmarks (cargo bench --bench enter);
#   2. on a sandbox (a sleep in fresh namespaces, made with unshare), the same
#      `-t PID --net --uts --ipc --mount --pid /bin/true` (the original Python
#      nsenter spells it --mnt; its --all is broken) with hyperfine, and the peak
#      RSS of each (/usr/bin/time, page cache dropped first), for:
#      - every form of nsjoin users are told to install: `cargo build --release`
#        (also what `cargo install --path crates/nsjoin-cli` builds) and the static
#        build of scripts/build-static.sh (scripts/install.sh and the release
#        tarball of scripts/release.sh ship that one);
#      - util-linux nsenter and the original Python nsenter (nsenter==0.2 from
#        PyPI in a throwaway venv);
#      - the floor (bench/floor): a C program and a Rust one that only open the
#        five namespace files, setns into each, fork and exec /bin/true; C both
#        dynamic and static;
#      and bench/breakdown.sh's table of the same binaries (relocations, system
#      calls, page faults, RSS), which is not timing-sensitive;
#   3. bench/container.sh (-t docker://NAME against nsenter -t PID plus the
#      engine's own round trip, on a real Docker container, for the same two forms);
#   4. bench/nsls.sh (nsls vs lsns with 3,000 extra processes).
#
# Writes the sections "Summary", "Library goals, interleaved",
# "Library micro-benchmarks (criterion)",
# "nsjoin vs nsenter vs the floor" and "Where a run goes" of BENCHMARKS.md; 3 and 4
# write their own. RUNS (default 300) sets hyperfine's runs per command, in ROUNDS
# (default 10) rounds (bench/section.sh's hyperfine_rounds);
# CRITERION=0 reuses the last criterion results in target/criterion instead of
# running them again.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/section.sh
. scripts/sandbox.sh
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

RUNS=${RUNS:-300}
[ "$(id -u)" -eq 0 ] || { echo "bench/compare.sh: needs root (setns)" >&2; exit 1; }
need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v gcc >/dev/null || need+=(gcc)
[ -e /usr/lib/x86_64-linux-gnu/libc.a ] || [ "$(uname -m)" != x86_64 ] || need+=(libc6-dev)
[ -x /usr/bin/time ] || need+=(time)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [ ${#need[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

tmp=$(mktemp -d)
cleanup() {
  stop_sandbox
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
  # The goals' ratios, each cycle measured interleaved with its floor.
  cargo bench -q -p nsjoin --bench interleaved -- --json >"$tmp/interleaved.json"
else
  crit_load="not recorded"
  crit_date="$(date -u -r target/criterion/raw_setns_pair_net/new/estimates.json +%F) (reused)"
  echo '{}' >"$tmp/interleaved.json"
fi

# 2. The installed forms, the peers and the floor.
host=$(rustc -vV | sed -n 's/^host: //p')
cargo build -q --release --locked -p nsjoin-cli --bin nsjoin
dynamic=$PWD/target/release/nsjoin
static=$(bash scripts/build-static.sh "$host")/nsjoin
mkdir -p target/floor
gcc -O2 -o target/floor/floor-c bench/floor/floor.c
gcc -O2 -static -o target/floor/floor-c-static bench/floor/floor.c
CARGO_TARGET_DIR=$PWD/target/floor cargo build -q --release --locked \
  --manifest-path bench/floor/rust/Cargo.toml
floor_rust=$PWD/target/floor/release/nsjoin-floor
python3 -m venv "$tmp/venv"
"$tmp/venv/bin/pip" install -q --disable-pip-version-check nsenter==0.2 >&2
pynsenter=$tmp/venv/bin/nsenter

start_sandbox

nsargs="--net --uts --ipc --mount --pid /bin/true"
names=("nsjoin, cargo build --release" "nsjoin, static (install.sh, release tarball)" "nsenter"
  "floor, C" "floor, C static" "floor, Rust" "python nsenter")
cmds=(
  "$dynamic -t $pid $nsargs"
  "$static -t $pid $nsargs"
  "nsenter -t $pid $nsargs"
  "$PWD/target/floor/floor-c $pid"
  "$PWD/target/floor/floor-c-static $pid"
  "$floor_rust $pid"
  "$pynsenter -t $pid --net --uts --ipc --mnt --pid /bin/true"
)
flags=(
  "release profile of Cargo.toml; glibc, dynamic, PIE"
  "release profile; $(sed -n 's/^RUSTFLAGS="${RUSTFLAGS:-} \(.*\)" \\$/\1/p' scripts/build-static.sh); --target $host"
  "Debian's build (dynamic, PIE)"
  "gcc -O2 (dynamic, PIE)"
  "gcc -O2 -static"
  "bench/floor/rust: std + rustix, lto, panic=abort (dynamic, PIE)"
  "CPython $(python3 -c 'import platform; print(platform.python_version())')"
)
n=${#names[@]}
for i in $(seq 0 $((n - 1))); do
  ${cmds[$i]} || { echo "bench/compare.sh: ${names[$i]} failed on the sandbox" >&2; exit 1; }
done

args=()
for i in $(seq 0 $((n - 1))); do args+=("${names[$i]}" "${cmds[$i]}"); done
cmp_load_before=$(load)
hyperfine_rounds "$tmp/cmp.json" "$RUNS" "${args[@]}"

# Peak RSS: /usr/bin/time's maximum resident set size (KiB), median of 15 runs,
# alternating, after dropping the page cache once: every binary's file is then
# read back from disk the same way (a file written moments ago sits in the page
# cache in large folios, and fault-around maps more of it: up to 0.8 MiB more).
sync; echo 3 >/proc/sys/vm/drop_caches
for i in $(seq 0 $((n - 1))); do ${cmds[$i]} >/dev/null; done
for _ in $(seq 15); do
  for i in $(seq 0 $((n - 1))); do
    /usr/bin/time -f %M -o "$tmp/rss" ${cmds[$i]}
    cat "$tmp/rss" >>"$tmp/rss.$i"
  done
done
cmp_load="$cmp_load_before → $(load)"
for i in $(seq 0 $((n - 1))); do printf '%s\t%s\n' "${names[$i]}" "${flags[$i]}"; done >"$tmp/flags"

# Where the time and pages go: the same binaries, none of it timing-sensitive.
bash bench/breakdown.sh "$pid" "cargo build --release=$dynamic" "static=$static" \
  "nsenter=$(command -v nsenter)" "floor, C=$PWD/target/floor/floor-c" \
  "floor, C static=$PWD/target/floor/floor-c-static" "floor, Rust=$floor_rust" >"$tmp/breakdown.md"

stop_sandbox

versions="$("$static" --version | head -1), $(nsenter --version), $(gcc --version | head -1), Python nsenter 0.2, $(hyperfine --version)"

# 3 and 4: their own scripts and sections.
DYNAMIC=$dynamic STATIC=$static RUNS=$RUNS bash bench/container.sh
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
for bench_id in ["raw_setns_pair/net", "raw_setns_pair_in_fn/net", "raw_setns_pair_guard_fds/net", "guard_cycle_preopened/net",
                 "guard_cycle_home/net", "guard_cycle_oneshot/net", "guard_cycle_open_enter/net",
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
inter = json.load(open(os.path.join(tmp, "interleaved.json")))
if inter:
    raw = inter["raw_setns_pair"]
    raw_two = inter.get("raw_setns_two_pairs")
    lines = ["| id | median per cycle | ÷ raw_setns_pair | ÷ raw_setns_two_pairs |", "|---|---|---|---|"]
    for k, v in inter.items():
        two = f"{v/raw_two:.2f}" if raw_two and (k.endswith("_two") or k.endswith("two_pairs")) else "–"
        lines.append(f"| `{k}` | {fmt_ns(v)} | {v/raw:.2f} | {two} |")
    write("interleaved.md", "\n".join(lines) + "\n")
lines = ["| id | median | 95% CI of the median | ÷ raw_setns_pair |", "|---|---|---|---|"]
for bench_id, (med, ci) in crit.items():
    ratio = f"{med/floor:.2f}" if floor else "–"
    lines.append(f"| `{bench_id}` | {fmt_ns(med)} | {fmt_ns(ci['lower_bound'])} – "
                 f"{fmt_ns(ci['upper_bound'])} | {ratio} |")
write("criterion.md", "\n".join(lines) + "\n")

# hyperfine medians (ms) and peak RSS (KiB), in the order measured.
res = {r["command"]: r for r in json.load(open(os.path.join(tmp, "cmp.json")))["results"]}
med = {k: statistics.median(r["times"]) * 1e3 for k, r in res.items()}
flags = dict(l.rstrip("\n").split("\t") for l in open(os.path.join(tmp, "flags")))
names = list(flags)
rss = {}
for i, n in enumerate(names):
    vals = [int(x) for x in open(os.path.join(tmp, f"rss.{i}")).read().split()]
    rss[n] = statistics.median(vals)
forms = [n for n in names if n.startswith("nsjoin")]
floors = [n for n in names if n.startswith("floor")]
lines = ["| binary | build | median wall | mean ± σ | wall ÷ nsenter's | peak RSS (median) | RSS ÷ nsenter's |",
         "|---|---|---|---|---|---|---|"]
for n in names:
    r = res[n]
    lines.append(f"| {n} | {flags[n]} | {med[n]:.2f} ms | {r['mean']*1e3:.2f} ± {r['stddev']*1e3:.2f} ms "
                 f"| {med[n]/med['nsenter']:.2f} | {rss[n]/1024:.2f} MiB | {rss[n]/rss['nsenter']:.2f} |")
write("compare.md", "\n".join(lines) + "\n")

# Figures from the sections bench/container.sh and bench/nsls.sh just wrote.
md = open("BENCHMARKS.md").read()
m = re.search(r"Resolving `docker://NAME` adds \*\*([0-9.]+) ms\*\*", md)
docker_ms = float(m.group(1)) if m else None
docker_forms = re.findall(r"^- (.+?): `-t docker://NAME` takes \*\*([0-9.]+) ms\*\* against a limit of \*\*([0-9.]+) ms\*\*",
                          md, re.M)
m = re.search(r"\(worst ratio ([0-9.]+)\)", md)
nsls_ratio = float(m.group(1)) if m else None
m = re.search(r"^\| default output \| ([0-9.]+) MiB \| ([0-9.]+) MiB \| ([0-9.]+) MiB \|", md, re.M)
nsls_rss = {"cargo build --release": float(m.group(1)) / float(m.group(3)),
            "static": float(m.group(2)) / float(m.group(3))} if m else {}

def row(goal, measured, ok):
    return f"| {goal} | {measured} | {'met' if ok else '**missed**'} |"

rows = ["| goal | measured | |", "|---|---|---|"]
if inter:
    raw = inter["raw_setns_pair"]
    pre = inter["guard_cycle_preopened"] / raw
    one = inter["guard_cycle_oneshot"] / raw
    fl = inter["raw_pidfd_cycle"] / raw
    rows.append(row("`guard_cycle_preopened` ÷ `raw_setns_pair` ≤ 1.15 (interleaved)", f"{pre:.2f}", pre <= 1.15))
    rows.append(row(f"`guard_cycle_oneshot` ÷ `raw_setns_pair` ≤ 3 (interleaved; its floor `raw_pidfd_cycle`: {fl:.2f})",
                    f"{one:.2f}", one <= 3))
fl = ", ".join(f"{n} {med[n]/med['nsenter']:.2f}" for n in floors)
for n in forms:
    w = med[n] / med["nsenter"]
    rows.append(row(f"{n}: `-t PID --net --uts --ipc --mount --pid /bin/true` wall ÷ nsenter's ≤ 0.9 "
                    f"(floor: {fl})", f"{w:.2f}", w <= 0.9))
fl = ", ".join(f"{n} {rss[n]/rss['nsenter']:.2f}" for n in floors)
for n in forms:
    r = rss[n] / rss["nsenter"]
    rows.append(row(f"{n}: same, peak RSS ÷ nsenter's ≤ 1.0 (floor: {fl})", f"{r:.2f}", r <= 1.0))
p = med[forms[-1]] / med["python nsenter"]
rows.append(row("static: same, wall ÷ original Python nsenter's ≤ 1/15 (0.067)", f"{p:.3f} (1/{1/p:.0f})", p <= 1/15))
for form, took, limit in docker_forms:
    took, limit = float(took), float(limit)
    rows.append(row(f"nsjoin, {form}: `-t docker://NAME` (five namespaces) wall ≤ 0.9 × nsenter's `-t PID` "
                    f"+ the engine's round trip ({limit:.2f} ms)", f"{took:.2f} ms ({took/limit:.2f} of it)",
                    took <= limit))
if docker_ms is not None:
    rows.append(row("`-t docker://NAME` minus `-t PID` wall ≤ 5 ms", f"{docker_ms:.2f} ms", docker_ms <= 5))
if nsls_ratio is not None:
    rows.append(row("nsls ÷ lsns wall, 3,000 extra processes ≤ 0.2", f"{nsls_ratio:.2f}", nsls_ratio <= 0.2))
for form, r in nsls_rss.items():
    rows.append(row(f"nsls, {form}: peak RSS ÷ lsns's, 3,000 extra processes ≤ 1.0", f"{r:.2f}", r <= 1.0))
write("summary.md", "\n".join(rows) + "\n")
PY

{
  echo "Command: \`bash bench/compare.sh\` ($(date -u +%F), $machine). The first two rows are"
  echo "from its interleaved library run ($crit_date), the others from its hyperfine runs and from the"
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

if [ -s "$tmp/interleaved.md" ]; then
  {
    echo "Command: \`cargo bench -p nsjoin --bench interleaved\`, run by \`bash bench/compare.sh\`"
    echo "($crit_date, $machine). Each cycle is measured side by side with its floor: 21 rounds"
    echo "of 10,000 cycles of each id in turn, the median round per id (benches/interleaved.rs"
    echo "says what each id does). The summary's two library goals are read from here; they"
    echo "are for one kind, which enters and leaves the short way. Two kinds take the general"
    echo "way: read \`guard_cycle_preopened_two\` against \`raw_setns_two_pairs\`."
    echo
    cat "$tmp/interleaved.md"
  } >"$tmp/interleaved.body"
  replace_section "Library goals, interleaved" "$tmp/interleaved.body"
fi

{
  echo "Command: \`bash bench/compare.sh\` ($(date -u +%F), $machine; load average $cmp_load)."
  echo "$versions."
  echo
  echo "Target: a \`sleep\` in fresh namespaces (\`unshare --uts --net --ipc --pid --mount --cgroup"
  echo "--fork\`). Each runs \`-t PID --net --uts --ipc --mount --pid /bin/true\` (the original"
  echo "spells it \`--mnt\`; the floors take the PID alone); hyperfine \`-N\`, $RUNS runs each in"
  echo "${ROUNDS:-10} invocations of 3 warm-up and $(((RUNS + ${ROUNDS:-10} - 1) / ${ROUNDS:-10})) measured runs, the order rotated every"
  echo "round; peak RSS is \`/usr/bin/time\`'s maximum resident"
  echo "set size, median of 15 alternating runs, measured after \`sync; echo 3 >"
  echo "/proc/sys/vm/drop_caches\` and one run of each (so every file sits in the page cache"
  echo "the same way: read back from disk, not freshly written)."
  echo
  cat "$tmp/compare.md"
} >"$tmp/compare.body"
replace_section "nsjoin vs nsenter vs the floor" "$tmp/compare.body"

{
  echo "Command: \`bash bench/breakdown.sh\`, run by \`bash bench/compare.sh\` ($(date -u +%F),"
  echo "$machine), on the same binaries and sandbox. System calls: \`strace -f\`, the"
  echo "program's own and then its child's (from the fork to the end of /bin/true); page"
  echo "faults and task-clock (CPU time of both): \`perf stat -r 50\`; peak RSS as above,"
  echo "page cache dropped. User-space instructions: \`valgrind --tool=callgrind\` of the"
  echo "program alone (not its child)."
  echo
  cat "$tmp/breakdown.md"
} >"$tmp/breakdown.body"
replace_section "Where a run goes" "$tmp/breakdown.body"
sed -n '/^## Summary/,/^## [^S]/p' BENCHMARKS.md | head -n -1 >&2
echo "wrote BENCHMARKS.md" >&2

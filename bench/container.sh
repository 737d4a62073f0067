#!/usr/bin/env bash
# What naming a container costs: on a real Docker container, in one set of
# hyperfine rounds (bench/section.sh's hyperfine_rounds), `-t PID --net --uts
# --ipc --mount --pid /bin/true` for util-linux nsenter and for each installed
# form of nsjoin, and the same with `-t docker://NAME` for each form; next to it,
# the engine's bare round trip: the two requests the design prescribes (`GET
# /_ping` for the version, then `GET /vX/containers/NAME/json`), each on a fresh
# connection, timed inside one process, so no process start-up is in it, at the
# pace of the runs. The goal: a form's `-t docker://NAME` run takes at most 0.9 ×
# nsenter's `-t PID` run + that round trip. Writes the section
# "docker:// resolution" of BENCHMARKS.md. Run as root from the repository:
#   bash bench/container.sh
# DYNAMIC and STATIC name the two forms' binaries (bench/compare.sh passes the
# ones it measured); without them they are built here. RUNS (default 300).
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/section.sh
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
RUNS=${RUNS:-300}

command -v hyperfine >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null; }
bash scripts/docker.sh
docker=/usr/bin/docker; [ -x $docker ] || docker=docker
if [ -z "${DYNAMIC:-}" ]; then
  cargo build --release -q --locked -p nsjoin-cli --bin nsjoin
  DYNAMIC=$PWD/target/release/nsjoin
fi
[ -n "${STATIC:-}" ] || STATIC=$(bash scripts/build-static.sh)/nsjoin

name=nsjoin-bench-$$
tmp=$(mktemp -d)
cleanup() { $docker rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$tmp"; }
trap cleanup EXIT
$docker run -d --name "$name" nsjoin-busybox:latest sleep 100000 >/dev/null
pid=$($docker inspect -f '{{.State.Pid}}' "$name")

ns="--net --uts --ipc --mount --pid /bin/true"
names=("nsenter -t PID" "nsjoin, cargo build --release: -t PID" "nsjoin, static: -t PID"
  "nsjoin, cargo build --release: -t docker://NAME" "nsjoin, static: -t docker://NAME")
cmds=("nsenter -t $pid $ns" "$DYNAMIC -t $pid $ns" "$STATIC -t $pid $ns"
  "$DYNAMIC -t docker://$name $ns" "$STATIC -t docker://$name $ns")
args=()
for i in "${!names[@]}"; do
  ${cmds[$i]} || { echo "bench/container.sh: ${names[$i]} failed" >&2; exit 1; }
  args+=("${names[$i]}" "${cmds[$i]}")
done
hyperfine_rounds "$tmp/h.json" "$RUNS" "${args[@]}"

# The engine's round trip: what any client must pay to learn NAME's PID the way
# the design says to ask. A fresh connection per request, as a one-shot command
# makes; each answer is read to the end. The pairs are spaced by the time of one
# nsenter run, the pace at which hyperfine's runs reach the engine: asked in a
# tight loop, an engine answers faster than it does a command started now and then.
python3 - "$name" "$RUNS" "$tmp/h.json" >"$tmp/rtt" <<'PY'
import json, re, socket, statistics, sys, time
name, runs = sys.argv[1], int(sys.argv[2])
results = json.load(open(sys.argv[3]))["results"]
gap = statistics.median(next(r for r in results if r["command"] == "nsenter -t PID")["times"])
def get(path):
    s = socket.socket(socket.AF_UNIX)
    s.connect("/var/run/docker.sock")
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n".encode())
    answer = b""
    while chunk := s.recv(65536):
        answer += chunk
    s.close()
    assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
    return answer
def once():
    version = re.search(rb"(?im)^Api-Version: *([0-9.]+)", get("/_ping")).group(1).decode()
    get(f"/v{version}/containers/{name}/json")
for _ in range(20):
    once()
times = []
for _ in range(runs):
    time.sleep(gap)
    t = time.perf_counter()
    once()
    times.append(time.perf_counter() - t)
print(statistics.median(times) * 1e3)
PY

python3 - "$tmp/h.json" "$(cat "$tmp/rtt")" >"$tmp/body" <<'PY'
import json, statistics, sys
runs = json.load(open(sys.argv[1]))["results"]
rtt = float(sys.argv[2])
med = {r["command"]: statistics.median(r["times"]) * 1e3 for r in runs}
nsenter = med["nsenter -t PID"]
print("| command (each `--net --uts --ipc --mount --pid /bin/true`) | median |")
print("|---|---|")
for name, ms in med.items():
    print(f"| {name} | {ms:.2f} ms |")
print(f"| the engine's round trip: `GET /_ping` then `GET /vX/containers/NAME/json`, fresh connections, in one process, one pair per nsenter run's time | {rtt:.2f} ms |")
print()
limit = 0.9 * nsenter + rtt
for form in ["cargo build --release", "static"]:
    by_name = med[f"nsjoin, {form}: -t docker://NAME"]
    by_pid = med[f"nsjoin, {form}: -t PID"]
    print(f"- {form}: `-t docker://NAME` takes **{by_name:.2f} ms** against a limit of "
          f"**{limit:.2f} ms** (0.9 × nsenter's {nsenter:.2f} ms + the round trip {rtt:.2f} ms); "
          f"naming the container adds {by_name - by_pid:.2f} ms to its `-t PID` run.")
print()
by_pid = med["nsjoin, cargo build --release: -t PID"]
by_name = med["nsjoin, cargo build --release: -t docker://NAME"]
print(f"Resolving `docker://NAME` adds **{by_name - by_pid:.2f} ms** (goal: at most 5 ms; "
      "`cargo build --release`): two HTTP requests on the Engine API socket (`/_ping`, then the inspect).")
PY
{
  echo "Command: \`bash bench/container.sh\` ($(date -u +%F), $(nproc) cores, $(uname -r), Docker $($docker version -f '{{.Server.Version}}'))."
  echo "Target: a \`sleep\` in a container of the busybox image; hyperfine \`-N\`, $RUNS runs each in ${ROUNDS:-10}"
  echo "rotated rounds (as in the section above); the round trip is the median of $RUNS pairs of requests, spaced by nsenter's median."
  echo
  cat "$tmp/body"
} >"$tmp/body.md"
replace_section "docker:// resolution" "$tmp/body.md"
echo "wrote the section \"docker:// resolution\" of BENCHMARKS.md" >&2

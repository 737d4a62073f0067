#!/usr/bin/env bash
# The Python context manager's enter+exit cycle, `with Namespace(pid, 'net'): pass`:
# the original nsenter package (0.2, from PyPI) against nsjoin's, side by side in one
# process on one sandbox target (bench/python_guard.py). Both are installed into a
# throwaway venv. Writes the section "Python Namespace enter+exit" of BENCHMARKS.md.
# Run as root from the repository: bash bench/python-guard.sh
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/section.sh

work=$(mktemp -d)
holder=
cleanup() {
  # SIGKILL: unshare --fork ignores SIGTERM while it waits; --kill-child takes the sleep along.
  if [ -n "$holder" ]; then kill -KILL "$holder" 2>/dev/null || true; wait "$holder" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
"$work/venv/bin/python" -m pip install --quiet nsenter==0.2 ./python

# The target: a sleep in fresh namespaces (--kill-child: it dies with its holder).
unshare --net --uts --ipc --pid --mount --fork --kill-child \
  /bin/sh -c 'echo ready; exec sleep 100000' >"$work/ready" &
holder=$!
for _ in $(seq 200); do grep -q ready "$work/ready" 2>/dev/null && break; sleep 0.05; done
pid=$(awk '{print $1}' "/proc/$holder/task/$holder/children")

body="$work/section.md"
(cd "$work" && "$work/venv/bin/python" "$OLDPWD/bench/python_guard.py" "$pid") >"$body"
# The floor from Rust (no ctypes): the interleaved library bench's bare pair.
rust=$(cargo bench -q -p nsjoin --bench interleaved -- --json 2>/dev/null | python3 -c '
import json, sys; print(json.load(sys.stdin)["raw_setns_pair"] / 1e3)' || true)
if [ -n "$rust" ]; then
  python3 - "$body" "$rust" <<'PY'
import re, sys
body, rust = sys.argv[1], float(sys.argv[2])
text = open(body).read()
m = re.search(r"`with ns:` on a Namespace made once \(enter, exit\) \| ([0-9.]+)", text)
line = f"\nThe floor from Rust (`cargo bench -p nsjoin --bench interleaved`, `raw_setns_pair`, right after): {rust:.2f} µs"
if m:
    line += f"; `with ns:` is {float(m.group(1)) / rust:.2f}× that, the one-statement `with` "
    m1 = re.search(r"the same `with` \(construct, enter, exit\) \| ([0-9.]+)", text)
    line += f"{float(m1.group(1)) / rust:.2f}×" if m1 else "–"
open(body, "a").write(line + ".\n")
PY
fi
cat "$body"
replace_section "Python Namespace enter+exit" "$body"
echo "python-guard.sh: wrote the section \"Python Namespace enter+exit\" of BENCHMARKS.md" >&2

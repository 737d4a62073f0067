#!/usr/bin/env bash
# Shared by the bench scripts. replace_section TITLE FILE:
# Replaces the section "## TITLE" of BENCHMARKS.md (up to the next "## " heading)
# with the contents of FILE, or appends it; other sections are left alone.
replace_section() {
  local title=$1 body=$2 out=${BENCHMARKS_MD:-BENCHMARKS.md}
  [ -f "$out" ] || printf '# Benchmarks\n\nEach section is written by the script it names, from one run on one machine.\n' >"$out"
  python3 - "$title" "$body" "$out" <<'PY'
import sys
title, body_file, out = sys.argv[1:]
text = open(out).read()
body = open(body_file).read().rstrip("\n") + "\n"
heading = f"## {title}\n"
start = text.find(heading)
section = heading + "\n" + body
if start < 0:
    text = text.rstrip("\n") + "\n\n" + section
else:
    end = text.find("\n## ", start + len(heading))
    text = text[:start] + section + ("" if end < 0 else text[end:])
open(out, "w").write(text)
PY
}

# hyperfine_rounds JSON RUNS NAME COMMAND [NAME COMMAND ...]
# RUNS runs of each command, as ROUNDS (default 10) hyperfine invocations of
# RUNS/ROUNDS runs each (3 warm-up runs), the order of the commands rotated every
# round, so that each takes every place in turn: hyperfine runs a command's runs
# in one block, and on this VM a block's place in the sequence moved its median by
# up to a third. Writes hyperfine's JSON to JSON, each command's times merged
# (with their mean, standard deviation and median).
hyperfine_rounds() {
  local out=$1 runs=$2 rounds=${ROUNDS:-10}
  shift 2
  local names=() cmds=() parts=() args i k r
  while [ $# -gt 0 ]; do names+=("$1"); cmds+=("$2"); shift 2; done
  local n=${#names[@]} per=$(((runs + rounds - 1) / rounds))
  for r in $(seq 0 $((rounds - 1))); do
    args=()
    for k in $(seq 0 $((n - 1))); do
      i=$(((k + r) % n))
      args+=(-n "${names[$i]}" "${cmds[$i]}")
    done
    hyperfine -N --warmup 3 --runs "$per" --export-json "$out.$r" "${args[@]}" >&2
    parts+=("$out.$r")
  done
  python3 - "$out" "${parts[@]}" <<'PY'
import json, statistics, sys
out, *parts = sys.argv[1:]
times = {}
for part in parts:
    for r in json.load(open(part))["results"]:
        times.setdefault(r["command"], []).extend(r["times"])
results = [
    {"command": c, "times": t, "mean": statistics.mean(t), "stddev": statistics.stdev(t),
     "median": statistics.median(t)}
    for c, t in times.items()
]
json.dump({"results": results}, open(out, "w"))
PY
  rm -f "${parts[@]}"
}

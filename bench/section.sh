#!/usr/bin/env bash
# Shared by the bench scripts: replace_section TITLE FILE
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

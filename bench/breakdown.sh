#!/usr/bin/env bash
# Where the time and pages of one run go, for each binary given, little of it
# timing-sensitive: file size, relocations (readelf), shared libraries, system
# calls (strace -ff: per process or thread, the program's first), user-space instructions
# of the program (valgrind's callgrind, if installed), page faults and task-clock
# (perf stat), and peak RSS (/usr/bin/time) with the page cache dropped first.
# Run as root:
#   bash bench/breakdown.sh PID NAME=BINARY ...
# Each binary runs `-t PID --net --uts --ipc --mount --pid /bin/true`, except the
# floors (names starting with "floor"), which take the PID alone. Writes a Markdown
# table on stdout. RSS_RUNS (default 15) sets the runs per binary for the RSS median.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
pid=$1; shift
RSS_RUNS=${RSS_RUNS:-15}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

names=(); bins=()
for spec in "$@"; do names+=("${spec%%=*}"); bins+=("${spec#*=}"); done
cmd() { # the command line of binary $1
  case ${names[$1]} in
    floor*) echo "${bins[$1]} $pid" ;;
    *) echo "${bins[$1]} -t $pid --net --uts --ipc --mount --pid /bin/true" ;;
  esac
}

# Peak RSS: drop the page cache once, so that every binary's file is read back the
# same way (a file written moments ago sits in large folios, and fault-around then
# maps more of it), run each once to read it, then alternate.
sync; echo 3 >/proc/sys/vm/drop_caches
for i in "${!names[@]}"; do $(cmd "$i") >/dev/null; done
for _ in $(seq "$RSS_RUNS"); do
  for i in "${!names[@]}"; do
    /usr/bin/time -f '%M %R' -o "$tmp/t" $(cmd "$i") >/dev/null
    cat "$tmp/t" >>"$tmp/rss.$i"
  done
done

echo "| binary | file size | relocations | shared libraries | system calls, per process (the program's first) | user-space instructions | page faults (both) | task-clock (both) | peak RSS, page cache dropped |"
echo "|---|---|---|---|---|---|---|---|---|"
for i in "${!names[@]}"; do
  b=${bins[$i]}
  size=$(stat -c %s "$b")
  relocs=$(readelf -rW "$b" | grep -cE '^[0-9a-f]{8,} ' || true)
  relr=$(readelf -dW "$b" | sed -n 's/.*(RELRSZ) *\([0-9]*\).*/\1/p')
  [ -n "$relr" ] && relocs="$relocs (+ RELR, $relr bytes)"
  libs=$(readelf -dW "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | paste -sd, -)
  [ -n "$libs" ] || libs="none (static)"
  interp=$(readelf -lW "$b" | grep -c 'Requesting program interpreter' || true)
  [ "$interp" = 0 ] && [ "$libs" != "none (static)" ] && libs="$libs (static-pie?)"
  # strace -ff: one file per process; the program's is the lowest PID.
  rm -f "$tmp"/st.*
  strace -ff -o "$tmp/st" $(cmd "$i") >/dev/null
  calls=$(for f in $(ls "$tmp"/st.* | sort -t. -k2 -n); do grep -vc -e '^+++' -e '^---' "$f"; done | paste -sd+ -)
  instr=-
  if command -v valgrind >/dev/null; then
    # valgrind does not implement pidfd_open: nsjoin stops there, with an error;
    # the count then covers the start-up up to opening the target.
    if valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" --log-file="$tmp/vg" $(cmd "$i") >/dev/null 2>&1; then
      instr=$(sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$tmp/vg")
    else
      instr="$(sed -n 's/.*Collected : *\([0-9]*\).*/\1/p' "$tmp/vg") up to pidfd_open"
    fi
  fi
  # perf stat: task-clock (ms, both processes) and page faults, over 50 runs.
  perf stat -x, -r 50 -e task-clock,page-faults -o "$tmp/perf" $(cmd "$i") >/dev/null
  clock=$(awk -F, '$3=="task-clock" {printf "%.2f ms", $1}' "$tmp/perf")
  faults=$(awk -F, '$3=="page-faults" {printf "%d", $1}' "$tmp/perf")
  rss=$(sort -n "$tmp/rss.$i" | awk '{a[NR]=$1} END {printf "%.2f MiB", a[int((NR+1)/2)]/1024}')
  human=$(numfmt --to=iec-i --suffix=B "$size")
  echo "| ${names[$i]} | $human | $relocs | $libs | $calls | $instr | $faults | $clock | $rss |"
done

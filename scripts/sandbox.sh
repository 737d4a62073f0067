#!/usr/bin/env bash
# Shared by the bench scripts and the release test: the target their runs enter, a
# sleep in fresh namespaces. start_sandbox sets $holder (unshare, which
# --kill-child makes take the sleep with it) and $pid (the sleep); stop_sandbox
# ends both, and does nothing when there is no sandbox, so an EXIT trap can call it.
holder=
start_sandbox() {
  unshare --uts --net --ipc --pid --mount --cgroup --fork --kill-child sleep 100000 </dev/null &
  holder=$!
  pid=
  for _ in $(seq 200); do
    pid=$(cut -d' ' -f1 "/proc/$holder/task/$holder/children" 2>/dev/null || true)
    [ -n "$pid" ] && [ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] && return 0
    sleep 0.01
  done
  echo "$0: the sandbox did not start" >&2
  exit 1
}

# unshare --fork ignores SIGTERM while it waits; SIGKILL, and --kill-child takes the sleep.
stop_sandbox() {
  [ -n "$holder" ] || return 0
  kill -KILL "$holder" 2>/dev/null || true
  wait "$holder" 2>/dev/null || true
  holder=
}

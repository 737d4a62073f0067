#!/usr/bin/env bash
# A real Docker engine for the tests, on a fresh machine as on a used one:
#   1. installs Debian's docker.io (and busybox-static) with apt-get if missing;
#   2. starts dockerd in the background (log: /var/log/nsjoin-dockerd.log) if
#      `docker info` fails, and waits up to 60 s for it;
#   3. builds the image nsjoin-busybox:latest (FROM scratch, a static busybox and
#      its applet links in /bin; no registry needed) if it is not there yet;
#   4. likewise nsjoin-distroless:latest (only /busybox, no shell) for --host-tools.
# Idempotent: when everything is there it costs two `docker` calls.
#
# Client: this script (and the tests' Container fixture) call Debian's own client,
# /usr/bin/docker, which comes with docker.io and always speaks the daemon's API
# version. A newer client may shadow it on PATH (/usr/local/bin/docker, 28.x, on
# these machines); it does negotiate down to the 20.10 daemon, but nothing here
# relies on that. Where /usr/bin/docker is absent, `docker` from PATH is used.
#
# dockerd flags: none are needed on these VMs (cgroup v1 + cgroupfs, overlay2 on
# ext4, iptables from the docker.io dependencies). If dockerd dies at start
# anyway, it is started once more with the flags that need the least from the
# kernel (--iptables=false --ip6tables=false --bridge=none --storage-driver=vfs);
# NSJOIN_DOCKERD_FLAGS overrides the first try's flags.
set -euo pipefail
# dockerd runs iptables (and apt-get its helpers) from the sbin directories, which
# a non-login root shell may lack on its PATH.
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

log=/var/log/nsjoin-dockerd.log
image=nsjoin-busybox:latest

if [ -x /usr/bin/docker ]; then docker=/usr/bin/docker; else docker=docker; fi

say() { echo "docker.sh: $*" >&2; }

# Without root this script can neither install nor start anything; the tests that
# need Docker then say "skipped: needs docker" (or fail, with NSJOIN_REQUIRE_DOCKER=1).
if [ "$(id -u)" -ne 0 ]; then
  if ! "$docker" info >/dev/null 2>&1; then
    say "not root and no Docker daemon: the Docker tests will be skipped"
  fi
  exit 0
fi

# 1. Packages.
need=()
command -v dockerd >/dev/null || need+=(docker.io)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
  need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  if [ -x /usr/bin/docker ]; then docker=/usr/bin/docker; fi
fi

# 2. The daemon.
daemon_alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

start_dockerd() {
  # A pid file left by a dockerd that was killed stops the next one from starting
  # when its PID has been reused by another process.
  local pidfile=/var/run/docker.pid old
  if [ -f "$pidfile" ]; then
    old=$(cat "$pidfile" 2>/dev/null || true)
    if [ -z "$old" ] || [ "$(cat "/proc/$old/comm" 2>/dev/null)" != dockerd ]; then
      rm -f "$pidfile"
    fi
  fi
  say "starting dockerd${*:+ $*} (log: $log)"
  echo "=== $(date -u +%FT%TZ) dockerd $*" >>"$log"
  # setsid + redirected fds: dockerd outlives this script and holds none of its pipes.
  setsid dockerd "$@" </dev/null >>"$log" 2>&1 &
  dockerd_pid=$!
}

wait_dockerd() {
  local i
  for i in $(seq 120); do
    if "$docker" info >/dev/null 2>&1; then return 0; fi
    if ! daemon_alive "$dockerd_pid"; then return 1; fi
    sleep 0.5
  done
  return 1
}

if ! "$docker" info >/dev/null 2>&1; then
  running=$(cat /var/run/docker.pid 2>/dev/null || true)
  if [ -n "$running" ] && [ "$(cat "/proc/$running/comm" 2>/dev/null)" = dockerd ]; then
    # A dockerd is there but not answering yet (still starting): wait for it.
    dockerd_pid=$running
  else
    # shellcheck disable=SC2086 # the flags are words
    start_dockerd ${NSJOIN_DOCKERD_FLAGS:-}
  fi
  if ! wait_dockerd; then
    if daemon_alive "$dockerd_pid"; then
      say "dockerd (pid $dockerd_pid) did not answer within 60 s; see $log"
      exit 1
    fi
    say "dockerd exited at start; retrying with minimal flags"
    tail -n 5 "$log" >&2 || true
    start_dockerd --iptables=false --ip6tables=false --bridge=none --storage-driver=vfs
    if ! wait_dockerd; then
      say "dockerd did not start; see $log"
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
  fi
fi

# 3. The test image.
if ! "$docker" image inspect "$image" >/dev/null 2>&1; then
  busybox=$(dpkg-query -L busybox-static | grep -m1 '/bin/busybox$')
  ctx=$(mktemp -d)
  trap 'rm -rf "$ctx"' EXIT
  cp "$busybox" "$ctx/busybox"
  # FROM scratch has no shell: RUN and CMD take the exec (JSON) form.
  cat >"$ctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /bin/busybox
RUN ["/bin/busybox", "--install", "-s", "/bin"]
CMD ["/bin/sh"]
EOF
  say "building $image"
  # The classic builder: BuildKit would want to pull its frontend from a registry.
  DOCKER_BUILDKIT=0 "$docker" build -q -t "$image" "$ctx" >/dev/null
fi

# 4. A "distroless" image for --host-tools: one static busybox as /busybox, no
#    applet links and no shell (busybox picks its applet from its own name, so the
#    container runs `/busybox sleep N`).
distroless=nsjoin-distroless:latest
if ! "$docker" image inspect "$distroless" >/dev/null 2>&1; then
  busybox=$(dpkg-query -L busybox-static | grep -m1 '/bin/busybox$')
  dctx=$(mktemp -d)
  cp "$busybox" "$dctx/busybox"
  cat >"$dctx/Dockerfile" <<'EOF'
FROM scratch
COPY busybox /busybox
CMD ["/busybox", "sleep", "100000"]
EOF
  say "building $distroless"
  DOCKER_BUILDKIT=0 "$docker" build -q -t "$distroless" "$dctx" >/dev/null
  rm -rf "$dctx"
fi

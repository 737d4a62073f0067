#!/usr/bin/env bash
# A real Podman for the tests, on a fresh machine as on a used one:
#   1. installs Debian's podman (and busybox-static) with apt-get if missing;
#   2. starts its API service (`podman system service --time=0`) on
#      /run/podman/podman.sock in the background (log: /var/log/nsjoin-podman.log)
#      if the socket does not answer, and waits up to 30 s for it;
#   3. imports the image nsjoin-busybox:latest from a tarball of a rootfs made of a
#      static busybox and its applet links in /bin (no registry needed) if it is
#      not there yet.
# Idempotent: when everything is there it costs two `podman` calls.
#
# Running containers here needs `podman run --ulimit nofile=1024:1024 --ulimit
# nproc=1024:1024`: the process lacks CAP_SYS_RESOURCE, and podman's default
# limits are above the hard limit (runc: "error setting rlimit type 7").
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

socket=/run/podman/podman.sock
log=/var/log/nsjoin-podman.log
image=nsjoin-busybox

say() { echo "podman.sh: $*" >&2; }

# Without root this script can neither install nor start anything; the tests that
# need Podman then say "skipped: needs podman" (or fail, with NSJOIN_REQUIRE_PODMAN=1).
if [ "$(id -u)" -ne 0 ]; then
  say "not root: the Podman tests will be skipped unless its root API socket answers"
  exit 0
fi

# 1. Packages.
need=()
command -v podman >/dev/null || need+=(podman)
dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
  need+=(busybox-static)
if [ ${#need[@]} -gt 0 ]; then
  say "installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# 2. The API service, asked through podman's own remote client.
answers() {
  [ -S "$socket" ] && timeout 10 podman --remote --url "unix://$socket" version >/dev/null 2>&1
}

if ! answers; then
  mkdir -p "$(dirname "$socket")"
  say "starting podman system service (log: $log)"
  echo "=== $(date -u +%FT%TZ) podman system service" >>"$log"
  # setsid + redirected fds: the service outlives this script and holds none of its pipes.
  setsid podman system service --time=0 "unix://$socket" </dev/null >>"$log" 2>&1 &
  service_pid=$!
  for _ in $(seq 60); do
    if answers; then break; fi
    if ! kill -0 "$service_pid" 2>/dev/null; then
      say "podman system service exited at start; see $log"
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
    sleep 0.5
  done
  if ! answers; then
    say "podman system service (pid $service_pid) did not answer within 30 s; see $log"
    exit 1
  fi
fi

# 3. The test image.
if ! podman image exists "$image"; then
  busybox=$(dpkg-query -L busybox-static | grep -m1 '/bin/busybox$')
  dir=$(mktemp -d)
  trap 'rm -rf "$dir"' EXIT
  mkdir -p "$dir/root/bin"
  cp "$busybox" "$dir/root/bin/busybox"
  # Relative links, so that they resolve inside the container's root.
  for applet in $("$busybox" --list); do
    [ "$applet" = busybox ] || ln -s busybox "$dir/root/bin/$applet"
  done
  tar -C "$dir/root" -cf "$dir/rootfs.tar" .
  say "importing $image"
  # An imported image has no config: PATH (for `podman run IMAGE sleep`) and CMD.
  podman import -q --change 'ENV PATH=/bin' --change 'CMD ["/bin/sh"]' \
    "$dir/rootfs.tar" "$image" >/dev/null
fi

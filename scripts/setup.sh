#!/usr/bin/env bash
# Installs what the demo and the tests need beyond the Rust toolchain, and only what
# is missing, so that a second run costs nothing. Debian packages:
#   util-linux      unshare (makes the test sandboxes), nsenter/lsns (compared against)
#   iproute2        ip netns (namespace files under /run/netns)
#   busybox-static  a self-contained program to run inside a chroot in tests
#   tmux            a real terminal for the --pty tests (keys sent, the pane read)
set -euo pipefail

need=()
command -v unshare >/dev/null || need+=(util-linux)
command -v nsenter >/dev/null || need+=(util-linux)
command -v ip >/dev/null || need+=(iproute2)
[ -x /bin/busybox ] || [ -x /usr/bin/busybox ] || need+=(busybox-static)
command -v tmux >/dev/null || need+=(tmux)

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "setup: missing ${need[*]}; run as root to install them" >&2
    exit 1
  fi
  echo "setup: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# Components the test command uses.
for component in rustfmt clippy; do
  if ! cargo "${component/rustfmt/fmt}" --version >/dev/null 2>&1; then
    rustup component add "$component"
  fi
done

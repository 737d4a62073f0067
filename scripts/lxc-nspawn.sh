#!/usr/bin/env bash
# LXC and systemd-nspawn for the tests: installs, if missing, Debian's
#   lxc                lxc-create (busybox template), lxc-start, lxc-info, ...
#   systemd-container  systemd-nspawn and systemd-machined
#   dbus-daemon        a private system bus for machined (these machines have none)
#   busybox-static     the containers' userland
# Nothing is started here: the tests (crates/nsjoin/tests/containers_lxc.rs and
# containers_nspawn.rs) make their containers, bus and machined themselves, in
# temporary directories, and stop and remove them after. Idempotent: when all is
# installed it costs four dpkg-query calls.
set -euo pipefail
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

say() { echo "lxc-nspawn.sh: $*" >&2; }

installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

need=()
for package in lxc systemd-container dbus-daemon busybox-static; do
  installed "$package" || need+=("$package")
done
if [ ${#need[@]} -eq 0 ]; then exit 0; fi

# Without root nothing can be installed; the tests then say "skipped: needs lxc"
# or "needs nspawn" (or fail, with NSJOIN_REQUIRE_LXC=1 / NSJOIN_REQUIRE_NSPAWN=1).
if [ "$(id -u)" -ne 0 ]; then
  say "not root and ${need[*]} missing: the LXC and nspawn tests will be skipped"
  exit 0
fi
say "installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null

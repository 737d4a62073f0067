#!/usr/bin/env bash
# The release artifacts, installed as a user would and run: scripts/release.sh
# builds dist/; the tarball goes into an empty prefix, the wheel into a fresh venv
# run with a PATH that has no Rust toolchain; both enter a sandbox's namespaces
# and must see what util-linux nsenter sees there. Also: every publishable crate
# packages (`cargo package`). Run as root from the repository (called at the end
# of scripts/test.sh): bash scripts/release-test.sh   (REUSE_DIST=1: test dist/ as is)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
[ "$(id -u)" -eq 0 ] || { echo "release-test.sh: needs root (setns)" >&2; exit 1; }

fail() { echo "release-test.sh: FAIL: $*" >&2; exit 1; }
. scripts/sandbox.sh
[ "${REUSE_DIST:-0}" = 1 ] || bash scripts/release.sh

# Publishable crates package, with real metadata (cargo package refuses a missing
# description or license, and names what else is missing); each is compiled
# from its packaged sources (debug, about 40 s of CPU on top of the test build).
cargo package --workspace --locked --allow-dirty --exclude nsjoin-py -q >&2

tmp=$(mktemp -d)
cleanup() {
  stop_sandbox
  rm -rf "$tmp"
}
trap cleanup EXIT

(cd dist && sha256sum --quiet -c SHA256SUMS) || fail "dist/SHA256SUMS does not match"

# A sandbox to enter: a sleep in fresh namespaces.
start_sandbox
want=$(nsenter -t "$pid" --net --uts --ipc --mount --pid readlink /proc/self/ns/net /proc/self/ns/uts)

# The tarball, into an empty prefix.
arch=$(uname -m)
tarball=$(ls dist/nsjoin-*-"$arch"-linux.tar.gz)
prefix=$tmp/prefix
mkdir -p "$prefix"
tar -xzf "$tarball" -C "$prefix" --strip-components=1
(cd "$prefix" && sha256sum --quiet -c share/doc/nsjoin/SHA256SUMS) || fail "the tarball's SHA256SUMS does not match"
for b in nsjoin nsls; do
  readelf -lW "$prefix/bin/$b" | grep -q 'program interpreter' && fail "$b is not static"
  # SECURITY.md says the shipped binaries are position-dependent.
  readelf -hW "$prefix/bin/$b" | grep -Eq 'Type: +EXEC ' || fail "$b is not position-dependent (ELF type EXEC)"
  "$prefix/bin/$b" --version | grep -q "nsjoin [0-9]" || fail "$b --version"
  [ -s "$prefix/share/man/man1/$b.1" ] || fail "no man page for $b"
  for f in "share/bash-completion/completions/$b" "share/zsh/site-functions/_$b" \
    "share/fish/vendor_completions.d/$b.fish"; do
    [ -s "$prefix/$f" ] || fail "no $f"
  done
done
got=$(env -i PATH=/usr/bin:/bin "$prefix/bin/nsjoin" -t "$pid" --net --uts --ipc --mount --pid \
  readlink /proc/self/ns/net /proc/self/ns/uts)
[ "$got" = "$want" ] || fail "the tarball's nsjoin saw '$got', nsenter '$want'"
ino=$(readlink "/proc/$pid/ns/net" | tr -dc 0-9)
"$prefix/bin/nsls" -J -t net | python3 -c '
import json, sys
rows = json.load(sys.stdin)["namespaces"]
assert any(str(r["ns"]) == sys.argv[1] for r in rows), "the sandbox is not listed"
' "$ino" || fail "the tarball's nsls -J does not list the sandbox's net namespace"
echo "release-test.sh: $(basename "$tarball"): installed and run" >&2

# BENCHMARKS.md's peak RSS rests on the functions a run executes lying together
# (crates/nsjoin-cli/hot-text/): single-step the shipped nsjoin through the
# benchmark's run and fail when it strays from its list. (nsls's list is not
# checked here: single-stepping a whole scan takes about a minute.)
gcc -O2 -o "$tmp/step-trace" bench/text-order/step-trace.c
"$tmp/step-trace" "$tmp/trace" "$prefix/bin/nsjoin" -t "$pid" --net --uts --ipc --mount --pid /bin/true \
  || fail "nsjoin did not run under bench/text-order/step-trace"
python3 bench/text-order/hot_text.py check "$prefix/bin/nsjoin" "$tmp/trace" 8 >&2 \
  || fail "nsjoin's run strays from crates/nsjoin-cli/hot-text/nsjoin.ld"

# Release builds that link with mold or gold (crates/nsjoin-cli/build.rs): both
# reject the hot-text linker scripts and neither packs relocations the way glibc
# wants, so such a build goes without them and says so. A quick release build of
# each (no LTO, opt-level 0: the build script's choice is what is tested), in a
# target directory of its own, must warn, link without the section, and enter.
if ! command -v ld.mold >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mold >/dev/null
fi
for ld in mold gold; do
  out=$(CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_OPT_LEVEL=0 \
    CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 RUSTFLAGS="-C link-arg=-fuse-ld=$ld" \
    cargo build --release --locked -p nsjoin-cli --target-dir "$tmp/ld-$ld" 2>&1) \
    || { echo "$out" >&2; fail "a release build with -fuse-ld=$ld does not link"; }
  grep -q "linking with $ld: nsjoin and nsls are built without" <<<"$out" \
    || fail "a release build with -fuse-ld=$ld did not warn that it goes without the lists"
  bin=$tmp/ld-$ld/release/nsjoin
  readelf -SW "$bin" | grep -q '\.text\.hot_run' && fail "-fuse-ld=$ld: the lists were passed"
  readelf -dW "$bin" | grep -q RELR && fail "-fuse-ld=$ld: relocations were packed"
  got=$("$bin" -t "$pid" --net --uts --ipc --mount --pid readlink /proc/self/ns/net /proc/self/ns/uts) \
    || fail "the nsjoin linked with $ld does not run"
  [ "$got" = "$want" ] || fail "the nsjoin linked with $ld saw '$got', nsenter '$want'"
  rm -rf "$tmp/ld-$ld"
done
echo "release-test.sh: release builds linked with mold and gold: without the lists, and run" >&2

# Tarballs for other architectures (AARCH64=1 bash scripts/release.sh): the same
# layout and kind of binary, run under qemu's user-mode emulation. qemu-user does
# not know the nsfs ioctls (NS_GET_NSTYPE answers ENOSYS), so there they list
# namespaces (nsls) but cannot enter one; entering is what the host's tarball
# above shows, from the same sources.
for other in dist/nsjoin-*-linux.tar.gz; do
  [ "$other" = "$tarball" ] && continue
  oarch=$(basename "$other" | sed 's/^nsjoin-[^-]*-\(.*\)-linux\.tar\.gz$/\1/')
  case $oarch in
    aarch64) machine=AArch64 ;;
    *) fail "no check for the architecture of $other" ;;
  esac
  oprefix=$tmp/prefix-$oarch
  mkdir -p "$oprefix"
  tar -xzf "$other" -C "$oprefix" --strip-components=1
  (cd "$oprefix" && sha256sum --quiet -c share/doc/nsjoin/SHA256SUMS) || fail "$other: SHA256SUMS does not match"
  command -v "qemu-$oarch-static" >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-user-static >/dev/null
  }
  diff -r -x SHA256SUMS "$prefix/share" "$oprefix/share" >/dev/null || fail "$other: share/ differs from $tarball's"
  for b in nsjoin nsls; do
    readelf -hW "$oprefix/bin/$b" | grep -Eq "Machine: +$machine\$" || fail "$other: $b is not $machine"
    readelf -hW "$oprefix/bin/$b" | grep -Eq 'Type: +EXEC ' || fail "$other: $b is not position-dependent"
    readelf -lW "$oprefix/bin/$b" | grep -q 'program interpreter' && fail "$other: $b is not static"
    "qemu-$oarch-static" "$oprefix/bin/$b" --version | grep -q "nsjoin [0-9]" || fail "$other: $b --version"
  done
  "qemu-$oarch-static" "$oprefix/bin/nsls" -J -t net | python3 -c '
import json, sys
rows = json.load(sys.stdin)["namespaces"]
assert any(str(r["ns"]) == sys.argv[1] for r in rows), "the sandbox is not listed"
' "$ino" || fail "$other: nsls -J under qemu does not list the sandbox's net namespace"
  echo "release-test.sh: $(basename "$other"): checked, and run under qemu-$oarch-static" >&2
done

# The wheel, into a fresh venv, without cargo or rustc on PATH.
wheels=(dist/*.whl)
if [ -e "${wheels[0]}" ]; then
  case ${wheels[0]} in *-cp39-abi3-manylinux*) ;; *) fail "wheel tag: ${wheels[0]}" ;; esac
  python3 -m venv "$tmp/venv"
  env -i PATH=/usr/bin:/bin HOME="$tmp" "$tmp/venv/bin/pip" install -q --no-index \
    --disable-pip-version-check "${wheels[0]}"
  got=$(cd "$tmp" && env -i PATH=/usr/bin:/bin "$tmp/venv/bin/python" - "$pid" <<'PY'
import os, sys
from nsjoin import Namespace
pid = int(sys.argv[1])
with Namespace(pid, 'net'), Namespace(pid, 'uts'):
    print(os.readlink('/proc/thread-self/ns/net'))
    print(os.readlink('/proc/thread-self/ns/uts'))
PY
  )
  [ "$got" = "$want" ] || fail "the wheel's Namespace saw '$got', nsenter '$want'"
  echo "release-test.sh: $(basename "${wheels[0]}"): installed without a toolchain and run" >&2
else
  echo "release-test.sh: no wheel in dist/ (NO_WHEEL=1?)" >&2
fi
echo "release-test.sh: ok" >&2

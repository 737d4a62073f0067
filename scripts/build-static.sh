#!/usr/bin/env bash
# The static build of nsjoin and nsls: what scripts/install.sh installs, what
# scripts/release.sh ships and what bench/compare.sh measures, so that all three
# are the same binary. Prints the directory holding the binaries.
#   bash scripts/build-static.sh [TARGET]      (default: the host's)
#
# The release profile (Cargo.toml) plus, for the final link only:
# - a statically linked C runtime (+crt-static): no dynamic loader, no shared
#   libraries to map and bind at start-up;
# - a position-dependent executable (relocation-model=static): a static-PIE
#   applies its relative relocations itself at every start (the dynamic PIE has
#   about 14,000: user-space instructions, and 235 KiB of .data.rel.ro written,
#   60 pages); at a fixed address there are none (the packed relocations of
#   crates/nsjoin-cli/build.rs are for the dynamic PIE). The stack, heap and
#   mappings stay randomized; the executable's own image does not (as with
#   util-linux built without PIE, and every non-PIE static binary).
# An explicit --target keeps these flags away from build scripts and proc-macros.
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-$(rustc -vV | sed -n 's/^host: //p')}
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static -C relocation-model=static" \
  cargo build --release --locked -p nsjoin-cli --target "$target" >&2
echo "$PWD/target/$target/release"

#!/usr/bin/env bash
# Builds the container image nsjoin:VERSION (VERSION: the CLI crate's version):
# FROM scratch, the statically linked nsjoin and nsls in /bin, nothing else
# (kubernetes/Dockerfile). It is the image of `kubectl debug node/NODE
# --profile=sysadmin --image=...` and of the kubectl plugin, kubernetes/kubectl-nsjoin.
#
#   scripts/image.sh            build, tag nsjoin:VERSION, print the tag
#   NSJOIN_IMAGE=reg/nsjoin:x scripts/image.sh   another tag
#
# The binaries are built as scripts/install.sh builds them: release, with a
# statically linked C runtime, for the host's target; a binary that still needs a
# dynamic loader cannot run in an empty image, so that is checked.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' crates/nsjoin-cli/Cargo.toml | head -n1)
tag=${NSJOIN_IMAGE:-nsjoin:$version}
if [ -x /usr/bin/docker ]; then docker=/usr/bin/docker; else docker=docker; fi

host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --locked -p nsjoin-cli --target "$host" >&2
bin=target/$host/release

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
for b in nsjoin nsls; do
  if ldd "$bin/$b" 2>/dev/null | grep -q '=>'; then
    echo "image.sh: $bin/$b is dynamically linked; the image has no loader" >&2
    exit 1
  fi
  cp "$bin/$b" "$context/"
done
cp kubernetes/Dockerfile "$context/"
# No BuildKit (not every machine has it) and no registry: FROM scratch.
DOCKER_BUILDKIT=0 "$docker" build -q -t "$tag" "$context" >&2
echo "$tag"

#!/usr/bin/env bash
# Builds the container image nsjoin:VERSION (VERSION: the CLI crate's version):
# FROM scratch, the statically linked nsjoin and nsls in /bin, nothing else
# (kubernetes/Dockerfile). It is the image of `kubectl debug node/NODE
# --profile=sysadmin --image=...` and of the kubectl plugin, kubernetes/kubectl-nsjoin.
#
#   scripts/image.sh            build, tag nsjoin:VERSION, print the tag
#   NSJOIN_IMAGE=reg/nsjoin:x scripts/image.sh   another tag
#
# The binaries are scripts/build-static.sh's, the same ones scripts/install.sh
# installs and scripts/release.sh ships; a binary that still needs a dynamic
# loader cannot run in an empty image, so that is checked.
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' crates/nsjoin-cli/Cargo.toml | head -n1)
tag=${NSJOIN_IMAGE:-nsjoin:$version}
if [ -x /usr/bin/docker ]; then docker=/usr/bin/docker; else docker=docker; fi

bin=$(bash scripts/build-static.sh)

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

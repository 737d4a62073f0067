#!/usr/bin/env bash
# Builds nsjoin and nsls (scripts/build-static.sh: the same static binaries the
# release tarball ships) and installs them with their man pages and shell
# completions under PREFIX (default /usr/local). The man pages and completions are
# generated from the same clap definitions that parse the command lines.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}

bin=$(bash scripts/build-static.sh)
docs=$(mktemp -d)
trap 'rm -rf "$docs"' EXIT
"$bin/nsjoin-docs" "$docs"

for cmd in nsjoin nsls; do
  install -Dm755 "$bin/$cmd" "$prefix/bin/$cmd"
  install -Dm644 "$docs/man1/$cmd.1" "$prefix/share/man/man1/$cmd.1"
  install -Dm644 "$docs/completions/$cmd.bash" "$prefix/share/bash-completion/completions/$cmd"
  install -Dm644 "$docs/completions/_$cmd" "$prefix/share/zsh/site-functions/_$cmd"
  install -Dm644 "$docs/completions/$cmd.fish" "$prefix/share/fish/vendor_completions.d/$cmd.fish"
done
echo "installed nsjoin and nsls, their man pages and completions under $prefix"

#!/usr/bin/env bash
# Builds nsjoin in release mode and installs the binary, its man page and shell
# completions under PREFIX (default /usr/local). The man page and completions are
# generated from the same clap definition that parses the command line.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}

cargo build --release --locked -p nsjoin-cli
docs=$(mktemp -d)
trap 'rm -rf "$docs"' EXIT
target/release/nsjoin-docs "$docs"

install -Dm755 target/release/nsjoin "$prefix/bin/nsjoin"
install -Dm644 "$docs/man1/nsjoin.1" "$prefix/share/man/man1/nsjoin.1"
install -Dm644 "$docs/completions/nsjoin.bash" "$prefix/share/bash-completion/completions/nsjoin"
install -Dm644 "$docs/completions/_nsjoin" "$prefix/share/zsh/site-functions/_nsjoin"
install -Dm644 "$docs/completions/nsjoin.fish" "$prefix/share/fish/vendor_completions.d/nsjoin.fish"
echo "installed nsjoin, its man page and completions under $prefix"

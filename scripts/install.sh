#!/usr/bin/env bash
# Builds nsjoin in release mode and installs the binary, its man page and shell
# completions under PREFIX (default /usr/local). The man page and completions are
# generated from the same clap definition that parses the command line.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=${PREFIX:-/usr/local}

# Statically linked C runtime: no dynamic loader work at start-up, which is most of
# what a short nsjoin run costs beyond the program it starts. (An explicit --target
# keeps the flag away from build scripts and proc-macros.)
host=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --locked -p nsjoin-cli --target "$host"
bin=target/$host/release
docs=$(mktemp -d)
trap 'rm -rf "$docs"' EXIT
"$bin/nsjoin-docs" "$docs"

install -Dm755 "$bin/nsjoin" "$prefix/bin/nsjoin"
install -Dm644 "$docs/man1/nsjoin.1" "$prefix/share/man/man1/nsjoin.1"
install -Dm644 "$docs/completions/nsjoin.bash" "$prefix/share/bash-completion/completions/nsjoin"
install -Dm644 "$docs/completions/_nsjoin" "$prefix/share/zsh/site-functions/_nsjoin"
install -Dm644 "$docs/completions/nsjoin.fish" "$prefix/share/fish/vendor_completions.d/nsjoin.fish"
echo "installed nsjoin, its man page and completions under $prefix"

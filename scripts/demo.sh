#!/usr/bin/env bash
# Makes a sandbox process in fresh namespaces and looks inside it with the library.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo run --quiet --example demo

#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, integration and doc tests, and
# the release artifacts.
# Run as root: most tests make real namespaces. As a normal user they are skipped
# (and say so); with NSJOIN_REQUIRE_ROOT=1 (CI) a skip is a failure.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/setup.sh
bash scripts/docker.sh
bash scripts/podman.sh
bash scripts/lxc-nspawn.sh
# The nsjoin:VERSION image (static binaries, FROM scratch), which the k8s CLI test
# runs as a kubectl debug node pod would.
bash scripts/image.sh >/dev/null
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The library alone, without container engines or namespace discovery: what a
# user of Guard/Spawn compiles (no tokio, h2, prost, zbus, netlink).
cargo clippy -p nsjoin --no-default-features --lib -- -D warnings
cargo test -p nsjoin --no-default-features --lib
cargo test --workspace
# The /proc fallback on purpose: with the pidfd namespace ioctls turned off, the
# library must do the same through /proc/PID/ns and /proc/thread-self/ns
# (tests/paths.rs asserts which path each namespace came through).
NSJOIN_FORCE_PROC=1 cargo test -p nsjoin --test paths --test guard_enter --test guard_stack \
    --test target_pid --test target_path --test target_handles --test races --test run_in \
    --test run_reuse --test leaks
bash scripts/python-test.sh
# What users install without a toolchain: scripts/release.sh's tarball and wheel,
# installed into an empty prefix and a fresh venv and run; cargo package.
bash scripts/release-test.sh

#!/usr/bin/env bash
# The Python package's tests: builds and installs python/ into a venv under target/
# (pip builds it with maturin through the build backend, as `pip install ./python`
# does on a fresh machine) and runs its pytest suite (python/tests).
#
# Root and Docker: like the Rust tests, the tests that need them are skipped as a
# normal user or without a daemon, unless NSJOIN_REQUIRE_ROOT=1 / NSJOIN_REQUIRE_DOCKER=1
# (set by .ci/run) turn the skip into a failure. scripts/docker.sh starts Docker.
# Extra arguments go to pytest (e.g. `-k cli -x`).
set -euo pipefail
cd "$(dirname "$0")/.."

venv=target/py-venv
python=${PYTHON:-python3}
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_ROOT_USER_ACTION=ignore
# Debian's python3 makes venvs only with python3-venv installed.
if ! "$python" -c 'import venv, ensurepip' 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "python-test.sh: installing python3-venv" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  else
    echo "python-test.sh: $python cannot make a venv (install python3-venv)" >&2
    exit 1
  fi
fi
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
fi
# nsenter 0.2: the original package, for the side-by-side tests of its habits
# (tests/test_original_habits.py; they run against nsjoin alone without it).
"$venv/bin/python" -m pip install --quiet pytest mypy nsenter==0.2
# --force-reinstall --no-deps: the version number does not change with the source.
"$venv/bin/python" -m pip install --quiet --force-reinstall --no-deps ./python

# The test comparing `python -m nsjoin` with the `nsjoin` command needs it built.
cargo build --quiet -p nsjoin-cli --bin nsjoin
export NSJOIN_BIN="$PWD/target/debug/nsjoin"

# Run from outside python/ so that the installed package (with its compiled
# extension) is imported, not the source directory; leave no caches in the tree.
repo=$PWD
export PYTHONDONTWRITEBYTECODE=1 MYPY_CACHE_DIR="$repo/target/mypy-cache"

# The type stubs: the package type-checks strictly, and _nsjoin.pyi matches the
# compiled module.
(cd / && "$repo/$venv/bin/mypy" --strict -p nsjoin && "$repo/$venv/bin/python" -m mypy.stubtest nsjoin._nsjoin)

set +e
(cd / && "$repo/$venv/bin/pytest" -p no:cacheprovider "$repo/python/tests" "$@")
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "python-test.sh: pytest collected no tests (exit 5): that is a failure" >&2
  exit 1
fi
exit "$status"

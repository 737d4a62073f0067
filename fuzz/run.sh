#!/usr/bin/env bash
# Runs every cargo-fuzz target for FUZZ_SECONDS (default 60) each, on stable Rust
# (RUSTC_BOOTSTRAP=1 lets stable accept the -Z sanitizer flags cargo-fuzz passes).
# Exits non-zero if any target crashed; crash inputs land in fuzz/artifacts/TARGET/.
#
#   bash fuzz/run.sh                    # all targets, 60 s each
#   FUZZ_SECONDS=600 bash fuzz/run.sh environ mountinfo
set -uo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
export RUSTC_BOOTSTRAP=1

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz..."
    cargo install --locked cargo-fuzz || exit 2
fi

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(cargo fuzz list)
fi

echo "building ${#targets[@]} targets..."
cargo fuzz build --debug-assertions || exit 2

mkdir -p fuzz/logs
failed=()
for t in "${targets[@]}"; do
    mkdir -p "fuzz/corpus/$t"
    seeds=()
    [ -d "fuzz/seeds/$t" ] && seeds=("fuzz/seeds/$t")
    log="fuzz/logs/$t.log"
    printf '%-16s %ss ... ' "$t" "$seconds"
    cargo fuzz run --debug-assertions "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        >"$log" 2>&1
    rc=$?
    execs=$(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
    if [ $rc -eq 0 ]; then
        echo "ok (${execs:-?} executions)"
    else
        echo "CRASH (exit $rc; ${execs:-?} executions; see $log)"
        grep -E '^(thread .* panicked|==[0-9]+==ERROR|SUMMARY)|^Base64:|artifact_prefix|Test unit written' "$log" | head -5 | sed 's/^/    /'
        failed+=("$t")
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "crashed: ${failed[*]} (inputs in fuzz/artifacts/; reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run TARGET fuzz/artifacts/TARGET/crash-...)"
    exit 1
fi
echo "no crashes in ${#targets[@]} targets x ${seconds}s"

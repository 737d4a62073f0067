"""One enter+exit cycle of `with Namespace(pid, 'net'): pass`, the original nsenter
package (0.2, from PyPI) against nsjoin's, side by side in one process on one
target. Run by bench/python-guard.sh, which makes the venv and the target and
writes the Markdown this prints into BENCHMARKS.md.

usage: python python_guard.py PID
"""

from __future__ import annotations

import ctypes
import os
import platform
import statistics
import sys
import time

import nsenter  # the original package
import nsjoin

ROUNDS = 15  # alternating rounds; the median of each is reported
CYCLES = 4000  # cycles per round


def thread_net() -> int:
    return os.stat("/proc/thread-self/ns/net").st_ino


def check(pid: int) -> None:
    """Both really enter (and leave) the target's net namespace."""
    target, home = os.stat(f"/proc/{pid}/ns/net").st_ino, thread_net()
    assert target != home, "the target must be in another net namespace"
    with nsenter.Namespace(pid, "net"):
        assert thread_net() == target
    assert thread_net() == home
    with nsjoin.Namespace(pid, "net"):
        assert thread_net() == target
    assert thread_net() == home


def per_cycle(loop, n: int) -> float:
    start = time.perf_counter()
    loop(n)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    pid = int(sys.argv[1])
    check(pid)
    original, ours = nsenter.Namespace, nsjoin.Namespace
    reused = ours(pid, "net")

    libc = ctypes.CDLL(None, use_errno=True)
    target_fd = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    home_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)

    def loop_original(n: int) -> None:
        for _ in range(n):
            with original(pid, "net"):
                pass

    def loop_ours(n: int) -> None:
        for _ in range(n):
            with ours(pid, "net"):
                pass

    def loop_reused(n: int) -> None:
        for _ in range(n):
            with reused:
                pass

    def loop_floor(n: int) -> None:
        # Two setns(2) on fds opened in advance, nothing opened, nothing saved:
        # less than any correct implementation can do.
        setns = libc.setns
        for _ in range(n):
            setns(target_fd, 0)
            setns(home_fd, 0)

    loops = {
        "original": loop_original,
        "ours": loop_ours,
        "reused": loop_reused,
        "floor": loop_floor,
    }
    for loop in loops.values():  # warm up
        loop(500)
    samples: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(ROUNDS):
        for name, loop in loops.items():
            samples[name].append(per_cycle(loop, CYCLES))
    assert thread_net() == os.stat("/proc/self/ns/net").st_ino
    med = {name: statistics.median(values) for name, values in samples.items()}

    ratio = med["original"] / med["ours"]
    ratio_reused = med["original"] / med["reused"]
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()[0]
    print(f"Command: `bash bench/python-guard.sh` ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {cpu}, "
          f"Linux {platform.release()}, Python {platform.python_version()}, load {load:.1f}; "
          f"nsenter 0.2 from PyPI and nsjoin {nsjoin.__version__} in one venv, one process, "
          f"{ROUNDS} alternating rounds of {CYCLES} cycles, median per cycle).")
    print()
    print("Target: a `sleep` in fresh namespaces (`unshare --net --uts ... --fork`), entered for `net`.")
    print()
    print("| one cycle | µs | original ÷ this |")
    print("|---|---|---|")
    print(f"| original `nsenter.Namespace(pid, 'net')`: `with` (construct, enter, exit) | {med['original']:.1f} | 1.0× |")
    print(f"| `nsjoin.Namespace(pid, 'net')`: the same `with` (construct, enter, exit) | {med['ours']:.1f} | **{ratio:.1f}×** |")
    print(f"| `nsjoin`: `with ns:` on a Namespace made once (enter, exit) | {med['reused']:.1f} | **{ratio_reused:.1f}×** |")
    print(f"| floor: two bare `setns(2)` via ctypes on fds opened in advance | {med['floor']:.1f} | {med['original'] / med['floor']:.1f}× |")
    rust_floor = os.environ.get("NSJOIN_RUST_FLOOR_US")
    if rust_floor:
        floor = float(rust_floor)
        print(f"| floor from Rust: `raw_setns_pair/net` (crates/nsjoin/benches/enter.rs, run apart) | {floor:.1f} | {med['original'] / floor:.1f}× |")
    print()
    goal_reused = "met" if ratio_reused >= 10 else "not met"
    goal_once = "met" if ratio >= 5 else "not met"
    print(f"Goals: a Namespace made once and entered again at least 10× faster than the original's "
          f"`with Namespace(pid, 'net')`: **{goal_reused}** ({ratio_reused:.1f}×); the one-statement "
          f"`with Namespace(pid, 'net')` at least 5×: **{goal_once}** ({ratio:.1f}×).")
    print()
    print(f"For scale: two bare setns(2) via ctypes (the floor row) take {med['floor']:.1f} µs here; "
          f"`with ns:` is {med['reused'] / med['floor']:.2f}× that"
          + (f", and {med['reused'] / float(rust_floor):.2f}× the same two calls made from Rust." if rust_floor else "."))

if __name__ == "__main__":
    main()

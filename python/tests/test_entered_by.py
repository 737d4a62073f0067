"""Which way a Namespace gets in: one setns(2) on the target's pidfd ('pidfd'), or one
per kind on namespace fds ('fds'); and what holding a process, rather than its
namespaces, means when the process moves or exits before the ``with``."""

from __future__ import annotations

import errno
import os
import subprocess
import sys
import time
from typing import Iterator

import pytest

import nsjoin
from nsjoin import Namespace
from conftest import Sandbox, child_of, ns_ino, python_c, thread_ino

PIDFD_KINDS = ["cgroup", "ipc", "net", "pid", "uts"]


def test_pid_and_kinds_a_pidfd_enters_take_the_pidfd(sandbox: Sandbox) -> None:
    outside = {kind: thread_ino(kind) for kind in PIDFD_KINDS}
    for kinds in ("net", PIDFD_KINDS, "uts,ipc"):
        ns = Namespace(sandbox.pid, kinds)
        assert ns.entered_by is None
        with ns:
            assert ns.entered_by == "pidfd"
            for kind in ns.kinds:
                if kind != "pid":  # pid moves only pid_for_children
                    assert thread_ino(kind) == sandbox.ino(kind), (kinds, kind)
            if "pid" in ns.kinds:
                assert ns_ino("thread-self", "pid_for_children") == sandbox.ino("pid")
        assert {kind: thread_ino(kind) for kind in PIDFD_KINDS} == outside
        assert ns.entered_by == "pidfd"  # the last __enter__'s way, after it too


def test_one_statement_form_takes_the_pidfd(sandbox: Sandbox) -> None:
    with Namespace(sandbox.pid, "net") as ns:
        assert ns.entered_by == "pidfd"
        assert thread_ino("net") == sandbox.ino("net")


def test_forced_proc_takes_the_fds(sandbox: Sandbox) -> None:
    code = (
        "import os, sys, nsjoin\n"
        "pid = int(sys.argv[1])\n"
        "with nsjoin.Namespace(pid, 'net') as ns:\n"
        "    print(ns.entered_by, os.stat('/proc/thread-self/ns/net').st_ino)\n"
        "print(ns.entered_by, os.stat('/proc/thread-self/ns/net').st_ino)\n"
    )
    forced = python_c(code, str(sandbox.pid), env={**os.environ, "NSJOIN_FORCE_PROC": "1"})
    assert forced.returncode == 0, forced.stderr
    inside, after = forced.stdout.split("\n")[:2]
    assert inside == f"fds {sandbox.ino('net')}"
    assert after == f"fds {ns_ino(os.getpid(), 'net')}"
    plain = python_c(code, str(sandbox.pid))
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.split("\n")[0] == f"pidfd {sandbox.ino('net')}"


def test_files_other_kinds_and_another_proc_take_the_fds(sandbox: Sandbox, netns, tmp_path) -> None:
    with Namespace(netns.path, "net") as ns:
        assert ns.entered_by == "fds"
        assert thread_ino("net") == os.stat(netns.path).st_ino
    with Namespace(f"/proc/{sandbox.pid}/ns/uts", "uts") as ns:
        assert ns.entered_by == "fds"
    # /proc bind-mounted elsewhere is not this process's pinned /proc: opened now.
    with Namespace(sandbox.pid, "net", proc=f"/proc/{os.getpid()}/root/proc") as ns:
        assert ns.entered_by == "fds"
        assert thread_ino("net") == sandbox.ino("net")
    # mnt (and time) need more than the setns: a thread of their own here.
    seen = {}

    def in_mnt() -> None:
        with Namespace(sandbox.pid, ["net", "mnt"]) as ns:
            seen["by"] = ns.entered_by
            seen["mnt"] = thread_ino("mnt")

    nsjoin.run(os.getpid(), "net", in_mnt)
    assert seen == {"by": "fds", "mnt": sandbox.ino("mnt")}


@pytest.fixture
def mover(root) -> Iterator[tuple[subprocess.Popen, int]]:
    """A process in a fresh net namespace that, given a line on stdin, moves itself
    (same PID, exec of `unshare --net`) into another fresh one."""
    holder = subprocess.Popen(
        [
            "unshare", "--net", "--fork", "--kill-child", "/bin/sh", "-c",
            "echo ready; read line; exec unshare --net sleep 100000",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    assert holder.stdout.readline().strip() == b"ready"
    try:
        yield holder, child_of(holder.pid)
    finally:
        holder.kill()
        holder.wait()


def _move(holder: subprocess.Popen, pid: int) -> int:
    before = ns_ino(pid, "net")
    assert holder.stdin is not None
    holder.stdin.write(b"go\n")
    holder.stdin.flush()
    for _ in range(400):
        try:
            now = ns_ino(pid, "net")
        except FileNotFoundError:
            now = before
        if now != before:
            return now
        time.sleep(0.01)
    raise RuntimeError(f"process {pid} did not move")


def test_a_held_process_is_followed_to_where_it_is_at_the_with(mover) -> None:
    # The original package opened /proc/PID/ns/net when the Namespace was made and
    # entered that later; a Namespace that holds the process enters where the
    # process is at the `with`, every time.
    holder, pid = mover
    ns = Namespace(pid, "net")
    first = ns_ino(pid, "net")
    with ns:
        assert thread_ino("net") == first
    moved = _move(holder, pid)
    assert moved != first
    with ns:
        assert ns.entered_by == "pidfd"
        assert thread_ino("net") == moved
    assert ns.ids == {"net": moved}


def test_forced_proc_enters_the_namespace_opened_when_made(mover) -> None:
    # NSJOIN_FORCE_PROC=1: opened when made, entered as it was then, like the
    # original package.
    holder, pid = mover
    code = (
        "import os, sys, nsjoin\n"
        "ns = nsjoin.Namespace(int(sys.argv[1]), 'net')\n"
        "print('made', flush=True)\n"
        "sys.stdin.readline()\n"
        "with ns:\n"
        "    print(ns.entered_by, os.stat('/proc/thread-self/ns/net').st_ino, flush=True)\n"
    )
    first = ns_ino(pid, "net")
    child = subprocess.Popen(
        [sys.executable, "-c", code, str(pid)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "NSJOIN_FORCE_PROC": "1"},
    )
    assert child.stdout is not None and child.stdin is not None
    assert child.stdout.readline().strip() == "made"
    _move(holder, pid)
    out, _ = child.communicate("go\n", timeout=30)
    assert child.returncode == 0
    assert out.strip() == f"fds {first}"


def test_a_held_process_that_exited_raises_on_entering(sandbox_factory) -> None:
    sandbox = sandbox_factory()
    outside = thread_ino("net")
    ns = Namespace(sandbox.pid, "net")
    sandbox.stop()  # --kill-child: the sleep dies with its holder
    for _ in range(400):
        if not os.path.exists(f"/proc/{sandbox.pid}"):
            break
        time.sleep(0.01)
    with pytest.raises(nsjoin.ProcessNotFoundError) as info:
        with ns:
            pass
    assert info.value.errno == errno.ESRCH
    assert f"process {sandbox.pid} has exited" in str(info.value)
    assert thread_ino("net") == outside


def test_a_held_process_refused_on_entering_is_permission_error(sandbox: Sandbox) -> None:
    # Made as root, entered after dropping root: neither the pidfd's setns nor
    # opening the namespaces is allowed any more.
    code = (
        "import os, sys, nsjoin\n"
        "ns = nsjoin.Namespace(int(sys.argv[1]), 'net')\n"
        "os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\n"
        "try:\n"
        "    ns.__enter__()\n"
        "except PermissionError as e:\n"
        "    print('PermissionError', os.stat('/proc/thread-self/ns/net').st_ino)\n"
    )
    result = python_c(code, str(sandbox.pid))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["PermissionError", str(ns_ino(os.getpid(), "net"))]


"""run_command/spawn with host_tools: this machine's programs inside a target,
whose root shows at /target (or the directory given)."""

from __future__ import annotations

import os

import pytest

import nsjoin
from conftest import Sandbox


def test_run_command_with_host_tools_sees_the_target(sandbox_factory) -> None:
    sandbox: Sandbox = sandbox_factory(setup="mount -t tmpfs nsjoin-py /mnt && echo inside > /mnt/marker")
    out = nsjoin.run_command(
        sandbox.pid,
        "all",
        ["sh", "-c", "hostname; ps -e -o pid= | head -1 | tr -d ' '; cat /target/mnt/marker; readlink /proc/self/ns/mnt"],
        host_tools=True,
        capture_output=True,
        text=True,
        check=True,
    )
    hostname, first_pid, marker, mnt = out.stdout.split()
    assert (hostname, first_pid, marker) == (sandbox.hostname, "1", "inside")
    # A private mount namespace: neither the sandbox's nor ours.
    assert mnt not in (os.readlink(f"/proc/{sandbox.pid}/ns/mnt"), os.readlink("/proc/self/ns/mnt"))


def test_spawn_with_host_tools_at_a_directory(sandbox_factory) -> None:
    sandbox: Sandbox = sandbox_factory(setup="cd /")
    with nsjoin.spawn(sandbox.pid, ["mnt", "pid"], ["sh", "-c", "ls -d /mnt/proc && pwd -P"],
                      host_tools="/mnt", cwd=True, stdout=nsjoin.PIPE, text=True) as p:
        out, _ = p.communicate()
    assert p.returncode == 0
    assert out.split() == ["/mnt/proc", "/mnt"]


def test_host_tools_and_root_are_refused_together(sandbox: Sandbox) -> None:
    with pytest.raises(OSError, match="--root"):
        nsjoin.run_command(sandbox.pid, "all", ["true"], host_tools=True, root=True)


def test_host_tools_and_confine_are_refused_together(sandbox: Sandbox) -> None:
    # Each gives the program a root: this machine's, or the target's.
    with pytest.raises(OSError, match="host tools") as info:
        nsjoin.run_command(sandbox.pid, "all", ["true"], host_tools=True, confine=True)
    assert "--root" not in str(info.value)

"""confine=True on nsjoin.run_command / nsjoin.spawn: the program gets the
target's security context, as `docker exec` gives a program in a container."""

from __future__ import annotations

import os
import subprocess
from typing import List

import pytest

import nsjoin
from conftest import Container, docker_cli

LINES = ["Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp", "Seccomp_filters"]


def security_lines(status: str) -> List[str]:
    by_name = {line.split(":", 1)[0]: line.rstrip() for line in status.splitlines()}
    return [by_name[name] for name in LINES]


def test_confine_matches_docker_exec(container: Container) -> None:
    docker = docker_cli()
    assert docker is not None
    wanted = subprocess.run([docker, "exec", container.name, "cat", "/proc/self/status"], check=True, capture_output=True, text=True).stdout
    target = f"docker://{container.name}"
    result = nsjoin.run_command(target, "all", ["cat", "/proc/self/status"], confine=True, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert security_lines(result.stdout) == security_lines(wanted)
    # Without it, the program has every capability.
    free = nsjoin.run_command(target, "all", ["cat", "/proc/self/status"], capture_output=True, text=True).stdout
    assert security_lines(free) != security_lines(wanted)
    with nsjoin.spawn(target, "all", ["cat", "/proc/self/status"], confine=True, stdout=nsjoin.PIPE, text=True) as proc:
        out, _ = proc.communicate()
    assert security_lines(out) == security_lines(wanted)
    status = open(f"/proc/{container.pid}/status").read()
    assert "TracerPid:\t0\n" in status


@pytest.mark.parametrize(
    "option",
    [{"user": 0}, {"group": 0}, {"preserve_credentials": True}, {"root": "/"}, {"cwd": "/"}],
)
def test_confine_refuses_what_contradicts_it(option: dict) -> None:
    with pytest.raises(ValueError, match="confine=True cannot be combined with"):
        nsjoin.run_command(os.getpid(), "net", ["true"], confine=True, **option)

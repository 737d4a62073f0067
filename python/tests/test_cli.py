"""`python -m nsjoin`: the original package's command line, behaving like the
`nsjoin` command where they overlap (compared with it when it is built)."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import subprocess
import sys
import time
from typing import List, Optional

import pytest

from conftest import NETNS_ADDRESS, Container, Sandbox

REPO = pathlib.Path(__file__).resolve().parents[2]


def nsjoin_py(*args: str, input: Optional[str] = None, timeout: float = 60) -> subprocess.CompletedProcess:
    # cwd=/ so that the installed package is imported, not ./nsjoin of the source tree.
    return subprocess.run(
        [sys.executable, "-m", "nsjoin", *args], input=input, capture_output=True, text=True, cwd="/", timeout=timeout
    )


def nsjoin_bin() -> Optional[str]:
    """The Rust `nsjoin` command: $NSJOIN_BIN, target/debug/nsjoin or PATH."""
    for candidate in (os.environ.get("NSJOIN_BIN"), str(REPO / "target/debug/nsjoin"), shutil.which("nsjoin")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


def test_help_lists_the_original_options() -> None:
    result = nsjoin_py("--help")
    assert result.returncode == 0
    for option in ("--target", "-t", "--proc", "-p", "--all", "--mnt", "--ipc", "--net", "--pid", "--user", "--uts"):
        assert option in result.stdout


def test_uts_and_net(sandbox: Sandbox) -> None:
    result = nsjoin_py("-t", str(sandbox.pid), "--uts", "hostname")
    assert (result.returncode, result.stdout.strip(), result.stderr) == (0, sandbox.hostname, "")
    links = nsjoin_py("--target", str(sandbox.pid), "--net", "ip", "-o", "link")
    assert links.returncode == 0, links.stderr
    assert [line.split(":")[1].strip() for line in links.stdout.splitlines()] == ["lo"]


def test_command_defaults_to_bin_sh(sandbox: Sandbox) -> None:
    result = nsjoin_py("-t", str(sandbox.pid), "--uts", input="hostname; echo $0\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [sandbox.hostname, "/bin/sh"]


def test_all_and_pid(sandbox: Sandbox) -> None:
    result = nsjoin_py("-t", str(sandbox.pid), "--all", "sh", "-c", "echo $$; hostname")
    assert result.returncode == 0, result.stderr
    pid, hostname = result.stdout.split()
    assert int(pid) < 100 and hostname == sandbox.hostname
    result = nsjoin_py("-t", str(sandbox.pid), "--pid", "--mnt", "--", "sh", "-c", "echo $$")
    assert result.returncode == 0 and int(result.stdout) < 100


@pytest.mark.parametrize("by", ["pid", "name"])
def test_all_in_a_container(container: Container, by: str) -> None:
    # The original fails here: it enters the user namespace it is already in.
    target = str(container.pid) if by == "pid" else f"docker://{container.name}"
    result = nsjoin_py("-t", target, "--all", "/bin/sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "sleep 100000"


def test_namespace_file_target(netns) -> None:
    result = nsjoin_py("-t", netns.path, "--net", "ip", "-o", "addr")
    assert result.returncode == 0, result.stderr
    assert NETNS_ADDRESS in result.stdout


def test_proc_option(sandbox: Sandbox, tmp_path: pathlib.Path) -> None:
    subprocess.run(["mount", "--bind", "/proc", str(tmp_path)], check=True)
    try:
        result = nsjoin_py("-t", str(sandbox.pid), "-p", str(tmp_path), "--uts", "hostname")
        assert (result.returncode, result.stdout.strip()) == (0, sandbox.hostname)
    finally:
        subprocess.run(["umount", str(tmp_path)], check=True)


@pytest.mark.parametrize("kinds", [["--uts"], ["--pid", "--uts"]])
def test_exit_codes(sandbox: Sandbox, kinds: List[str]) -> None:
    target = ["-t", str(sandbox.pid), *kinds]
    assert nsjoin_py(*target, "sh", "-c", "exit 7").returncode == 7
    missing = nsjoin_py(*target, "no-such-program-here")
    assert missing.returncode == 127
    assert missing.stderr.startswith("nsjoin: failed to execute no-such-program-here: No such file or directory")
    assert nsjoin_py(*target, "/proc/version").returncode == 126  # not executable
    # Killed by a signal: this process ends by the same signal.
    assert nsjoin_py(*target, "sh", "-c", "kill -TERM $$").returncode == -signal.SIGTERM


def test_own_errors_exit_1(sandbox: Sandbox) -> None:
    gone = str(int(open("/proc/sys/kernel/pid_max").read()) + 1)
    cases = {
        ("-t", str(sandbox.pid)): "nsjoin: no namespace specified",
        ("--net", "true"): "nsjoin: the following arguments are required: --target/-t",
        ("-t", gone, "--net", "true"): f"nsjoin: cannot open /proc/{gone}: No such process",
        ("-t", "ftp://redis", "--net", "true"): "nsjoin: ftp://redis: unknown engine",
        ("-t", "/etc/hostname", "--net", "true"): "nsjoin: /etc/hostname is not a namespace file",
        ("-t", f"/proc/{sandbox.pid}/ns/uts", "--net", "true"): f"nsjoin: /proc/{sandbox.pid}/ns/uts is a uts namespace, not net",
        ("-t", str(sandbox.pid), "--user", "true"): "nsjoin: reassociate to namespace 'ns/user' failed: Invalid argument",
        ("-t", str(sandbox.pid), "--bogus"): "nsjoin: unrecognized arguments: --bogus",
    }
    for args, message in cases.items():
        result = nsjoin_py(*args)
        assert result.returncode == 1, (args, result)
        assert result.stderr.startswith(message), (args, result.stderr)
        assert result.stdout == ""


def test_signals_reach_the_program_in_a_pid_namespace(sandbox: Sandbox) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "nsjoin", "-t", str(sandbox.pid), "--pid", "--mnt", "sleep", "100"],
        cwd="/",
    )
    try:
        # Wait until the sleep runs inside the sandbox's pid namespace.
        inner = None
        for _ in range(500):
            for entry in os.listdir("/proc"):
                if entry.isdigit() and int(entry) != sandbox.pid:
                    try:
                        if open(f"/proc/{entry}/cmdline").read() == "sleep\x00100\x00" and (
                            os.stat(f"/proc/{entry}/ns/pid").st_ino == sandbox.ino("pid")
                        ):
                            inner = int(entry)
                    except OSError:
                        pass
            if inner:
                break
            time.sleep(0.01)
        assert inner, "the program did not start"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == -signal.SIGTERM
        for _ in range(200):
            if not os.path.exists(f"/proc/{inner}"):
                break
            time.sleep(0.01)
        assert not os.path.exists(f"/proc/{inner}"), "SIGTERM did not reach the program"
    finally:
        proc.kill()
        proc.wait()


def test_same_as_the_nsjoin_command(sandbox: Sandbox) -> None:
    binary = nsjoin_bin()
    if binary is None:
        pytest.skip("the nsjoin command is not built (cargo build -p nsjoin-cli)")
    pid = str(sandbox.pid)
    cases = [
        ["-t", pid, "--uts", "hostname"],
        ["-t", pid, "--net", "ip", "-o", "link"],
        ["-t", pid, "--all", "sh", "-c", "[ $$ -lt 100 ] && echo inside; hostname; readlink /proc/self/ns/mnt"],
        ["-t", pid, "--pid", "--mount", "sh", "-c", "[ $$ -lt 100 ] && echo inside; exit 5"],
        ["-t", pid, "--uts", "sh", "-c", "exit 9"],
        ["-t", pid, "--uts", "no-such-program-here"],
        ["-t", pid, "--uts", "/proc/version"],
        ["-t", pid, "--all", "sh", "-c", "kill -TERM $$"],
        ["-t", pid, "--user", "true"],
        ["-t", str(int(open("/proc/sys/kernel/pid_max").read()) + 1), "--net", "true"],
    ]
    for args in cases:
        ours = nsjoin_py(*args)
        theirs = subprocess.run([binary, *args], capture_output=True, text=True, cwd="/", timeout=60)
        assert (ours.returncode, ours.stdout) == (theirs.returncode, theirs.stdout), args
        # Same first line of error message (theirs may add a hint after a usage error).
        assert ours.stderr.splitlines()[:1] == theirs.stderr.splitlines()[:1], args

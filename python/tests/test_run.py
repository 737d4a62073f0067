"""nsjoin.run (a function on a thread of its own) and the command helpers
(nsjoin.spawn, nsjoin.run_command)."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import threading
import time

import pytest

import nsjoin
from conftest import Container, Sandbox, thread_ino


# --- run ---------------------------------------------------------------------------


def test_run_returns_what_fn_returns(sandbox: Sandbox) -> None:
    outside = thread_ino("net")
    assert nsjoin.run(sandbox.pid, "uts", socket.gethostname) == sandbox.hostname
    inos = nsjoin.run(sandbox.pid, ["net", "mnt"], lambda *a, **k: (thread_ino("net"), thread_ino("mnt"), a, k), 1, x=2)
    assert inos == (sandbox.ino("net"), sandbox.ino("mnt"), (1,), {"x": 2})
    assert thread_ino("net") == outside
    assert os.getcwd() != "/" or True  # the caller's cwd is never touched


def test_run_on_its_own_thread(sandbox: Sandbox) -> None:
    caller = threading.get_ident()
    other = nsjoin.run(sandbox.pid, "all", threading.get_ident)
    assert other != caller


def test_run_raises_what_fn_raises(sandbox: Sandbox) -> None:
    with pytest.raises(ZeroDivisionError):
        nsjoin.run(sandbox.pid, "net", lambda: 1 / 0)


def test_run_with_a_namespace_target(sandbox: Sandbox) -> None:
    ns = nsjoin.Namespace(sandbox.pid, ["uts", "net"])
    assert nsjoin.run(ns, None, socket.gethostname) == sandbox.hostname
    assert nsjoin.run(ns, "net", thread_ino, "net") == sandbox.ino("net")


def test_run_releases_the_gil(sandbox: Sandbox) -> None:
    # fn runs on another thread that needs the GIL: the caller must let go of it,
    # and other Python threads keep running meanwhile.
    ticks = []
    stop = threading.Event()

    def ticker() -> None:
        while not stop.is_set():
            ticks.append(1)
            time.sleep(0.005)

    t = threading.Thread(target=ticker)
    t.start()
    try:
        before = len(ticks)
        nsjoin.run(sandbox.pid, "net", time.sleep, 0.3)
        assert len(ticks) - before > 10
    finally:
        stop.set()
        t.join()


def test_run_refuses_user_and_time(user_sandbox: Sandbox) -> None:
    with pytest.raises(OSError) as info:
        nsjoin.run(user_sandbox.pid, "user", lambda: None)
    assert info.value.errno == errno.EINVAL
    with pytest.raises(OSError) as info:
        nsjoin.run(os.getpid(), "time", lambda: None)
    assert info.value.errno == errno.EINVAL


def test_run_errors() -> None:
    with pytest.raises(ValueError):
        nsjoin.run(os.getpid(), "nett", lambda: None)
    with pytest.raises(ValueError):
        nsjoin.run("ftp://redis", "net", lambda: None)
    with pytest.raises(ProcessLookupError):
        nsjoin.run(int(open("/proc/sys/kernel/pid_max").read()) + 1, "net", lambda: None)


# --- run_command / spawn -----------------------------------------------------------


def test_run_command_in_every_namespace(sandbox: Sandbox) -> None:
    result = nsjoin.run_command(
        sandbox.pid, "all", ["sh", "-c", "echo $$; hostname; ip -o link | wc -l"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    pid, hostname, links = result.stdout.split()
    assert int(pid) < 100  # forked into the pid namespace
    assert hostname == sandbox.hostname
    assert links == "1"  # lo only
    assert result.args == ["sh", "-c", "echo $$; hostname; ip -o link | wc -l"]


@pytest.mark.parametrize("by", ["pid", "name"])
def test_run_command_in_a_container(container: Container, by: str) -> None:
    # The container's own root: busybox's /bin, and PID 1 is sleep.
    target = container.pid if by == "pid" else f"docker://{container.name}"
    result = nsjoin.run_command(target, "all", ["/bin/sh", "-c", "cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /bin | wc -l"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    cmdline, count = result.stdout.splitlines()
    assert cmdline.strip() == "sleep 100000"
    assert int(count) > 100  # busybox applets


def test_run_command_in_a_user_namespace(user_sandbox: Sandbox) -> None:
    result = nsjoin.run_command(user_sandbox.pid, "all", ["id", "-u"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"  # root in the user namespace, as nsenter makes it
    uid = nsjoin.run_command(
        user_sandbox.pid, "all", ["sh", "-c", "cat /proc/self/uid_map; id -u"], capture_output=True, text=True,
        preserve_credentials=True,
    )
    assert uid.returncode == 0, uid.stderr
    assert uid.stdout.split()[-1] == "0"  # root outside is mapped to 0 inside


def test_run_command_check_input_timeout(sandbox: Sandbox) -> None:
    result = nsjoin.run_command(sandbox.pid, "uts", ["cat"], input=b"hello", capture_output=True)
    assert result.stdout == b"hello" and result.stderr == b""
    with pytest.raises(subprocess.CalledProcessError) as info:
        nsjoin.run_command(sandbox.pid, "uts", ["sh", "-c", "echo out; echo err >&2; exit 3"], capture_output=True, check=True)
    assert info.value.returncode == 3
    assert info.value.stdout == b"out\n" and info.value.stderr == b"err\n"
    start = time.monotonic()
    with pytest.raises(subprocess.TimeoutExpired):
        nsjoin.run_command(sandbox.pid, "uts", ["sleep", "30"], timeout=0.3)
    assert time.monotonic() - start < 10


def test_run_command_stdio_options(sandbox: Sandbox, tmp_path) -> None:
    merged = nsjoin.run_command(sandbox.pid, "uts", ["sh", "-c", "echo a; echo b >&2"], stdout=nsjoin.PIPE, stderr=nsjoin.STDOUT)
    assert sorted(merged.stdout.split()) == [b"a", b"b"] and merged.stderr is None
    quiet = nsjoin.run_command(sandbox.pid, "uts", ["echo", "x"], stdout=nsjoin.DEVNULL)
    assert quiet.returncode == 0 and quiet.stdout is None
    out = tmp_path / "out"
    with open(out, "w") as f:
        nsjoin.run_command(sandbox.pid, "uts", ["hostname"], stdout=f)
    assert out.read_text().strip() == sandbox.hostname
    env = nsjoin.run_command(sandbox.pid, "uts", ["sh", "-c", "echo $NSJ"], env={"NSJ": "yes", "PATH": os.environ["PATH"]}, capture_output=True)
    assert env.stdout == b"yes\n"


def test_run_command_root_and_cwd(container: Container) -> None:
    # Without mnt, root=True/cwd=True give the target's root and directory.
    result = nsjoin.run_command(container.pid, "uts", ["/bin/sh", "-c", "pwd; ls /bin/busybox"], root=True, cwd=True, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["/", "/bin/busybox"]
    inside = nsjoin.run_command(container.pid, "mnt", ["/bin/pwd"], cwd="/bin", capture_output=True, text=True)
    assert inside.stdout.strip() == "/bin"


def test_spawn_process_object(sandbox: Sandbox) -> None:
    with nsjoin.spawn(sandbox.pid, ["pid", "mnt", "uts"], ["sh", "-c", "read x; echo $x $$"], stdin=nsjoin.PIPE, stdout=nsjoin.PIPE, text=True) as p:
        assert p.pid > 0 and p.poll() is None
        assert p.stdin is not None and p.stdout is not None
        p.stdin.write("hi\n")
        p.stdin.close()
        word, inner = p.stdout.read().split()
        assert word == "hi" and int(inner) < 100
    assert p.returncode == 0
    p = nsjoin.spawn(sandbox.pid, "all", ["sleep", "30"])
    # pid is the program's own, even though it was forked into the pid namespace.
    assert open(f"/proc/{p.pid}/comm").read().strip() == "sleep"
    with pytest.raises(subprocess.TimeoutExpired):
        p.wait(timeout=0.1)
    p.terminate()
    assert p.wait(timeout=10) == -signal.SIGTERM
    p.kill()  # reaped already: nothing happens


def test_spawn_with_a_namespace_target(sandbox: Sandbox) -> None:
    ns = nsjoin.Namespace(sandbox.pid, ["uts", "net"])
    out = nsjoin.run_command(ns, None, ["hostname"], capture_output=True, text=True).stdout
    assert out.strip() == sandbox.hostname


def test_command_errors(sandbox: Sandbox) -> None:
    with pytest.raises(FileNotFoundError) as info:
        nsjoin.run_command(sandbox.pid, "all", ["no-such-program-here"])
    assert info.value.errno == errno.ENOENT and info.value.filename == "no-such-program-here"
    with pytest.raises(PermissionError) as perm:
        nsjoin.run_command(sandbox.pid, "uts", ["/proc/version"])  # not executable
    assert perm.value.errno == errno.EACCES
    with pytest.raises(ValueError):
        nsjoin.run_command(sandbox.pid, "uts", [])
    with pytest.raises(ValueError):
        nsjoin.run_command(sandbox.pid, "bogus", ["true"])
    with pytest.raises(ValueError):
        nsjoin.run_command("docker://", "all", ["true"])
    with pytest.raises(ValueError):  # root=True needs a process, not a file
        nsjoin.run_command(f"/proc/{sandbox.pid}/ns/uts", "uts", ["true"], root=True)
    with pytest.raises(TypeError):
        nsjoin.run_command(sandbox.pid, "uts", ["true"], stdout=object())
    with pytest.raises(ProcessLookupError):
        nsjoin.run_command(int(open("/proc/sys/kernel/pid_max").read()) + 1, "all", ["true"])

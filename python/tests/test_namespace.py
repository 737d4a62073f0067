"""nsjoin.Namespace: what the original package got wrong, threads, every exception.

Longer than the tree's 500 lines on purpose: one test per behaviour of one class,
sharing this file's sandbox fixtures.
"""

from __future__ import annotations

import errno
import os
import pathlib
import re
import socket
import subprocess
import sys
import threading
import time

import pytest

import nsjoin
from nsjoin import Namespace
from conftest import Sandbox, ns_ino, python_c, thread_hostname, thread_ino

THREAD_KINDS = ("cgroup", "ipc", "mnt", "net", "pid", "uts")


# --- entering and leaving --------------------------------------------------------


def test_enters_and_restores_every_thread_kind(sandbox: Sandbox) -> None:
    before = {k: thread_ino(k) for k in THREAD_KINDS if k != "pid"}
    before["pid"] = ns_ino("thread-self", "pid_for_children")
    cwd = os.getcwd()
    ns = Namespace(sandbox.pid, list(THREAD_KINDS))
    assert ns.kinds == THREAD_KINDS
    assert ns.ids == {k: sandbox.ino(k) for k in THREAD_KINDS}
    with ns as entered:
        assert entered is ns and ns.entered
        for kind in ("cgroup", "ipc", "mnt", "net", "uts"):
            assert thread_ino(kind) == sandbox.ino(kind), kind
        # pid: only children are inside; the thread itself stays where it is.
        assert ns_ino("thread-self", "pid_for_children") == sandbox.ino("pid")
        assert ns_ino("thread-self", "pid") == before["pid"]
        assert socket.gethostname() == sandbox.hostname
        assert os.getcwd() == "/"  # setns(mnt) moves to the namespace's root
        # A child forked from this thread is in every one of them, pid included.
        out = subprocess.run(["sh", "-c", "echo $$"], capture_output=True, text=True, cwd="/").stdout
        assert int(out) < 100
    assert not ns.entered
    assert {k: thread_ino(k) for k in THREAD_KINDS if k != "pid"} == {
        k: v for k, v in before.items() if k != "pid"
    }
    assert ns_ino("thread-self", "pid_for_children") == before["pid"]
    assert os.getcwd() == cwd  # root and cwd come back after mnt
    assert socket.gethostname() == thread_hostname() != sandbox.hostname


def test_pid_forms_and_proc(sandbox: Sandbox) -> None:
    # An int, a numeric string (whatever int() takes, as the original had it),
    # /proc/PID/ns/KIND as a str, bytes or Path, and another proc mount.
    targets = [
        sandbox.pid,
        str(sandbox.pid),
        f" {sandbox.pid} ",
        f"/proc/{sandbox.pid}/ns/uts",
        f"/proc/{sandbox.pid}/ns/uts".encode(),
        pathlib.Path(f"/proc/{sandbox.pid}/ns/uts"),
    ]
    for target in targets:
        with Namespace(target, "uts"):
            assert socket.gethostname() == sandbox.hostname, target
    with Namespace(sandbox.pid, "uts", proc="/proc") as ns:
        assert socket.gethostname() == sandbox.hostname
    assert ns.pid == sandbox.pid and ns.ns_type == "uts" and ns.proc == "/proc"
    assert repr(ns) == f"Namespace({sandbox.pid}, 'uts')"


def test_proc_elsewhere(sandbox: Sandbox, tmp_path: pathlib.Path) -> None:
    # The original's proc=: a host /proc mounted elsewhere (here a bind mount).
    subprocess.run(["mount", "--bind", "/proc", str(tmp_path)], check=True)
    try:
        with Namespace(sandbox.pid, "uts", proc=tmp_path):
            assert socket.gethostname() == sandbox.hostname
    finally:
        subprocess.run(["umount", str(tmp_path)], check=True)


def test_several_kinds_and_all(sandbox: Sandbox) -> None:
    for spec in (["net", "uts"], ("net", "uts"), "net,uts", {"uts", "net"}):
        with Namespace(sandbox.pid, spec) as ns:
            assert ns.kinds == ("net", "uts")
            assert thread_ino("net") == sandbox.ino("net")
            assert socket.gethostname() == sandbox.hostname
    # 'all' = every kind a thread can enter and leave.
    with Namespace(sandbox.pid, "all") as ns:
        assert ns.kinds == tuple(k for k in THREAD_KINDS if k in nsjoin.SUPPORTED_KINDS)
        assert thread_ino("mnt") == sandbox.ino("mnt")
    # 'mount' is util-linux's name for mnt.
    with Namespace(sandbox.pid, "mount") as ns:
        assert ns.kinds == ("mnt",)


def test_cgroup(sandbox: Sandbox) -> None:
    outside = thread_ino("cgroup")
    with Namespace(sandbox.pid, "cgroup"):
        assert thread_ino("cgroup") == sandbox.ino("cgroup") != outside
    assert thread_ino("cgroup") == outside


def test_namespace_file_kind_is_checked(sandbox: Sandbox) -> None:
    # The original called setns(fd, 0): a uts file "entered" as net went into uts.
    net_before = thread_ino("net")
    with pytest.raises(OSError) as info:
        Namespace(f"/proc/{sandbox.pid}/ns/uts", "net")
    assert info.value.errno == errno.EINVAL
    assert "is a uts namespace, not net" in str(info.value)
    assert thread_ino("net") == net_before


def test_saves_this_threads_namespace_not_the_main_threads(sandbox: Sandbox, netns) -> None:
    # The original saved /proc/self (the main thread's). A thread already in another
    # namespace must come back to that one, not to the main thread's.
    other = Namespace(netns.path, "net")
    seen = {}

    def worker() -> None:
        with other:
            seen["home"] = thread_ino("net")
            with Namespace(sandbox.pid, "net"):
                seen["inside"] = thread_ino("net")
            seen["back"] = thread_ino("net")
        seen["end"] = thread_ino("net")

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen["home"] == os.stat(netns.path).st_ino
    assert seen["inside"] == sandbox.ino("net")
    assert seen["back"] == seen["home"] != thread_ino("net")
    assert seen["end"] == thread_ino("net")


def test_reentrant_nested_and_reusable(sandbox: Sandbox, netns) -> None:
    outside = thread_ino("net")
    a = Namespace(sandbox.pid, "net")
    b = Namespace(netns.path, "net")
    with a:
        with b:
            assert thread_ino("net") == os.stat(netns.path).st_ino
            with a:
                assert thread_ino("net") == sandbox.ino("net")
            assert thread_ino("net") == os.stat(netns.path).st_ino
        assert thread_ino("net") == sandbox.ino("net")
    assert thread_ino("net") == outside
    for _ in range(3):
        with a:
            assert thread_ino("net") == sandbox.ino("net")
    assert thread_ino("net") == outside


def test_restores_after_an_exception(sandbox: Sandbox) -> None:
    outside = thread_ino("net")
    with pytest.raises(ZeroDivisionError):
        with Namespace(sandbox.pid, ["net", "mnt"]):
            1 / 0
    assert thread_ino("net") == outside


def test_mnt_in_a_program_with_threads(sandbox: Sandbox) -> None:
    # The original failed here with EINVAL: every thread shares its fs context.
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    cwd = os.getcwd()
    try:
        result = {}

        def worker() -> None:
            try:
                with Namespace(sandbox.pid, "mnt"):
                    result["inside"] = thread_ino("mnt")
                    result["cwd"] = os.getcwd()
                result["after"] = thread_ino("mnt")
                result["cwd_after"] = os.getcwd()
            except BaseException as e:  # reported below
                result["error"] = e

        t = threading.Thread(target=worker)
        t.start()
        t.join()
        assert "error" not in result, result.get("error")
        assert result["inside"] == sandbox.ino("mnt")
        assert result["cwd"] == "/"
        assert result["after"] == thread_ino("mnt")
        assert result["cwd_after"] == cwd
        assert os.getcwd() == cwd
    finally:
        stop.set()
        helper.join()


def test_ten_threads_in_different_namespaces_at_once(sandbox_factory) -> None:
    sandboxes = [sandbox_factory() for _ in range(10)]
    main_before = (thread_ino("net"), thread_ino("uts"), thread_ino("mnt"), socket.gethostname())
    inside_barrier = threading.Barrier(11)
    leave_barrier = threading.Barrier(11)
    errors: dict = {}
    cwd = os.getcwd()

    def worker(i: int, sb: Sandbox) -> None:
        kinds = ["net", "uts", "mnt"] if i % 2 else ["net", "uts", "ipc"]
        extra = kinds[2]
        try:
            before = {k: thread_ino(k) for k in kinds}
            with Namespace(sb.pid, kinds):
                inside_barrier.wait(timeout=30)  # all ten inside at the same time
                for _ in range(20):
                    assert socket.gethostname() == sb.hostname
                    assert thread_ino("net") == sb.ino("net")
                    assert thread_ino(extra) == sb.ino(extra)
                    time.sleep(0.001)
                leave_barrier.wait(timeout=30)
            assert {k: thread_ino(k) for k in kinds} == before
            assert os.getcwd() == cwd
            assert socket.gethostname() == main_before[3]
        except BaseException as e:
            errors[i] = repr(e)
            inside_barrier.abort()
            leave_barrier.abort()

    threads = [threading.Thread(target=worker, args=(i, sb)) for i, sb in enumerate(sandboxes)]
    for t in threads:
        t.start()
    try:
        inside_barrier.wait(timeout=30)
        # While the ten are inside, this thread has not moved.
        assert (thread_ino("net"), thread_ino("uts"), thread_ino("mnt"), socket.gethostname()) == main_before
        leave_barrier.wait(timeout=30)
    except threading.BrokenBarrierError:
        pass
    for t in threads:
        t.join()
    assert errors == {}
    assert (thread_ino("net"), thread_ino("uts"), thread_ino("mnt"), socket.gethostname()) == main_before


def test_time_namespace_single_threaded(sandbox_factory) -> None:
    if "time" not in nsjoin.SUPPORTED_KINDS:
        pytest.skip("this kernel has no time namespaces")
    sb = sandbox_factory(["--time", "--monotonic", "1000000"])
    # A fresh interpreter is single-threaded, which setns(CLONE_NEWTIME) needs.
    code = (
        "import os, sys, time, nsjoin\n"
        "pid = int(sys.argv[1])\n"
        "before = time.monotonic(); ino = os.stat('/proc/thread-self/ns/time').st_ino\n"
        "with nsjoin.Namespace(pid, 'time'):\n"
        "    inside = time.monotonic()\n"
        "    assert os.stat('/proc/thread-self/ns/time').st_ino == os.stat(f'/proc/{pid}/ns/time').st_ino\n"
        "after = time.monotonic()\n"
        "assert os.stat('/proc/thread-self/ns/time').st_ino == ino\n"
        "print(inside - before, after - before)\n"
    )
    result = python_c(code, str(sb.pid))
    assert result.returncode == 0, result.stderr
    jump, back = map(float, result.stdout.split())
    assert 999_000 < jump < 1_001_000 and back < 1_000


# --- exceptions --------------------------------------------------------------------


@pytest.mark.parametrize("ns_type", ["foo", "", "user,bogus", ["net", "nett"], [], None, 5, b"net", ["net", 5]])
def test_bad_ns_type_is_value_error(ns_type) -> None:
    with pytest.raises(ValueError):
        Namespace(os.getpid(), ns_type)


@pytest.mark.parametrize("target", ["ftp://x", "docker://", "docker://a/b", "docker://a b"])
def test_malformed_container_spec_is_value_error(target: str) -> None:
    # Never taken for a path.
    with pytest.raises(ValueError, match=re.escape(target)):
        Namespace(target, "net")


def test_unknown_container_is_os_error(container) -> None:
    with pytest.raises(OSError) as info:
        Namespace("docker://nsjoin-py-no-such-container", "net")
    assert "docker://nsjoin-py-no-such-container: " in str(info.value)
    assert not isinstance(info.value, FileNotFoundError)
    # Which case it is, without parsing the message.
    assert info.value.reason == "not_found"
    assert info.value.target == "docker://nsjoin-py-no-such-container"


def test_unreachable_engine_says_so(monkeypatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/nsjoin-py/docker.sock")
    with pytest.raises(OSError) as info:
        Namespace("docker://web", "net")
    assert info.value.reason == "unreachable"
    assert info.value.socket == "/nonexistent/nsjoin-py/docker.sock"
    assert str(info.value) == (
        "docker://web: cannot connect to /nonexistent/nsjoin-py/docker.sock: "
        "No such file or directory (is the engine running?)"
    )


@pytest.mark.parametrize("target", ["k8s://", "k8s://a//b", "k8s://a/b/c/d", "k8s://a b"])
def test_malformed_pod_spec_is_value_error(target: str) -> None:
    with pytest.raises(ValueError, match=re.escape(target)):
        Namespace(target, "net")


def test_pod_is_resolved_through_the_cri_runtime(monkeypatch) -> None:
    # The same k8s:// strings as nsjoin -t; with no runtime at the endpoint, the
    # library's one-line error, naming the pod as the namespace defaulted it.
    monkeypatch.setenv("CONTAINER_RUNTIME_ENDPOINT", "unix:///nonexistent/containerd.sock")
    for target, named in [("k8s://prod/web/nginx", "k8s://prod/web/nginx"), ("k8s://web", "k8s://default/web")]:
        with pytest.raises(OSError) as info:
            Namespace(target, "net")
        assert str(info.value).startswith(f"{named}: cannot connect to /nonexistent/containerd.sock"), info.value


@pytest.mark.parametrize("target", [None, 3.5, True, object()])
def test_target_of_the_wrong_type_is_type_error(target) -> None:
    with pytest.raises(TypeError):
        Namespace(target, "net")


def _gone_pid() -> int:
    return int(pathlib.Path("/proc/sys/kernel/pid_max").read_text()) + 1


@pytest.mark.parametrize("pid", ["gone", "gone-str", 0, -1, 2**40])
def test_missing_process_is_process_lookup_error(pid) -> None:
    if pid == "gone":
        pid = _gone_pid()
    elif pid == "gone-str":
        pid = str(_gone_pid())
    with pytest.raises(ProcessLookupError) as info:
        Namespace(pid, "net")
    assert info.value.errno == errno.ESRCH
    assert isinstance(info.value, OSError)
    assert "No such process" in str(info.value)


def test_exited_process_is_process_lookup_error(root) -> None:
    child = subprocess.Popen(["true"])
    # Not reaped: a zombie, which has no namespaces left.
    for _ in range(200):
        if pathlib.Path(f"/proc/{child.pid}/stat").read_text().split(")")[1].split()[0] == "Z":
            break
        time.sleep(0.01)
    try:
        with pytest.raises(ProcessLookupError):
            Namespace(child.pid, "net")
    finally:
        child.wait()


def test_missing_file_is_file_not_found_error() -> None:
    with pytest.raises(FileNotFoundError) as info:
        Namespace("/var/run/netns/no-such-netns-here", "net")
    assert info.value.errno == errno.ENOENT
    with pytest.raises(FileNotFoundError):
        Namespace(os.getpid(), "net", proc="/no/such/proc")


def test_not_a_namespace_file_is_einval() -> None:
    # Raised on entering the `with`, where the original package raised it (its
    # setns(2) said EINVAL), not when the Namespace is made.
    ns = Namespace("/etc/hostname", "uts")
    uts_before = thread_ino("uts")
    with pytest.raises(OSError) as info:
        with ns:
            pytest.fail("entered a file that is not a namespace")
    assert info.value.errno == errno.EINVAL
    assert "is not a namespace file" in str(info.value)
    assert not ns.entered and thread_ino("uts") == uts_before
    # Every time, and for run() and spawn() given it as well.
    with pytest.raises(OSError):
        ns.__enter__()
    with pytest.raises(OSError):
        nsjoin.run(ns, None, lambda: None)


def test_file_target_with_another_kind_too_is_einval(netns) -> None:
    with pytest.raises(OSError) as info:
        Namespace(netns.path, ["net", "uts"])
    assert info.value.errno == errno.EINVAL


def test_user_namespace_is_refused_on_a_thread(user_sandbox: Sandbox) -> None:
    ns = Namespace(user_sandbox.pid, "user")
    with pytest.raises(OSError) as info:
        ns.__enter__()
    assert info.value.errno == errno.EINVAL
    assert "run_command" in str(info.value)
    assert not ns.entered


def test_time_namespace_is_refused_with_threads(sandbox_factory) -> None:
    if "time" not in nsjoin.SUPPORTED_KINDS:
        pytest.skip("this kernel has no time namespaces")
    sb = sandbox_factory(["--time", "--monotonic", "1000"])
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        before = thread_ino("time")
        with pytest.raises(OSError) as info:
            with Namespace(sb.pid, "time"):
                pass
        assert info.value.errno == errno.EINVAL
        assert "single-threaded" in str(info.value)
        assert thread_ino("time") == before
    finally:
        stop.set()
        helper.join()


def test_failed_kind_leaves_the_others_again(sandbox_factory) -> None:
    if "time" not in nsjoin.SUPPORTED_KINDS:
        pytest.skip("this kernel has no time namespaces")
    sb = sandbox_factory(["--time", "--uts", "--net"])
    stop = threading.Event()
    helper = threading.Thread(target=stop.wait)
    helper.start()
    try:
        before = (thread_ino("net"), thread_ino("uts"))
        with pytest.raises(OSError):
            Namespace(sb.pid, ["net", "uts", "time"]).__enter__()
        assert (thread_ino("net"), thread_ino("uts")) == before
    finally:
        stop.set()
        helper.join()


def test_refused_entry_is_permission_error(sandbox: Sandbox) -> None:
    # Opened as root, entered after dropping root: setns(2) says EPERM.
    code = (
        "import os, sys, nsjoin\n"
        "ns = nsjoin.Namespace(int(sys.argv[1]), 'net')\n"
        "os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\n"
        "try:\n"
        "    ns.__enter__()\n"
        "except PermissionError as e:\n"
        "    print('PermissionError', e.errno, e)\n"
    )
    result = python_c(code, str(sandbox.pid))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"PermissionError {errno.EPERM} "), result.stdout
    assert "reassociate to namespace 'ns/net' failed" in result.stdout


def test_unprivileged_open_is_permission_error(sandbox: Sandbox) -> None:
    code = (
        "import os, sys, nsjoin\n"
        "os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\n"
        "try:\n"
        "    nsjoin.Namespace(int(sys.argv[1]), 'net')\n"
        "except PermissionError as e:\n"
        "    print('PermissionError', e.errno)\n"
    )
    result = python_c(code, str(sandbox.pid))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "PermissionError", result.stdout


def test_failed_restore_is_os_error(sandbox: Sandbox) -> None:
    # Going back needs CAP_SYS_ADMIN too; a thread that dropped it cannot, and is
    # told so (the thread is still inside and must end).
    code = (
        "import os, sys, nsjoin\n"
        "ns = nsjoin.Namespace(int(sys.argv[1]), 'net')\n"
        "ns.__enter__()\n"
        "os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)\n"
        "try:\n"
        "    ns.__exit__(None, None, None)\n"
        "except OSError as e:\n"
        "    print(type(e).__name__, e.errno, e.strerror)\n"
        "    os._exit(0)\n"
    )
    result = python_c(code, str(sandbox.pid))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"PermissionError {errno.EPERM} cannot return to the original net namespace")


def test_exit_without_enter_is_runtime_error(sandbox: Sandbox) -> None:
    ns = Namespace(sandbox.pid, "net")
    with pytest.raises(RuntimeError, match="without __enter__"):
        ns.__exit__(None, None, None)


def test_exit_on_another_thread_is_runtime_error(sandbox: Sandbox) -> None:
    outside = thread_ino("net")
    ns = Namespace(sandbox.pid, "net")
    ns.__enter__()
    try:
        caught = []

        def other() -> None:
            try:
                ns.__exit__(None, None, None)
            except RuntimeError as e:
                caught.append(str(e))

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert caught and "another thread" in caught[0]
        assert thread_ino("net") == sandbox.ino("net")  # still inside, as it says
    finally:
        ns.__exit__(None, None, None)
    assert thread_ino("net") == outside


def test_namespace_made_on_one_thread_entered_on_another(sandbox: Sandbox) -> None:
    ns = Namespace(sandbox.pid, "uts")
    seen = []

    def other() -> None:
        with ns:
            seen.append(socket.gethostname())

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [sandbox.hostname]


def test_garbage_collected_while_inside_restores(sandbox: Sandbox) -> None:
    outside = thread_ino("net")
    ns = Namespace(sandbox.pid, "net")
    ns.__enter__()
    assert thread_ino("net") == sandbox.ino("net")
    del ns  # the guard's drop restores the thread
    assert thread_ino("net") == outside


def test_python_version_supported() -> None:
    assert sys.version_info >= (3, 9)

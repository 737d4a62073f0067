"""Code written for the original ``nsenter`` package keeps working: its
``NAMESPACE_NAMES``, its own test's loop over them, and the exceptions it raised,
where it raised them. Where the original package (``nsenter`` 0.2 from PyPI) is
installed, each case is also run against it, side by side."""

from __future__ import annotations

import errno
import os
import pathlib
import subprocess
import time

import pytest

import nsjoin
from nsjoin import NAMESPACE_NAMES, Namespace, ProcessNotFoundError
from conftest import Sandbox, python_c, thread_ino

try:
    import nsenter as original
except ImportError:  # not installed: the side-by-side halves are skipped
    original = None

ORIGINAL_NAMES = {"mnt", "ipc", "net", "pid", "user", "uts"}


def _gone_pid() -> int:
    return int(pathlib.Path("/proc/sys/kernel/pid_max").read_text()) + 1


def test_namespace_names_is_the_original_name_for_the_kinds_namespace_takes() -> None:
    assert isinstance(NAMESPACE_NAMES, frozenset)
    assert NAMESPACE_NAMES == nsjoin.SUPPORTED_KINDS
    assert ORIGINAL_NAMES & nsjoin.SUPPORTED_KINDS <= NAMESPACE_NAMES
    from nsjoin._nsjoin import NAMESPACE_NAMES as core

    assert core is NAMESPACE_NAMES
    for name in NAMESPACE_NAMES:
        Namespace(os.getpid(), name)  # every name is a valid ns_type


def test_the_original_test_loop_enters_every_name(root) -> None:
    # The original package's own test: a child in our namespaces, entered once for
    # every name in NAMESPACE_NAMES, 'user' (ours already: skipped) and 'mnt'
    # included. In a fresh interpreter: time namespaces need a single thread.
    code = (
        "import os, subprocess\n"
        "from nsjoin import Namespace, NAMESPACE_NAMES\n"
        "child = subprocess.Popen(['/bin/cat'], stdin=subprocess.PIPE)\n"
        "before = {k: os.stat(f'/proc/thread-self/ns/{k}').st_ino for k in NAMESPACE_NAMES}\n"
        "try:\n"
        "    for name in sorted(NAMESPACE_NAMES):\n"
        "        with Namespace(child.pid, name):\n"
        "            pass\n"
        "        with Namespace(str(child.pid), name):\n"
        "            pass\n"
        "finally:\n"
        "    child.terminate(); child.wait()\n"
        "after = {k: os.stat(f'/proc/thread-self/ns/{k}').st_ino for k in NAMESPACE_NAMES}\n"
        "assert before == after, (before, after)\n"
        "print('ok', len(NAMESPACE_NAMES))\n"
    )
    result = python_c(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["ok", str(len(NAMESPACE_NAMES))]


def test_a_user_namespace_of_our_own_is_skipped_another_refused(sandbox: Sandbox) -> None:
    ns = Namespace(sandbox.pid, ["user", "uts"])
    assert ns.kinds == ("uts",)
    with ns:
        assert thread_ino("uts") == sandbox.ino("uts")


def _raised(make, enter: bool):
    """(exception, 'construct' or 'enter') for making and entering a Namespace."""
    try:
        ns = make()
    except OSError as e:
        return e, "construct"
    if not enter:
        return None, "none"
    try:
        with ns:
            pass
    except OSError as e:
        return e, "enter"
    return None, "none"


@pytest.mark.parametrize("pid", ["gone", "gone-str", 0, -1, 2**40])
def test_a_dead_pid_is_both_exceptions_when_made(pid) -> None:
    if pid == "gone":
        pid = _gone_pid()
    elif pid == "gone-str":
        pid = str(_gone_pid())
    with pytest.raises(FileNotFoundError) as info:
        Namespace(pid, "net")
    e = info.value
    assert isinstance(e, ProcessNotFoundError)
    assert isinstance(e, ProcessLookupError) and isinstance(e, FileNotFoundError)
    assert type(e).__module__ == "nsjoin" and type(e).__name__ == "ProcessNotFoundError"
    assert e.errno == errno.ESRCH and "No such process" in str(e)
    if original is not None and isinstance(pid, int) and pid >= 0:
        with pytest.raises(FileNotFoundError):
            original.Namespace(pid, "net")


def test_an_exited_process_is_both_exceptions(root) -> None:
    child = subprocess.Popen(["true"])
    child.wait()
    with pytest.raises(ProcessNotFoundError) as info:
        Namespace(child.pid, "net")
    assert isinstance(info.value, FileNotFoundError)


def test_a_directory_is_is_a_directory_error_when_made(tmp_path: pathlib.Path) -> None:
    with pytest.raises(IsADirectoryError) as info:
        Namespace(str(tmp_path), "net")
    assert info.value.errno == errno.EISDIR
    assert str(tmp_path) in str(info.value) and "not a namespace file" in str(info.value)
    if original is not None:
        with pytest.raises(IsADirectoryError):
            original.Namespace(str(tmp_path), "net")


def test_a_plain_file_fails_on_entering_the_with(tmp_path: pathlib.Path) -> None:
    plain = tmp_path / "plain"
    plain.write_text("x\n")
    ours = _raised(lambda: Namespace(str(plain), "net"), enter=True)
    assert ours[1] == "enter"
    assert ours[0] is not None and ours[0].errno == errno.EINVAL
    assert type(ours[0]) is OSError
    if original is not None:
        theirs = _raised(lambda: original.Namespace(str(plain), "net"), enter=True)
        assert theirs[1] == ours[1]
        assert theirs[0] is not None and theirs[0].errno == ours[0].errno
        assert isinstance(ours[0], type(theirs[0]))


def test_side_by_side_the_same_class_at_the_same_point(tmp_path: pathlib.Path) -> None:
    if original is None:
        pytest.skip("the original nsenter package is not installed")
    plain = tmp_path / "plain"
    plain.write_text("")
    for target in [_gone_pid(), str(_gone_pid()), str(tmp_path), str(plain), "/no/such/netns"]:
        theirs = _raised(lambda: original.Namespace(target, "net"), enter=True)
        ours = _raised(lambda: Namespace(target, "net"), enter=True)
        assert theirs[0] is not None and ours[0] is not None, target
        assert ours[1] == theirs[1], (target, ours, theirs)
        assert isinstance(ours[0], type(theirs[0])), (target, ours, theirs)


def test_the_stricter_kind_check_stays(sandbox: Sandbox) -> None:
    # The original entered a uts file asked for as net (setns(fd, 0)); nsjoin refuses
    # it when the Namespace is made.
    with pytest.raises(OSError) as info:
        Namespace(f"/proc/{sandbox.pid}/ns/uts", "net")
    assert info.value.errno == errno.EINVAL
    assert "is a uts namespace, not net" in str(info.value)



def test_a_namespace_outlives_its_process_as_in_the_original(root) -> None:
    # The original opens the namespace file when the Namespace is made, so a
    # Namespace stays enterable after its process has exited (the open file keeps
    # the namespace alive), and enters the namespace of construction time.
    from conftest import start_sandbox

    sandbox = start_sandbox(["--uts", "--net"])
    made = [Namespace(sandbox.pid, "uts"), Namespace(str(sandbox.pid), "net")]
    theirs = []
    if original is not None:
        theirs = [original.Namespace(sandbox.pid, "uts"), original.Namespace(sandbox.pid, "net")]
    want = {"uts": sandbox.ino("uts"), "net": sandbox.ino("net")}
    sandbox.stop()
    for _ in range(500):  # until it is reaped (its parent died with the holder)
        if not os.path.exists(f"/proc/{sandbox.pid}"):
            break
        time.sleep(0.01)
    assert not os.path.exists(f"/proc/{sandbox.pid}")
    for ns in made + theirs:
        kind = ns.ns_type
        with ns:
            assert thread_ino(kind) == want[kind], kind
        assert thread_ino(kind) != want[kind]

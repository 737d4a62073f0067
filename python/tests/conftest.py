"""Real targets for the tests: processes in fresh namespaces made with util-linux
``unshare``, ``ip netns`` files and a Docker container. Everything made is removed
afterwards.

Tests that need root are skipped as a normal user, and fail instead when
NSJOIN_REQUIRE_ROOT=1 (CI); the Docker tests likewise with NSJOIN_REQUIRE_DOCKER=1.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

_COUNT = itertools.count()
IMAGE = "nsjoin-busybox"


def _skip_or_fail(variable: str, why: str) -> None:
    if os.environ.get(variable) == "1":
        pytest.fail(f"{why}, and {variable}=1 is set")
    pytest.skip(why)


@pytest.fixture(scope="session")
def root() -> None:
    """Skips (or with NSJOIN_REQUIRE_ROOT=1 fails) a test that needs root."""
    if os.geteuid() != 0:
        _skip_or_fail("NSJOIN_REQUIRE_ROOT", "needs root")
    for tool in ("unshare", "ip"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is missing (run scripts/setup.sh)")


def ns_ino(pid: "int | str", kind: str) -> int:
    """The inode of /proc/PID/ns/KIND (PID may be 'thread-self')."""
    return os.stat(f"/proc/{pid}/ns/{kind}").st_ino


def thread_ino(kind: str) -> int:
    """The inode of the calling thread's namespace of this kind."""
    return ns_ino("thread-self", kind)


def thread_hostname() -> str:
    """The hostname in the calling thread's uts namespace."""
    return Path("/proc/sys/kernel/hostname").read_text().strip()


def child_of(pid: int) -> int:
    """The first child of pid (waits for it to appear)."""
    for _ in range(400):
        try:
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except FileNotFoundError:
            children = []
        if children:
            return int(children[0])
        time.sleep(0.005)
    raise RuntimeError(f"process {pid} has no child")


@dataclass
class Sandbox:
    """A `sleep` in fresh namespaces (under `unshare --fork --kill-child`)."""

    holder: subprocess.Popen
    pid: int
    hostname: str

    def ino(self, kind: str) -> int:
        return ns_ino(self.pid, kind)

    def stop(self) -> None:
        # --kill-child: the sandboxed process gets SIGKILL when its holder dies.
        self.holder.kill()
        self.holder.wait()


DEFAULT_FLAGS = ["--uts", "--net", "--ipc", "--pid", "--mount", "--cgroup"]


def start_sandbox(flags: Optional[List[str]] = None, setup: str = "") -> Sandbox:
    flags = DEFAULT_FLAGS if flags is None else flags
    hostname = f"nsjpy-{os.getpid()}-{next(_COUNT)}"
    set_hostname = f"echo {hostname} > /proc/sys/kernel/hostname || exit 1; " if "--uts" in flags else ""
    script = f"{set_hostname}{setup}\necho ready; exec sleep 100000"
    holder = subprocess.Popen(
        ["unshare", *flags, "--fork", "--kill-child", "/bin/sh", "-c", script],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
    )
    assert holder.stdout is not None
    line = holder.stdout.readline().decode().strip()
    if line != "ready":
        holder.kill()
        holder.wait()
        raise RuntimeError(f"sandbox {flags} did not start: {line!r}")
    return Sandbox(holder, child_of(holder.pid), hostname)


@pytest.fixture
def sandbox_factory(root: None) -> Iterator:
    """Starts sandboxes on demand; stops them all at the end of the test."""
    made: List[Sandbox] = []

    def make(flags: Optional[List[str]] = None, setup: str = "") -> Sandbox:
        sandbox = start_sandbox(flags, setup)
        made.append(sandbox)
        return sandbox

    yield make
    for sandbox in made:
        sandbox.stop()


@pytest.fixture
def sandbox(sandbox_factory) -> Sandbox:
    """A process in fresh uts, net, ipc, pid, mnt and cgroup namespaces."""
    return sandbox_factory()


@pytest.fixture
def user_sandbox(sandbox_factory) -> Sandbox:
    """A process in a fresh user namespace (mapped to root) owning the rest."""
    return sandbox_factory(["--user", "--map-root-user", "--uts", "--net", "--ipc", "--pid", "--mount"])


NETNS_ADDRESS = "10.213.7.1/32"


@dataclass
class Netns:
    name: str
    path: str


def _netns(name: str) -> Netns:
    subprocess.run(["ip", "netns", "add", name], check=True)
    # A mark of its own, to tell it apart from any other namespace: an address on lo.
    subprocess.run(["ip", "-n", name, "addr", "add", NETNS_ADDRESS, "dev", "lo"], check=True)
    return Netns(name, f"/run/netns/{name}")


@pytest.fixture
def netns(root: None) -> Iterator[Netns]:
    """A network namespace file made by `ip netns add`."""
    ns = _netns(f"nsjpy-{os.getpid()}-{next(_COUNT)}")
    yield ns
    subprocess.run(["ip", "netns", "delete", ns.name], check=False)


@pytest.fixture
def netns_foo(root: None) -> Iterator[Netns]:
    """/var/run/netns/foo, for the original README's snippet verbatim. Made here
    and deleted afterwards, unless it was there already (then left alone)."""
    existing = os.path.exists("/run/netns/foo")
    ns = Netns("foo", "/run/netns/foo") if existing else _netns("foo")
    yield ns
    if not existing:
        subprocess.run(["ip", "netns", "delete", "foo"], check=False)


def docker_cli() -> Optional[str]:
    # Debian's client speaks the daemon's API version (see scripts/docker.sh).
    if os.access("/usr/bin/docker", os.X_OK):
        return "/usr/bin/docker"
    return shutil.which("docker")


@dataclass
class Container:
    name: str
    pid: int
    ip: str


@pytest.fixture(scope="session")
def container() -> Iterator[Container]:
    """`docker run -d --name nsjoin-py-PID nsjoin-busybox sleep 100000`, removed at
    the end of the session."""
    if os.geteuid() != 0:
        _skip_or_fail("NSJOIN_REQUIRE_ROOT", "needs root")
    docker = docker_cli()
    if docker is None:
        _skip_or_fail("NSJOIN_REQUIRE_DOCKER", "needs docker (run scripts/docker.sh)")
    assert docker is not None
    if subprocess.run([docker, "info"], capture_output=True).returncode != 0:
        _skip_or_fail("NSJOIN_REQUIRE_DOCKER", "needs a running Docker daemon (run scripts/docker.sh)")
    if subprocess.run([docker, "image", "inspect", IMAGE], capture_output=True).returncode != 0:
        _skip_or_fail("NSJOIN_REQUIRE_DOCKER", f"needs the image {IMAGE} (run scripts/docker.sh)")
    name = f"nsjoin-py-{os.getpid()}"
    subprocess.run([docker, "rm", "-f", name], capture_output=True)
    subprocess.run([docker, "run", "-d", "--name", name, IMAGE, "sleep", "100000"], check=True, capture_output=True)
    try:
        inspect = subprocess.run(
            [docker, "inspect", "-f", "{{.State.Pid}} {{.NetworkSettings.IPAddress}}", name],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        pid = int(inspect[0])
        assert pid > 1, f"container {name} is not running"
        yield Container(name, pid, inspect[1] if len(inspect) > 1 else "")
    finally:
        subprocess.run([docker, "rm", "-f", name], capture_output=True)


def python_c(code: str, *args: str, **kwargs) -> subprocess.CompletedProcess:
    """Runs `python -c code` (this interpreter) and captures its output as text."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, **kwargs)

"""The original package's README snippets, verbatim but for the module name, against
a real Docker container and an `ip netns` file."""

import os

from conftest import Container, Netns, ns_ino, thread_ino


def test_readme_snippet_docker_container(container: Container) -> None:
    mypid = container.pid
    outside = thread_ino("net")

    import subprocess
    from nsjoin import Namespace

    with Namespace(mypid, 'net'):
        # network interfaces as seen from within mypid's net namespace
        subprocess.check_output(['ip', 'a'])

        # (checks, not part of the snippet)
        assert thread_ino("net") == ns_ino(mypid, "net") != outside
        inside = subprocess.check_output(["ip", "a"], text=True)
        if container.ip:
            assert f"inet {container.ip}/" in inside
        assert "docker0" not in inside

    assert thread_ino("net") == outside
    assert "docker0" in subprocess.check_output(["ip", "a"], text=True) or not container.ip


def test_readme_snippet_netns_file(netns_foo: Netns) -> None:
    outside = thread_ino("net")
    foo = os.stat("/var/run/netns/foo").st_ino

    import subprocess  # noqa: F401
    from nsjoin import Namespace

    with Namespace('/var/run/netns/foo', 'net'):
        pass

        # (checks, not part of the snippet)
        assert thread_ino("net") == foo != outside

    assert thread_ino("net") == outside


def test_container_target(container: Container) -> None:
    # The issue's `Namespace('docker://redis', 'net')`, on the test container.
    from nsjoin import Namespace

    outside = thread_ino("net")
    with Namespace(f"docker://{container.name}", 'net') as ns:
        assert thread_ino("net") == ns_ino(container.pid, "net") != outside
    assert ns.ids == {"net": ns_ino(container.pid, "net")}
    assert thread_ino("net") == outside

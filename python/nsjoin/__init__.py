"""Enter the Linux namespaces of a running process, and come back.

The original ``nsenter`` package's API, on nsjoin's Rust core::

    import subprocess
    from nsjoin import Namespace

    with Namespace(mypid, 'net'):
        # network interfaces as seen from within mypid's net namespace
        subprocess.check_output(['ip', 'a'])

    with Namespace('/var/run/netns/foo', 'net'):
        pass

* :class:`Namespace` -- the context manager: this thread in, and back on exit.
* :func:`run` -- call a function inside, on a thread of its own.
* :func:`run_command` / :func:`spawn` -- a program inside, like ``subprocess.run``
  / ``subprocess.Popen``; every kind, user and pid included.
* ``python -m nsjoin -t PID --net ip a`` -- the original command line.

Targets: a PID (int or numeric string), a namespace file path, or a container
(``'docker://redis'``, also podman://, containerd://, cri-o://, cri://).

Errors: ``ValueError`` for a bad namespace type (or a malformed container spec),
``OSError`` with the errno for system errors (``FileNotFoundError``,
``PermissionError``, ...); ``OSError`` without errno for a container its engine
cannot find. A process that does not exist is :class:`ProcessNotFoundError`, both a
``ProcessLookupError`` and a ``FileNotFoundError`` (what the original package
raised); a directory is ``IsADirectoryError``; a file that is not a namespace is
``OSError`` EINVAL on entering the ``with``, as with the original package.

``NAMESPACE_NAMES`` (the original package's name) is the set of namespace types
``Namespace`` takes.
"""

from ._nsjoin import (
    NAMESPACE_NAMES,
    SUPPORTED_KINDS,
    Namespace,
    ProcessNotFoundError,
    __version__,
    run,
)
from ._command import DEVNULL, PIPE, STDOUT, Process, run_command, spawn

__all__ = [
    "DEVNULL",
    "NAMESPACE_NAMES",
    "Namespace",
    "PIPE",
    "Process",
    "ProcessNotFoundError",
    "STDOUT",
    "SUPPORTED_KINDS",
    "__version__",
    "run",
    "run_command",
    "spawn",
]

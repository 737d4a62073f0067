"""``python -m nsjoin``: the original nsenter package's command line.

    python -m nsjoin -t PID [-p PROCFS] [--all] [--mnt --ipc --net --pid --user --uts
                     --cgroup --time] [COMMAND [ARG...]]

Runs COMMAND (default ``/bin/sh``) in the namespaces of PID (or of a namespace file
given as the target). It behaves like the ``nsjoin`` command (and util-linux
nsenter) where they overlap: a user namespace the caller is already in is skipped by
``--all`` and refused when asked for by name; entering a user namespace makes the
program root in it; with ``--pid`` the program is forked into the pid namespace and
waited for (SIGTERM, SIGINT, SIGHUP and SIGQUIT are passed on to it), otherwise this
process becomes the program. Exit status: 1 for nsjoin's own errors (usage errors
included), 126 if the program cannot be executed, 127 if it is not found, else the
program's; a program killed by a signal makes this process end by the same signal.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import NoReturn, Optional, Sequence

from . import _nsjoin
from ._command import Process

KINDS = ("mnt", "ipc", "net", "pid", "user", "uts", "cgroup", "time")
FORWARDED = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)
PROG = "python -m nsjoin"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # Like the nsjoin command: one line, exit status 1.
        print(f"nsjoin: {message} (try '{PROG} --help')", file=sys.stderr)
        sys.exit(1)


def _parser() -> _Parser:
    parser = _Parser(
        prog=PROG,
        description="Run a program with namespaces of other processes.",
    )
    parser.add_argument(
        "--target", "-t", required=True, metavar="PID",
        help="the process to take the namespaces from (or a namespace file)",
    )
    parser.add_argument(
        "--proc", "-p", metavar="PROCFS", default="/proc",
        help="the proc file system to look PID up in (default: /proc)",
    )
    group = parser.add_argument_group("namespaces")
    for kind in KINDS:
        # --mount: the nsjoin command's (and util-linux's) spelling of --mnt.
        names = [f"--{kind}", "--mount"] if kind == "mnt" else [f"--{kind}"]
        group.add_argument(*names, dest=kind, action="store_true", help=f"enter the {kind} namespace")
    parser.add_argument(
        "--all", action="store_true",
        help="enter every namespace (a user namespace we are already in is skipped)",
    )
    parser.add_argument(
        "command", nargs=argparse.REMAINDER, metavar="COMMAND",
        help="the program and its arguments (default: /bin/sh)",
    )
    return parser


def _fail(exc: BaseException) -> int:
    """Prints an error as nsjoin does; returns the exit status for it."""
    if isinstance(exc, OSError):
        message = exc.strerror or str(exc)
        print(f"nsjoin: {message}", file=sys.stderr)
        if exc.filename is not None:  # the program could not be executed
            return 127 if exc.errno == 2 else 126
        return 1
    print(f"nsjoin: {exc}", file=sys.stderr)
    return 1


def _die_like(returncode: int) -> NoReturn:
    """Ends this process as the program ended: same code, or same signal."""
    sys.stdout.flush()
    sys.stderr.flush()
    if returncode >= 0:
        sys.exit(returncode)
    sig = -returncode
    try:
        signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, [sig])
        os.kill(os.getpid(), sig)
    except (OSError, ValueError):
        pass
    os._exit(128 + sig)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    command = list(args.command)
    if command[:1] == ["--"]:
        command = command[1:]
    if not command:
        command = ["/bin/sh"]
    named = [kind for kind in KINDS if getattr(args, kind)]
    if not named and not args.all:
        _parser().error("no namespace specified")
    kinds = "all" if args.all else named
    pid_ns = args.pid or (args.all and "pid" in _nsjoin.SUPPORTED_KINDS)
    options = dict(proc=args.proc, strict_user=args.user)

    if not pid_ns:
        # Become the program (nsenter without a fork). Python ignores SIGPIPE and
        # SIGXFSZ, and ignored signals survive exec: give the program the defaults.
        for sig in (signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        try:
            _nsjoin._exec(args.target, kinds, command, **options)
        except (OSError, ValueError, TypeError) as exc:
            return _fail(exc)
        raise AssertionError("unreachable: _exec returns only by raising")

    # Fork the program into the pid namespace, pass signals on, end like it.
    child: Optional[Process] = None
    pending: list[int] = []

    def forward(sig: int, _frame: object) -> None:
        if child is None:
            pending.append(sig)
        else:
            child.send_signal(sig)

    for forwarded in FORWARDED:
        signal.signal(forwarded, forward)
    try:
        child = Process(_nsjoin._spawn(args.target, kinds, command, **options), command)
    except (OSError, ValueError, TypeError) as exc:
        return _fail(exc)
    for early in pending:
        child.send_signal(early)
    _die_like(child.wait())


if __name__ == "__main__":
    sys.exit(main())

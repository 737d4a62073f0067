"""Programs inside namespaces: ``spawn`` (like ``subprocess.Popen``) and
``run_command`` (like ``subprocess.run``), on the Rust ``Spawn``."""

from __future__ import annotations

import io
import os
import subprocess
import threading
import time
from subprocess import DEVNULL, PIPE, STDOUT, CalledProcessError, CompletedProcess, TimeoutExpired
from typing import IO, Any, Mapping, Optional, Sequence, Union

from . import _nsjoin

__all__ = ["DEVNULL", "PIPE", "STDOUT", "Process", "run_command", "spawn"]

StrPath = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
Target = Union[int, StrPath, _nsjoin.Namespace]
Kinds = Union[str, Sequence[str], None]
Args = Union[StrPath, Sequence[StrPath]]
File = Union[None, int, IO[Any]]


def spawn(
    target: Target,
    kinds: Kinds,
    args: Args,
    *,
    proc: Optional[StrPath] = None,
    stdin: File = None,
    stdout: File = None,
    stderr: File = None,
    env: Optional[Mapping[Any, Any]] = None,
    target_env: bool = False,
    root: Union[bool, StrPath, None] = None,
    cwd: Union[bool, StrPath, None] = None,
    user: Optional[int] = None,
    group: Optional[int] = None,
    preserve_credentials: bool = False,
    join_cgroup: bool = False,
    confine: bool = False,
    host_tools: Union[bool, StrPath, None] = None,
    text: Optional[bool] = None,
    encoding: Optional[str] = None,
    errors: Optional[str] = None,
) -> "Process":
    """Starts ``args`` inside ``target``'s namespaces and returns a :class:`Process`.

    target: a PID, a numeric string, a namespace file path, a container
        (``'docker://redis'``), or a :class:`~nsjoin.Namespace` (its opened
        namespaces are used).
    kinds: ``'net'``, ``['net', 'uts']``, ``'all'`` (every kind the kernel has;
        a user namespace the caller is already in is skipped), or None with a
        Namespace target for its kinds. All eight kinds work, user and time
        included: they are entered in the (single-threaded) child. With ``'pid'``
        the program is forked once more so that it really is inside; ``pid`` is
        still its own PID.
    proc: where to find PIDs (a host /proc mounted elsewhere).
    stdin, stdout, stderr: None (inherit), PIPE, DEVNULL, an fd or a file object;
        stderr also STDOUT.
    env: the program's environment (default: ours). target_env=True takes the
        target's (``/proc/PID/environ``) instead.
    root: True for the target's root directory, or a directory as we see it.
    cwd: True for the target's working directory, or a directory as the program
        sees it (after entering and any change of root). Default: the working
        directory it has after entering (ours; the namespace's root after mnt).
    user, group: switch to these IDs inside. Entering a user namespace makes the
        program root in it unless preserve_credentials=True (as nsenter does).
    join_cgroup: move the program into the target's cgroup (cgroup v2).
    confine: give the program the target process's security context, read from
        it now, as ``docker exec`` does: its uid, gids and groups, capability
        sets, no_new_privs, seccomp filters, LSM label, resource limits and
        oom_score_adj, and its cgroup, environment, root and working directory.
        user, group, preserve_credentials and another root or cwd contradict it
        (ValueError); what cannot be copied is an OSError naming it.
    host_tools: True (or a directory) to run this machine's programs: the root
        is ours, the target's root shows at the directory (default ``/target``),
        ``/proc`` and ``/sys`` are the target's pid and network namespaces', and
        every other kind asked for is entered. The target's mount namespace is
        not entered (the program gets a private copy of ours); with
        ``target_env``, ``PATH`` stays ours; ``cwd=True`` is the target's working
        directory under the directory; ``root`` cannot be combined with it.
    text, encoding, errors: text-mode pipes, as in subprocess.

    Raises ValueError, TypeError or OSError as :class:`~nsjoin.Namespace` does;
    FileNotFoundError/PermissionError (with ``filename``) if the program cannot
    be executed.
    """
    child = _nsjoin._spawn(
        target,
        kinds,
        args,
        proc=proc,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        env=env,
        target_env=target_env,
        root=root,
        cwd=cwd,
        user=user,
        group=group,
        preserve_credentials=preserve_credentials,
        join_cgroup=join_cgroup,
        confine=confine,
        host_tools=host_tools,
    )
    return Process(child, args, text=bool(text or encoding or errors), encoding=encoding, errors=errors)


class Process:
    """A program started by :func:`spawn`; the parts of ``subprocess.Popen`` that
    make sense here: ``pid``, ``args``, ``returncode``, ``stdin``/``stdout``/
    ``stderr`` (file objects for pipes), ``poll()``, ``wait()``, ``communicate()``,
    ``send_signal()``, ``terminate()``, ``kill()``, and use as a context manager
    (closes the pipes and waits on exit).

    ``pid`` is the program's own PID as this process sees it, also when it was
    forked into a pid namespace. Waiting releases the GIL. Call ``wait()`` (or use
    it in a ``with``) so that the ended program is reaped.
    """

    def __init__(
        self,
        child: "_nsjoin._Child",
        args: Any,
        text: bool = False,
        encoding: Optional[str] = None,
        errors: Optional[str] = None,
    ) -> None:
        self._child = child
        self.args = args
        self.pid: int = child.pid
        self.returncode: Optional[int] = None
        self.text_mode = text
        self._encoding = encoding
        self._errors = errors
        self._communication: Optional[_Communication] = None
        fd_in, fd_out, fd_err = child.take_stdio()
        line_buffered = dict(write_through=True, line_buffering=True)
        self.stdin: Optional[IO[Any]] = _stream(fd_in, "wb", text, encoding, errors, **line_buffered)
        self.stdout: Optional[IO[Any]] = _stream(fd_out, "rb", text, encoding, errors)
        self.stderr: Optional[IO[Any]] = _stream(fd_err, "rb", text, encoding, errors)

    def __repr__(self) -> str:
        return f"<nsjoin.Process pid={self.pid} returncode={self.returncode}>"

    def poll(self) -> Optional[int]:
        """The returncode if the program has ended, else None."""
        if self.returncode is None:
            self.returncode = self._child.poll()
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        """Waits for the program to end and returns its returncode (minus the signal
        number if a signal killed it). Raises subprocess.TimeoutExpired after
        ``timeout`` seconds."""
        if self.returncode is None:
            code = self._child.wait(timeout)
            if code is None:
                raise TimeoutExpired(self.args, timeout)  # type: ignore[arg-type]
            self.returncode = code
        return self.returncode

    def communicate(self, input: Any = None, timeout: Optional[float] = None) -> tuple[Any, Any]:
        """Sends ``input`` to stdin (then closes it), reads stdout and stderr to the
        end, waits for the program, and returns ``(stdout, stderr)`` (None where
        not piped). On timeout raises subprocess.TimeoutExpired; calling again
        continues where it stopped."""
        if self._communication is None:
            if input is not None and self.stdin is None:
                raise ValueError("input given but stdin is not a pipe")
            self._communication = _Communication(self, input)
        elif input is not None:
            raise ValueError("communicate() already started; input can be given only once")
        deadline = None if timeout is None else time.monotonic() + timeout
        self._communication.join(deadline, self.args, timeout)
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            self.wait(left)
        except TimeoutExpired:
            raise TimeoutExpired(self.args, timeout) from None  # type: ignore[arg-type]
        return self._communication.result()

    def send_signal(self, sig: int) -> None:
        """Sends signal ``sig`` (nothing once the program has been reaped)."""
        self._child.send_signal(int(sig))

    def terminate(self) -> None:
        """Sends SIGTERM."""
        import signal

        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """Sends SIGKILL."""
        import signal

        self.send_signal(signal.SIGKILL)

    def __enter__(self) -> "Process":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        # communicate()'s reader threads close their streams themselves; closing
        # under them would wait for their read() to end.
        if self._communication is None or not self._communication.running():
            for stream in (self.stdout, self.stderr):
                if stream is not None:
                    stream.close()
        try:
            if self.stdin is not None:
                self.stdin.close()
        except BrokenPipeError:
            pass
        finally:
            self.wait()


def _stream(
    fd: Optional[int],
    mode: str,
    text: bool,
    encoding: Optional[str],
    errors: Optional[str],
    **wrapper: Any,
) -> Optional[IO[Any]]:
    """The parent's end of a pipe as a file object, None where the stream is not
    piped; in text mode wrapped as subprocess wraps it."""
    if fd is None:
        return None
    stream: IO[Any] = open(fd, mode)
    if text:
        stream = io.TextIOWrapper(stream, encoding=encoding, errors=errors, **wrapper)
    return stream


class _Communication:
    """communicate()'s helper threads: one writes the input, one reads each output."""

    def __init__(self, process: Process, input: Any) -> None:
        self._process = process
        self._out: list[Any] = []
        self._err: list[Any] = []
        self._threads: list[threading.Thread] = []
        if process.stdin is not None:
            self._start(self._write, process.stdin, input)
        if process.stdout is not None:
            self._start(self._read, process.stdout, self._out)
        if process.stderr is not None:
            self._start(self._read, process.stderr, self._err)

    def _start(self, target: Any, *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True, name="nsjoin-communicate")
        thread.start()
        self._threads.append(thread)

    @staticmethod
    def _write(stream: IO[Any], data: Any) -> None:
        try:
            if data:
                stream.write(data)
        except BrokenPipeError:
            pass
        finally:
            try:
                stream.close()
            except BrokenPipeError:
                pass

    @staticmethod
    def _read(stream: IO[Any], into: list[Any]) -> None:
        into.append(stream.read())
        stream.close()

    def join(self, deadline: Optional[float], args: Any, timeout: Optional[float]) -> None:
        for thread in self._threads:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            thread.join(left)
            if thread.is_alive():
                raise TimeoutExpired(args, timeout)  # type: ignore[arg-type]

    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    def result(self) -> tuple[Any, Any]:
        p = self._process
        out = self._out[0] if p.stdout is not None and self._out else None
        err = self._err[0] if p.stderr is not None and self._err else None
        return out, err


def run_command(
    target: Target,
    kinds: Kinds,
    args: Args,
    *,
    input: Any = None,
    capture_output: bool = False,
    timeout: Optional[float] = None,
    check: bool = False,
    stdin: File = None,
    stdout: File = None,
    stderr: File = None,
    text: Optional[bool] = None,
    encoding: Optional[str] = None,
    errors: Optional[str] = None,
    **options: Any,
) -> "subprocess.CompletedProcess[Any]":
    """Runs ``args`` inside ``target``'s namespaces and waits for it, like
    ``subprocess.run``: returns a ``subprocess.CompletedProcess``.

    ``input``, ``capture_output``, ``timeout`` (the program is killed, then
    subprocess.TimeoutExpired raised), ``check`` (subprocess.CalledProcessError
    for a non-zero returncode), ``text``/``encoding``/``errors`` and stdio mean
    what they mean for subprocess.run; ``target``, ``kinds`` and the other
    keywords (proc, env, target_env, root, cwd, user, group,
    preserve_credentials, join_cgroup, confine,
    host_tools) are :func:`spawn`'s. Example::

        out = nsjoin.run_command(pid, 'all', ['ip', '-o', 'link'],
                                 capture_output=True, text=True).stdout
    """
    if input is not None:
        if stdin is not None:
            raise ValueError("stdin and input arguments may not both be used")
        stdin = PIPE
    if capture_output:
        if stdout is not None or stderr is not None:
            raise ValueError("stdout and stderr arguments may not be used with capture_output")
        stdout = stderr = PIPE
    with spawn(
        target,
        kinds,
        args,
        stdin=stdin,
        stdout=stdout,
        stderr=stderr,
        text=text,
        encoding=encoding,
        errors=errors,
        **options,
    ) as process:
        try:
            out, err = process.communicate(input, timeout=timeout)
        except TimeoutExpired as exc:
            process.kill()
            process.wait()
            exc.timeout = timeout  # type: ignore[assignment]
            raise
        except BaseException:
            process.kill()
            raise
        code = process.poll()
        assert code is not None
    if check and code:
        raise CalledProcessError(code, args, out, err)
    return CompletedProcess(args, code, out, err)

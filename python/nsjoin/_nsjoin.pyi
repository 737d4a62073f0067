"""Type stubs for nsjoin._nsjoin, the Rust core of the nsjoin package."""

import os
from types import TracebackType
from typing import Any, Callable, Iterable, Mapping, Optional, Tuple, TypeVar, Union, final

_T = TypeVar("_T")
_StrPath = Union[str, bytes, os.PathLike[str], os.PathLike[bytes]]
_Target = Union[int, _StrPath]
_Kinds = Union[str, Iterable[str]]

__all__ = [
    "NAMESPACE_NAMES",
    "Namespace",
    "ProcessNotFoundError",
    "SUPPORTED_KINDS",
    "_Child",
    "__version__",
    "_exec",
    "_spawn",
    "run",
]

SUPPORTED_KINDS: frozenset[str]
"""The namespace kinds this kernel has (names as in /proc/PID/ns)."""

NAMESPACE_NAMES: frozenset[str]
"""The original nsenter package's name: the namespace types Namespace takes."""

class ProcessNotFoundError(ProcessLookupError, FileNotFoundError):
    """A target process that does not exist: both exceptions, errno ESRCH."""

__version__: str

@final
class Namespace:
    """Context manager: the calling thread in another process's namespaces, and back.

    See ``help(nsjoin.Namespace)``.
    """

    def __new__(cls, pid: _Target, ns_type: _Kinds, proc: Optional[_StrPath] = "/proc") -> "Namespace": ...
    def __enter__(self) -> "Namespace": ...
    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> bool: ...
    @property
    def entered(self) -> bool:
        """Whether the calling thread is inside."""
    @property
    def pid(self) -> Any:
        """The target as given."""
    @property
    def ns_type(self) -> Any:
        """The namespace type(s) as given."""
    @property
    def proc(self) -> Any:
        """Where PIDs are looked up."""
    @property
    def kinds(self) -> Tuple[str, ...]:
        """The kinds entered, alphabetically."""
    @property
    def ids(self) -> dict[str, int]:
        """``{kind: inode}`` of the target's namespaces."""

def run(
    target: Union[_Target, Namespace],
    kinds: Optional[_Kinds],
    fn: Callable[..., _T],
    /,
    *args: Any,
    **kwargs: Any,
) -> _T:
    """Calls ``fn(*args, **kwargs)`` inside the namespaces on a thread of its own."""

@final
class _Child:
    @property
    def pid(self) -> int: ...
    def take_stdio(self) -> Tuple[Optional[int], Optional[int], Optional[int]]: ...
    def poll(self) -> Optional[int]: ...
    def wait(self, timeout: Optional[float] = None) -> Optional[int]: ...
    def send_signal(self, sig: int) -> None: ...

def _spawn(
    target: Union[_Target, Namespace],
    kinds: Optional[_Kinds],
    args: Any,
    *,
    proc: Optional[_StrPath] = None,
    stdin: Any = None,
    stdout: Any = None,
    stderr: Any = None,
    env: Optional[Mapping[Any, Any]] = None,
    target_env: bool = False,
    root: Union[bool, _StrPath, None] = None,
    cwd: Union[bool, _StrPath, None] = None,
    user: Optional[int] = None,
    group: Optional[int] = None,
    preserve_credentials: bool = False,
    join_cgroup: bool = False,
    strict_user: bool = False,
    confine: bool = False,
    host_tools: Union[bool, _StrPath, None] = None,
) -> _Child: ...
def _exec(
    target: Union[_Target, Namespace],
    kinds: Optional[_Kinds],
    args: Any,
    *,
    proc: Optional[_StrPath] = None,
    env: Optional[Mapping[Any, Any]] = None,
    target_env: bool = False,
    root: Union[bool, _StrPath, None] = None,
    cwd: Union[bool, _StrPath, None] = None,
    user: Optional[int] = None,
    group: Optional[int] = None,
    preserve_credentials: bool = False,
    join_cgroup: bool = False,
    strict_user: bool = False,
    host_tools: Union[bool, _StrPath, None] = None,
) -> None: ...

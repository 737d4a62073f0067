//! `Namespace`, the original package's context manager, and `run`.

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use nsjoin::{Guard, Handles, Kind, KindSet};

use crate::args;
use crate::compat::{self, OpenFailure};
use crate::errors::to_py;

thread_local! {
    /// The `with`s in progress on this thread: the `Namespace`'s id and the
    /// library's `Guard` (which is `!Send`: namespaces belong to a thread),
    /// innermost last. Kept here rather than in the `Namespace`, so that entering
    /// and leaving allocate no Python object and take no lock.
    static ENTERED: RefCell<Vec<(u64, Guard)>> = const { RefCell::new(Vec::new()) };
}

/// Ids for `Namespace`s, never reused (unlike addresses).
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// What a `Namespace` holds of its target.
enum Opened {
    /// The target's namespaces, opened.
    Handles(Box<Handles>),
    /// A file that is not a namespace: the exception for entering it (the
    /// original package raised it there, from setns(2)).
    OnEnter(PyErr),
}

/// A context manager that moves the calling thread into another process's
/// namespaces and back::
///
///     with Namespace(4242, 'net'):
///         subprocess.check_output(['ip', 'a'])   # 4242's network
///
///     with Namespace('/var/run/netns/foo', 'net'):
///         ...
///
/// pid: a PID (int, or a string that int() accepts), the path of a namespace
///     file (``/proc/PID/ns/KIND``, ``/run/netns/NAME``; str, bytes or PathLike),
///     or a container, ``'ENGINE://NAME-OR-ID'`` (``'docker://redis'``; also
///     podman, containerd, cri-o, cri), resolved to its init process through the
///     engine's API.
/// ns_type: a kind (``'cgroup' 'ipc' 'mnt' 'net' 'pid' 'time' 'uts'``), several
///     (``['net', 'uts']`` or ``'net,uts'``), or ``'all'``: every kind a thread can
///     enter and leave (cgroup ipc mnt net pid uts).
/// proc: where to find ``PID`` (a host /proc mounted elsewhere).
///
/// The target's namespaces are opened here, once, safely against PID reuse; a
/// namespace file's kind is checked by the kernel (a uts file is never entered as
/// net). Each ``with`` saves the calling thread's own namespaces
/// (/proc/thread-self, not the main thread's), enters, and restores them on exit,
/// whatever happens in the block. The object can be entered again, on this thread
/// or any other, and nested; ``__exit__`` must run on the thread that entered.
///
/// ``'mnt'`` works in a program with threads: the entering thread first gets its
/// own root and working directory (``unshare(CLONE_FS)``), which is permanent:
/// from then on ``os.chdir()`` on that thread no longer moves the other threads,
/// nor theirs this one. Root and working directory come back on exit.
/// ``'pid'`` affects only children forked by this thread while inside. ``'time'``
/// works only in a single-threaded program. ``'user'`` cannot be entered on a
/// thread at all; use ``nsjoin.run_command()``.
///
/// Raises ValueError for a bad ns_type or a malformed container spec (unknown
/// engine), TypeError for a target of the wrong type, OSError (errno None) for a
/// container its engine cannot resolve, and OSError with the errno for system errors:
/// ProcessLookupError (a missing or exited process), FileNotFoundError (a missing
/// file), PermissionError (a refused entry), OSError EINVAL (not a namespace file,
/// a namespace of another kind, a kind this thread cannot enter).
#[pyclass(frozen, module = "nsjoin")]
pub struct Namespace {
    id: u64,
    opened: Opened,
    kinds: KindSet,
    pid: Py<PyAny>,
    ns_type: Py<PyAny>,
    proc: Py<PyAny>,
    /// `with`s in progress, on any thread.
    inside: AtomicUsize,
}

impl Namespace {
    /// The opened namespaces (for `run` and `spawn` given a `Namespace`); a file
    /// that is not a namespace raises here what entering it would.
    pub fn handles(&self, py: Python<'_>) -> PyResult<&Handles> {
        match &self.opened {
            Opened::Handles(h) => Ok(h),
            Opened::OnEnter(e) => Err(e.clone_ref(py)),
        }
    }

    /// The kinds it enters.
    pub fn kind_set(&self) -> KindSet {
        self.kinds
    }

    fn enter(&self, py: Python<'_>) -> PyResult<Guard> {
        let handles = self.handles(py)?;
        if self.kinds.contains(Kind::Mnt) {
            // setns(2) refuses a mount namespace to a thread that shares its root
            // and cwd with others (every thread, once a program has threads).
            nsjoin::unshare_thread_fs().map_err(to_py)?;
        }
        handles.enter(self.kinds).map_err(to_py)
    }
}

impl Drop for Namespace {
    /// Garbage-collected while inside on this thread: the thread goes back, the
    /// innermost `with` first.
    fn drop(&mut self) {
        if *self.inside.get_mut() == 0 {
            return;
        }
        let id = self.id;
        let mut mine = Vec::new();
        let _ = ENTERED.try_with(|entered| {
            let mut entered = entered.borrow_mut();
            let mut i = 0;
            while i < entered.len() {
                if entered[i].0 == id {
                    mine.push(entered.remove(i).1);
                } else {
                    i += 1;
                }
            }
        });
        while let Some(guard) = mine.pop() {
            drop(guard);
        }
    }
}

#[pymethods]
impl Namespace {
    #[new]
    #[pyo3(signature = (pid, ns_type, proc = None), text_signature = "(pid, ns_type, proc='/proc')")]
    fn new(
        py: Python<'_>,
        pid: &Bound<'_, PyAny>,
        ns_type: &Bound<'_, PyAny>,
        proc: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Namespace> {
        let mut kinds = args::kinds(ns_type, args::thread_kinds())?;
        let target = args::target(pid, proc)?;
        let opened = match py.detach(|| target.open(kinds)) {
            Ok(handles) => {
                // The original package's NAMESPACE_NAMES has 'user': a user
                // namespace the caller is already in is skipped, as `nsjoin -a`
                // does (setns(2) would refuse it); another one is refused on entry.
                if kinds.contains(Kind::User)
                    && handles
                        .plan(kinds)
                        .is_ok_and(|p| p.skipped().contains(Kind::User))
                {
                    kinds.remove(Kind::User);
                }
                Opened::Handles(Box::new(handles))
            }
            Err(e) => match compat::open_failure(py, &target, e) {
                OpenFailure::Now(err) => return Err(err),
                OpenFailure::OnEnter(err) => Opened::OnEnter(err),
            },
        };
        let proc = match proc {
            Some(p) => p.clone().unbind(),
            None => pyo3::intern!(py, "/proc").clone().into_any().unbind(),
        };
        Ok(Namespace {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            opened,
            kinds,
            pid: pid.clone().unbind(),
            ns_type: ns_type.clone().unbind(),
            proc,
            inside: AtomicUsize::new(0),
        })
    }

    /// Enters the namespaces on the calling thread; returns the Namespace.
    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        let this = slf.get();
        let guard = this.enter(slf.py())?;
        ENTERED.with_borrow_mut(|entered| entered.push((this.id, guard)));
        this.inside.fetch_add(1, Ordering::Relaxed);
        Ok(slf.clone().unbind())
    }

    /// Puts the calling thread back into the namespaces it was in before
    /// ``__enter__``. Never suppresses an exception.
    fn __exit__(
        &self,
        exc_type: &Bound<'_, PyAny>,
        exc: &Bound<'_, PyAny>,
        tb: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        // Whatever the block raised goes on: nothing here depends on it.
        let _ = (exc_type, exc, tb);
        let id = self.id;
        let guard = ENTERED.with_borrow_mut(|entered| {
            let i = entered.iter().rposition(|(e, _)| *e == id)?;
            Some(entered.remove(i).1)
        });
        let Some(guard) = guard else {
            return Err(PyRuntimeError::new_err(
                if self.inside.load(Ordering::Relaxed) == 0 {
                    "Namespace.__exit__ without __enter__: this Namespace is not entered"
                } else {
                    "Namespace.__exit__ on another thread than the one that entered it: \
                     namespaces belong to a thread, so __exit__ must run on the thread \
                     that called __enter__ (that thread is still inside)"
                },
            ));
        };
        self.inside.fetch_sub(1, Ordering::Relaxed);
        guard.leave().map_err(to_py)?;
        Ok(false)
    }

    /// Whether the calling thread is inside (between ``__enter__`` and ``__exit__``).
    #[getter]
    fn entered(&self) -> bool {
        let id = self.id;
        ENTERED.with_borrow(|entered| entered.iter().any(|(e, _)| *e == id))
    }

    /// The target as given (a PID or a path).
    #[getter]
    fn pid(&self, py: Python<'_>) -> Py<PyAny> {
        self.pid.clone_ref(py)
    }

    /// The namespace type(s) as given.
    #[getter]
    fn ns_type(&self, py: Python<'_>) -> Py<PyAny> {
        self.ns_type.clone_ref(py)
    }

    /// Where PIDs are looked up.
    #[getter]
    fn proc(&self, py: Python<'_>) -> Py<PyAny> {
        self.proc.clone_ref(py)
    }

    /// The kinds entered, as a tuple of names in alphabetical order.
    #[getter]
    #[pyo3(name = "kinds")]
    fn kind_names<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, args::kind_names(self.kinds))
    }

    /// The target's namespaces that were opened: ``{kind: inode}``, the number
    /// ``lsns`` shows and ``readlink /proc/PID/ns/KIND`` prints as ``net:[N]``.
    #[getter]
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        let Opened::Handles(handles) = &self.opened else {
            return Ok(dict);
        };
        for ns in handles.iter() {
            dict.set_item(ns.kind().name(), ns.id().ino)?;
        }
        Ok(dict)
    }

    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "Namespace({}, {})",
            self.pid.bind(py).repr()?,
            self.ns_type.bind(py).repr()?
        ))
    }
}

/// Calls ``fn(*args, **kwargs)`` inside ``target``'s namespaces on a thread of
/// its own, and returns what it returns (or raises what it raises). No other
/// thread, the caller's included, is ever moved, so ``'mnt'`` is always fine.
///
/// target: a PID, a numeric string, a namespace file path or a container (as for
///     Namespace), or a Namespace, whose opened namespaces are then used.
/// kinds: as Namespace's ns_type (``'all'``: cgroup ipc mnt net pid uts), or None
///     with a Namespace target for its kinds.
///
/// User and time namespaces cannot be entered by a thread (OSError EINVAL); use
/// ``nsjoin.run_command()``. The GIL is released while waiting for the thread.
#[pyfunction]
#[pyo3(
    signature = (target, kinds, func, /, *args, **kwargs),
    text_signature = "(target, kinds, fn, /, *args, **kwargs)"
)]
pub fn run(
    py: Python<'_>,
    target: &Bound<'_, PyAny>,
    kinds: &Bound<'_, PyAny>,
    func: Py<PyAny>,
    args: Py<PyTuple>,
    kwargs: Option<Py<PyDict>>,
) -> PyResult<Py<PyAny>> {
    let call = move || {
        Python::attach(|py| func.call(py, args.bind(py), kwargs.as_ref().map(|k| k.bind(py))))
    };
    if let Ok(ns) = target.cast::<Namespace>() {
        let ns = ns.get();
        let kinds = if kinds.is_none() {
            ns.kinds
        } else {
            args::kinds(kinds, args::thread_kinds())?
        };
        let handles = ns.handles(py)?;
        return py.detach(|| handles.run(kinds, call)).map_err(to_py)?;
    }
    let kinds = args::kinds(kinds, args::thread_kinds())?;
    let target = args::target(target, None)?;
    let handles = args::open(py, &target, kinds)?;
    py.detach(|| handles.run(kinds, call)).map_err(to_py)?
}

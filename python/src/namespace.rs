//! `Namespace`, the original package's context manager, and `run`.

use std::cell::RefCell;
use std::path::Path;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

use pyo3::exceptions::PyRuntimeError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use nsjoin::{EnteredBy, Guard, Handles, Kind, KindSet, Target};

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

/// The kinds one setns(2) on a process's pidfd enters ([`nsjoin::enter`]'s short
/// way): those whose entry changes nothing but the thread's namespace.
const PIDFD_KINDS: KindSet =
    KindSet::from_array([Kind::Net, Kind::Uts, Kind::Ipc, Kind::Pid, Kind::Cgroup]);

/// What a `Namespace` holds of its target.
enum Opened {
    /// The target's namespaces, opened.
    Handles(Box<Handles>),
    /// The target process itself (a [`Target::Pidfd`]): each `with` enters the
    /// namespaces it is in then, through [`nsjoin::enter`].
    Process { pid: i32, target: Target },
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
/// A PID, for net, uts, ipc, pid and cgroup only, is held here through a pidfd
/// (safe against PID reuse), and each ``with`` enters the namespaces the process is
/// in at that moment, all in one setns(2) on the pidfd (an exited process raises
/// ProcessNotFoundError there). Anything else (a file, a container, mnt or time
/// among the kinds, another ``proc``, a caller without CAP_SYS_PTRACE, or
/// ``NSJOIN_FORCE_PROC=1`` in the environment) has its namespaces opened here,
/// once, and entered as they were then, as the original package did; a namespace file's kind is
/// checked by the kernel (a uts file is never entered as net). ``entered_by`` says
/// which way the last ``with`` took. Each ``with`` saves the calling thread's own namespaces
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
    /// How the most recent `__enter__` got in: [`NOT_YET`], [`BY_PIDFD`], [`BY_FDS`].
    by: AtomicU8,
}

const NOT_YET: u8 = 0;
const BY_PIDFD: u8 = 1;
const BY_FDS: u8 = 2;

/// The namespaces a `run` or `spawn` given a `Namespace` uses: those it opened when
/// made, or, for one that holds a process, the process's opened now.
pub enum Held<'a> {
    Kept(&'a Handles),
    Now(Box<Handles>),
}

impl std::ops::Deref for Held<'_> {
    type Target = Handles;
    fn deref(&self) -> &Handles {
        match self {
            Held::Kept(h) => h,
            Held::Now(h) => h,
        }
    }
}

/// `Some(Opened::Process)` for a target a `Namespace` holds as a process: a PID under
/// this process's `/proc`, every kind one that a pidfd enters, and a caller that
/// may read any process's namespaces (CAP_SYS_PTRACE), so that opening them could
/// not have failed here: an unprivileged caller gets the PermissionError at
/// construction, as before. A process that does not exist (or has exited) raises
/// what opening it would. `None`: open the namespaces now.
fn hold_process(py: Python<'_>, target: &Target, kinds: KindSet) -> PyResult<Option<Opened>> {
    let Target::Pid { pid, proc } = target else {
        return Ok(None);
    };
    if *pid <= 0
        || proc.as_path() != Path::new("/proc")
        || !kinds.difference(PIDFD_KINDS).is_empty()
        || !may_read_any_process()
        || proc_forced()
    {
        return Ok(None);
    }
    let Some(raw) = rustix::process::Pid::from_raw(*pid) else {
        return Ok(None);
    };
    let gone =
        || compat::process_not_found(py, format!("cannot open /proc/{pid}: No such process"));
    let pidfd = match rustix::process::pidfd_open(raw, rustix::process::PidfdFlags::empty()) {
        Ok(fd) => fd,
        Err(rustix::io::Errno::SRCH) => return Err(gone()),
        // No pidfds here (before Linux 5.3), or out of fds: the long way says why.
        Err(_) => return Ok(None),
    };
    // pidfd_open(2) succeeds on a zombie: it polls readable once the process exited.
    let mut fds = [rustix::event::PollFd::new(
        &pidfd,
        rustix::event::PollFlags::IN,
    )];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    if !matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(0)) {
        return Err(gone());
    }
    Ok(Some(Opened::Process {
        pid: *pid,
        target: Target::Pidfd(pidfd),
    }))
}

/// Whether `NSJOIN_FORCE_PROC=1` turns the library's pidfd shortcuts off, this one
/// included: every `Namespace` then opens its namespaces when made (read once per
/// process, as the library does).
fn proc_forced() -> bool {
    static FORCED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FORCED.get_or_init(|| {
        std::env::var_os(nsjoin::FORCE_PROC_ENV).is_some_and(|v| !v.is_empty() && v != "0")
    })
}

/// Whether the calling thread has CAP_SYS_PTRACE, which the kernel's check for
/// reading another process's namespaces (ptrace read access) lets through.
fn may_read_any_process() -> bool {
    rustix::thread::capabilities(None).is_ok_and(|caps| {
        caps.effective
            .contains(rustix::thread::CapabilitySet::SYS_PTRACE)
    })
}

impl Namespace {
    /// The namespaces (for `run` and `spawn` given a `Namespace`): those opened
    /// when it was made, or a held process's, opened now; a file that is not a
    /// namespace raises here what entering it would.
    pub fn handles(&self, py: Python<'_>) -> PyResult<Held<'_>> {
        match &self.opened {
            Opened::Handles(h) => Ok(Held::Kept(h)),
            Opened::Process { target, .. } => py
                .detach(|| target.open(self.kinds))
                .map(|h| Held::Now(Box::new(h)))
                .map_err(|e| compat::open_error(py, target, e)),
            Opened::OnEnter(e) => Err(e.clone_ref(py)),
        }
    }

    /// Whether it holds a process (whose namespaces are opened when used) rather
    /// than namespaces opened when it was made.
    pub fn holds_process(&self) -> bool {
        matches!(self.opened, Opened::Process { .. })
    }

    /// The kinds it enters.
    pub fn kind_set(&self) -> KindSet {
        self.kinds
    }

    fn enter(&self, py: Python<'_>) -> PyResult<Guard> {
        if let Opened::Process { pid, target } = &self.opened {
            // One setns(2) on the pidfd; where that fails, the library opens the
            // process's namespaces and enters those, and its error is the open's.
            return nsjoin::enter(target, self.kinds).map_err(|e| {
                if e.is_target_gone() {
                    compat::process_not_found(py, format!("process {pid} has exited: {e}"))
                } else {
                    to_py(e)
                }
            });
        }
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
        let opened = if let Some(process) = hold_process(py, &target, kinds)? {
            process
        } else {
            match py.detach(|| target.open(kinds)) {
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
            }
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
            by: AtomicU8::new(NOT_YET),
        })
    }

    /// Enters the namespaces on the calling thread; returns the Namespace.
    fn __enter__(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        let this = slf.get();
        let guard = this.enter(slf.py())?;
        let by = match guard.entered_by() {
            EnteredBy::ProcessPidfd => BY_PIDFD,
            EnteredBy::NamespaceFds => BY_FDS,
        };
        this.by.store(by, Ordering::Relaxed);
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

    /// How the most recent ``__enter__`` (on any thread) got in: ``'pidfd'``, one
    /// setns(2) on the target process's pidfd for every kind at once (a PID, for
    /// net, uts, ipc, pid, cgroup); ``'fds'``, one setns(2) per kind on namespace
    /// fds (everything else, a kernel before 5.8, ``NSJOIN_FORCE_PROC=1``). None
    /// before the first.
    #[getter]
    fn entered_by(&self) -> Option<&'static str> {
        match self.by.load(Ordering::Relaxed) {
            BY_PIDFD => Some("pidfd"),
            BY_FDS => Some("fds"),
            _ => None,
        }
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

    /// The target's namespaces: ``{kind: inode}``, the number ``lsns`` shows and
    /// ``readlink /proc/PID/ns/KIND`` prints as ``net:[N]``. Those opened when it
    /// was made; for a PID held through its pidfd, those the process is in now
    /// (ProcessNotFoundError once it has exited).
    #[getter]
    fn ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let dict = PyDict::new(py);
        if let Opened::OnEnter(_) = &self.opened {
            return Ok(dict);
        }
        let handles = self.handles(py)?;
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
        let handles: &Handles = &handles;
        return py.detach(|| handles.run(kinds, call)).map_err(to_py)?;
    }
    let kinds = args::kinds(kinds, args::thread_kinds())?;
    let target = args::target(target, None)?;
    let handles = args::open(py, &target, kinds)?;
    py.detach(|| handles.run(kinds, call)).map_err(to_py)?
}

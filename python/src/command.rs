//! Programs inside namespaces, on [`nsjoin::Spawn`]: `_spawn` (→ `_Child`) and
//! `_exec`. The Python side wraps them as `nsjoin.spawn`, `nsjoin.Process`,
//! `nsjoin.run_command` and `python -m nsjoin`.

use std::ffi::OsString;
use std::io;
use std::os::fd::{IntoRawFd, OwnedFd};
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyMapping, PyString};
use rustix::event::{PollFd, PollFlags, Timespec};
use rustix::process::{Pid, PidfdFlags};

use nsjoin::{Dir, Handles, Id, KindSet, Spawn, SpawnOptions};

use crate::args;
use crate::errors::{os_error, to_py, value_error};
use crate::namespace::Namespace;
use crate::stdio::{connect_stdio, stdio_arg};

/// The longest stretch `_Child.wait` sleeps without looking at Python's signals.
const WAIT_SLICE: Duration = Duration::from_millis(50);

/// The target's handles: opened here, or those of a `Namespace` passed as target.
enum Opened<'py> {
    Owned(Box<Handles>),
    Ns(Bound<'py, Namespace>),
}

impl Opened<'_> {
    fn handles(&self) -> PyResult<&Handles> {
        match self {
            Opened::Owned(h) => Ok(h),
            Opened::Ns(ns) => ns.get().handles(ns.py()),
        }
    }
}

fn open<'py>(
    target: &Bound<'py, PyAny>,
    kinds: &Bound<'py, PyAny>,
    proc: Option<&Bound<'py, PyAny>>,
    also: KindSet,
) -> PyResult<(Opened<'py>, KindSet)> {
    if let Ok(ns) = target.cast::<Namespace>() {
        let kinds = if kinds.is_none() {
            ns.get().kind_set()
        } else {
            args::kinds(kinds, KindSet::supported())?
        };
        return Ok((Opened::Ns(ns.clone()), kinds));
    }
    let py = target.py();
    let kinds = args::kinds(kinds, KindSet::supported())?;
    let target = args::target(target, proc)?;
    let handles = args::open(py, &target, kinds | also)?;
    Ok((Opened::Owned(Box::new(handles)), kinds))
}

/// The keywords `_spawn` and `_exec` share, as the library's nsenter-style option
/// set: entering a user namespace makes the program root in it (uid and gid 0)
/// unless `preserve_credentials` or an explicit `user`/`group` says otherwise.
#[allow(clippy::too_many_arguments)]
fn options(
    kinds: KindSet,
    target_env: bool,
    root: Option<&Bound<'_, PyAny>>,
    cwd: Option<&Bound<'_, PyAny>>,
    user: Option<u32>,
    group: Option<u32>,
    preserve_credentials: bool,
    join_cgroup: bool,
    strict_user: bool,
    confine: bool,
) -> PyResult<SpawnOptions> {
    let (root, cwd) = (root_dir(root)?, cwd_dir(cwd)?);
    if confine {
        let not_target = |d: &Option<Dir>| d.as_ref().is_some_and(|d| *d != Dir::Target);
        let contradicting = [
            (user.is_some(), "user"),
            (group.is_some(), "group"),
            (preserve_credentials, "preserve_credentials"),
            (not_target(&root), "root (other than True)"),
            (not_target(&cwd), "cwd (other than True)"),
        ];
        if let Some((_, name)) = contradicting.iter().find(|(set, _)| *set) {
            return Err(PyValueError::new_err(format!(
                "confine=True cannot be combined with {name}: it takes the target's"
            )));
        }
    }
    Ok(SpawnOptions {
        kinds,
        strict_user,
        root,
        cwd,
        uid: user.map(Id::Of),
        gid: group.map(Id::Of),
        preserve_credentials,
        join_cgroup,
        keep_caps: false,
        target_env,
        confine,
        host_tools: None,
    })
}

/// `host_tools=`: False/None for off, True for the default directory, else the
/// directory where the target's root shows.
fn host_tools_dir(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Option<std::path::PathBuf>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) if o.is_instance_of::<PyBool>() => Ok(o.is_truthy()?.then_some(None)),
        Some(o) => Ok(Some(Some(args::path(o)?))),
    }
}

/// The kinds opened besides those entered: with host tools, the target's mount
/// namespace, from which its root is cloned.
fn opened_also(host_tools: &Option<Option<std::path::PathBuf>>) -> KindSet {
    match host_tools {
        Some(_) => KindSet::from(nsjoin::Kind::Mnt),
        None => KindSet::EMPTY,
    }
}

/// `root=`: True for the target's root, else a directory as the caller sees it.
fn root_dir(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Dir>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) if o.is_instance_of::<PyBool>() => Ok(o.is_truthy()?.then_some(Dir::Target)),
        Some(o) => Ok(Some(Dir::Path(args::path(o)?))),
    }
}

/// `cwd=`: True for the target's working directory, else a directory as the program
/// sees it (resolved inside, after any change of root).
fn cwd_dir(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Dir>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) if o.is_instance_of::<PyBool>() => Ok(o.is_truthy()?.then_some(Dir::Target)),
        Some(o) => Ok(Some(Dir::Inside(args::path(o)?))),
    }
}

/// The program and its arguments: a sequence of str/bytes/PathLike, or one of them.
fn argv(obj: &Bound<'_, PyAny>) -> PyResult<Vec<OsString>> {
    let argv: Vec<OsString> = if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyBytes>()
    {
        vec![args::os_string(obj)?]
    } else if let Ok(one) = args::os_string(obj) {
        vec![one]
    } else {
        let iter = obj
            .try_iter()
            .map_err(|_| PyTypeError::new_err("args must be a sequence of str, bytes or paths"))?;
        iter.map(|a| args::os_string(&a?))
            .collect::<PyResult<_>>()?
    };
    if argv.is_empty() {
        return Err(value_error("args is empty: no program to run"));
    }
    Ok(argv)
}

fn command(argv_obj: &Bound<'_, PyAny>, env: Option<&Bound<'_, PyAny>>) -> PyResult<Command> {
    let argv = argv(argv_obj)?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    if let Some(env) = env.filter(|e| !e.is_none()) {
        let env = env
            .cast::<PyMapping>()
            .map_err(|_| PyTypeError::new_err("env must be a mapping"))?;
        cmd.env_clear();
        for item in env.items()?.iter() {
            let (k, v): (Bound<'_, PyAny>, Bound<'_, PyAny>) = item.extract()?;
            cmd.env(args::os_string(&k)?, args::os_string(&v)?);
        }
    }
    Ok(cmd)
}

/// `subprocess`'s returncode: the exit code, or minus the signal that killed it.
fn returncode(status: ExitStatus) -> i32 {
    status
        .code()
        .unwrap_or_else(|| -status.signal().unwrap_or(0))
}

/// A program started by `_spawn`; `nsjoin.Process` wraps it.
#[pyclass(frozen, module = "nsjoin._nsjoin")]
pub struct _Child {
    pid: i32,
    child: Mutex<nsjoin::Child>,
    /// Polls readable once the program has ended; None where pidfds are missing.
    pidfd: Option<OwnedFd>,
    stdio: Mutex<[Option<OwnedFd>; 3]>,
}

impl _Child {
    fn child(&self) -> MutexGuard<'_, nsjoin::Child> {
        self.child.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn wait_error(e: io::Error) -> PyErr {
    os_error(
        e.raw_os_error().unwrap_or(libc::ECHILD),
        format!("cannot wait for the program: {e}"),
    )
}

#[pymethods]
impl _Child {
    /// The program's PID, as this process sees it.
    #[getter]
    fn pid(&self) -> i32 {
        self.pid
    }

    /// The parent's ends of the pipes (stdin, stdout, stderr) as fds, each None if
    /// not piped. The caller owns them from then on; a second call gives Nones.
    fn take_stdio(&self) -> (Option<i32>, Option<i32>, Option<i32>) {
        let mut stdio = self.stdio.lock().unwrap_or_else(|e| e.into_inner());
        let [a, b, c] = std::mem::take(&mut *stdio);
        let raw = |fd: Option<OwnedFd>| fd.map(IntoRawFd::into_raw_fd);
        (raw(a), raw(b), raw(c))
    }

    /// The returncode if the program has ended (reaping it), else None.
    fn poll(&self) -> PyResult<Option<i32>> {
        self.child()
            .try_wait()
            .map(|s| s.map(returncode))
            .map_err(wait_error)
    }

    /// Waits for the program to end, at most `timeout` seconds; returns its
    /// returncode, or None on timeout. The GIL is released while waiting, and
    /// Python signal handlers run (Ctrl-C raises KeyboardInterrupt).
    #[pyo3(signature = (timeout = None))]
    fn wait(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Option<i32>> {
        let deadline = timeout.map(|t| Instant::now() + Duration::from_secs_f64(t.max(0.0)));
        loop {
            if let Some(code) = self.poll()? {
                return Ok(Some(code));
            }
            let slice = match deadline {
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    left.min(WAIT_SLICE)
                }
                None => WAIT_SLICE,
            };
            // Sleep until the program ends (its pidfd polls readable), a signal
            // arrives (EINTR) or the slice is over; then let Python's signal
            // handlers run.
            py.detach(|| match &self.pidfd {
                Some(pidfd) => {
                    let ts = Timespec {
                        tv_sec: slice.as_secs() as _,
                        tv_nsec: slice.subsec_nanos() as _,
                    };
                    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
                    let _ = rustix::event::poll(&mut fds, Some(&ts));
                }
                None => std::thread::sleep(slice.min(Duration::from_millis(5))),
            });
            py.check_signals()?;
        }
    }

    /// Sends signal `sig` to the program, unless it has been reaped already.
    fn send_signal(&self, sig: i32) -> PyResult<()> {
        self.child().signal(sig).map_err(|e| {
            os_error(
                e.raw_os_error().unwrap_or(libc::EINVAL),
                format!("cannot signal process {}: {e}", self.pid),
            )
        })
    }
}

/// Starts a program inside; the engine of `nsjoin.spawn()`. See there.
#[pyfunction]
#[pyo3(signature = (
    target, kinds, args, *, proc = None, stdin = None, stdout = None, stderr = None,
    env = None, target_env = false, root = None, cwd = None, user = None, group = None,
    preserve_credentials = false, join_cgroup = false, strict_user = false, confine = false,
    host_tools = None,
))]
#[allow(clippy::too_many_arguments)]
pub fn _spawn(
    py: Python<'_>,
    target: &Bound<'_, PyAny>,
    kinds: &Bound<'_, PyAny>,
    args: &Bound<'_, PyAny>,
    proc: Option<&Bound<'_, PyAny>>,
    stdin: Option<&Bound<'_, PyAny>>,
    stdout: Option<&Bound<'_, PyAny>>,
    stderr: Option<&Bound<'_, PyAny>>,
    env: Option<&Bound<'_, PyAny>>,
    target_env: bool,
    root: Option<&Bound<'_, PyAny>>,
    cwd: Option<&Bound<'_, PyAny>>,
    user: Option<u32>,
    group: Option<u32>,
    preserve_credentials: bool,
    join_cgroup: bool,
    strict_user: bool,
    confine: bool,
    host_tools: Option<&Bound<'_, PyAny>>,
) -> PyResult<_Child> {
    let host_tools = host_tools_dir(host_tools)?;
    let (opened, kinds) = open(target, kinds, proc, opened_also(&host_tools))?;
    let mut options = options(
        kinds,
        target_env,
        root,
        cwd,
        user,
        group,
        preserve_credentials,
        join_cgroup,
        strict_user,
        confine,
    )?;
    options.host_tools = host_tools;
    let mut cmd = command(args, env)?;
    let parent = connect_stdio(
        &mut cmd,
        stdio_arg(stdin, "stdin")?,
        stdio_arg(stdout, "stdout")?,
        stdio_arg(stderr, "stderr")?,
    )?;
    let spawn = Spawn::with_options(opened.handles()?, &options).map_err(to_py)?;
    let child = py.detach(|| spawn.spawn(cmd)).map_err(to_py)?;
    let pid = child.id() as i32;
    let pidfd =
        Pid::from_raw(pid).and_then(|p| rustix::process::pidfd_open(p, PidfdFlags::empty()).ok());
    Ok(_Child {
        pid,
        child: Mutex::new(child),
        pidfd,
        stdio: Mutex::new(parent),
    })
}

/// Replaces this process with a program inside (nsenter without a fork); returns
/// only by raising. For `python -m nsjoin`: the kernel lets only a single-threaded
/// process into user, time (and, without unshare, mnt) namespaces.
#[pyfunction]
#[pyo3(signature = (
    target, kinds, args, *, proc = None, env = None, target_env = false, root = None,
    cwd = None, user = None, group = None, preserve_credentials = false,
    join_cgroup = false, strict_user = false, host_tools = None,
))]
#[allow(clippy::too_many_arguments)]
pub fn _exec(
    py: Python<'_>,
    target: &Bound<'_, PyAny>,
    kinds: &Bound<'_, PyAny>,
    args: &Bound<'_, PyAny>,
    proc: Option<&Bound<'_, PyAny>>,
    env: Option<&Bound<'_, PyAny>>,
    target_env: bool,
    root: Option<&Bound<'_, PyAny>>,
    cwd: Option<&Bound<'_, PyAny>>,
    user: Option<u32>,
    group: Option<u32>,
    preserve_credentials: bool,
    join_cgroup: bool,
    strict_user: bool,
    host_tools: Option<&Bound<'_, PyAny>>,
) -> PyResult<()> {
    let host_tools = host_tools_dir(host_tools)?;
    let (opened, kinds) = open(target, kinds, proc, opened_also(&host_tools))?;
    let mut options = options(
        kinds,
        target_env,
        root,
        cwd,
        user,
        group,
        preserve_credentials,
        join_cgroup,
        strict_user,
        false,
    )?;
    options.host_tools = host_tools;
    let cmd = command(args, env)?;
    let spawn = Spawn::with_options(opened.handles()?, &options).map_err(to_py)?;
    Err(to_py(py.detach(|| spawn.exec(cmd))))
}

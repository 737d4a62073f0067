//! Python arguments → library types: targets, kinds, paths.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyInt, PyString};

use nsjoin::container::ContainerRef;
use nsjoin::{Handles, Kind, KindSet, Target};

use crate::errors::{to_py, value_error};

/// The kinds a thread can enter and leave again (what `'all'` means for
/// `Namespace` and `run`): every supported kind but user and time, which the
/// kernel reserves for single-threaded processes.
pub fn thread_kinds() -> KindSet {
    KindSet::supported().difference(KindSet::from([Kind::User, Kind::Time]))
}

/// A target as the original package took it: an int is a PID, a string that `int()`
/// accepts is a PID, anything else (str, bytes, `os.PathLike`) a namespace file;
/// and, new, a string `ENGINE://NAME` is a container (`docker://redis`), resolved
/// through its engine's API when opened. `proc` is where PIDs are looked up (the
/// original's `proc=`).
pub fn target(obj: &Bound<'_, PyAny>, proc: Option<&Bound<'_, PyAny>>) -> PyResult<Target> {
    let proc = proc.map(path).transpose()?;
    let pid_target = |pid: &Bound<'_, PyAny>| -> PyResult<Target> {
        let pid: i64 = pid.extract()?;
        let proc = proc.clone().unwrap_or_else(|| PathBuf::from("/proc"));
        match i32::try_from(pid) {
            Ok(pid) => Ok(Target::pid(pid).with_proc(proc)),
            Err(_) => Err(crate::compat::no_such_pid(obj.py(), &proc, pid)),
        }
    };
    if obj.is_instance_of::<PyBool>() {
        return Err(PyTypeError::new_err(
            "a target is a PID (int), a numeric string or a path, not a bool",
        ));
    }
    if obj.is_instance_of::<PyInt>() {
        return pid_target(obj);
    }
    if let Ok(s) = obj.cast::<PyString>() {
        let text = s.to_cow()?;
        if ContainerRef::is_spec(&text) {
            // A malformed spec or unknown engine is a bad argument: ValueError.
            return Target::container(&text).map_err(|e| value_error(e.to_string()));
        }
        // The original package's rule: whatever int() takes is a PID.
        if let Ok(pid) = obj.py().get_type::<PyInt>().call1((s,)) {
            return pid_target(&pid);
        }
        return Ok(Target::path(path(obj)?));
    }
    match path(obj) {
        Ok(p) => Ok(Target::path(p)),
        Err(_) => Err(PyTypeError::new_err(format!(
            "a target is a PID (int), a numeric string or a path, not {}",
            obj.get_type().name()?
        ))),
    }
}

/// Opens `target`'s namespaces of `kinds` with the GIL released (it reads /proc).
pub fn open(py: Python<'_>, target: &Target, kinds: KindSet) -> PyResult<Handles> {
    py.detach(|| target.open(kinds))
        .map_err(|e| crate::compat::open_error(py, target, e))
}

/// Namespace kinds: a name (`'net'`), comma-separated names (`'net,uts'`), a
/// sequence of names, or `'all'`, which means `all`. `mount` is accepted for `mnt`.
/// Anything else is a `ValueError`, as the original package had it.
pub fn kinds(obj: &Bound<'_, PyAny>, all: KindSet) -> PyResult<KindSet> {
    let bad = || {
        let type_name = obj
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default();
        value_error(format!(
            "ns_type must be a namespace type (cgroup, ipc, mnt, net, pid, time, user, uts), \
             a list of them or 'all', not {type_name} {}",
            obj.repr().map(|r| r.to_string()).unwrap_or_default()
        ))
    };
    let mut set = KindSet::EMPTY;
    let mut add = |name: &str| -> PyResult<()> {
        for part in name.split(',') {
            match part.trim() {
                "all" => set = set | all,
                word => set = set | KindSet::from(word.parse::<Kind>().map_err(to_py)?),
            }
        }
        Ok(())
    };
    if let Ok(s) = obj.cast::<PyString>() {
        add(&s.to_cow()?)?;
    } else if obj.is_instance_of::<PyBytes>() {
        return Err(bad());
    } else {
        let iter = obj.try_iter().map_err(|_| bad())?;
        for item in iter {
            let item = item?;
            let s = item.cast::<PyString>().map_err(|_| bad())?;
            add(&s.to_cow()?)?;
        }
    }
    if set.is_empty() {
        return Err(value_error("no namespace type given"));
    }
    Ok(set)
}

/// The names of `kinds`, alphabetically.
pub fn kind_names(kinds: KindSet) -> Vec<&'static str> {
    kinds.iter().map(Kind::name).collect()
}

/// A str, bytes or `os.PathLike` as raw OS bytes.
pub fn os_string(obj: &Bound<'_, PyAny>) -> PyResult<OsString> {
    if let Ok(b) = obj.cast::<PyBytes>() {
        return Ok(OsString::from_vec(b.as_bytes().to_vec()));
    }
    if obj.is_instance_of::<PyString>() {
        return obj.extract::<OsString>();
    }
    let fspath = obj.py().import("os")?.getattr("fspath")?.call1((obj,))?;
    if let Ok(b) = fspath.cast::<PyBytes>() {
        return Ok(OsString::from_vec(b.as_bytes().to_vec()));
    }
    fspath.extract::<OsString>()
}

/// A path from a str, bytes or `os.PathLike`.
pub fn path(obj: &Bound<'_, PyAny>) -> PyResult<PathBuf> {
    os_string(obj).map(PathBuf::from)
}

//! The original `nsenter` package's habits, kept for code written against it:
//! its `NAMESPACE_NAMES`, and the exceptions it raised, at the point it raised them.
//!
//! | input | the original raised | nsjoin raises |
//! |---|---|---|
//! | a dead PID | `FileNotFoundError`, constructing | [`ProcessNotFoundError`] (a `ProcessLookupError` *and* a `FileNotFoundError`, errno ESRCH), constructing |
//! | a directory | `IsADirectoryError`, constructing | `IsADirectoryError` (EISDIR), constructing |
//! | a plain file | `OSError` EINVAL, entering the `with` | `OSError` EINVAL, entering the `with` |
//!
//! The stricter checks stay: a namespace file of another kind than asked for is
//! refused when the `Namespace` is made (the original entered it as whatever it was).

use std::path::Path;

use pyo3::exceptions::{PyFileNotFoundError, PyProcessLookupError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

use nsjoin::{Error, Target};

use crate::errors::{os_error, to_py};

static PROCESS_NOT_FOUND: PyOnceLock<Py<PyType>> = PyOnceLock::new();

/// `nsjoin.ProcessNotFoundError(ProcessLookupError, FileNotFoundError)`: a target
/// process that does not exist. `except ProcessLookupError` (nsjoin's habit) and
/// `except FileNotFoundError` (the original package's, which found no
/// `/proc/PID/ns/KIND`) both catch it; its errno is ESRCH.
pub fn process_not_found_type(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    PROCESS_NOT_FOUND
        .get_or_try_init(py, || {
            let bases = PyTuple::new(
                py,
                [
                    py.get_type::<PyProcessLookupError>(),
                    py.get_type::<PyFileNotFoundError>(),
                ],
            )?;
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "nsjoin")?;
            namespace.set_item(
                "__doc__",
                "A target process that does not exist (or no longer does).\n\n\
                 Both a ProcessLookupError and a FileNotFoundError (what the original \
                 nsenter package raised for a missing PID); errno is ESRCH.",
            )?;
            let made = py
                .get_type::<PyType>()
                .call1(("ProcessNotFoundError", bases, namespace))?;
            Ok(made.cast_into::<PyType>()?.unbind())
        })
        .map(|t| t.bind(py))
}

/// A `ProcessNotFoundError(ESRCH, message)`.
pub fn process_not_found(py: Python<'_>, message: String) -> PyErr {
    match process_not_found_type(py) {
        Ok(cls) => PyErr::from_type(cls.clone(), (libc::ESRCH, message)),
        Err(e) => e,
    }
}

/// How opening a target failed, as the original package would have said it.
pub enum OpenFailure {
    /// Raise now, from the constructor.
    Now(PyErr),
    /// A file that is not a namespace: the original opened it, and setns(2) said
    /// EINVAL when the `with` was entered. Raised by `__enter__`.
    OnEnter(PyErr),
}

/// The exception for `target` failing to open with `e`, and when to raise it.
pub fn open_failure(py: Python<'_>, target: &Target, e: Error) -> OpenFailure {
    if e.is_target_gone() && e.raw_os_error() == Some(libc::ESRCH) {
        return OpenFailure::Now(process_not_found(py, e.to_string()));
    }
    if let (Target::Path(path), Error::NotNamespace { .. }) = (target, &e) {
        return if is_dir(path) {
            OpenFailure::Now(os_error(
                libc::EISDIR,
                format!("{} is a directory, not a namespace file", path.display()),
            ))
        } else {
            OpenFailure::OnEnter(to_py(e))
        };
    }
    OpenFailure::Now(to_py(e))
}

/// [`open_failure`]'s exception, raised now (for calls that do not wait for a
/// `with`).
pub fn open_error(py: Python<'_>, target: &Target, e: Error) -> PyErr {
    match open_failure(py, target, e) {
        OpenFailure::Now(err) | OpenFailure::OnEnter(err) => err,
    }
}

fn is_dir(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_dir())
}

/// An error raised now, for a PID that cannot be a process (0, negative, too big):
/// like a dead PID.
pub fn no_such_pid(py: Python<'_>, proc: &Path, pid: i64) -> PyErr {
    process_not_found(
        py,
        format!("cannot open {}/{pid}: No such process", proc.display()),
    )
}

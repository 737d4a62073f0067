//! nsjoin errors as Python exceptions.
//!
//! * an unknown namespace type, or an argument that does not fit the target, is a
//!   `ValueError` (the original package's exception for a bad `ns_type`);
//! * a container the engine cannot resolve (no such container, engine unreachable)
//!   is `OSError(message)`, with no errno, unless the system gave one; it has the
//!   attributes `reason` (which case: `"not_found"`, `"not_running"`,
//!   `"ambiguous"`, `"unreachable"`, `"permission_denied"`, `"unsupported"`,
//!   `"timed_out"`, `"bad_answer"`, `"engine_error"`, `"bad_spec"`, `"other"`),
//!   `target` (`"docker://redis"`) and `socket` (the engine's socket, or None);
//! * everything else is `OSError(errno, message)` with the errno from
//!   [`nsjoin::Error::raw_os_error`], so that Python picks the subclass:
//!   `ProcessLookupError` (ESRCH) for a missing process, `FileNotFoundError`
//!   (ENOENT) for a missing file, `PermissionError` (EPERM/EACCES) for a refused
//!   entry. A program that cannot be executed also gets the program as `filename`,
//!   as `subprocess` does.

use pyo3::exceptions::{PyOSError, PyValueError};
use pyo3::types::PyAnyMethods;
use pyo3::{PyErr, Python};

use nsjoin::{Error, Kind};

/// What to use instead, for a kind the calling thread cannot enter and leave.
fn needs_other_api(kind: Kind) -> String {
    match kind {
        Kind::User => "user namespaces cannot be entered by Namespace or nsjoin.run(): the \
                       kernel lets only a single-threaded process into one, and never back out; \
                       use nsjoin.run_command() or nsjoin.spawn() to run a program inside"
            .to_owned(),
        Kind::Time => "time namespaces can be entered by Namespace only in a single-threaded \
                       program (setns(2) gives EUSERS), and never by nsjoin.run(); use \
                       nsjoin.run_command() or nsjoin.spawn() to run a program inside"
            .to_owned(),
        other => format!(
            "{other} namespace cannot be entered on this thread; use nsjoin.run() or \
             nsjoin.run_command()"
        ),
    }
}

/// The Python exception for a library error.
pub fn to_py(e: Error) -> PyErr {
    match &e {
        Error::UnknownKind(_) | Error::NeedsProcess { .. } => PyValueError::new_err(e.to_string()),
        Error::NeedsOtherApi { kind, .. } => os_error(libc::EINVAL, needs_other_api(*kind)),
        Error::Container { target, why } => {
            let err = PyOSError::new_err(e.to_string());
            Python::attach(|py| {
                let value = err.value(py);
                // Setting attributes on a fresh OSError does not fail; if it did,
                // the exception would still be the right one with its message.
                let _ = value.setattr("reason", why.reason().as_str());
                let _ = value.setattr("target", target.as_str());
                let _ = value.setattr(
                    "socket",
                    why.socket().map(|s| s.to_string_lossy().into_owned()),
                );
            });
            err
        }
        Error::Exec { program, .. } => {
            let errno = e.raw_os_error().unwrap_or(libc::ENOEXEC);
            PyOSError::new_err((errno, e.to_string(), program.clone()))
        }
        _ => match e.raw_os_error() {
            Some(errno) => os_error(errno, e.to_string()),
            None => PyOSError::new_err(e.to_string()),
        },
    }
}

/// `OSError(errno, message)`; Python turns it into the errno's subclass.
pub fn os_error(errno: i32, message: impl Into<String>) -> PyErr {
    PyOSError::new_err((errno, message.into()))
}

/// A `ValueError`.
pub fn value_error(message: impl Into<String>) -> PyErr {
    PyValueError::new_err(message.into())
}

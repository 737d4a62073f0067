//! The program's standard streams as subprocess takes them: inherit, PIPE, DEVNULL,
//! STDOUT (for stderr) or a file descriptor, connected to the `Command` and
//! returned as the parent's ends.

use std::io;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyBool;
use rustix::process::{PidfdFlags, PidfdGetfdFlags};

use crate::errors::{os_error, value_error};

/// subprocess.PIPE, STDOUT and DEVNULL.
const PIPE: i64 = -1;
const STDOUT: i64 = -2;
const DEVNULL: i64 = -3;

/// A duplicate (O_CLOEXEC) of this process's fd `fd`, made with pidfd_getfd(2) on
/// our own pidfd: the one way to turn a number from Python into an `OwnedFd`
/// without `unsafe`.
pub(crate) fn dup_own_fd(fd: i32) -> io::Result<OwnedFd> {
    let me = rustix::process::pidfd_open(rustix::process::getpid(), PidfdFlags::empty())?;
    Ok(rustix::process::pidfd_getfd(
        &me,
        fd,
        PidfdGetfdFlags::empty(),
    )?)
}

pub(crate) enum StdioArg {
    Inherit,
    Pipe,
    Null,
    Stdout,
    Fd(OwnedFd),
}

pub(crate) fn stdio_arg(obj: Option<&Bound<'_, PyAny>>, name: &str) -> PyResult<StdioArg> {
    let Some(obj) = obj.filter(|o| !o.is_none()) else {
        return Ok(StdioArg::Inherit);
    };
    let fd: i64 = match obj.extract::<i64>() {
        Ok(n) if !obj.is_instance_of::<PyBool>() => n,
        _ => obj
            .call_method0("fileno")
            .and_then(|f| f.extract())
            .map_err(|_| {
                PyTypeError::new_err(format!(
                    "{name} must be None, PIPE, DEVNULL{}, an fd or a file with fileno()",
                    if name == "stderr" { ", STDOUT" } else { "" }
                ))
            })?,
    };
    match fd {
        PIPE => Ok(StdioArg::Pipe),
        DEVNULL => Ok(StdioArg::Null),
        STDOUT if name == "stderr" => Ok(StdioArg::Stdout),
        n if n >= 0 && n <= i32::MAX as i64 => {
            dup_own_fd(n as i32).map(StdioArg::Fd).map_err(|e| {
                os_error(
                    e.raw_os_error().unwrap_or(libc::EBADF),
                    format!("{name}: fd {n}: {e}"),
                )
            })
        }
        n => Err(value_error(format!("{name}: invalid value {n}"))),
    }
}

pub(crate) fn pipe() -> PyResult<(OwnedFd, OwnedFd)> {
    rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
        .map_err(|e| os_error(e.raw_os_error(), format!("cannot create a pipe: {e}")))
}

pub(crate) fn dup(fd: &OwnedFd) -> PyResult<OwnedFd> {
    fd.try_clone().map_err(|e| {
        os_error(
            e.raw_os_error().unwrap_or(libc::EMFILE),
            format!("cannot duplicate an fd: {e}"),
        )
    })
}

/// Connects the program's stdio as asked; returns the parent's ends of pipes.
pub(crate) fn connect_stdio(
    cmd: &mut Command,
    stdin: StdioArg,
    stdout: StdioArg,
    stderr: StdioArg,
) -> PyResult<[Option<OwnedFd>; 3]> {
    let mut parent: [Option<OwnedFd>; 3] = Default::default();
    match stdin {
        StdioArg::Inherit => {}
        StdioArg::Null => {
            cmd.stdin(Stdio::null());
        }
        StdioArg::Pipe => {
            let (read, write) = pipe()?;
            cmd.stdin(Stdio::from(read));
            parent[0] = Some(write);
        }
        StdioArg::Fd(fd) => {
            cmd.stdin(Stdio::from(fd));
        }
        StdioArg::Stdout => unreachable!("only stderr takes STDOUT"),
    }
    // The program's stdout as an fd, for stderr=STDOUT.
    let stdout_fd: Option<OwnedFd> = match stdout {
        StdioArg::Inherit => None,
        StdioArg::Null => {
            cmd.stdout(Stdio::null());
            None
        }
        StdioArg::Pipe => {
            let (read, write) = pipe()?;
            parent[1] = Some(read);
            cmd.stdout(Stdio::from(dup(&write)?));
            Some(write)
        }
        StdioArg::Fd(fd) => {
            cmd.stdout(Stdio::from(dup(&fd)?));
            Some(fd)
        }
        StdioArg::Stdout => unreachable!("only stderr takes STDOUT"),
    };
    match stderr {
        StdioArg::Inherit => {}
        StdioArg::Null => {
            cmd.stderr(Stdio::null());
        }
        StdioArg::Pipe => {
            let (read, write) = pipe()?;
            parent[2] = Some(read);
            cmd.stderr(Stdio::from(write));
        }
        StdioArg::Fd(fd) => {
            cmd.stderr(Stdio::from(fd));
        }
        StdioArg::Stdout => match stdout_fd {
            Some(fd) => {
                cmd.stderr(Stdio::from(fd));
            }
            None => {
                // stdout is ours (inherited) or /dev/null.
                let out = dup_own_fd(1).map_err(|e| {
                    os_error(
                        e.raw_os_error().unwrap_or(libc::EBADF),
                        format!("stderr=STDOUT: {e}"),
                    )
                })?;
                cmd.stderr(Stdio::from(out));
            }
        },
    }
    Ok(parent)
}

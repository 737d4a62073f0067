//! The parent's side of a started program: [`Child`], whose PID is the program's own.

use std::io::{self, Read};
use std::os::unix::process::ExitStatusExt;
use std::process::{ChildStderr, ChildStdin, ChildStdout, ExitStatus, Output};

use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};

/// A program started by [`Spawn`](super::Spawn). Unlike [`std::process::Child`], its PID is the
/// program's own even when it was forked into a PID namespace.
#[derive(Debug)]
pub struct Child {
    pub(super) pid: i32,
    /// The program's stdin, if it was piped.
    pub stdin: Option<ChildStdin>,
    /// The program's stdout, if it was piped.
    pub stdout: Option<ChildStdout>,
    /// The program's stderr, if it was piped.
    pub stderr: Option<ChildStderr>,
    pub(super) status: Option<ExitStatus>,
}

impl Child {
    /// The program's PID, as the caller sees it.
    pub fn id(&self) -> u32 {
        self.pid as u32
    }

    /// Waits for the program to end (closing its stdin first, like std).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        drop(self.stdin.take());
        loop {
            if let Some(status) = self.wait_once(WaitOptions::empty())? {
                return Ok(status);
            }
        }
    }

    /// Reaps the program if it has ended, without blocking.
    pub fn try_wait(&mut self) -> io::Result<Option<ExitStatus>> {
        self.wait_once(WaitOptions::NOHANG)
    }

    fn wait_once(&mut self, options: WaitOptions) -> io::Result<Option<ExitStatus>> {
        if let Some(status) = self.status {
            return Ok(Some(status));
        }
        let pid =
            Pid::from_raw(self.pid).ok_or_else(|| io::Error::from_raw_os_error(libc::ECHILD))?;
        match rustix::process::waitpid(Some(pid), options) {
            Ok(Some((_, status))) => {
                let status = ExitStatus::from_raw(status.as_raw());
                self.status = Some(status);
                Ok(Some(status))
            }
            Ok(None) => Ok(None),
            Err(Errno::INTR) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends `signal` to the program, unless it has already been reaped.
    pub fn signal(&self, signal: i32) -> io::Result<()> {
        if self.status.is_some() {
            return Ok(());
        }
        let pid =
            Pid::from_raw(self.pid).ok_or_else(|| io::Error::from_raw_os_error(libc::ESRCH))?;
        let signal = Signal::from_named_raw(signal)
            .ok_or_else(|| io::Error::from_raw_os_error(libc::EINVAL))?;
        rustix::process::kill_process(pid, signal).map_err(Into::into)
    }

    /// Sends SIGKILL to the program.
    pub fn kill(&mut self) -> io::Result<()> {
        self.signal(libc::SIGKILL)
    }

    /// Reads the program's piped stdout and stderr to the end and waits for it.
    pub fn wait_with_output(mut self) -> io::Result<Output> {
        drop(self.stdin.take());
        let stderr = self.stderr.take().map(|mut e| {
            std::thread::spawn(move || {
                let mut buf = Vec::new();
                e.read_to_end(&mut buf).map(|_| buf)
            })
        });
        let mut stdout = Vec::new();
        if let Some(mut out) = self.stdout.take() {
            out.read_to_end(&mut stdout)?;
        }
        let stderr = match stderr {
            Some(t) => t
                .join()
                .map_err(|_| io::Error::other("stderr reader panicked"))??,
            None => Vec::new(),
        };
        let status = self.wait()?;
        Ok(Output {
            status,
            stdout,
            stderr,
        })
    }
}

/// Waits for `pid` (a program forked into a pid namespace whose start failed).
pub(super) fn reap(pid: i32) {
    if let Some(pid) = Pid::from_raw(pid) {
        let _ = rustix::process::waitpid(Some(pid), WaitOptions::empty());
    }
}

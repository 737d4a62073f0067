//! The target's seccomp filters, copied through ptrace (see [`super`] for how the
//! target is kept from staying stopped or traced).

use std::io;

use super::{bad, cannot, field};
use crate::sys::{self, SockFilter};
use crate::{procfs, Error, Handles, Result};

/// One seccomp filter of the target: its instructions and the flags it was
/// attached with.
#[derive(Clone, Debug)]
pub(super) struct Filter {
    pub(super) prog: Vec<SockFilter>,
    pub(super) flags: u64,
}

/// How long the target gets to reach its ptrace stop. A frozen target (a
/// paused container) would never report it.
const STOP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// A seized tracee, detached on drop whatever happened in between.
struct Seized {
    pid: i32,
    /// Whether it is in a ptrace stop.
    stopped: bool,
    /// The signal whose delivery the stop was, to be given back on detach.
    pending: i32,
}

impl Seized {
    fn seize(pid: i32) -> io::Result<Seized> {
        sys::ptrace_seize(pid)?;
        Ok(Seized {
            pid,
            stopped: false,
            pending: 0,
        })
    }

    /// Interrupts the tracee and waits (up to [`STOP_TIMEOUT`]) for it to stop.
    fn stop(&mut self) -> io::Result<()> {
        sys::ptrace_interrupt(self.pid)?;
        let deadline = std::time::Instant::now() + STOP_TIMEOUT;
        let status = loop {
            if let Some(status) = sys::poll_tracee(self.pid)? {
                break status;
            }
            if std::time::Instant::now() > deadline {
                return Err(io::Error::other(format!(
                    "it did not stop for ptrace within {} s (is it frozen?)",
                    STOP_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        };
        if !libc::WIFSTOPPED(status) {
            // It exited (or was killed): nothing is traced any more.
            self.pid = 0;
            return Err(io::Error::from_raw_os_error(libc::ESRCH));
        }
        self.stopped = true;
        // PTRACE_EVENT_STOP (the interrupt, or a group stop) leaves nothing to
        // deliver; any other stop is a signal's delivery, which must not be lost.
        const PTRACE_EVENT_STOP: i32 = 128;
        self.pending = if status >> 16 == PTRACE_EVENT_STOP {
            0
        } else {
            libc::WSTOPSIG(status)
        };
        Ok(())
    }
}

impl Drop for Seized {
    fn drop(&mut self) {
        // PTRACE_DETACH needs a stopped tracee. One that never stopped is let go
        // by the kernel when the tracing thread (a thread of its own, below)
        // exits, its pending interrupt cleared.
        if self.pid != 0 && self.stopped {
            let _ = sys::ptrace_detach(self.pid, self.pending);
        }
    }
}

/// Seizes `pid`, stops it, reads its filters (the most recent first) and
/// detaches. Runs on a thread of its own: the tracer is a thread, and whatever
/// happens here, that thread's end detaches the target.
fn read_filters(pid: i32) -> io::Result<Vec<Filter>> {
    let mut tracee = Seized::seize(pid)?;
    tracee.stop()?;
    let mut filters = Vec::new();
    for index in 0.. {
        let prog = match sys::ptrace_seccomp_filter(pid, index) {
            Ok(prog) => prog,
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => break,
            Err(e) => return Err(e),
        };
        let flags = sys::ptrace_seccomp_flags(pid, index)?;
        filters.push(Filter { prog, flags });
    }
    drop(tracee);
    Ok(filters)
}

/// The target's seccomp filters, the oldest first, copied through ptrace.
pub(super) fn capture_seccomp(handles: &Handles, status: &str) -> Result<Vec<Filter>> {
    let what = "seccomp filters";
    let mode = field(status, "Seccomp").ok_or_else(|| bad(what, handles, "no Seccomp line"))?;
    match mode {
        "0" => return Ok(Vec::new()),
        "2" => {}
        "1" => return Err(bad(what, handles, "it is in strict seccomp mode")),
        _ => return Err(bad(what, handles, "unknown seccomp mode")),
    }
    let expected: Option<usize> = field(status, "Seccomp_filters").and_then(|n| n.parse().ok());
    let pid = handles.pid().ok_or(Error::NeedsProcess {
        what: "Spawn::confine",
    })?;
    let threads = procfs::thread_count()?;
    let mut filters = std::thread::Builder::new()
        .name("nsjoin-seccomp".into())
        .spawn(move || read_filters(pid))
        .map_err(|e| cannot(what, handles, e))?
        .join()
        .map_err(|_| bad(what, handles, "the thread reading them panicked"))?
        .map_err(|e| cannot(what, handles, e))?;
    // The caller may go on to enter a user or mount namespace, which the kernel
    // allows only a single-threaded process: wait for the thread to be gone, not
    // just joined.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(1);
    while procfs::thread_count()? > threads && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_micros(100));
    }
    if expected.is_some_and(|n| n != filters.len()) {
        return Err(bad(
            what,
            handles,
            "the number of filters read differs from its Seccomp_filters",
        ));
    }
    // The kernel numbers them from the most recent; they are installed oldest first.
    filters.reverse();
    Ok(filters)
}

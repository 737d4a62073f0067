//! One statement: open a target and enter it, through the process's pidfd in one
//! setns where that can do it.

use std::os::fd::AsFd;

use super::{guarded, Guard};
use crate::plan::{self, Failed};
use crate::{procfs, Kind, KindSet, Result, Target};

/// Opens `target`'s namespaces of `kinds` and enters them on the calling thread
/// until the returned [`Guard`] is dropped. See [`Handles::enter`](crate::Handles::enter).
///
/// ```no_run
/// # fn main() -> nsjoin::Result<()> {
/// use nsjoin::{Kind, Target};
/// let guard = nsjoin::enter(&Target::path("/run/netns/blue"), Kind::Net.into())?;
/// // this thread now sees blue's interfaces
/// guard.leave()?;
/// # Ok(()) }
/// ```
///
/// A process target ([`Target::Pid`] under `/proc`, [`Target::Pidfd`]) entered in
/// kinds that need nothing but the setns itself (net, uts, ipc, pid, cgroup) takes
/// the short way: one setns(2) on the process's pidfd for all of them at once,
/// atomic in the kernel, with no namespace file opened. Every other case, a kernel
/// without setns on pidfds (before 5.8), `NSJOIN_FORCE_PROC=1`, or any failure of
/// the short way (which enters nothing), opens the namespace files as
/// [`Handles::enter`](crate::Handles::enter) does, so the errors are the same either way.
/// [`Guard::entered_by`] says which way was taken.
#[inline]
pub fn enter(target: &Target, kinds: KindSet) -> Result<Guard> {
    match enter_through_pidfd(target, kinds) {
        Some(guard) => Ok(guard),
        None => enter_opening(target, kinds),
    }
}

/// The long way of [`enter`]: open the namespace files, then enter them.
#[inline(never)]
fn enter_opening(target: &Target, kinds: KindSet) -> Result<Guard> {
    target.open(kinds)?.enter(kinds)
}

/// How a [`Guard`] got into its namespaces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnteredBy {
    /// One setns(2) per kind, on namespace fds (a [`Handles`](crate::Handles)).
    NamespaceFds,
    /// One setns(2) on the target process's pidfd, every kind at once
    /// ([`enter`] on a process).
    ProcessPidfd,
}

/// Kinds whose setns(2) changes nothing but the thread's namespace, so that one
/// setns on a pidfd can do them together (mnt also changes root and working
/// directory, and user and time need a single-threaded process).
const PIDFD_KINDS: KindSet =
    KindSet::from_array([Kind::Net, Kind::Uts, Kind::Ipc, Kind::Pid, Kind::Cgroup]);

/// The short way of [`enter`], or `None` where it does not apply or did not work.
/// Its setns is inlined into the caller, as in [`Handles::enter`](crate::Handles::enter).
#[inline(always)]
fn enter_through_pidfd(target: &Target, kinds: KindSet) -> Option<Guard> {
    if kinds.is_empty() || !kinds.difference(PIDFD_KINDS).is_empty() || procfs::forced() {
        return None;
    }
    let opened;
    let pidfd = match target {
        Target::Pid { pid, proc } if proc.as_path() == std::path::Path::new("/proc") => {
            opened = procfs::pidfd_open(*pid).ok()??;
            opened.as_fd()
        }
        Target::Pidfd(fd) => fd.as_fd(),
        _ => return None,
    };
    guarded(kinds, None, EnteredBy::ProcessPidfd, || {
        plan::setns_pidfd(pidfd, kinds).map_err(|errno| Failed {
            kind: kinds.iter().next().unwrap_or(Kind::Net),
            errno,
            done: KindSet::EMPTY,
        })
    })
    .ok()
}

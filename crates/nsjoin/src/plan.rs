//! Which kinds to enter and in what order, and the one routine that enters them.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::io::Errno;
use rustix::thread::move_into_link_name_space;

use crate::{Error, Handles, Kind, KindMap, KindSet, Result};

/// The kinds a call will really enter: what was asked for, less what needs no
/// entering (a user namespace the caller is already in, which setns(2) would refuse
/// with EINVAL; util-linux's `--all` skips it the same way).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Plan {
    enter: KindSet,
    skipped: KindSet,
}

impl Plan {
    /// The kinds that will be entered.
    pub fn kinds(&self) -> KindSet {
        self.enter
    }

    /// The kinds that were asked for but need no entering.
    pub fn skipped(&self) -> KindSet {
        self.skipped
    }

    /// This plan less `kinds`, which the caller enters by other means.
    pub(crate) fn without(self, kinds: KindSet) -> Plan {
        Plan {
            enter: self.enter.difference(kinds),
            skipped: self.skipped,
        }
    }
}

impl Handles {
    /// Works out which of `kinds` to enter. Every kind must have been opened
    /// ([`Error::NotProvided`] otherwise); an empty set means every kind that was
    /// opened (for a namespace file: its kind).
    ///
    /// ```
    /// use nsjoin::{Kind, KindSet, Target};
    /// let me = Target::pid(std::process::id() as i32).open(KindSet::from([Kind::User, Kind::Net])).unwrap();
    /// let plan = me.plan(me.kinds()).unwrap();
    /// assert_eq!(plan.skipped(), KindSet::from(Kind::User)); // already there
    /// assert!(me.plan(KindSet::from(Kind::Uts)).is_err()); // not opened
    /// ```
    pub fn plan(&self, kinds: KindSet) -> Result<Plan> {
        let kinds = if kinds.is_empty() {
            self.kinds()
        } else {
            kinds
        };
        if let Some(kind) = kinds.iter().find(|k| self.get(*k).is_none()) {
            return Err(Error::NotProvided {
                target: self.label().to_owned(),
                kind,
            });
        }
        let mut skipped = KindSet::EMPTY;
        if let Some(user) = self.get(Kind::User).filter(|_| kinds.contains(Kind::User)) {
            if user.is_current()? {
                skipped.insert(Kind::User);
            }
        }
        Ok(Plan {
            enter: kinds.difference(skipped),
            skipped,
        })
    }

    /// [`Handles::plan`] for an API that enters on a thread of a possibly
    /// multithreaded process: the `refused` kinds (asked for by name, or brought in
    /// by an empty set meaning "all opened") are refused with `why`.
    pub(crate) fn plan_for_thread(
        &self,
        kinds: KindSet,
        refused: KindSet,
        why: &'static str,
    ) -> Result<Plan> {
        let refuse = |set: KindSet| match set.intersection(refused).iter().next() {
            Some(kind) => Err(Error::NeedsOtherApi { kind, why }),
            None => Ok(()),
        };
        refuse(kinds)?;
        let plan = self.plan(kinds)?;
        refuse(plan.kinds())?;
        Ok(plan)
    }
}

/// What entering does to the calling thread: one setns(2) per kind. The order, the
/// two passes and the rollback are written against this, so that they can be
/// unit-tested without root or namespaces (the tests below); [`Fds`] is the real one.
pub(crate) trait Setns {
    /// Moves the calling thread into this caller's namespace of `kind`.
    fn setns(&mut self, kind: Kind) -> Result<(), Errno>;
}

/// Borrowed fds to enter, by kind; built before a fork so the child only reads it.
#[derive(Clone, Copy)]
pub(crate) struct Fds<'a>(pub KindMap<BorrowedFd<'a>>);

impl Handles {
    /// Borrowed fds of every namespace, to enter.
    pub(crate) fn fds(&self) -> Fds<'_> {
        let mut fds = KindMap::new();
        for ns in self.iter() {
            fds.insert(ns.kind(), std::os::fd::AsFd::as_fd(ns));
        }
        Fds(fds)
    }
}

impl Setns for Fds<'_> {
    #[inline(always)]
    fn setns(&mut self, kind: Kind) -> Result<(), Errno> {
        let fd = self.0.get(kind).ok_or(Errno::BADF)?;
        setns_kind(*fd, kind)
    }
}

/// `setns(fd, CLONE_NEW<KIND>)`: the kind is passed, as nsenter does, so that the
/// kernel refuses an fd of another kind too.
/// setns(2) on a process's pidfd: every kind of `kinds` at once, or none of them.
#[inline(always)]
pub(crate) fn setns_pidfd(pidfd: BorrowedFd<'_>, kinds: KindSet) -> Result<(), Errno> {
    use rustix::thread::ThreadNameSpaceType as T;
    let flags = T::from_bits_retain(kinds.clone_flags() as u32);
    rustix::thread::move_into_thread_name_spaces(pidfd, flags)
}

#[inline(always)]
pub(crate) fn setns_kind(fd: BorrowedFd<'_>, kind: Kind) -> Result<(), Errno> {
    use rustix::thread::LinkNameSpaceType as T;
    let kind = match kind {
        Kind::Cgroup => T::ControlGroup,
        Kind::Ipc => T::InterProcessCommunication,
        Kind::Mnt => T::Mount,
        Kind::Net => T::Network,
        Kind::Pid => T::ProcessID,
        Kind::Time => T::Time,
        Kind::User => T::User,
        Kind::Uts => T::HostNameAndNISDomainName,
    };
    move_into_link_name_space(fd, Some(kind))
}

/// Which kind failed to enter and why, and which kinds had been entered before it.
/// Plain data, so that it can be produced between fork and exec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Failed {
    pub kind: Kind,
    pub errno: Errno,
    pub done: KindSet,
}

impl Failed {
    pub fn into_error(self) -> Error {
        Error::Enter {
            kind: self.kind,
            source: io::Error::from(self.errno),
        }
    }
}

/// Enters `plan` on the calling thread. Allocation-free (it runs after fork).
///
/// util-linux's two passes: every kind but user, errors ignored; then user and
/// whatever is still missing, errors fatal. A privileged caller thus enters user
/// last and an unprivileged one first.
///
/// Each kind is entered from its own opened fd, never with `setns(pidfd, flags)`:
/// that would enter the namespaces the target is in *now*, which differ from the
/// ones opened, identified and kind-checked if the target has moved since (it may
/// have exec'd `unshare`). The pidfd's job is the liveness check at open time.
#[inline(always)]
pub(crate) fn enter(to: &mut impl Setns, plan: Plan) -> Result<(), Failed> {
    let kinds = plan.kinds();
    if kinds.is_empty() {
        return Ok(());
    }
    let mut done = KindSet::EMPTY;
    for kind in Kind::ENTER_ORDER {
        if kind != Kind::User && kinds.contains(kind) && to.setns(kind).is_ok() {
            done.insert(kind);
        }
    }
    for kind in Kind::ENTER_ORDER {
        if kinds.contains(kind) && !done.contains(kind) {
            to.setns(kind)
                .map_err(|errno| Failed { kind, errno, done })?;
            done.insert(kind);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread that records each setns and refuses some kinds: on the first try
    /// only (`until_user`: they work once user is entered), or always.
    struct Recorder {
        calls: Vec<Kind>,
        until_user: KindSet,
        never: KindSet,
    }

    impl Setns for Recorder {
        fn setns(&mut self, kind: Kind) -> Result<(), Errno> {
            self.calls.push(kind);
            let in_user = self.calls[..self.calls.len() - 1].contains(&Kind::User);
            if self.never.contains(kind) || (self.until_user.contains(kind) && !in_user) {
                return Err(Errno::PERM);
            }
            Ok(())
        }
    }

    fn recorder(until_user: KindSet, never: KindSet) -> Recorder {
        Recorder {
            calls: Vec::new(),
            until_user,
            never,
        }
    }

    fn plan(kinds: &[Kind]) -> Plan {
        Plan {
            enter: KindSet::from_iter(kinds.iter().copied()),
            skipped: KindSet::EMPTY,
        }
    }

    #[test]
    fn a_privileged_caller_enters_user_last_in_nsenters_order() {
        let mut r = recorder(KindSet::EMPTY, KindSet::EMPTY);
        let all = plan(&Kind::ALL);
        enter(&mut r, all).unwrap();
        let mut want: Vec<Kind> = Kind::ENTER_ORDER
            .into_iter()
            .filter(|k| *k != Kind::User)
            .collect();
        want.push(Kind::User);
        assert_eq!(r.calls, want);
    }

    #[test]
    fn an_unprivileged_caller_retries_after_user() {
        // Everything but user needs the user namespace's capabilities.
        let needs_user = KindSet::ALL.difference(KindSet::from(Kind::User));
        let mut r = recorder(needs_user, KindSet::EMPTY);
        enter(&mut r, plan(&[Kind::Net, Kind::User, Kind::Uts])).unwrap();
        assert_eq!(
            r.calls,
            [Kind::Uts, Kind::Net, Kind::User, Kind::Uts, Kind::Net]
        );
    }

    #[test]
    fn a_failure_names_the_kind_and_what_was_entered_before_it() {
        let mut r = recorder(KindSet::EMPTY, KindSet::from(Kind::Mnt));
        let failed = enter(&mut r, plan(&[Kind::Net, Kind::Mnt, Kind::Uts])).unwrap_err();
        assert_eq!(
            failed,
            Failed {
                kind: Kind::Mnt,
                errno: Errno::PERM,
                done: KindSet::from([Kind::Net, Kind::Uts]),
            }
        );
        // Mnt was tried in both passes, the others once.
        assert_eq!(r.calls.iter().filter(|k| **k == Kind::Mnt).count(), 2);
    }

    #[test]
    fn nothing_to_enter_calls_nothing() {
        let mut r = recorder(KindSet::EMPTY, KindSet::ALL);
        enter(&mut r, plan(&[])).unwrap();
        assert!(r.calls.is_empty());
    }
}

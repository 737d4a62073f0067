//! Which kinds to enter and in what order, and the one routine that enters them.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::io::Errno;
use rustix::thread::move_into_link_name_space;

use crate::{Error, Handles, Kind, KindSet, Result};

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
                target: self.label.clone(),
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

    pub(crate) fn fds(&self) -> Fds<'_> {
        let mut ns = [None; 8];
        for n in self.iter() {
            ns[n.kind() as usize] = Some(n.as_fd());
        }
        Fds { ns }
    }
}

/// Borrowed fds to enter, by kind; built before a fork so the child only reads it.
#[derive(Clone, Copy)]
pub(crate) struct Fds<'a> {
    pub ns: [Option<BorrowedFd<'a>>; 8],
}

/// Which kind failed to enter and why, and which kinds had been entered before it.
/// Plain data, so that it can be produced between fork and exec.
#[derive(Clone, Copy, Debug)]
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
pub(crate) fn enter(fds: &Fds<'_>, plan: Plan) -> Result<(), Failed> {
    let kinds = plan.kinds();
    if kinds.is_empty() {
        return Ok(());
    }
    let mut done = KindSet::EMPTY;
    for kind in Kind::ENTER_ORDER {
        if kind != Kind::User && kinds.contains(kind) && setns(fds, kind).is_ok() {
            done.insert(kind);
        }
    }
    for kind in Kind::ENTER_ORDER {
        if kinds.contains(kind) && !done.contains(kind) {
            setns(fds, kind).map_err(|errno| Failed { kind, errno, done })?;
            done.insert(kind);
        }
    }
    Ok(())
}

fn setns(fds: &Fds<'_>, kind: Kind) -> Result<(), Errno> {
    let fd = fds.ns[kind as usize].ok_or(Errno::BADF)?;
    move_into_link_name_space(fd, None)
}

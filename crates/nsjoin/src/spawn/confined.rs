//! [`Spawn::confine`]: the program gets the target process's security context
//! (read by [`crate::confine`]) instead of the caller's credentials, and the
//! target's cgroup, environment, root and working directory.

use std::io;

use super::{Dir, Spawn};
use crate::confine::Confinement;
use crate::{Error, Kind, KindSet, Result};

impl<'a> Spawn<'a> {
    /// Gives the program the target process's security context, read from it now
    /// (what `docker exec` gives a program in a container, for any process): its
    /// user and group IDs and groups, capability sets, `no_new_privs`, seccomp
    /// filters, LSM exec label, resource limits and `oom_score_adj`, and also its
    /// cgroup, environment, root and working directory (as [`Spawn::join_cgroup`],
    /// [`Spawn::target_env`], [`Spawn::root`] and [`Spawn::cwd`] with
    /// [`Dir::Target`]). What cannot be copied is an error naming it. Options
    /// that contradict it ([`Spawn::user`], [`Spawn::group`], [`Spawn::groups`],
    /// [`Spawn::keep_caps`], another root or working directory) are refused.
    /// Needs a process target and, for its seccomp filters, the right to ptrace
    /// it and CAP_SYS_ADMIN.
    pub fn confine(&mut self, yes: bool) -> &mut Self {
        self.confine = yes;
        self
    }

    /// With [`Spawn::confine`]: the spawner that takes the target's cgroup,
    /// environment, root and cwd and no credentials of its own, and the target's
    /// context to apply after it.
    pub(super) fn confined(&self) -> Result<Option<(Spawn<'a>, Confinement)>> {
        if !self.confine {
            return Ok(None);
        }
        let contradicting = [
            (self.uid.is_some(), "a user ID"),
            (self.gid.is_some(), "a group ID"),
            (self.groups.is_some(), "supplementary groups"),
            (self.keep_caps, "keep_caps"),
            (
                self.root.as_ref().is_some_and(|d| *d != Dir::Target),
                "another root",
            ),
            (
                self.cwd.as_ref().is_some_and(|d| *d != Dir::Target),
                "another working directory",
            ),
            (
                self.host_tools.is_some(),
                "host tools (this machine's root)",
            ),
        ];
        if let Some((_, what)) = contradicting.iter().find(|(set, _)| *set) {
            return Err(Error::sys(
                format!("confining to the target's context contradicts {what}"),
                io::Error::from_raw_os_error(libc::EINVAL),
            ));
        }
        let plan = self.handles.plan(self.kinds.unwrap_or(KindSet::EMPTY))?;
        let in_user = plan.kinds().contains(Kind::User);
        let confinement = Confinement::capture(self.handles, in_user)?;
        let mut spawn = self.clone();
        spawn.confine = false;
        spawn.root_in_user_namespace = false;
        spawn.join_cgroup = true;
        spawn.target_env = true;
        spawn.root = Some(Dir::Target);
        spawn.cwd = Some(Dir::Target);
        Ok(Some((spawn, confinement)))
    }
}

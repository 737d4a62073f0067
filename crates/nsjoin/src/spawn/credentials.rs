//! Who the program runs as: nsenter's rules for user and group IDs, worked out in
//! the parent ([`Spawn::credentials`]) and applied in the child after entering
//! ([`ChildPlan::switch_credentials`]).

use std::io;

use rustix::io::Errno;
use rustix::process::{Gid, Uid};

use super::pre_exec::ChildPlan;
use super::report::Step;
use super::Spawn;
use crate::{procfs, sys, Error, Kind, Plan, Result};

/// A user or group ID for the program: a number, or the target process's own (the
/// owner of its `/proc/PID`: its effective IDs, nsenter's `-S follow`/`-G follow`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Id {
    /// This ID.
    Of(u32),
    /// The target process's.
    Target,
}

impl<'a> Spawn<'a> {
    /// Switches to this user ID after entering (setresuid).
    pub fn uid(&mut self, uid: u32) -> &mut Self {
        self.user(Id::Of(uid))
    }

    /// Switches to this user ID after entering; [`Id::Target`] is the target
    /// process's.
    pub fn user(&mut self, id: Id) -> &mut Self {
        self.uid = Some(id);
        self
    }

    /// Switches to this group ID after entering; [`Id::Target`] is the target
    /// process's. See [`Spawn::gid`] for supplementary groups.
    pub fn group(&mut self, id: Id) -> &mut Self {
        self.gid = Some(id);
        self
    }

    /// Switches to this group ID after entering (setresgid). Unless
    /// [`Spawn::groups`] says otherwise, supplementary groups are dropped (with
    /// [`Spawn::uid`] too): before entering and again after, as util-linux does;
    /// only if both are refused (a user namespace whose `setgroups` is `deny`,
    /// entered by a caller who may not drop them outside) is it an error.
    pub fn gid(&mut self, gid: u32) -> &mut Self {
        self.group(Id::Of(gid))
    }

    /// Sets the supplementary groups after entering (setgroups).
    pub fn groups(&mut self, groups: impl Into<Vec<u32>>) -> &mut Self {
        self.groups = Some(groups.into());
        self
    }

    flags! {
        /// nsenter's rule for credentials: when a user namespace is entered, the
        /// program becomes uid and gid 0 in it, except for an ID set with
        /// [`Spawn::user`]/[`Spawn::group`]. `false` (the default) is nsenter's
        /// `--preserve-credentials`: the program keeps the caller's IDs.
        root_in_user_namespace;
        /// A user namespace the caller is already in is skipped by default (as `--all`
        /// does); with this, asking for one is the error setns(2) gives and nsenter
        /// `-U` reports: `reassociate to namespace 'ns/user' failed: Invalid argument`.
        strict_user;
        /// Keeps the permitted capabilities across a switch to a non-root
        /// [`Spawn::uid`], as ambient capabilities (nsenter `--keep-caps`).
        keep_caps;
    }

    /// The IDs, groups and capabilities the child takes once `plan` is entered.
    pub(super) fn credentials(&self, plan: &Plan) -> Result<Credentials> {
        if self.strict_user && plan.skipped().contains(Kind::User) {
            return Err(Error::Enter {
                kind: Kind::User,
                source: io::Error::from_raw_os_error(libc::EINVAL),
            });
        }
        let as_root =
            (self.root_in_user_namespace && plan.kinds().contains(Kind::User)).then_some(0);
        let owner = || self.handles.process_owner();
        let uid = match self.uid {
            Some(Id::Of(id)) => Some(id),
            Some(Id::Target) => Some(owner()?.0),
            None => as_root,
        };
        let gid = match self.gid {
            Some(Id::Of(id)) => Some(id),
            Some(Id::Target) => Some(owner()?.1),
            None => as_root,
        };
        Ok(Credentials {
            groups: self
                .groups
                .as_ref()
                .map(|g| g.iter().map(|&g| Gid::from_raw(g)).collect()),
            clear_groups: self.groups.is_none() && (gid.is_some() || uid.is_some()),
            gid: gid.map(Gid::from_raw),
            uid: uid.map(Uid::from_raw),
            keep_caps: self.keep_caps,
            cap_last: if self.keep_caps {
                procfs::cap_last_cap()
            } else {
                0
            },
        })
    }
}

/// The credentials part of the child's plan.
pub(super) struct Credentials {
    groups: Option<Vec<Gid>>,
    clear_groups: bool,
    gid: Option<Gid>,
    uid: Option<Uid>,
    keep_caps: bool,
    cap_last: u32,
}

impl ChildPlan {
    /// Supplementary groups are dropped twice, as util-linux does: here, before
    /// entering (still allowed in the caller's user namespace), and in
    /// [`ChildPlan::switch_credentials`] (the only chance for a caller who gains
    /// the right in the new one). It is an error only if both fail. Whether this
    /// first drop was made.
    pub(super) fn drop_groups_before_entering(&self) -> bool {
        self.creds.clear_groups && rustix::thread::set_thread_groups(&[]).is_ok()
    }

    /// Runs in the child after entering: groups, then gid, then uid, then
    /// capabilities. System calls only, no allocation.
    pub(super) fn switch_credentials(&self, groups_dropped: bool) -> io::Result<()> {
        let creds = &self.creds;
        if let Some(groups) = &creds.groups {
            rustix::thread::set_thread_groups(groups).map_err(|e| self.fail(Step::Groups, e))?;
        } else if creds.clear_groups {
            match rustix::thread::set_thread_groups(&[]) {
                Ok(()) => {}
                Err(_) if groups_dropped => {}
                Err(e) => return Err(self.fail(Step::Groups, e)),
            }
        }
        if let Some(gid) = creds.gid {
            rustix::thread::set_thread_res_gid(gid, gid, gid)
                .map_err(|e| self.fail(Step::Gid, e))?;
        }
        if let Some(uid) = creds.uid {
            if creds.keep_caps {
                rustix::thread::set_keep_capabilities(true)
                    .map_err(|e| self.fail(Step::Caps, e))?;
            }
            rustix::thread::set_thread_res_uid(uid, uid, uid)
                .map_err(|e| self.fail(Step::Uid, e))?;
        }
        if creds.keep_caps {
            permitted_to_ambient(creds.cap_last).map_err(|e| self.fail(Step::Caps, e))?;
        }
        Ok(())
    }
}

fn permitted_to_ambient(cap_last: u32) -> Result<(), Errno> {
    let mut sets = rustix::thread::capabilities(None)?;
    sets.inheritable = sets.permitted;
    sets.effective = sets.permitted;
    rustix::thread::set_capabilities(None, sets)?;
    for cap in 0..=cap_last.min(63) {
        if sets.permitted.bits() & (1 << cap) != 0 {
            sys::raise_ambient_cap(cap)
                .map_err(|e| Errno::from_io_error(&e).unwrap_or(Errno::PERM))?;
        }
    }
    Ok(())
}

//! A process's security context, taken from it at run time and given to a program
//! started inside its namespaces ([`crate::Spawn::confine`], `nsjoin --confine`):
//! what `docker exec` gives a program in a container, for any process.
//!
//! [`Confinement::capture`] reads, in the parent: the target's user and group IDs
//! and supplementary groups, its capability sets (bounding, permitted, effective,
//! inheritable, ambient) and `no_new_privs` (`/proc/PID/status`), its seccomp
//! filters (ptrace, below), its LSM exec label where an LSM is active, its
//! resource limits (`/proc/PID/limits`) and its `oom_score_adj`. Its cgroup,
//! environment, root and working directory are taken by [`crate::Spawn`]'s own
//! options. Anything that cannot be copied is an error naming it: never a partial
//! confinement.
//!
//! Seccomp filters are copied with `PTRACE_SECCOMP_GET_FILTER`, which needs the
//! target in a ptrace stop: it is seized (`PTRACE_SEIZE`, which does not stop it),
//! interrupted (`PTRACE_INTERRUPT`), read, and detached, whatever failed in
//! between (`seccomp::Seized` detaches on drop; a signal that arrived meanwhile is given
//! back). This is done on a short-lived thread of its own: a target that does not
//! stop within 5 s (a frozen one) is an error, and the thread's end makes the
//! kernel let it go, its pending interrupt cleared, as it would if nsjoin died.
//!
//! [`Confinement::apply`] runs in the child between fork and exec, after the
//! namespaces, root and working directory, with system calls only. Its order:
//! resource limits, `oom_score_adj` and the LSM exec label (while still
//! privileged); groups, gid and uid with `PR_SET_KEEPCAPS`; the bounding set;
//! the permitted, effective and inheritable sets; the ambient set; then
//! `no_new_privs` and the seccomp filters last, in the order they were attached.
//! A target without `no_new_privs` gets its filters before the capability sets
//! are lowered (installing a filter needs `no_new_privs` or CAP_SYS_ADMIN), so the
//! last few calls (capset, prctl, execve) pass through them, as they do when a
//! container runtime starts a program.
//!
//! What cannot be copied on any kernel: the securebits of another process (no
//! interface reads them); the program gets none set, the default every container
//! runtime leaves.

mod cgroup_v1;
mod parse;
mod seccomp;

use std::ffi::CStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Resource, Rlimit};
use rustix::thread::{CapabilitySet, CapabilitySets};

use self::parse::{caps, field, ids, map_inside, parse_limits, parse_map};
use self::seccomp::{capture_seccomp, Filter};
use crate::{procfs, sys, Error, Handles, Result};

/// The bound on a `/proc/PID/status`, `limits`, `uid_map` or attr file read here:
/// far above any real one.
const PROC_LIMIT: usize = 64 << 10;

/// Where to write the LSM exec label, relative to `/proc/thread-self`.
#[derive(Clone, Debug)]
struct Lsm {
    file: &'static CStr,
    value: Vec<u8>,
}

/// A target's security context, read from it, ready to be applied between fork
/// and exec without allocating.
#[derive(Debug)]
pub(crate) struct Confinement {
    /// Real, effective, saved.
    uid: [u32; 3],
    gid: [u32; 3],
    /// `None` where they are the caller's already (the program has them): a user
    /// namespace whose `setgroups` is `deny` refuses even setting the same ones.
    groups: Option<Vec<rustix::process::Gid>>,
    inheritable: u64,
    permitted: u64,
    effective: u64,
    bounding: u64,
    ambient: u64,
    no_new_privs: bool,
    /// In the order they were attached (the oldest first).
    filters: Vec<Filter>,
    lsm: Option<Lsm>,
    rlimits: Vec<(Resource, Rlimit)>,
    oom_score_adj: Vec<u8>,
    /// `cgroup.procs` of each cgroup v1 group of the target.
    cgroups_v1: Vec<rustix::fd::OwnedFd>,
    /// This process's pinned `/proc`: `thread-self` there is the program itself
    /// (a `/proc` of an ancestor pid namespace), whatever mount namespace it is in.
    proc_root: BorrowedFd<'static>,
    cap_last: u32,
}

/// What the child was doing when applying the confinement failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub(crate) enum Step {
    Rlimit = 0,
    OomScoreAdj = 1,
    Lsm = 2,
    Groups = 3,
    Gid = 4,
    Uid = 5,
    Bounding = 6,
    Capabilities = 7,
    Ambient = 8,
    NoNewPrivs = 9,
    Seccomp = 10,
    Securebits = 11,
    CgroupV1 = 12,
}

impl Step {
    const ALL: [Step; 13] = [
        Step::Rlimit,
        Step::OomScoreAdj,
        Step::Lsm,
        Step::Groups,
        Step::Gid,
        Step::Uid,
        Step::Bounding,
        Step::Capabilities,
        Step::Ambient,
        Step::NoNewPrivs,
        Step::Seccomp,
        Step::Securebits,
        Step::CgroupV1,
    ];

    pub(crate) fn from_u32(n: u32) -> Option<Step> {
        Step::ALL.get(n as usize).copied()
    }

    /// For the error message: `cannot apply the target's {what}`.
    pub(crate) fn what(self) -> &'static str {
        match self {
            Step::Rlimit => "resource limits",
            Step::OomScoreAdj => "oom_score_adj",
            Step::Lsm => "LSM label",
            Step::Groups => "supplementary groups",
            Step::Gid => "group IDs",
            Step::Uid => "user IDs",
            Step::Bounding => "capability bounding set",
            Step::Capabilities => "capability sets",
            Step::Ambient => "ambient capabilities",
            Step::NoNewPrivs => "no_new_privs",
            Step::Seccomp => "seccomp filters",
            Step::Securebits => "securebits (none)",
            Step::CgroupV1 => "cgroup v1 groups",
        }
    }
}

pub(super) fn cannot(what: &str, handles: &Handles, source: impl Into<io::Error>) -> Error {
    Error::sys(
        format!("cannot copy the {what} of {}", handles.label()),
        source,
    )
}

pub(super) fn bad(what: &str, handles: &Handles, why: &str) -> Error {
    cannot(what, handles, io::Error::other(why.to_owned()))
}

fn read_text(handles: &Handles, name: &str, what: &'static str) -> Result<String> {
    let data = handles.read_proc_file(name, PROC_LIMIT, what)?;
    String::from_utf8(data).map_err(|_| bad(what, handles, "not text"))
}

fn lsm_enabled(name: &str) -> bool {
    match name {
        "apparmor" => std::fs::read_to_string("/sys/module/apparmor/parameters/enabled")
            .is_ok_and(|s| s.trim() == "Y"),
        "selinux" => std::path::Path::new("/sys/fs/selinux/enforce").exists(),
        _ => false,
    }
}

/// The target's LSM exec label, where an LSM with labels is active.
fn capture_lsm(handles: &Handles) -> Result<Option<Lsm>> {
    let what = "LSM label";
    let data = match handles.read_proc_file("attr/current", PROC_LIMIT, what) {
        Ok(data) => data,
        // No LSM keeps process labels: nothing to copy.
        Err(e) if matches!(e.raw_os_error(), Some(libc::EINVAL | libc::ENOENT)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let label: Vec<u8> = data
        .split(|&b| b == b'\n' || b == 0)
        .next()
        .unwrap_or_default()
        .to_vec();
    if label.is_empty() {
        return Ok(None);
    }
    if lsm_enabled("apparmor") {
        // "PROFILE (MODE)", or "unconfined".
        let text = String::from_utf8_lossy(&label);
        let profile = text.rsplit_once(" (").map_or(&*text, |(p, _)| p);
        if profile == "unconfined" {
            return Ok(None);
        }
        let stacked = rustix::fs::statat(
            procfs::proc_root()?,
            "thread-self/attr/apparmor/exec",
            rustix::fs::AtFlags::empty(),
        );
        let file = if stacked.is_ok() {
            c"thread-self/attr/apparmor/exec"
        } else {
            c"thread-self/attr/exec"
        };
        return Ok(Some(Lsm {
            file,
            value: format!("exec {profile}").into_bytes(),
        }));
    }
    if lsm_enabled("selinux") {
        return Ok(Some(Lsm {
            file: c"thread-self/attr/exec",
            value: label,
        }));
    }
    Err(bad(
        what,
        handles,
        &format!(
            "it has the label {:?} of an LSM nsjoin cannot set",
            String::from_utf8_lossy(&label)
        ),
    ))
}

impl Confinement {
    /// Reads the security context of the target process of `handles`. With
    /// `in_user_namespace`, the program will be in the target's user namespace,
    /// and the IDs are translated into it.
    pub(crate) fn capture(handles: &Handles, in_user_namespace: bool) -> Result<Confinement> {
        if handles.pid().is_none() {
            return Err(Error::NeedsProcess {
                what: "Spawn::confine",
            });
        }
        let status = read_text(handles, "status", "credentials")?;
        let missing = |what: &str| bad(what, handles, "missing from its /proc/PID/status");
        let mut uid = ids(&status, "Uid").ok_or_else(|| missing("user IDs"))?;
        let mut gid = ids(&status, "Gid").ok_or_else(|| missing("group IDs"))?;
        let mut groups: Vec<u32> = field(&status, "Groups")
            .ok_or_else(|| missing("supplementary groups"))?
            .split_whitespace()
            .map(str::parse)
            .collect::<std::result::Result<_, _>>()
            .map_err(|_| bad("supplementary groups", handles, "not numbers"))?;
        let cap = |name: &str| caps(&status, name).ok_or_else(|| missing("capability sets"));
        let (inheritable, permitted, effective, bounding, ambient) = (
            cap("CapInh")?,
            cap("CapPrm")?,
            cap("CapEff")?,
            cap("CapBnd")?,
            cap("CapAmb")?,
        );
        // A bounding set can only shrink: one the caller lacks a capability of
        // cannot be given to the program (the other sets fail on their own in
        // capset, but a smaller bounding set would go unnoticed). Entering a user
        // namespace gives the program a full one there.
        let cap_last = procfs::cap_last_cap();
        let mut lacking = Vec::new();
        for cap in 0..=cap_last.min(63) {
            if !in_user_namespace
                && bounding & (1 << cap) != 0
                && !sys::bounding_has(cap).unwrap_or(false)
            {
                lacking.push(cap.to_string());
            }
        }
        if !lacking.is_empty() {
            return Err(bad(
                "capability bounding set",
                handles,
                &format!(
                    "it has capabilities nsjoin's own bounding set lacks (numbers {})",
                    lacking.join(", ")
                ),
            ));
        }
        let no_new_privs = match field(&status, "NoNewPrivs") {
            Some("0") => false,
            Some("1") => true,
            _ => return Err(missing("no_new_privs")),
        };
        let mut ours: Vec<u32> = rustix::process::getgroups()
            .map_err(|e| cannot("supplementary groups", handles, e))?
            .into_iter()
            .map(|g| g.as_raw())
            .collect();
        let mut theirs = groups.clone();
        ours.sort_unstable();
        ours.dedup();
        theirs.sort_unstable();
        theirs.dedup();
        let same_groups = ours == theirs;
        if in_user_namespace {
            let uid_map = parse_map(&read_text(handles, "uid_map", "user IDs")?);
            let gid_map = parse_map(&read_text(handles, "gid_map", "group IDs")?);
            let unmapped = |what| bad(what, handles, "not mapped in its user namespace");
            for id in &mut uid {
                *id = map_inside(&uid_map, *id).ok_or_else(|| unmapped("user IDs"))?;
            }
            for id in gid.iter_mut().chain(groups.iter_mut()) {
                *id = map_inside(&gid_map, *id).ok_or_else(|| unmapped("group IDs"))?;
            }
        }
        let limits = read_text(handles, "limits", "resource limits")?;
        let rlimits = parse_limits(&limits).map_err(|why| bad("resource limits", handles, &why))?;
        let oom = read_text(handles, "oom_score_adj", "oom_score_adj")?;
        let oom_score_adj = oom.trim().as_bytes().to_vec();
        let lsm = capture_lsm(handles)?;
        let cgroups_v1 = cgroup_v1::open(handles)?;
        let filters = capture_seccomp(handles, &status)?;
        // Everything above was read through the PID; if it was reused meanwhile,
        // none of it is the target's.
        if !handles.is_alive() {
            return Err(Error::TargetExited {
                target: handles.label().to_owned(),
            });
        }
        Ok(Confinement {
            uid,
            gid,
            groups: (!same_groups).then(|| {
                groups
                    .into_iter()
                    .map(rustix::process::Gid::from_raw)
                    .collect()
            }),
            inheritable,
            permitted,
            effective,
            bounding,
            ambient,
            no_new_privs,
            filters,
            lsm,
            rlimits,
            oom_score_adj,
            cgroups_v1,
            proc_root: procfs::proc_root()?,
            cap_last,
        })
    }

    /// Applies the context to the calling process. Runs between fork and exec:
    /// system calls only, no allocation.
    pub(crate) fn apply(&self) -> std::result::Result<(), (Step, Errno)> {
        let at = |step: Step| move |e: Errno| (step, e);
        let io_at = |step: Step| {
            move |e: io::Error| (step, Errno::from_io_error(&e).unwrap_or(Errno::PERM))
        };
        for procs in &self.cgroups_v1 {
            rustix::io::write(procs, b"0").map_err(at(Step::CgroupV1))?;
        }
        for &(resource, limit) in &self.rlimits {
            rustix::process::setrlimit(resource, limit).map_err(at(Step::Rlimit))?;
        }
        self.write_proc(c"thread-self/oom_score_adj", &self.oom_score_adj)
            .map_err(at(Step::OomScoreAdj))?;
        if let Some(lsm) = &self.lsm {
            self.write_proc(lsm.file, &lsm.value)
                .map_err(at(Step::Lsm))?;
        }
        // The caller's securebits are not the target's (which cannot be read): none,
        // as every container runtime leaves them. Cleared before KEEP_CAPS, itself
        // a securebit, is set below.
        let bits = rustix::thread::capabilities_secure_bits().map_err(at(Step::Securebits))?;
        if !bits.is_empty() {
            rustix::thread::set_capabilities_secure_bits(
                rustix::thread::CapabilitiesSecureBits::empty(),
            )
            .map_err(at(Step::Securebits))?;
        }
        // Keep the permitted set across the switch to another uid.
        rustix::thread::set_keep_capabilities(true).map_err(at(Step::Capabilities))?;
        if let Some(groups) = &self.groups {
            rustix::thread::set_thread_groups(groups).map_err(at(Step::Groups))?;
        }
        let [r, e, s] = self.gid.map(rustix::process::Gid::from_raw);
        rustix::thread::set_thread_res_gid(r, e, s).map_err(at(Step::Gid))?;
        let [r, e, s] = self.uid.map(rustix::process::Uid::from_raw);
        rustix::thread::set_thread_res_uid(r, e, s).map_err(at(Step::Uid))?;
        // A uid switch empties the effective set: take it back from the permitted
        // one for the next steps (dropping bounding capabilities needs CAP_SETPCAP).
        let mut now = rustix::thread::capabilities(None).map_err(at(Step::Capabilities))?;
        now.effective = now.permitted;
        rustix::thread::set_capabilities(None, now).map_err(at(Step::Capabilities))?;
        for cap in 0..=self.cap_last.min(63) {
            if self.bounding & (1 << cap) == 0 {
                sys::drop_bounding_cap(cap).map_err(io_at(Step::Bounding))?;
            }
        }
        if !self.no_new_privs {
            // Without no_new_privs, a filter needs CAP_SYS_ADMIN: attach them while
            // the effective set still has it.
            self.install_filters().map_err(io_at(Step::Seccomp))?;
        }
        let flags = CapabilitySet::from_bits_retain;
        rustix::thread::set_capabilities(
            None,
            CapabilitySets {
                effective: flags(self.effective),
                permitted: flags(self.permitted),
                inheritable: flags(self.inheritable),
            },
        )
        .map_err(at(Step::Capabilities))?;
        rustix::thread::clear_ambient_capability_set().map_err(at(Step::Ambient))?;
        for cap in 0..=self.cap_last.min(63) {
            if self.ambient & (1 << cap) != 0 {
                sys::raise_ambient_cap(cap).map_err(io_at(Step::Ambient))?;
            }
        }
        rustix::thread::set_keep_capabilities(false).map_err(at(Step::Capabilities))?;
        if self.no_new_privs {
            rustix::thread::set_no_new_privs(true).map_err(at(Step::NoNewPrivs))?;
            self.install_filters().map_err(io_at(Step::Seccomp))?;
        }
        Ok(())
    }

    fn install_filters(&self) -> io::Result<()> {
        for filter in &self.filters {
            sys::seccomp_set_filter(&filter.prog, filter.flags)?;
        }
        Ok(())
    }

    /// Writes `value` to a file of this process under the pinned `/proc`.
    fn write_proc(&self, file: &CStr, value: &[u8]) -> std::result::Result<(), Errno> {
        let fd = rustix::fs::openat(
            self.proc_root.as_fd(),
            file,
            OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let written = rustix::io::write(&fd, value)?;
        if written != value.len() {
            return Err(Errno::IO);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_comes_back_from_its_number() {
        for step in Step::ALL {
            assert_eq!(Step::from_u32(step as u32), Some(step));
        }
        assert_eq!(Step::from_u32(99), None);
    }
}

//! This machine's tools inside a target that has none ([`Spawn::host_tools`](crate::Spawn::host_tools)).
//!
//! The program gets every namespace of the target but the mount namespace. In its
//! place it gets a private copy of the caller's, made for it:
//!
//! 1. On a thread of its own (root and working directory unshared, so the rest of
//!    the process is untouched), `prepare` unshares a mount namespace and makes
//!    it a recursive slave: the host's mounts still show, nothing done in it goes
//!    back out.
//! 2. It enters the target's mount namespace just long enough to clone the
//!    target's root with `open_tree(OPEN_TREE_CLONE | AT_RECURSIVE)`: the kernel
//!    clones only mounts of the caller's own mount namespace (EINVAL otherwise),
//!    so the clone must be made from inside. The clone is a detached tree; the
//!    target's mount table does not change.
//! 3. Back in the private namespace, `move_mount` attaches the tree at DIR
//!    (default [`DEFAULT_DIR`]) and marks it a recursive slave. If DIR does not
//!    exist, nothing is created on the host: its deepest existing ancestor is
//!    covered by a tmpfs holding the ancestor's entries (each bind-mounted back,
//!    symbolic links copied) and the missing directories.
//! 4. In the child, after it has entered the other namespaces, `Prepared::enter`
//!    joins the private namespace; after the fork into the target's pid namespace,
//!    `Prepared::after_fork` mounts a fresh `/proc` (it shows the pid namespace
//!    of the process that mounts it) and `/sys` (the network namespace likewise),
//!    then enters the target's user namespace last, because a process in it has no
//!    right to mount in a namespace owned by the caller's.
//!
//! The private namespace is held by the child's fds and the program only: it ends
//! with them, and takes every mount made here with it.
//!
//! Kernels: `open_tree`/`move_mount` and attaching a detached tree into the
//! caller's mount namespace need 5.2. The tree must be attached to a mount of the
//! caller's namespace: 6.15 also allows attaching to another detached tree, which
//! this module does not rely on (the tmpfs is attached first, then filled).

use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::{Component, Path};

use rustix::fs::{Mode, OFlags, CWD};
use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, MoveMountFlags, OpenTreeFlags};

use crate::{plan, procfs, sys, Error, Handles, Kind, KindMap, Result};

mod skeleton;
use skeleton::{cover_with_skeleton, split_existing};

/// Where the target's root shows when no directory is given (`--host-tools`).
pub const DEFAULT_DIR: &str = "/target";

/// The `PATH` given to a program run with [`Spawn::host_tools`] and the target's
/// environment, when the caller has none.
///
/// [`Spawn::host_tools`]: crate::Spawn::host_tools
const FALLBACK_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Sets `PATH` in `env` (the target's environment) to this process's own: with
/// this machine's root, the target's `PATH` would name directories of the target.
pub fn use_host_path(env: &mut Vec<(OsString, OsString)>) {
    let path = std::env::var_os("PATH").unwrap_or_else(|| FALLBACK_PATH.into());
    env.retain(|(k, _)| k != "PATH");
    env.push(("PATH".into(), path));
}

/// Everything the child needs, made before the fork.
#[derive(Debug)]
pub(crate) struct Prepared {
    /// The private mount namespace.
    mnt: OwnedFd,
    /// Its root, as the program must see it.
    root: OwnedFd,
    /// DIR joined with the target's working directory, if it was asked for.
    pub(crate) cwd: Option<CString>,
    /// The caller's working directory, kept when no other is asked for (as
    /// without a mount namespace), if it is there in the private namespace.
    caller_cwd: Option<CString>,
    /// Mount a fresh `/proc` after the fork into the target's pid namespace.
    proc: bool,
    /// Mount a fresh `/sys` (the target's network namespace was entered).
    sys: bool,
    /// Enter the target's user namespace last.
    user: bool,
}

/// A step of [`Prepared`] in the child that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChildStep {
    /// Joining the private mount namespace or changing root to it.
    Enter,
    /// Mounting `/proc`.
    Proc,
    /// Mounting `/sys`.
    Sys,
}

impl ChildStep {
    pub(crate) const ALL: [ChildStep; 3] = [ChildStep::Enter, ChildStep::Proc, ChildStep::Sys];

    pub(crate) fn message(self) -> &'static str {
        match self {
            ChildStep::Enter => "cannot enter the private mount namespace for --host-tools",
            ChildStep::Proc => "cannot mount /proc for the target's pid namespace",
            ChildStep::Sys => "cannot mount /sys for the target's network namespace",
        }
    }
}

/// Checks DIR: absolute, not `/`, no `..`.
fn check_dir(dir: &Path) -> Result<()> {
    let bad = !dir.is_absolute()
        || dir.components().all(|c| c == Component::RootDir)
        || dir
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::CurDir));
    if bad {
        return Err(Error::sys(
            format!(
                "--host-tools: {} must be an absolute directory other than /, without '..'",
                dir.display()
            ),
            io::Error::from_raw_os_error(libc::EINVAL),
        ));
    }
    Ok(())
}

fn sys_err(what: impl Into<String>) -> impl FnOnce(Errno) -> Error {
    let what = what.into();
    move |e| Error::sys(what, e)
}

/// Makes the private mount namespace with the target's root at `dir`, for a plan
/// entering `kinds`; `want_cwd`: also work out the target's working directory
/// under `dir`. Entering the target's mount namespace itself is then left out of
/// the plan; its user namespace is entered last by the child.
pub(crate) fn prepare(
    handles: &Handles,
    dir: &Path,
    kinds: crate::KindSet,
    want_cwd: bool,
) -> Result<Prepared> {
    check_dir(dir)?;
    let target_mnt = handles.get(Kind::Mnt).ok_or_else(|| Error::NotProvided {
        target: handles.label().to_owned(),
        kind: Kind::Mnt,
    })?;
    // The target process's root and cwd, opened here (in the caller's view of
    // /proc); a target given by namespace files only has its namespace's root.
    let (root, cwd) = match handles.pid() {
        Some(_) => (
            Some(handles.open_proc_dir_entry("root", "--host-tools")?),
            want_cwd
                .then(|| handles.open_proc_dir_entry("cwd", "--host-tools with -w"))
                .transpose()?,
        ),
        None => (None, None),
    };
    let proc_root = procfs::proc_root()?;
    let built = std::thread::scope(|s| {
        s.spawn(|| {
            build(
                target_mnt.as_fd(),
                root.as_ref(),
                cwd.as_ref(),
                proc_root,
                dir,
            )
        })
        .join()
        .unwrap_or_else(|_| {
            Err(Error::sys(
                "--host-tools",
                io::Error::other("the preparing thread panicked"),
            ))
        })
    })?;
    Ok(Prepared {
        mnt: built.mnt,
        root: built.root,
        cwd: built.cwd,
        caller_cwd: std::env::current_dir()
            .ok()
            .and_then(|d| CString::new(d.into_os_string().into_vec()).ok()),
        proc: kinds.contains(Kind::Pid),
        sys: kinds.contains(Kind::Net),
        user: kinds.contains(Kind::User),
    })
}

struct Built {
    mnt: OwnedFd,
    root: OwnedFd,
    cwd: Option<CString>,
}

/// Runs on a thread of its own, which ends after it: its root, cwd and mount
/// namespace are its own from the first call.
fn build(
    target_mnt: std::os::fd::BorrowedFd<'_>,
    target_root: Option<&OwnedFd>,
    target_cwd: Option<&OwnedFd>,
    proc_root: std::os::fd::BorrowedFd<'_>,
    dir: &Path,
) -> Result<Built> {
    sys::unshare_fs_and_mounts()
        .map_err(|e| Error::sys("cannot make a private mount namespace", e))?;
    rustix::mount::mount_change(
        c"/",
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(sys_err("cannot make the private mount namespace a slave"))?;
    let own_ns = open_thread_mnt_ns(proc_root)?;

    // Inside the target's mount namespace: clone its root, and read where its
    // working directory is relative to that root.
    plan::setns_kind(target_mnt, Kind::Mnt).map_err(|e| Error::Enter {
        kind: Kind::Mnt,
        source: e.into(),
    })?;
    let tree_flags = OpenTreeFlags::OPEN_TREE_CLONE
        | OpenTreeFlags::AT_RECURSIVE
        | OpenTreeFlags::OPEN_TREE_CLOEXEC;
    let tree = match target_root {
        Some(root) => {
            rustix::mount::open_tree(root, c"", tree_flags | OpenTreeFlags::AT_EMPTY_PATH)
        }
        None => rustix::mount::open_tree(CWD, c"/", tree_flags),
    }
    .map_err(sys_err("cannot clone the target's root filesystem"))?;
    let cwd = match target_cwd {
        Some(cwd) => Some(cwd_under(target_root, cwd, proc_root, dir)?),
        None => None,
    };
    plan::setns_kind(own_ns.as_fd(), Kind::Mnt)
        .map_err(sys_err("cannot return to the private mount namespace"))?;

    // Back in the private namespace (root and cwd are its root again).
    let (existing, missing) = split_existing(dir);
    if !missing.is_empty() {
        cover_with_skeleton(&existing, &missing)?;
    }
    rustix::mount::move_mount(
        &tree,
        c"",
        CWD,
        dir,
        MoveMountFlags::MOVE_MOUNT_F_EMPTY_PATH,
    )
    .map_err(sys_err(format!(
        "cannot attach the target's root at {}",
        dir.display()
    )))?;
    rustix::mount::mount_change(
        dir,
        MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
    )
    .map_err(sys_err(format!("cannot make {} a slave", dir.display())))?;
    let root = rustix::fs::open(
        "/",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::open("/", e))?;
    Ok(Built {
        mnt: open_thread_mnt_ns(proc_root)?,
        root,
        cwd,
    })
}

fn open_thread_mnt_ns(proc_root: std::os::fd::BorrowedFd<'_>) -> Result<OwnedFd> {
    rustix::fs::openat(
        proc_root,
        "thread-self/ns/mnt",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::open("/proc/thread-self/ns/mnt", e))
}

/// The target's working directory, as a path under `dir`: read through the
/// caller's `/proc` (`thread-self/fd/N`, which names it relative to the reader's
/// root) while this thread's root is the target's.
fn cwd_under(
    target_root: Option<&OwnedFd>,
    cwd: &OwnedFd,
    proc_root: std::os::fd::BorrowedFd<'_>,
    dir: &Path,
) -> Result<CString> {
    if let Some(root) = target_root {
        rustix::process::fchdir(root)
            .and_then(|()| rustix::process::chroot(c"."))
            .map_err(sys_err("cannot change root to the target's"))?;
    }
    let fd = std::os::fd::AsRawFd::as_raw_fd(cwd);
    let link = rustix::fs::readlinkat(proc_root, format!("thread-self/fd/{fd}"), Vec::new())
        .map_err(sys_err("cannot read the target's working directory"))?;
    let rel = link.as_bytes();
    // A directory outside the target's root reads "(unreachable)/..." or does
    // not start with '/': start at DIR itself then.
    let rel = if rel.starts_with(b"/") { rel } else { b"/" };
    let mut path = dir.as_os_str().as_bytes().to_vec();
    if rel != b"/" {
        path.extend_from_slice(rel);
    }
    CString::new(path).map_err(|_| {
        Error::sys(
            "the target's working directory",
            io::Error::from_raw_os_error(libc::EINVAL),
        )
    })
}

impl Prepared {
    /// In the child, after the other namespaces are entered: joins the private
    /// mount namespace and takes its root. Allocation-free.
    pub(crate) fn enter(&self) -> std::result::Result<(), (ChildStep, Errno)> {
        plan::setns_kind(self.mnt.as_fd(), Kind::Mnt)
            .and_then(|()| rustix::process::fchdir(&self.root))
            .and_then(|()| rustix::process::chroot(c"."))
            .and_then(|()| rustix::process::chdir(c"/"))
            .map_err(|e| (ChildStep::Enter, e))?;
        if let Some(cwd) = &self.caller_cwd {
            let _ = rustix::process::chdir(cwd.as_c_str());
        }
        Ok(())
    }

    /// In the child, after the fork into the target's pid namespace (`forked`) or
    /// in place of it: mounts `/proc` and `/sys` of the namespaces entered, then
    /// enters the target's user namespace from `ns`. Allocation-free.
    pub(crate) fn after_fork(
        &self,
        ns: &KindMap<OwnedFd>,
        forked: bool,
    ) -> std::result::Result<(), (ChildStep, Errno)> {
        let flags = MountFlags::NOSUID | MountFlags::NODEV | MountFlags::NOEXEC;
        if self.proc && forked {
            rustix::mount::mount(c"proc", c"/proc", c"proc", flags, None)
                .map_err(|e| (ChildStep::Proc, e))?;
        }
        if self.sys {
            rustix::mount::mount(c"sysfs", c"/sys", c"sysfs", flags, None)
                .map_err(|e| (ChildStep::Sys, e))?;
        }
        if self.user {
            if let Some(fd) = ns.get(Kind::User) {
                plan::setns_kind(fd.as_fd(), Kind::User).map_err(|e| (ChildStep::Enter, e))?;
            }
        }
        Ok(())
    }

    /// The kinds the plan must leave to this module.
    pub(crate) fn handled() -> crate::KindSet {
        crate::KindSet::from([Kind::Mnt, Kind::User])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dir_must_be_absolute_and_not_the_root() {
        for bad in ["", "target", "/", "//", "/a/../b"] {
            assert!(check_dir(Path::new(bad)).is_err(), "{bad:?}");
        }
        for good in ["/target", "/mnt/t", "/target/"] {
            assert!(check_dir(Path::new(good)).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn host_path_replaces_the_targets() {
        let mut env = vec![("PATH".into(), "/nowhere".into()), ("A".into(), "1".into())];
        use_host_path(&mut env);
        assert_eq!(env.iter().filter(|(k, _)| k == "PATH").count(), 1);
        assert_ne!(env.iter().find(|(k, _)| k == "PATH").unwrap().1, "/nowhere");
        assert!(env.iter().any(|(k, v)| k == "A" && v == "1"));
    }
}

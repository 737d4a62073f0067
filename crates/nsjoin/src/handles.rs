//! Everything opened for one target: one [`Namespace`] per kind, and for a process
//! its pidfd and `/proc/PID`.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};

use crate::procfs::{self, Source, Via};
use crate::{sys, Error, Kind, KindMap, KindSet, Namespace, Result};

/// Everything opened for one target: a namespace per requested kind, and for a
/// process target its pidfd and `/proc/PID` directory (for root, cwd, environ and
/// cgroup). Made by [`crate::Target::open`]; entered by [`Handles::enter`],
/// [`Handles::run`], [`crate::Spawn`] or [`Handles::enter_permanently`].
#[derive(Debug)]
pub struct Handles {
    label: String,
    pid: Option<i32>,
    pidfd: Option<OwnedFd>,
    /// `/proc/PID`, opened when first needed (environ, cgroup, root, cwd).
    proc_dir: OnceLock<File>,
    /// Where to open it from, for a process target.
    proc_path: Option<PathBuf>,
    ns: KindMap<Namespace>,
    #[cfg(feature = "containers")]
    container: Option<crate::container::Container>,
}

impl Default for Handles {
    fn default() -> Handles {
        Handles::new()
    }
}

impl Handles {
    /// Handles with no namespace yet, to fill with [`Handles::insert`]: for
    /// namespaces from files that belong to no one process.
    pub fn new() -> Handles {
        Handles {
            label: "namespace files".to_owned(),
            #[cfg(feature = "containers")]
            container: None,
            pid: None,
            pidfd: None,
            proc_dir: OnceLock::new(),
            proc_path: None,
            ns: Default::default(),
        }
    }

    /// A process target's handles.
    pub(crate) fn process(
        label: String,
        pid: i32,
        pidfd: Option<OwnedFd>,
        proc_dir: Option<File>,
        proc_path: PathBuf,
        ns: KindMap<Namespace>,
    ) -> Handles {
        let dir = OnceLock::new();
        if let Some(proc_dir) = proc_dir {
            let _ = dir.set(proc_dir);
        }
        Handles {
            label,
            #[cfg(feature = "containers")]
            container: None,
            pid: Some(pid),
            pidfd,
            proc_dir: dir,
            proc_path: Some(proc_path),
            ns,
        }
    }

    /// The same handles, named `label` in messages.
    pub(crate) fn labelled(mut self, label: String) -> Handles {
        self.label = label;
        self
    }

    /// Records what the engine said about a container target, and keeps the
    /// `/proc/PID` directory its answer was checked through.
    #[cfg(feature = "containers")]
    pub(crate) fn with_container(
        mut self,
        answer: crate::container::Container,
        dir: File,
    ) -> Handles {
        let _ = self.proc_dir.set(dir);
        self.container = Some(answer);
        self
    }

    /// Reads `/proc/PID/NAME` of a process target, up to `limit` bytes (see
    /// [`Handles::proc_dir`] for which `/proc/PID` that is).
    pub(crate) fn read_proc_file(
        &self,
        name: &str,
        limit: usize,
        what: &'static str,
    ) -> Result<Vec<u8>> {
        let dir = self.proc_dir(what)?;
        procfs::read_file(dir, &self.proc_shown(), name, limit)
    }

    /// Opens `/proc/PID/NAME` (a directory link: `root`, `cwd`) with O_PATH: the
    /// directory itself, whatever its path is now.
    pub(crate) fn open_proc_dir_entry(&self, name: &str, what: &'static str) -> Result<OwnedFd> {
        let dir = self.proc_dir(what)?;
        rustix::fs::openat(
            dir,
            name,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::open(self.proc_shown().join(name), e))
    }

    fn proc_shown(&self) -> PathBuf {
        self.proc_path
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("/proc/{}", self.pid.unwrap_or(0))))
    }

    /// Adds a namespace, replacing (and returning) any of the same kind. This is
    /// how a process target's namespaces are mixed with files
    /// (`nsenter -t PID --net=/run/netns/x`).
    pub fn insert(&mut self, ns: Namespace) -> Option<Namespace> {
        let kind = ns.kind();
        self.ns.insert(kind, ns)
    }

    /// Removes the namespace of `kind`.
    pub fn remove(&mut self, kind: Kind) -> Option<Namespace> {
        self.ns.remove(kind)
    }

    /// The user and group owning the target process's `/proc/PID` directory: its
    /// effective IDs, as `nsenter -S follow -G follow` takes them.
    pub fn process_owner(&self) -> Result<(u32, u32)> {
        let dir = self.proc_dir("the owner of the target process")?;
        let st = rustix::fs::fstat(dir)
            .map_err(|e| Error::sys(format!("cannot stat /proc/{}", self.pid.unwrap_or(0)), e))?;
        Ok((st.st_uid, st.st_gid))
    }

    /// The parent of the target's user namespace (its owner, `NS_GET_USERNS`): what
    /// nsenter `--user-parent` enters. Taken from the user namespace opened with
    /// the target, or, for a process target, from the process's.
    pub fn user_parent(&self) -> Result<Namespace> {
        if let Some(user) = self.get(Kind::User) {
            return user.owner();
        }
        let pid = self.pid.ok_or(Error::NeedsProcess {
            what: "--user-parent",
        })?;
        let shown = self.proc_shown().join("ns/user");
        let gone = |_| Error::TargetExited {
            target: format!("process {pid}"),
        };
        // Through the pidfd, else (a kernel without the ioctls) through /proc.
        let mut opened = None;
        if let Some(pidfd) = self.pidfd() {
            opened = procfs::process_namespace(Via::Pidfd(pidfd), Kind::User, &shown, gone)?;
        }
        if opened.is_none() {
            let via = Via::Dir(self.proc_dir("--user-parent")?, self.pidfd());
            opened = procfs::process_namespace(via, Kind::User, &shown, gone)?;
        }
        let (fd, source) = opened.ok_or(Error::NeedsProcess {
            what: "--user-parent",
        })?;
        Namespace::checked(fd, shown, Some(Kind::User), source)?.owner()
    }

    /// The network namespace of a socket that the target process holds as fd
    /// `fd` (`nsenter -N FD`): the socket is copied with pidfd_getfd(2) and asked
    /// with `SIOCGSKNS`. Needs a pidfd (a process target on Linux 5.6 or later).
    pub fn socket_net_namespace(&self, fd: i32) -> Result<Namespace> {
        let pidfd = self.pidfd.as_ref().ok_or(Error::NeedsProcess {
            what: "a socket's network namespace",
        })?;
        let what = || format!("cannot get fd {fd} of {}", self.label);
        let sock =
            rustix::process::pidfd_getfd(pidfd, fd, rustix::process::PidfdGetfdFlags::empty())
                .map_err(|e| Error::sys(what(), e))?;
        let net = sys::socket_net_namespace(&sock).map_err(|e| {
            Error::sys(
                format!(
                    "fd {fd} of {} is not a socket with a network namespace",
                    self.label
                ),
                e,
            )
        })?;
        Namespace::checked(
            net,
            format!("net namespace of fd {fd} of {}", self.label).into(),
            Some(Kind::Net),
            Source::Ioctl,
        )
    }

    /// The namespace of `kind`, if it was opened.
    pub fn get(&self, kind: Kind) -> Option<&Namespace> {
        self.ns.get(kind)
    }

    /// The kinds that were opened.
    pub fn kinds(&self) -> KindSet {
        self.iter().map(Namespace::kind).collect()
    }

    /// The open namespaces, in alphabetical order of kind.
    pub fn iter(&self) -> impl Iterator<Item = &Namespace> {
        self.ns.values()
    }

    /// The target process's PID, for a process target.
    pub fn pid(&self) -> Option<i32> {
        self.pid
    }

    /// The target process's pidfd, where the kernel has pidfds and the target is a
    /// process in this PID namespace.
    pub fn pidfd(&self) -> Option<BorrowedFd<'_>> {
        self.pidfd.as_ref().map(AsFd::as_fd)
    }

    /// Whether the target process is still running (always true for a namespace
    /// file, which stays valid while it is open). A zombie (exited, not yet reaped)
    /// is not running: through its pidfd, or without one through the state in the
    /// `/proc/PID` directory that was opened with the target.
    pub fn is_alive(&self) -> bool {
        if let Some(pidfd) = &self.pidfd {
            return procfs::pidfd_alive(pidfd);
        }
        match self.proc_dir.get() {
            Some(dir) => procfs::dir_alive(dir),
            None => true,
        }
    }

    /// What the engine said about a container target.
    #[cfg(feature = "containers")]
    pub fn container(&self) -> Option<&crate::container::Container> {
        self.container.as_ref()
    }

    /// How the target was given, for messages.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// `/proc/PID` of a process target. A target opened through `/proc` had it
    /// opened with its namespaces; one opened through its pidfd gets it here, on first
    /// use, from the `/proc` pinned for this process (never the calling thread's
    /// current view, which may be a container's), and checked against the pidfd: if
    /// the process has exited since the target was opened, the directory might be a
    /// new process's, and the answer is [`Error::TargetExited`].
    pub(crate) fn proc_dir(&self, what: &'static str) -> Result<&File> {
        if let Some(dir) = self.proc_dir.get() {
            return Ok(dir);
        }
        let (Some(pid), Some(proc)) = (self.pid, self.proc_path.as_deref()) else {
            return Err(Error::NeedsProcess { what });
        };
        let proc_root = proc.parent().unwrap_or(Path::new("/proc"));
        let dir = procfs::open_pid_dir(proc_root, pid)?;
        if !self.is_alive() {
            return Err(Error::TargetExited {
                target: self.label.clone(),
            });
        }
        let _ = self.proc_dir.set(File::from(dir));
        self.proc_dir.get().ok_or(Error::NeedsProcess { what })
    }
}

//! Open namespaces: one O_CLOEXEC fd per kind, with its kernel identity.

use std::fmt;
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rustix::fs::{Mode, OFlags};

use crate::procfs::{self, Source};
use crate::{sys, Error, Kind, KindMap, KindSet, Result};

const NSFS_MAGIC: i64 = 0x6e73_6673;

/// A namespace's identity: the device and inode of its nsfs file. Two handles refer
/// to the same namespace exactly when their ids are equal (this is the number `lsns`
/// prints and `readlink /proc/PID/ns/KIND` shows as `net:[4026531840]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NsId {
    /// Device number of the nsfs mount.
    pub dev: u64,
    /// Inode number: the namespace's number.
    pub ino: u64,
}

impl NsId {
    /// The id of the namespace of `kind` the calling thread is in
    /// (what `stat /proc/thread-self/ns/KIND` shows).
    ///
    /// ```
    /// use nsjoin::{Kind, NsId};
    /// let here = NsId::current(Kind::Net).unwrap();
    /// assert_eq!(here, NsId::current(Kind::Net).unwrap());
    /// ```
    ///
    /// It does not depend on the thread's view of `/proc`: it also works on a thread
    /// inside a container's mount namespace (see [`Namespace::current`]).
    pub fn current(kind: Kind) -> Result<NsId> {
        let (fd, _, path) = procfs::thread_namespace(kind, false)?;
        NsId::of(&fd, &path)
    }

    fn of(fd: impl AsFd, path: &Path) -> Result<NsId> {
        let st = rustix::fs::fstat(fd).map_err(|e| Error::open(path, e))?;
        Ok(NsId {
            dev: st.st_dev,
            ino: st.st_ino,
        })
    }
}

impl fmt::Display for NsId {
    /// The inode number, as `lsns` prints the NS column.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.ino)
    }
}

/// One open namespace: an O_CLOEXEC fd whose kind was checked with `NS_GET_NSTYPE`.
#[derive(Debug)]
pub struct Namespace {
    kind: Kind,
    id: NsId,
    fd: OwnedFd,
    path: PathBuf,
    source: Source,
}

impl Namespace {
    /// Opens a namespace file (`/proc/PID/ns/net`, `/run/netns/NAME`, ...) and asks
    /// the kernel what it is. Anything that is not on nsfs is refused without being
    /// opened for reading (so a FIFO or device file is never touched).
    ///
    /// ```
    /// use nsjoin::{Kind, Namespace};
    /// let ns = Namespace::open("/proc/self/ns/uts").unwrap();
    /// assert_eq!(ns.kind(), Kind::Uts);
    /// assert!(ns.is_current().unwrap());
    /// assert!(Namespace::open("/etc/hostname").is_err());
    /// ```
    pub fn open(path: impl AsRef<Path>) -> Result<Namespace> {
        let path = path.as_ref();
        let o_path = rustix::fs::open(path, OFlags::PATH | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| Error::open(path, e))?;
        let fs = rustix::fs::fstatfs(&o_path).map_err(|e| Error::open(path, e))?;
        if !procfs::fs_is(&fs, NSFS_MAGIC) {
            return Err(Error::NotNamespace { path: path.into() });
        }
        // Reopen the very inode checked above for reading (setns refuses O_PATH fds),
        // through the pinned /proc rather than the thread's view of it.
        let reopen = format!("self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&o_path));
        let fd = rustix::fs::openat(
            procfs::proc_root()?,
            reopen,
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::open(path, e))?;
        Namespace::checked(fd, path.into(), None, Source::File)
    }

    /// Like [`Namespace::open`], and also refuses a namespace of another kind.
    pub fn open_kind(path: impl AsRef<Path>, kind: Kind) -> Result<Namespace> {
        let ns = Namespace::open(path)?;
        ns.expect_kind(kind)?;
        Ok(ns)
    }

    /// Takes an already-open fd (for example one received over a socket) and checks
    /// that it refers to a namespace.
    pub fn from_fd(fd: OwnedFd) -> Result<Namespace> {
        let name = std::os::fd::AsRawFd::as_raw_fd(&fd);
        Namespace::from_fd_named(fd, name)
    }

    /// [`Namespace::from_fd`] for a duplicate of the caller's fd `name`: messages
    /// name the caller's fd, not the duplicate.
    pub(crate) fn from_fd_named(fd: OwnedFd, name: i32) -> Result<Namespace> {
        Namespace::checked(fd, PathBuf::from(format!("fd {name}")), None, Source::Fd)
    }

    /// The namespace of `kind` the calling thread is in now. Taken through a pidfd of
    /// the thread (Linux 6.11), else `/proc/thread-self/ns/KIND` under the `/proc`
    /// pinned at first use: never through the thread's current view of `/proc`, so it
    /// also works on a thread inside a container's mount namespace.
    pub fn current(kind: Kind) -> Result<Namespace> {
        let (fd, source, path) = procfs::thread_namespace(kind, false)?;
        Namespace::checked(fd, path, Some(kind), source)
    }

    /// A namespace from an fd the kernel made of `kind` (a pidfd's
    /// `PIDFD_GET_<KIND>_NAMESPACE`), so its kind needs no asking.
    pub(crate) fn of_kind(
        fd: OwnedFd,
        path: PathBuf,
        kind: Kind,
        source: Source,
    ) -> Result<Namespace> {
        let id = NsId::of(&fd, &path)?;
        Ok(Namespace {
            kind,
            id,
            fd,
            path,
            source,
        })
    }

    /// Builds a namespace from an fd, asking the kernel its kind; if `expected` is
    /// given, a namespace of another kind is refused.
    pub(crate) fn checked(
        fd: OwnedFd,
        path: PathBuf,
        expected: Option<Kind>,
        source: Source,
    ) -> Result<Namespace> {
        let kind = match sys::ns_get_nstype(&fd) {
            Ok(flag) => {
                Kind::from_clone_flag(flag).ok_or(Error::NotNamespace { path: path.clone() })?
            }
            Err(e)
                if e.raw_os_error() == Some(libc::ENOTTY)
                    || e.raw_os_error() == Some(libc::EINVAL) =>
            {
                return Err(Error::NotNamespace { path })
            }
            Err(e) => return Err(Error::open(path, e)),
        };
        let id = NsId::of(&fd, &path)?;
        let ns = Namespace {
            kind,
            id,
            fd,
            path,
            source,
        };
        if let Some(expected) = expected {
            ns.expect_kind(expected)?;
        }
        Ok(ns)
    }

    fn expect_kind(&self, expected: Kind) -> Result<()> {
        if self.kind != expected {
            return Err(Error::WrongKind {
                path: self.path.clone(),
                expected,
                actual: self.kind,
            });
        }
        Ok(())
    }

    /// The kind, as the kernel reports it.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The namespace's identity.
    pub fn id(&self) -> NsId {
        self.id
    }

    /// Where it was opened from (for messages).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Which kernel interface produced it.
    pub fn source(&self) -> Source {
        self.source
    }

    /// Whether the calling thread is already in this namespace.
    pub fn is_current(&self) -> Result<bool> {
        Ok(NsId::current(self.kind)? == self.id)
    }

    /// The user namespace that owns this one (`NS_GET_USERNS`).
    pub fn owner(&self) -> Result<Namespace> {
        let fd = sys::ns_get_userns(&self.fd).map_err(|e| {
            Error::sys(
                format!("cannot get the owner of {}", self.path.display()),
                e,
            )
        })?;
        Namespace::checked(
            fd,
            format!("owner of {}", self.path.display()).into(),
            Some(Kind::User),
            Source::Ioctl,
        )
    }

    /// The parent of a pid or user namespace (`NS_GET_PARENT`).
    pub fn parent(&self) -> Result<Namespace> {
        let fd = sys::ns_get_parent(&self.fd).map_err(|e| {
            Error::sys(
                format!("cannot get the parent of {}", self.path.display()),
                e,
            )
        })?;
        Namespace::checked(
            fd,
            format!("parent of {}", self.path.display()).into(),
            Some(self.kind),
            Source::Ioctl,
        )
    }

    /// A second handle on the same namespace.
    pub fn try_clone(&self) -> Result<Namespace> {
        Ok(Namespace {
            kind: self.kind,
            id: self.id,
            fd: self
                .fd
                .try_clone()
                .map_err(|e| Error::sys("cannot duplicate a namespace fd", e))?,
            path: self.path.clone(),
            source: self.source,
        })
    }
}

impl AsFd for Namespace {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

impl From<Namespace> for OwnedFd {
    fn from(ns: Namespace) -> OwnedFd {
        ns.fd
    }
}

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
        if let Some(pidfd) = &self.pidfd {
            match procfs::pidfd_namespace(pidfd, Kind::User, false) {
                Ok(Some(fd)) => {
                    return Namespace::checked(fd, shown, Some(Kind::User), Source::Pidfd)?.owner()
                }
                Ok(None) => {}
                Err(e) if e.raw_os_error() == Some(libc::ESRCH) => {
                    return Err(Error::TargetExited {
                        target: format!("process {pid}"),
                    })
                }
                Err(e) => return Err(Error::open(shown, e)),
            }
        }
        let dir = self.proc_dir("--user-parent")?;
        let fd = rustix::fs::openat(
            dir,
            "ns/user",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::open(&shown, e))?;
        Namespace::checked(fd, shown, Some(Kind::User), Source::Proc)?.owner()
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

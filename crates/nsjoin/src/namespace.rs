//! One open namespace (an fd whose kind the kernel confirmed) and its identity.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

use rustix::fs::{Mode, OFlags};

use crate::procfs::{self, Source};
use crate::{sys, Error, Kind, Result};

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
        self.related("owner", sys::ns_get_userns(&self.fd), Kind::User)
    }

    /// The parent of a pid or user namespace (`NS_GET_PARENT`).
    pub fn parent(&self) -> Result<Namespace> {
        self.related("parent", sys::ns_get_parent(&self.fd), self.kind)
    }

    /// The namespace an `NS_GET_*` ioctl answered about this one, which must be
    /// of `kind`; `what` it is to this one names it in messages.
    fn related(&self, what: &str, answer: io::Result<OwnedFd>, kind: Kind) -> Result<Namespace> {
        let fd = answer.map_err(|e| {
            Error::sys(
                format!("cannot get the {what} of {}", self.path.display()),
                e,
            )
        })?;
        Namespace::checked(
            fd,
            format!("{what} of {}", self.path.display()).into(),
            Some(kind),
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

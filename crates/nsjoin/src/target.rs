//! What to enter: a process, a pidfd, a namespace file or an open fd.

use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use rustix::event::{PollFd, PollFlags};
use rustix::fs::{Mode, OFlags};
use rustix::process::{Pid, PidfdFlags};

use crate::container::{self, ContainerRef};
use crate::{Error, Handles, KindSet, Namespace, Result};

const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// A target whose namespaces are to be entered.
///
/// ```
/// use nsjoin::{KindSet, Target};
/// let me = Target::pid(std::process::id() as i32);
/// let handles = me.open(KindSet::from_iter([nsjoin::Kind::Net, nsjoin::Kind::Uts])).unwrap();
/// assert_eq!(handles.kinds().len(), 2);
///
/// // "42" is a PID, anything else a path: the original Python package's rule.
/// assert!(matches!(Target::parse("42"), Target::Pid { pid: 42, .. }));
/// assert!(matches!(Target::parse("/run/netns/x"), Target::Path(_)));
/// ```
#[derive(Debug)]
pub enum Target {
    /// A process, by PID as seen through `proc` (normally `/proc`).
    Pid {
        /// The PID.
        pid: i32,
        /// The proc mount to read it from (the original Python package's `proc=`).
        proc: PathBuf,
    },
    /// A process, by a pidfd the caller already holds: the strongest guarantee
    /// against PID reuse.
    Pidfd(OwnedFd),
    /// A namespace file: `/proc/PID/ns/KIND`, `/run/netns/NAME`, any nsfs bind mount.
    Path(PathBuf),
    /// An open fd on a namespace file.
    Fd(OwnedFd),
    /// A container, by `ENGINE://NAME-OR-ID`; its engine is asked for its init
    /// process when the target is opened.
    Container(ContainerRef),
}

impl Target {
    /// A process by PID, read through `/proc`.
    pub fn pid(pid: i32) -> Target {
        Target::Pid {
            pid,
            proc: PathBuf::from("/proc"),
        }
    }

    /// A namespace file.
    pub fn path(path: impl Into<PathBuf>) -> Target {
        Target::Path(path.into())
    }

    /// A string as the original Python package took it: all digits is a PID,
    /// a valid `ENGINE://NAME` a container, anything else a namespace file path.
    /// (Use [`Target::container`] to get the error for a malformed container spec.)
    pub fn parse(s: &str) -> Target {
        match s.parse::<i32>() {
            Ok(pid) if !s.starts_with(['+', '-']) => Target::pid(pid),
            _ => match Target::container(s) {
                Ok(target) => target,
                Err(_) => Target::path(s),
            },
        }
    }

    /// A container target from `ENGINE://NAME-OR-ID`.
    pub fn container(spec: &str) -> Result<Target> {
        spec.parse().map(Target::Container)
    }

    /// Reads a PID target through another proc mount (ignored for other targets).
    pub fn with_proc(self, proc_root: impl Into<PathBuf>) -> Target {
        match self {
            Target::Pid { pid, .. } => Target::Pid {
                pid,
                proc: proc_root.into(),
            },
            other => other,
        }
    }

    /// Opens the namespaces of `kinds`.
    ///
    /// For a process, the order makes PID reuse harmless: pidfd first, then
    /// `/proc/PID`, then every namespace file relative to that directory, then a check
    /// that the pidfd's process is still alive. If it is not, the PID may have been
    /// recycled, and [`Error::TargetExited`] is returned rather than someone else's
    /// namespaces. Without pidfds (kernels before 5.3, or another proc mount) the
    /// `/proc/PID` directory fd alone pins the process.
    ///
    /// A container is resolved through its engine's API to its init process,
    /// which is then opened like a PID.
    ///
    /// A namespace file provides only its own kind; asking it for another gives
    /// [`Error::WrongKind`]. An empty `kinds` means "its kind" for a file and is an
    /// empty set for a process.
    pub fn open(&self, kinds: KindSet) -> Result<Handles> {
        match self {
            Target::Pid { pid, proc } => {
                let pidfd = if proc == Path::new("/proc") {
                    open_pidfd(*pid, proc)?
                } else {
                    None
                };
                open_process(*pid, proc, pidfd, kinds)
            }
            Target::Pidfd(fd) => {
                let pidfd = fd
                    .try_clone()
                    .map_err(|e| Error::sys("cannot duplicate the pidfd", e))?;
                let pid = pidfd_pid(&pidfd)?;
                open_process(pid, Path::new("/proc"), Some(pidfd), kinds)
            }
            Target::Path(path) => file_handles(Namespace::open(path)?, kinds),
            Target::Fd(fd) => {
                let fd = fd
                    .try_clone()
                    .map_err(|e| Error::sys("cannot duplicate the namespace fd", e))?;
                file_handles(Namespace::from_fd(fd)?, kinds)
            }
            Target::Container(spec) => {
                let container = container::resolve(spec)?;
                let proc = Path::new("/proc");
                let pidfd = open_pidfd(container.pid, proc)?;
                let mut handles = open_process(container.pid, proc, pidfd, kinds)?;
                handles.label = spec.to_string();
                handles.container = Some(container);
                Ok(handles)
            }
        }
    }

    /// A short description for messages: `process 42`, `/run/netns/x`.
    pub fn label(&self) -> String {
        match self {
            Target::Pid { pid, .. } => format!("process {pid}"),
            Target::Pidfd(_) => "pidfd target".to_owned(),
            Target::Path(p) => p.display().to_string(),
            Target::Fd(_) => "fd target".to_owned(),
            Target::Container(spec) => spec.to_string(),
        }
    }
}

fn open_pidfd(pid: i32, proc: &Path) -> Result<Option<OwnedFd>> {
    let Some(raw) = (pid > 0).then(|| Pid::from_raw(pid)).flatten() else {
        return Err(Error::open(
            proc.join(pid.to_string()),
            io::Error::from_raw_os_error(libc::ESRCH),
        ));
    };
    match rustix::process::pidfd_open(raw, PidfdFlags::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e == rustix::io::Errno::NOSYS => Ok(None),
        Err(e) => Err(Error::open(proc.join(pid.to_string()), e)),
    }
}

/// Whether the process behind `pidfd` is still running: a pidfd polls readable once
/// its process has exited.
pub(crate) fn pidfd_alive(pidfd: &OwnedFd) -> bool {
    let mut fds = [PollFd::new(pidfd, PollFlags::IN)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    match rustix::event::poll(&mut fds, Some(&zero)) {
        Ok(0) => true,
        Ok(_) => false,
        Err(_) => false,
    }
}

/// The PID of a pidfd, from `/proc/self/fdinfo` (`Pid:` line; -1 once it has exited).
fn pidfd_pid(pidfd: &OwnedFd) -> Result<i32> {
    let path = format!(
        "/proc/self/fdinfo/{}",
        std::os::fd::AsRawFd::as_raw_fd(pidfd)
    );
    let text = std::fs::read_to_string(&path).map_err(|e| Error::open(&path, e))?;
    let pid = text
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse::<i32>().ok())
        .ok_or_else(|| {
            Error::sys(
                format!("{path} does not describe a pidfd"),
                io::Error::from_raw_os_error(libc::EBADF),
            )
        })?;
    if pid <= 0 {
        return Err(Error::TargetExited { pid });
    }
    Ok(pid)
}

fn open_process(pid: i32, proc: &Path, pidfd: Option<OwnedFd>, kinds: KindSet) -> Result<Handles> {
    let dir_path = proc.join(pid.to_string());
    if pid <= 0 {
        return Err(Error::open(
            dir_path,
            io::Error::from_raw_os_error(libc::ESRCH),
        ));
    }
    let through_pidfd = match &pidfd {
        Some(pidfd) => open_through_pidfd(pidfd, pid, &dir_path, kinds)?,
        None => None,
    };
    if let Some(ns) = through_pidfd {
        return Ok(Handles {
            label: format!("process {pid}"),
            container: None,
            pid: Some(pid),
            pidfd,
            proc_dir: Default::default(),
            proc_path: Some(dir_path),
            ns,
        });
    }
    let dir = open_proc_dir(&dir_path)?;
    let mut ns: [Option<Namespace>; 8] = Default::default();
    for kind in kinds.iter() {
        let rel = format!("ns/{}", kind.name());
        let path = dir_path.join(&rel);
        let fd = match rustix::fs::openat(
            &dir,
            rel.as_str(),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(rustix::io::Errno::NOENT) if !kind.is_supported() => {
                return Err(Error::KindUnsupported(kind))
            }
            // A zombie has no namespaces left: say that it exited, not ENOENT.
            Err(_) if pidfd.as_ref().is_some_and(|p| !pidfd_alive(p)) => {
                return Err(Error::TargetExited { pid })
            }
            Err(e) => return Err(Error::open(path, e)),
        };
        ns[kind as usize] = Some(Namespace::checked(fd, path, Some(kind))?);
    }
    if let Some(pidfd) = &pidfd {
        if !pidfd_alive(pidfd) {
            return Err(Error::TargetExited { pid });
        }
    }
    let proc_dir = std::sync::OnceLock::new();
    let _ = proc_dir.set(File::from(dir));
    Ok(Handles {
        label: format!("process {pid}"),
        container: None,
        pid: Some(pid),
        pidfd,
        proc_dir,
        proc_path: Some(dir_path),
        ns,
    })
}

/// Opens the namespaces through the pidfd itself (`PIDFD_GET_*_NAMESPACE`, Linux
/// 6.11): no path to walk, and the pidfd pins the process, so there is nothing
/// to re-check. `None` where the kernel lacks the ioctls: then `/proc` is used.
fn open_through_pidfd(
    pidfd: &OwnedFd,
    pid: i32,
    dir_path: &Path,
    kinds: KindSet,
) -> Result<Option<[Option<Namespace>; 8]>> {
    // With nothing to open, nothing has shown that the process still runs.
    if kinds.is_empty() && !pidfd_alive(pidfd) {
        return Err(Error::TargetExited { pid });
    }
    let mut ns: [Option<Namespace>; 8] = Default::default();
    for kind in kinds.iter() {
        let path = dir_path.join("ns").join(kind.name());
        match crate::sys::pidfd_get_namespace(pidfd, kind) {
            Ok(fd) => ns[kind as usize] = Some(Namespace::checked(fd, path, Some(kind))?),
            Err(e) => {
                return match e.raw_os_error() {
                    Some(libc::ENOTTY | libc::EINVAL) => Ok(None),
                    // Exited, or a zombie whose namespaces are gone.
                    Some(libc::ESRCH) => Err(Error::TargetExited { pid }),
                    // The kernel has no such kind of namespace.
                    Some(libc::EOPNOTSUPP) if !kind.is_supported() => {
                        Err(Error::KindUnsupported(kind))
                    }
                    _ => Err(Error::open(path, e)),
                };
            }
        }
    }
    Ok(Some(ns))
}

/// Opens `/proc/PID` as a directory fd and checks that it is on procfs.
pub(crate) fn open_proc_dir(dir_path: &Path) -> Result<OwnedFd> {
    let dir = rustix::fs::open(
        dir_path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::open(dir_path, e))?;
    let fs = rustix::fs::fstatfs(&dir).map_err(|e| Error::open(dir_path, e))?;
    if !crate::handles::fs_is(&fs, PROC_SUPER_MAGIC) {
        return Err(Error::sys(
            format!("{} is not on a proc filesystem", dir_path.display()),
            io::Error::from_raw_os_error(libc::EINVAL),
        ));
    }
    Ok(dir)
}

fn file_handles(namespace: Namespace, kinds: KindSet) -> Result<Handles> {
    let kind = namespace.kind();
    if let Some(other) = kinds.difference(KindSet::from(kind)).iter().next() {
        return Err(Error::WrongKind {
            path: namespace.path().to_owned(),
            expected: other,
            actual: kind,
        });
    }
    let mut ns: [Option<Namespace>; 8] = Default::default();
    let label = namespace.path().display().to_string();
    ns[kind as usize] = Some(namespace);
    Ok(Handles {
        label,
        container: None,
        pid: None,
        pidfd: None,
        proc_dir: Default::default(),
        proc_path: None,
        ns,
    })
}

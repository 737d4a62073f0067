//! The process behind a PID, as the kernel describes it: `/proc` and pidfds.
//!
//! Every `/proc` access of the library goes through here, and none through the
//! calling thread's current view of `/proc`: after a thread enters a container's mount
//! namespace, `/proc` is the container's (another pid namespace, where `/proc/42` is
//! another process and `/proc/thread-self` may not exist). So `/proc` is opened once,
//! checked to be a proc mount of this process's own pid namespace, and pinned; every
//! path below it is resolved from that fd.
//!
//! Namespaces are taken through pidfds where the kernel can (`PIDFD_GET_*_NAMESPACE`,
//! Linux 6.11): the target's through its pidfd, the calling thread's through a pidfd
//! of the thread itself (`PIDFD_THREAD`, Linux 6.9). Older kernels answer ENOTTY,
//! and then `/proc/PID/ns` and `/proc/thread-self/ns` under the pinned `/proc` are
//! used. `NSJOIN_FORCE_PROC=1` in the environment forces that path everywhere, so
//! that it can be tested (and compared) on a kernel that has both.

use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use rustix::event::{PollFd, PollFlags};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use rustix::process::{Pid, PidfdFlags};

use crate::{sys, Error, Kind, Result};

pub(crate) const PROC_SUPER_MAGIC: i64 = 0x9fa0;

/// The environment variable that turns the pidfd namespace ioctls off.
pub const FORCE_PROC_ENV: &str = "NSJOIN_FORCE_PROC";

/// Whether a statfs result is of the filesystem with this magic number
/// (`f_type`'s integer type differs between architectures).
#[allow(clippy::unnecessary_cast)]
pub(crate) fn fs_is(fs: &rustix::fs::StatFs, magic: i64) -> bool {
    fs.f_type as i64 == magic
}

/// How a namespace was opened: which kernel interface produced its fd. `nsjoin -v`
/// prints it; tests assert it, so that no path can stop working unnoticed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Source {
    /// `ioctl(pidfd, PIDFD_GET_<KIND>_NAMESPACE)` on the target's pidfd, or on a pidfd
    /// of the calling thread for its own namespaces (Linux 6.11).
    Pidfd,
    /// `/proc/PID/ns/KIND` (or `/proc/thread-self/ns/KIND`) under a pinned `/proc`:
    /// kernels before 6.11, another proc mount, or `NSJOIN_FORCE_PROC=1`.
    Proc,
    /// A namespace file opened by path (`/run/netns/NAME`, a bind mount).
    File,
    /// An fd the caller handed over.
    Fd,
    /// Asked of another namespace or of a socket (`NS_GET_USERNS`, `NS_GET_PARENT`,
    /// `SIOCGSKNS`).
    Ioctl,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Source::Pidfd => "pidfd",
            Source::Proc => "proc",
            Source::File => "file",
            Source::Fd => "fd",
            Source::Ioctl => "ioctl",
        })
    }
}

static PINNED: OnceLock<OwnedFd> = OnceLock::new();

/// `/proc` of this process's pid namespace, opened on first use and kept.
///
/// It is checked twice: it must be a proc filesystem, and its `self` must name this
/// process (so it belongs to our pid namespace). A first call from a thread that
/// sees another `/proc` (it has entered a container's mount namespace by other
/// means than nsjoin) fails and pins nothing, so a later call from elsewhere can.
pub(crate) fn proc_root() -> Result<BorrowedFd<'static>> {
    if let Some(fd) = PINNED.get() {
        return Ok(fd.as_fd());
    }
    let fd = rustix::fs::open(
        "/proc",
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::open("/proc", e))?;
    check_procfs(&fd, Path::new("/proc"))?;
    let me = rustix::process::getpid().as_raw_nonzero().to_string();
    let self_link = rustix::fs::readlinkat(&fd, "self", Vec::new()).ok();
    if self_link.as_ref().map(|l| l.as_bytes()) != Some(me.as_bytes()) {
        return Err(Error::sys(
            "/proc is not the proc filesystem of this process's pid namespace",
            io::Error::from_raw_os_error(libc::ENOENT),
        ));
    }
    let _ = PINNED.set(fd);
    Ok(PINNED.get().expect("set above").as_fd())
}

fn check_procfs(fd: impl AsFd, path: &Path) -> Result<()> {
    let fs = rustix::fs::fstatfs(fd).map_err(|e| Error::open(path, e))?;
    if !fs_is(&fs, PROC_SUPER_MAGIC) {
        return Err(Error::sys(
            format!("{} is not on a proc filesystem", path.display()),
            io::Error::from_raw_os_error(libc::EINVAL),
        ));
    }
    Ok(())
}

/// Opens `PROC/PID` as a directory (O_PATH) and checks that it is on procfs. With
/// `proc` = `/proc` it is resolved under the pinned `/proc`, not the thread's view.
pub(crate) fn open_pid_dir(proc: &Path, pid: i32) -> Result<OwnedFd> {
    let path = proc.join(pid.to_string());
    let flags = OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let dir = if proc == Path::new("/proc") {
        rustix::fs::openat(proc_root()?, pid.to_string(), flags, Mode::empty())
    } else {
        rustix::fs::open(&path, flags, Mode::empty())
    }
    .map_err(|e| Error::open(&path, e))?;
    check_procfs(&dir, &path)?;
    Ok(dir)
}

/// The most a `/proc/PID/cgroup` is read: one line per hierarchy (a dozen on cgroup
/// v1 hosts), each a path of at most PATH_MAX (4 KiB).
pub(crate) const CGROUP_LIMIT: usize = 64 << 10;

/// Reads the file `name` of a `/proc/PID` directory, refusing it when it is larger
/// than `limit` bytes (files a target controls, such as `environ`, can be made
/// arbitrarily large). `shown` is the directory's path, for messages.
pub(crate) fn read_file(dir: &File, shown: &Path, name: &str, limit: usize) -> Result<Vec<u8>> {
    let path = shown.join(name);
    let fd = rustix::fs::openat(dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Error::open(&path, e))?;
    let mut data = Vec::new();
    File::from(fd)
        .take(limit as u64 + 1)
        .read_to_end(&mut data)
        .map_err(|e| Error::open(&path, e))?;
    if data.len() > limit {
        return Err(Error::TooLarge { path, limit });
    }
    Ok(data)
}

/// Opens `/proc/REL` under the pinned `/proc` (O_CLOEXEC added). The outer error
/// says `/proc` could not be pinned; the inner one is openat's own answer, left to
/// the caller to tell a process that went away from a failure.
#[cfg(feature = "scan")]
pub(crate) fn open_at(rel: &str, flags: OFlags) -> Result<rustix::io::Result<OwnedFd>> {
    Ok(rustix::fs::openat(
        proc_root()?,
        rel,
        flags | OFlags::CLOEXEC,
        Mode::empty(),
    ))
}

/// stat(2) of `/proc/REL` under the pinned `/proc`, following a final link (a
/// `ns/KIND` link stats as the namespace itself). Errors as in [`open_at`].
#[cfg(feature = "scan")]
pub(crate) fn stat_at(rel: &str) -> Result<rustix::io::Result<rustix::fs::Stat>> {
    Ok(rustix::fs::statat(
        proc_root()?,
        rel,
        rustix::fs::AtFlags::empty(),
    ))
}

/// The highest capability number this kernel knows (`/proc/sys/kernel/cap_last_cap`,
/// under the pinned `/proc`); 40 (Linux 5.9's) if it cannot be read.
pub(crate) fn cap_last_cap() -> u32 {
    let read = || -> Option<u32> {
        let fd = rustix::fs::openat(
            proc_root().ok()?,
            "sys/kernel/cap_last_cap",
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()?;
        let mut text = String::new();
        File::from(fd).take(64).read_to_string(&mut text).ok()?;
        text.trim().parse().ok()
    };
    read().unwrap_or(40)
}

/// Reads `/proc/REL` under the pinned `/proc`, its first `limit` bytes at most.
/// Errors as in [`open_at`].
#[cfg(feature = "scan")]
pub(crate) fn read_at(rel: &str, limit: usize) -> Result<io::Result<Vec<u8>>> {
    let fd = match open_at(rel, OFlags::RDONLY)? {
        Ok(fd) => fd,
        Err(e) => return Ok(Err(e.into())),
    };
    let mut data = Vec::with_capacity(512);
    Ok(File::from(fd)
        .take(limit as u64)
        .read_to_end(&mut data)
        .map(|_| data))
}

/// The state letter of `/proc/PID/stat` (`R`, `S`, `Z`, ...), or `None` if it cannot
/// be read (the process is gone).
pub(crate) fn state(dir: &File) -> Option<u8> {
    let fd =
        rustix::fs::openat(dir, "stat", OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mut buf = [0u8; 512];
    let n = rustix::io::read(&fd, &mut buf).ok()?;
    // `PID (COMM) S ...`: COMM may hold anything, ')' included; the last ')' ends it.
    let close = buf[..n].iter().rposition(|&b| b == b')')?;
    buf.get(close + 2).copied()
}

/// Whether a `/proc/PID` directory still describes a running process: readable,
/// and not a zombie (a zombie keeps its PID but no longer has namespaces).
pub(crate) fn dir_alive(dir: &File) -> bool {
    !matches!(state(dir), None | Some(b'Z' | b'X' | b'x'))
}

/// Whether the process behind `pidfd` is still running: a pidfd polls readable once
/// its process has exited (a zombie counts as exited).
pub(crate) fn pidfd_alive(pidfd: impl AsFd) -> bool {
    let mut fds = [PollFd::new(&pidfd, PollFlags::IN)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    matches!(rustix::event::poll(&mut fds, Some(&zero)), Ok(0))
}

/// pidfd_open(2) on `pid` (in this process's pid namespace): the one place a
/// process's pidfd is made. `None` where the kernel has no pidfd_open (before 5.3);
/// ESRCH for a PID that names no process.
pub(crate) fn pidfd_open(pid: i32) -> io::Result<Option<OwnedFd>> {
    let Some(raw) = (pid > 0).then(|| Pid::from_raw(pid)).flatten() else {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    };
    match rustix::process::pidfd_open(raw, PidfdFlags::empty()) {
        Ok(fd) => Ok(Some(fd)),
        Err(Errno::NOSYS) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// [`pidfd_open`] for a target: a failure is said about `/proc/PID`.
pub(crate) fn open_pidfd(pid: i32) -> Result<Option<OwnedFd>> {
    pidfd_open(pid).map_err(|e| Error::open(format!("/proc/{pid}"), e))
}

/// Whether a process is still running: through its pidfd if there is one, else
/// through its `/proc/PID` directory.
pub(crate) fn process_alive(dir: &File, pidfd: Option<BorrowedFd<'_>>) -> bool {
    match pidfd {
        Some(pidfd) => pidfd_alive(pidfd),
        None => dir_alive(dir),
    }
}

/// Where a process's namespace is opened from.
#[derive(Clone, Copy)]
pub(crate) enum Via<'a> {
    /// Its pidfd: `ioctl(pidfd, PIDFD_GET_<KIND>_NAMESPACE)` (Linux 6.11).
    Pidfd(BorrowedFd<'a>),
    /// `ns/KIND` of its `/proc/PID` directory; its pidfd, if any, tells whether
    /// it still runs.
    Dir(&'a File, Option<BorrowedFd<'a>>),
}

/// Opens a process's namespace of `kind`: the one step by which every namespace of
/// a target process is opened (its kinds for [`crate::Target::open`], its user
/// namespace for [`crate::Handles::user_parent`]). `None` through a pidfd on a
/// kernel without the ioctls (or with `NSJOIN_FORCE_PROC=1`): open it through the
/// directory then. `path` (`/proc/PID/ns/KIND`) names it in messages. A kind this
/// kernel lacks is [`Error::KindUnsupported`]; a process that is no longer there
/// is what `gone` makes of the error; anything else is an [`Error::Open`] of `path`.
pub(crate) fn process_namespace(
    via: Via<'_>,
    kind: Kind,
    path: &Path,
    gone: impl FnOnce(io::Error) -> Error,
) -> Result<Option<(OwnedFd, Source)>> {
    match via {
        Via::Pidfd(pidfd) => match pidfd_namespace(pidfd, kind, false) {
            Ok(fd) => Ok(fd.map(|fd| (fd, Source::Pidfd))),
            Err(e) => Err(match e.raw_os_error() {
                // A zombie, or reaped.
                Some(libc::ESRCH) => gone(e),
                // The kernel has no such kind of namespace.
                Some(libc::EOPNOTSUPP) if !kind.is_supported() => Error::KindUnsupported(kind),
                _ => Error::open(path, e),
            }),
        },
        Via::Dir(dir, pidfd) => {
            let rel = format!("ns/{}", kind.name());
            let flags = OFlags::RDONLY | OFlags::CLOEXEC;
            match rustix::fs::openat(dir, rel.as_str(), flags, Mode::empty()) {
                Ok(fd) => Ok(Some((fd, Source::Proc))),
                Err(Errno::NOENT) if !kind.is_supported() => Err(Error::KindUnsupported(kind)),
                // A zombie has no namespaces left: say that it exited, not ENOENT.
                Err(e) if !process_alive(dir, pidfd) => Err(gone(e.into())),
                Err(e) => Err(Error::open(path, e)),
            }
        }
    }
}

/// The PID of the process behind a pidfd, in this process's pid namespace (the
/// `Pid:` line of its fdinfo, read under the pinned `/proc`).
pub(crate) fn pidfd_pid(pidfd: &OwnedFd) -> Result<i32> {
    use std::os::fd::AsRawFd;
    let name = format!("self/fdinfo/{}", pidfd.as_raw_fd());
    let shown = PathBuf::from(format!("/proc/{name}"));
    let fd = rustix::fs::openat(
        proc_root()?,
        &name,
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::open(&shown, e))?;
    let mut text = String::new();
    File::from(fd)
        .take(64 * 1024)
        .read_to_string(&mut text)
        .map_err(|e| Error::open(&shown, e))?;
    let pid = text
        .lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .and_then(|v| v.trim().parse::<i32>().ok())
        .ok_or_else(|| {
            Error::sys(
                format!("fd {} is not a pidfd", pidfd.as_raw_fd()),
                io::Error::from_raw_os_error(libc::EBADF),
            )
        })?;
    match pid {
        -1 => Err(Error::sys(
            "the pidfd's process has exited",
            io::Error::from_raw_os_error(libc::ESRCH),
        )),
        0 => Err(Error::sys(
            "the pidfd's process is not in this process's pid namespace",
            io::Error::from_raw_os_error(libc::EINVAL),
        )),
        pid => Ok(pid),
    }
}

/// Opens `cgroup.procs` of the cgroup v2 group a `/proc/PID/cgroup` text names,
/// for writing (joining it). `Err(Ok(why))` says why there is none to join.
pub(crate) fn cgroup2_procs(cgroup: &str) -> std::result::Result<OwnedFd, Result<&'static str>> {
    const CGROUP2_SUPER_MAGIC: i64 = 0x6367_7270;
    let group = crate::cgroup::unified(cgroup).ok_or(Ok(
        "it is not in a cgroup v2 hierarchy (this host uses cgroup v1)",
    ))?;
    let mount = ["/sys/fs/cgroup", "/sys/fs/cgroup/unified"]
        .into_iter()
        .find(|p| rustix::fs::statfs(*p).is_ok_and(|fs| fs_is(&fs, CGROUP2_SUPER_MAGIC)))
        .ok_or(Ok(
            "no cgroup v2 filesystem at /sys/fs/cgroup (this host uses cgroup v1)",
        ))?;
    let path = Path::new(mount)
        .join(group.trim_start_matches('/'))
        .join("cgroup.procs");
    rustix::fs::open(&path, OFlags::WRONLY | OFlags::CLOEXEC, Mode::empty())
        .map_err(|e| Err(Error::open(&path, e)))
}

/// How many threads this process has (`/proc/self/task`'s link count is two more).
pub(crate) fn thread_count() -> Result<u64> {
    let st = rustix::fs::statat(proc_root()?, "self/task", rustix::fs::AtFlags::empty())
        .map_err(|e| Error::open("/proc/self/task", e))?;
    #[allow(clippy::useless_conversion)]
    Ok(u64::from(st.st_nlink).saturating_sub(2))
}

// ---- namespaces through pidfds, or through /proc where the kernel cannot ----

static PIDFD_NS_UNSUPPORTED: AtomicBool = AtomicBool::new(false);

/// Whether the pidfd namespace ioctls are to be tried: not forced off by
/// `NSJOIN_FORCE_PROC=1`, and not already answered ENOTTY by this kernel.
pub(crate) fn pidfd_ns_enabled() -> bool {
    !forced() && !PIDFD_NS_UNSUPPORTED.load(Ordering::Relaxed)
}

/// Whether `NSJOIN_FORCE_PROC=1` turns every pidfd shortcut to a namespace off
/// (read once per process).
pub(crate) fn forced() -> bool {
    static FORCED_OFF: OnceLock<bool> = OnceLock::new();
    *FORCED_OFF
        .get_or_init(|| std::env::var_os(FORCE_PROC_ENV).is_some_and(|v| !v.is_empty() && v != "0"))
}

/// `ioctl(pidfd, PIDFD_GET_<KIND>_NAMESPACE)`; `Ok(None)` where the kernel has no such
/// ioctls. Which errno means that was read from the kernel source: before 6.11 a
/// pidfd's file has no ioctl handler at all and the VFS answers ENOTTY; from 6.11 on
/// the handler answers ESRCH (process gone), EACCES (no ptrace read access),
/// EOPNOTSUPP (kind not built in), EINVAL (nonzero argument). Only ENOTTY means
/// "unsupported"; every other error is returned as the error it is.
pub(crate) fn pidfd_namespace(
    pidfd: impl AsFd,
    kind: Kind,
    for_children: bool,
) -> io::Result<Option<OwnedFd>> {
    if !pidfd_ns_enabled() {
        return Ok(None);
    }
    match sys::pidfd_get_namespace(pidfd, kind, for_children) {
        Ok(fd) => Ok(Some(fd)),
        Err(e) if e.raw_os_error() == Some(libc::ENOTTY) => {
            PIDFD_NS_UNSUPPORTED.store(true, Ordering::Relaxed);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// The calling thread's own namespace of `kind`, and how it was found. For pid,
/// `for_children` asks for `pid_for_children` (what setns changes) instead of the
/// namespace the thread itself is in.
pub(crate) fn thread_namespace(
    kind: Kind,
    for_children: bool,
) -> Result<(OwnedFd, Source, PathBuf)> {
    let shown = || {
        let name = if for_children && kind == Kind::Pid {
            "pid_for_children"
        } else {
            kind.name()
        };
        PathBuf::from(format!("/proc/thread-self/ns/{name}"))
    };
    if pidfd_ns_enabled() {
        // A pidfd of this very thread (PIDFD_THREAD, Linux 6.9; EINVAL before),
        // held only for the call: nothing stays open on the thread.
        let flags = PidfdFlags::from_bits_retain(libc::O_EXCL as _);
        if let Ok(me) = rustix::process::pidfd_open(rustix::thread::gettid(), flags) {
            match pidfd_namespace(&me, kind, for_children) {
                Ok(Some(fd)) => return Ok((fd, Source::Pidfd, shown())),
                Ok(None) => {}
                Err(e) => return Err(Error::open(shown(), e)),
            }
        }
    }
    let root = proc_root()?;
    let open = |name: &str| {
        rustix::fs::openat(
            root,
            format!("thread-self/ns/{name}"),
            OFlags::RDONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
    };
    if for_children && kind == Kind::Pid {
        // Missing only between unshare(CLONE_NEWPID) and the first child; then
        // `pid` is what it will be.
        if let Ok(fd) = open("pid_for_children") {
            return Ok((fd, Source::Proc, shown()));
        }
    }
    let fd = open(kind.name()).map_err(|e| Error::open(shown(), e))?;
    Ok((fd, Source::Proc, shown()))
}

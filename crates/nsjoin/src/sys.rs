//! The only module with `unsafe`: the few kernel interfaces that rustix does not
//! wrap safely. Each function is one system call, allocation-free, and therefore
//! usable between fork and exec.
//!
//! It is longer than the 500 lines the tree keeps to: every `unsafe` block lives
//! here, so that one file is all a reviewer of unsafe code has to read.

use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::Command;

// From <linux/nsfs.h>: _IO(0xb7, n).
const NS_GET_USERNS: libc::c_ulong = 0xb701;
const NS_GET_PARENT: libc::c_ulong = 0xb702;
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

fn cvt(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `ioctl(fd, NS_GET_NSTYPE, 0)`: the `CLONE_NEW*` flag of the namespace `fd` refers
/// to. See ioctl_ns(2).
///
/// # References
/// - [`ioctl_ns(2)`](https://man7.org/linux/man-pages/man2/ioctl_ns.2.html)
pub(crate) fn ns_get_nstype(fd: impl AsFd) -> io::Result<i32> {
    // SAFETY: NS_GET_NSTYPE takes an unused argument, passed as 0 (ioctl is variadic:
    // leaving it out would hand the kernel whatever is in that register), and only
    // reads the fd, which is valid for the duration of the call because it is borrowed.
    cvt(unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), NS_GET_NSTYPE, 0 as libc::c_ulong) })
}

/// An ioctl that takes an argument which must be 0 and returns a new fd.
fn ns_get_fd(fd: impl AsFd, request: libc::c_ulong) -> io::Result<OwnedFd> {
    // SAFETY: NS_GET_USERNS/NS_GET_PARENT/SIOCGSKNS/PIDFD_GET_*_NAMESPACE take an
    // argument that must be 0 (the pidfd ones answer EINVAL otherwise), passed
    // explicitly; they return a new fd (opened O_CLOEXEC by the kernel) or -1. The
    // input fd is borrowed and valid.
    let new = cvt(unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), request, 0 as libc::c_ulong) })?;
    // SAFETY: `new` is a fresh fd that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// `ioctl(fd, NS_GET_USERNS)`: the user namespace that owns the namespace `fd`.
///
/// # References
/// - [`ioctl_ns(2)`](https://man7.org/linux/man-pages/man2/ioctl_ns.2.html)
pub(crate) fn ns_get_userns(fd: impl AsFd) -> io::Result<OwnedFd> {
    ns_get_fd(fd, NS_GET_USERNS)
}

/// `ioctl(fd, NS_GET_PARENT)`: the parent of a pid or user namespace.
///
/// # References
/// - [`ioctl_ns(2)`](https://man7.org/linux/man-pages/man2/ioctl_ns.2.html)
pub(crate) fn ns_get_parent(fd: impl AsFd) -> io::Result<OwnedFd> {
    ns_get_fd(fd, NS_GET_PARENT)
}

/// `ioctl(sock, SIOCGSKNS)`: an fd on the network namespace of socket `sock`.
/// See sock_ioctl in the kernel and `nsenter -N`.
///
/// # References
/// - [`ioctl_socket(2)`](https://man7.org/linux/man-pages/man2/ioctl_socket.2.html)
pub(crate) fn socket_net_namespace(sock: impl AsFd) -> io::Result<OwnedFd> {
    const SIOCGSKNS: libc::c_ulong = 0x894c;
    ns_get_fd(sock, SIOCGSKNS)
}

/// `ioctl(pidfd, PIDFD_GET_<KIND>_NAMESPACE, 0)` (Linux 6.11): an fd on the namespace
/// of `kind` of the process (or thread) behind `pidfd`, without going through `/proc`.
/// With `for_children`, pid means `PIDFD_GET_PID_FOR_CHILDREN_NAMESPACE`. Older
/// kernels answer ENOTTY (see `procfs::pidfd_namespace` for the other answers).
///
/// # References
/// - [`ioctl_pidfd(2)`](https://man7.org/linux/man-pages/man2/ioctl_pidfd.2.html)
pub(crate) fn pidfd_get_namespace(
    pidfd: impl AsFd,
    kind: crate::Kind,
    for_children: bool,
) -> io::Result<OwnedFd> {
    use crate::Kind;
    // _IO(PIDFS_IOCTL_MAGIC = 0xFF, n) from <linux/pidfd.h>.
    let n: libc::c_ulong = match kind {
        Kind::Cgroup => 1,
        Kind::Ipc => 2,
        Kind::Mnt => 3,
        Kind::Net => 4,
        Kind::Pid if for_children => 6,
        Kind::Pid => 5,
        Kind::Time => 7,
        Kind::User => 9,
        Kind::Uts => 10,
    };
    ns_get_fd(pidfd, 0xff00 | n)
}

/// `unshare(CLONE_FS)`: gives the calling thread its own root, cwd and umask, which
/// setns(2) requires before it will change the thread's mount namespace.
///
/// # References
/// - [`unshare(2)`](https://man7.org/linux/man-pages/man2/unshare.2.html)
pub(crate) fn unshare_fs() -> io::Result<()> {
    // SAFETY: CLONE_FS only detaches root/cwd/umask; it does not touch the fd
    // table, so no other thread can observe a dangling file descriptor.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::FS) }?;
    Ok(())
}

/// `unshare(CLONE_NEWNS)`: a mount namespace of the caller's own, a copy of the
/// one it was in (what `ip netns exec` gives its program).
///
/// # References
/// - [`unshare(2)`](https://man7.org/linux/man-pages/man2/unshare.2.html)
pub(crate) fn unshare_mount_ns() -> Result<(), rustix::io::Errno> {
    // SAFETY: CLONE_NEWNS (which implies CLONE_FS) copies the mount table and
    // detaches root/cwd/umask; it does not touch the fd table, so no other thread
    // can observe a dangling file descriptor.
    unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS) }
}

/// Registers `f` to run in the child between fork and exec.
///
/// A safe function with a contract, not an `unsafe fn`: the project keeps every
/// `unsafe` block in this module, and its one caller upholds the contract. The
/// caller guarantees that `f` only makes async-signal-safe calls (raw system calls
/// on data prepared before the fork; no allocation, no locks), which is what
/// `spawn::pre_exec::ChildPlan::run` is written to do.
///
/// # References
/// - [`fork(2)`](https://man7.org/linux/man-pages/man2/fork.2.html)
pub(crate) fn set_pre_exec<F>(cmd: &mut Command, f: F)
where
    F: FnMut() -> io::Result<()> + Send + Sync + 'static,
{
    // SAFETY: see the contract above: `f` is allocation- and lock-free.
    unsafe {
        cmd.pre_exec(f);
    }
}

/// Forks the calling (single-threaded, post-fork) process so that the new process
/// is a sibling: `clone(CLONE_PARENT | SIGCHLD)`. The new process is created in the
/// caller's `pid_for_children` namespace and becomes a child of the caller's parent,
/// so the program that spawned us can wait for and signal it directly.
///
/// Returns `Some(pid)` in the calling process and `None` in the new one.
///
/// # References
/// - [`clone(2)`](https://man7.org/linux/man-pages/man2/clone.2.html)
pub(crate) fn fork_sibling() -> io::Result<Option<i32>> {
    // SAFETY: a raw clone without CLONE_VM and with a null stack behaves like fork:
    // the child gets a copy-on-write copy of the address space and continues from
    // here. It is only called in a single-threaded child of `Command::spawn`, where
    // no other thread can hold a lock the copy would inherit.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_clone,
            (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong,
            0usize,
            0usize,
            0usize,
            0usize,
        )
    };
    match ret {
        r if r < 0 => Err(io::Error::last_os_error()),
        0 => Ok(None),
        pid => Ok(Some(pid as i32)),
    }
}

/// `prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, cap)`: adds `cap` to the ambient set,
/// so that it survives execve of a non-set-user-ID program as a non-root user.
///
/// # References
/// - [`prctl(2)`](https://man7.org/linux/man-pages/man2/prctl.2.html)
pub(crate) fn raise_ambient_cap(cap: u32) -> io::Result<()> {
    // SAFETY: plain prctl with integer arguments; no memory is passed.
    cvt(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
            cap as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
    .map(drop)
}

/// `_exit(code)`: ends the process at once, without running atexit handlers or
/// flushing stdio (both unsafe after fork).
///
/// # References
/// - [`_exit(2)`](https://man7.org/linux/man-pages/man2/_exit.2.html)
pub(crate) fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and never returns.
    unsafe { libc::_exit(code) }
}

/// `ioctl(fd, NS_GET_OWNER_UID)`: the UID (in the caller's user namespace) of the
/// creator of the user namespace `fd`. See ioctl_ns(2).
///
/// # References
/// - [`ioctl_ns(2)`](https://man7.org/linux/man-pages/man2/ioctl_ns.2.html)
#[cfg(feature = "scan")]
pub(crate) fn ns_get_owner_uid(fd: impl AsFd) -> io::Result<u32> {
    const NS_GET_OWNER_UID: libc::c_ulong = 0xb704;
    let mut uid: libc::uid_t = 0;
    // SAFETY: NS_GET_OWNER_UID writes one uid_t through the pointer, which points to
    // a live local of that type; the fd is borrowed and valid.
    cvt(unsafe { libc::ioctl(fd.as_fd().as_raw_fd(), NS_GET_OWNER_UID, &mut uid) })?;
    Ok(uid)
}

/// A passwd entry's login name and shell.
pub(crate) struct Passwd {
    #[cfg_attr(not(feature = "scan"), allow(dead_code))]
    pub name: String,
    pub shell: std::path::PathBuf,
}

/// The passwd entry of `uid` (getpwuid_r(3), so NSS sources such as LDAP count
/// too), or `None` if it has none.
///
/// # References
/// - [`getpwuid_r(3)`](https://man7.org/linux/man-pages/man3/getpwuid_r.3.html)
pub(crate) fn passwd(uid: u32) -> Option<Passwd> {
    use std::os::unix::ffi::OsStrExt;
    let mut buf = vec![0 as libc::c_char; 1024];
    loop {
        // SAFETY: an all-zero passwd (null pointers, zero ids) is a valid value.
        let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
        let mut result: *mut libc::passwd = std::ptr::null_mut();
        // SAFETY: every pointer refers to a live local or to `buf`, whose true length
        // is passed; getpwuid_r fills `pwd` with pointers into `buf` only.
        let rc =
            unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
        if rc == libc::ERANGE && buf.len() < 1 << 20 {
            buf.resize(buf.len() * 4, 0);
            continue;
        }
        if rc != 0 || result.is_null() || pwd.pw_name.is_null() {
            return None;
        }
        // SAFETY: on success pw_name and pw_shell are null or point to NUL-terminated
        // strings inside `buf`, which outlives these borrows.
        let (name, shell) = unsafe {
            let shell = (!pwd.pw_shell.is_null()).then(|| std::ffi::CStr::from_ptr(pwd.pw_shell));
            (std::ffi::CStr::from_ptr(pwd.pw_name), shell)
        };
        return Some(Passwd {
            name: name.to_string_lossy().into_owned(),
            shell: std::ffi::OsStr::from_bytes(shell.map_or(&[][..], |s| s.to_bytes())).into(),
        });
    }
}

/// Whether the locale the environment selects for LC_CTYPE (LC_ALL, LC_CTYPE, LANG,
/// resolved as setlocale(3) would, including "not installed → C") uses UTF-8.
/// Uses newlocale(3)/nl_langinfo_l(3), which leave the process locale alone.
///
/// # References
/// - [`newlocale(3)`](https://man7.org/linux/man-pages/man3/newlocale.3.html)
#[cfg(feature = "scan")]
pub(crate) fn env_locale_is_utf8() -> bool {
    // SAFETY: newlocale reads the environment and returns a new locale object or
    // null; a zero base means "start from nothing" and is allowed.
    let loc = unsafe { libc::newlocale(libc::LC_CTYPE_MASK, c"".as_ptr(), 0 as libc::locale_t) };
    if loc.is_null() {
        return false;
    }
    // SAFETY: `loc` is the valid locale object made above; nl_langinfo_l returns a
    // NUL-terminated string owned by it, read before the locale is freed.
    let utf8 = unsafe {
        let codeset = libc::nl_langinfo_l(libc::CODESET, loc);
        !codeset.is_null() && std::ffi::CStr::from_ptr(codeset).to_bytes() == b"UTF-8"
    };
    // SAFETY: `loc` came from newlocale and is freed exactly once.
    unsafe { libc::freelocale(loc) };
    utf8
}

/// Whether fd 1 was closed when the process started (`nsls >&-`).
///
/// By the time `main` runs, Rust's runtime has put `/dev/null` on a closed 0, 1 or
/// 2, and writes to it succeed: a command would then exit 0 having printed nothing.
/// Which fd it was cannot be told afterwards (a `/dev/null` the caller passed on
/// purpose looks the same), so this looks before the runtime does, from an ELF
/// constructor (`.init_array` runs before `main`, and so before the runtime's
/// start-up code). The constructor only records the answer. Only with feature
/// `scan` (for nsls): a program that just enters namespaces gets no constructor.
#[cfg(feature = "scan")]
pub(crate) fn stdout_closed_at_start() -> bool {
    start::STDOUT_CLOSED.load(std::sync::atomic::Ordering::Relaxed)
}

#[cfg(feature = "scan")]
mod start {
    use std::sync::atomic::{AtomicBool, Ordering};

    pub(super) static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

    extern "C" fn look() {
        // SAFETY: fcntl(F_GETFD) only reads the fd table entry of fd 1; it takes no
        // pointer and changes nothing. errno is read right after, on this thread.
        let closed = unsafe { libc::fcntl(1, libc::F_GETFD) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF);
        STDOUT_CLOSED.store(closed, Ordering::Relaxed);
    }

    // SAFETY (of placing it in .init_array): `look` takes no arguments the loader's
    // (argc, argv, envp) call could break under the C ABI, touches only an atomic
    // that needs no initialisation at run time, and cannot unwind.
    #[used]
    #[link_section = ".init_array"]
    static LOOK: extern "C" fn() = look;
}

// ---------------------------------------------------------------------------
// Another process's seccomp filters (ptrace), and installing copies of them.
// ---------------------------------------------------------------------------

// From <linux/ptrace.h>; spelled here because libc types them per C library.
const PTRACE_DETACH: libc::c_long = 17;
const PTRACE_SEIZE: libc::c_long = 0x4206;
const PTRACE_INTERRUPT: libc::c_long = 0x4207;
const PTRACE_SECCOMP_GET_FILTER: libc::c_long = 0x420c;
const PTRACE_SECCOMP_GET_METADATA: libc::c_long = 0x420d;

/// One classic BPF instruction, as seccomp(2) and ptrace(2) exchange them.
pub(crate) type SockFilter = libc::sock_filter;

/// The raw ptrace(2) system call (not glibc's wrapper, which treats the PEEK
/// requests differently): `ptrace(request, pid, addr, data)`, with integer
/// arguments only.
fn ptrace_int(
    request: libc::c_long,
    pid: i32,
    addr: libc::c_ulong,
    data: libc::c_ulong,
) -> io::Result<libc::c_long> {
    // SAFETY: every request passed here (SEIZE, INTERRUPT, DETACH, and
    // SECCOMP_GET_FILTER with a null buffer) takes integers only and writes no
    // memory of this process.
    let ret = unsafe { libc::syscall(libc::SYS_ptrace, request, pid as libc::c_long, addr, data) };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

/// `ptrace(PTRACE_SEIZE, pid, 0, 0)`: become the tracer of `pid` without stopping
/// it. The calling *thread* is the tracer; the kernel detaches its tracees when
/// the thread exits.
///
/// # References
/// - [`ptrace(2)`](https://man7.org/linux/man-pages/man2/ptrace.2.html)
pub(crate) fn ptrace_seize(pid: i32) -> io::Result<()> {
    ptrace_int(PTRACE_SEIZE, pid, 0, 0).map(drop)
}

/// `ptrace(PTRACE_INTERRUPT, pid, 0, 0)`: ask a seized tracee to stop.
///
/// # References
/// - [`ptrace(2)`](https://man7.org/linux/man-pages/man2/ptrace.2.html)
pub(crate) fn ptrace_interrupt(pid: i32) -> io::Result<()> {
    ptrace_int(PTRACE_INTERRUPT, pid, 0, 0).map(drop)
}

/// `ptrace(PTRACE_DETACH, pid, 0, signal)`: let the stopped tracee go, delivering
/// `signal` (0 for none).
///
/// # References
/// - [`ptrace(2)`](https://man7.org/linux/man-pages/man2/ptrace.2.html)
pub(crate) fn ptrace_detach(pid: i32, signal: i32) -> io::Result<()> {
    ptrace_int(PTRACE_DETACH, pid, 0, signal as libc::c_ulong).map(drop)
}

/// `waitpid(pid, &status, __WALL | WNOHANG)`: the next state change of a tracee
/// (which need not be a child), as the raw status; `None` if it has none yet.
///
/// # References
/// - [`waitpid(2)`](https://man7.org/linux/man-pages/man2/waitpid.2.html)
pub(crate) fn poll_tracee(pid: i32) -> io::Result<Option<i32>> {
    let flags = libc::__WALL | libc::WNOHANG;
    let mut status: libc::c_int = 0;
    loop {
        // SAFETY: waitpid writes one int through the pointer, which points to a
        // live local of that type.
        let ret = unsafe { libc::waitpid(pid, &mut status, flags) };
        match ret {
            0 => return Ok(None),
            r if r > 0 => return Ok(Some(status)),
            _ => {}
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// `ptrace(PTRACE_SECCOMP_GET_FILTER, pid, index, buf)` on a stopped tracee: the
/// instructions of its seccomp filter `index` (0 is the most recently attached).
/// ENOENT past the last one. Needs CAP_SYS_ADMIN and CONFIG_CHECKPOINT_RESTORE.
///
/// # References
/// - [`ptrace(2)`](https://man7.org/linux/man-pages/man2/ptrace.2.html)
pub(crate) fn ptrace_seccomp_filter(pid: i32, index: u32) -> io::Result<Vec<SockFilter>> {
    let len = ptrace_int(PTRACE_SECCOMP_GET_FILTER, pid, index.into(), 0)?;
    let empty = SockFilter {
        code: 0,
        jt: 0,
        jf: 0,
        k: 0,
    };
    let mut prog = vec![empty; len as usize];
    // SAFETY: the kernel writes at most the filter's length in instructions (the
    // count it has just given) into `prog`, which has room for exactly that many;
    // a filter cannot change once attached, so the count still holds.
    let got = unsafe {
        libc::syscall(
            libc::SYS_ptrace,
            PTRACE_SECCOMP_GET_FILTER,
            pid as libc::c_long,
            index as libc::c_ulong,
            prog.as_mut_ptr(),
        )
    };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    prog.truncate(got as usize);
    Ok(prog)
}

/// `ptrace(PTRACE_SECCOMP_GET_METADATA, pid, sizeof, &meta)`: the flags filter
/// `index` of a stopped tracee was attached with (only `SECCOMP_FILTER_FLAG_LOG`
/// is kept by the kernel).
///
/// # References
/// - [`ptrace(2)`](https://man7.org/linux/man-pages/man2/ptrace.2.html)
pub(crate) fn ptrace_seccomp_flags(pid: i32, index: u32) -> io::Result<u64> {
    #[repr(C)]
    struct Metadata {
        filter_off: u64,
        flags: u64,
    }
    let mut meta = Metadata {
        filter_off: index.into(),
        flags: 0,
    };
    // SAFETY: the kernel reads filter_off and writes flags of the struct through
    // the pointer, no more than the size passed, which is the struct's own.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_ptrace,
            PTRACE_SECCOMP_GET_METADATA,
            pid as libc::c_long,
            std::mem::size_of::<Metadata>() as libc::c_ulong,
            &mut meta as *mut Metadata,
        )
    };
    if ret < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(meta.flags)
}

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, &prog)`: attaches a filter to the
/// calling thread. Needs `no_new_privs` or CAP_SYS_ADMIN. Allocation-free, for
/// use between fork and exec.
///
/// # References
/// - [`seccomp(2)`](https://man7.org/linux/man-pages/man2/seccomp.2.html)
pub(crate) fn seccomp_set_filter(prog: &[SockFilter], flags: u64) -> io::Result<()> {
    let fprog = libc::sock_fprog {
        len: prog
            .len()
            .try_into()
            .map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))?,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: the kernel only reads `fprog` and the `len` instructions it points
    // to, which `prog` holds for the duration of the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER as libc::c_ulong,
            flags as libc::c_ulong,
            &fprog as *const libc::sock_fprog,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// `prctl(PR_CAPBSET_DROP, cap)`: removes `cap` from the bounding set (needs
/// CAP_SETPCAP).
///
/// # References
/// - [`prctl(2)`](https://man7.org/linux/man-pages/man2/prctl.2.html)
pub(crate) fn drop_bounding_cap(cap: u32) -> io::Result<()> {
    // SAFETY: plain prctl with integer arguments; no memory is passed.
    cvt(unsafe {
        libc::prctl(
            libc::PR_CAPBSET_DROP,
            cap as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
    .map(drop)
}

/// `prctl(PR_CAPBSET_READ, cap)`: whether `cap` is in the calling thread's
/// bounding set.
///
/// # References
/// - [`prctl(2)`](https://man7.org/linux/man-pages/man2/prctl.2.html)
pub(crate) fn bounding_has(cap: u32) -> io::Result<bool> {
    // SAFETY: plain prctl with integer arguments; no memory is passed.
    cvt(unsafe {
        libc::prctl(
            libc::PR_CAPBSET_READ,
            cap as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
    .map(|r| r == 1)
}

/// `unshare(CLONE_FS | CLONE_NEWNS)`: gives the calling thread its own root, cwd
/// and umask, and a new mount namespace (a copy of its current one).
///
/// # References
/// - [`unshare(2)`](https://man7.org/linux/man-pages/man2/unshare.2.html)
pub(crate) fn unshare_fs_and_mounts() -> io::Result<()> {
    // SAFETY: neither flag touches the fd table (no CLONE_FILES), so no other
    // thread can observe a dangling file descriptor; CLONE_FS and CLONE_NEWNS
    // change only the calling thread's fs struct and mount namespace.
    unsafe {
        rustix::thread::unshare_unsafe(
            rustix::thread::UnshareFlags::FS | rustix::thread::UnshareFlags::NEWNS,
        )
    }?;
    Ok(())
}

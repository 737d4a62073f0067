//! Reading every process's `/proc/PID/ns/*` and `/proc/PID/fd/*`, in parallel.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use super::Scan;
use crate::{Error, Kind, KindSet, Result};

/// The process, or the fd of it being looked at, is gone (ENOENT, ESRCH): it exited
/// or closed the fd while the scan looked. Skipped.
pub(super) fn gone(e: Errno) -> bool {
    e == Errno::NOENT || e == Errno::SRCH
}

/// Not ours to look into (EACCES, EPERM): another user's process, or PID 1 on
/// machines whose supervisor hides it. Skipped, as lsns skips it.
pub(super) fn denied(e: Errno) -> bool {
    e == Errno::ACCESS || e == Errno::PERM
}

/// Out of fds or memory. Where other failures only mean "no such information"
/// (an ioctl a kernel lacks, a socket of another kind), these still fail the scan:
/// the listing would be silently incomplete.
pub(super) fn exhausted(e: Errno) -> bool {
    e == Errno::MFILE || e == Errno::NFILE || e == Errno::NOMEM
}

pub(super) fn errno_of(e: &io::Error) -> Errno {
    Errno::from_io_error(e).unwrap_or(Errno::IO)
}

/// The processes of one block of PIDs, by the index of its first PID.
pub(super) type Block = (usize, Vec<ProcScan>);

/// What one process showed.
pub(super) struct ProcScan {
    pub(super) pid: i32,
    pub(super) ns: [u64; 8],
    /// (fd, inode) of open fds on nsfs.
    pub(super) nsfs_fds: Vec<(i32, u64)>,
    /// fds that are sockets.
    pub(super) sockets: Vec<i32>,
}

pub(super) fn list_pids(proc_dir: BorrowedFd<'_>) -> Result<Vec<i32>> {
    let dup = rustix::fs::openat(
        proc_dir,
        ".",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| Error::open("/proc", e))?;
    let mut dir = rustix::fs::Dir::new(dup).map_err(|e| Error::open("/proc", e))?;
    let mut pids = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry.map_err(|e| Error::open("/proc", e))?;
        if let Some(pid) = parse_num(entry.file_name().to_bytes()) {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    Ok(pids)
}

pub(crate) fn parse_num(name: &[u8]) -> Option<i32> {
    if name.is_empty() || name.len() > 10 || !name.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(name).ok()?.parse().ok()
}

/// One process's namespaces (and fds); `None` if it is gone.
fn scan_process(
    proc_dir: BorrowedFd<'_>,
    pid: i32,
    kinds: KindSet,
    fds: Option<u64>,
    path: &mut String,
) -> Result<Option<ProcScan>> {
    use std::fmt::Write;
    path.clear();
    let _ = write!(path, "{pid}");
    // One O_PATH handle on /proc/PID: the ns and fd lookups below all refer to the
    // same process even if its PID is recycled meanwhile.
    let dir = match rustix::fs::openat(
        proc_dir,
        path.as_str(),
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(dir) => dir,
        // EACCES: /proc mounted with hidepid=1 hides other users' processes.
        Err(e) if gone(e) || denied(e) => return Ok(None),
        Err(e) => return Err(Error::open(format!("/proc/{pid}"), e)),
    };
    let mut ns = [0u64; 8];
    let mut link = [0u8; 64];
    for kind in kinds.iter() {
        path.clear();
        path.push_str("ns/");
        path.push_str(kind.name());
        // readlink ("net:[4026531840]") costs about half a stat, which would
        // follow the link into nsfs. EACCES (another user's process, PID 1 on
        // some machines), ENOENT (exited, zombie): not in it.
        match rustix::fs::readlinkat_raw(&dir, path.as_str(), &mut link[..]) {
            Ok(n) => {
                if let Some((name, ino)) = parse_ns_link(&link[..n]) {
                    if name == kind.name().as_bytes() {
                        ns[kind as usize] = ino;
                    }
                }
            }
            Err(e) if gone(e) || denied(e) => {}
            Err(e) => {
                return Err(Error::sys(
                    format!("cannot read /proc/{pid}/ns/{}", kind.name()),
                    e,
                ))
            }
        }
    }
    let mut scan = ProcScan {
        pid,
        ns,
        nsfs_fds: Vec::new(),
        sockets: Vec::new(),
    };
    if let Some(nsfs_dev) = fds {
        scan_fds(&dir, &mut scan, nsfs_dev)?;
    }
    Ok(Some(scan))
}

/// Splits a namespace link's text, `KIND:[INODE]`, as readlink(2) shows nsfs files
/// (and `socket:[INODE]` for sockets). Real files read as absolute paths.
pub(crate) fn parse_ns_link(link: &[u8]) -> Option<(&[u8], u64)> {
    let open = link.iter().position(|&b| b == b'[')?;
    if open == 0 || link[open - 1] != b':' || link.last() != Some(&b']') {
        return None;
    }
    let digits = &link[open + 1..link.len() - 1];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let ino = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((&link[..open - 1], ino))
}

/// The nsfs files and sockets among a process's open fds. A process whose fds may
/// not be read (another user's) shows none, as in lsns.
///
/// A namespace file reads `KIND:[INODE]`, unless it was opened through a bind
/// mount: then the link reads the mount's path, or `/` once the mount is gone,
/// and only the file itself tells. So every fd whose link reads as a path is
/// looked at (a stat through the link): on nsfs (`nsfs_dev`), it holds a
/// namespace, whose kind is asked of the kernel later.
fn scan_fds(pid_dir: &std::os::fd::OwnedFd, scan: &mut ProcScan, nsfs_dev: u64) -> Result<()> {
    let pid = scan.pid;
    let fd_dir = match rustix::fs::openat(
        pid_dir,
        "fd",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) {
        Ok(dir) => dir,
        Err(e) if gone(e) || denied(e) => return Ok(()),
        Err(e) => return Err(Error::open(format!("/proc/{pid}/fd"), e)),
    };
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut dir = rustix::fs::RawDir::new(&fd_dir, &mut buf);
    let mut link = [0u8; 256];
    while let Some(entry) = dir.next() {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) if gone(e) => break,
            Err(e) => return Err(Error::sys(format!("cannot read /proc/{pid}/fd"), e)),
        };
        let name = entry.file_name();
        let Some(fd) = parse_num(name.to_bytes()) else {
            continue;
        };
        let n = match rustix::fs::readlinkat_raw(&fd_dir, name, &mut link[..]) {
            Ok(n) => n,
            // Closed meanwhile, or the process exited.
            Err(e) if gone(e) || denied(e) => continue,
            Err(e) => return Err(Error::sys(format!("cannot read /proc/{pid}/fd/{fd}"), e)),
        };
        let Some((what, ino)) = parse_ns_link(&link[..n]) else {
            if link[..n].first() == Some(&b'/') && nsfs_dev != 0 {
                match rustix::fs::statat(&fd_dir, name, rustix::fs::AtFlags::empty()) {
                    Ok(st) if st.st_dev == nsfs_dev => scan.nsfs_fds.push((fd, st.st_ino)),
                    Ok(_) => {}
                    Err(e) if exhausted(e) => {
                        return Err(Error::sys(format!("cannot stat /proc/{pid}/fd/{fd}"), e))
                    }
                    // Closed meanwhile, gone, or a file we may not look at.
                    Err(_) => {}
                }
            }
            continue;
        };
        if what == b"socket" {
            scan.sockets.push(fd);
        } else if Kind::ALL.iter().any(|k| k.name().as_bytes() == what) {
            scan.nsfs_fds.push((fd, ino));
        }
    }
    Ok(())
}

impl Scan {
    /// Reads `/proc/PID/ns/*` (and `/proc/PID/fd/*`) of every PID, on the calling
    /// thread and as many helper threads as can be started; PIDs that vanish are
    /// dropped. The first other error stops every thread and is returned. The
    /// result is in blocks, in PID order.
    pub(super) fn scan_processes(
        &self,
        proc_dir: BorrowedFd<'_>,
        pids: &[i32],
        nsfs_dev: u64,
    ) -> Result<Vec<Vec<ProcScan>>> {
        const BLOCK: usize = 64;
        // A helper needs little: a few path and link buffers, no recursion. A
        // small stack keeps the address space small (it counts against
        // RLIMIT_AS, as every thread's stack does).
        const STACK: usize = 256 << 10;
        let mut threads = self.threads.min(pids.len().div_ceil(BLOCK)).max(1);
        // Two fds per thread at a time: with a low fd limit, one thread only.
        if rustix::process::getrlimit(rustix::process::Resource::Nofile)
            .current
            .is_some_and(|n| n < 64)
        {
            threads = 1;
        }
        let fds = self.fds.then_some(nsfs_dev);
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let work = || -> Result<Vec<Block>> {
            let mut out: Vec<Block> = Vec::new();
            let mut path = String::with_capacity(32);
            while !failed.load(Ordering::Relaxed) {
                let start = next.fetch_add(BLOCK, Ordering::Relaxed);
                if start >= pids.len() {
                    break;
                }
                let block = &pids[start..(start + BLOCK).min(pids.len())];
                let mut found = Vec::with_capacity(block.len());
                for &pid in block {
                    match scan_process(proc_dir, pid, self.kinds, fds, &mut path) {
                        Ok(Some(p)) => found.push(p),
                        Ok(None) => {}
                        Err(e) => {
                            failed.store(true, Ordering::Relaxed);
                            return Err(e);
                        }
                    }
                }
                out.push((start, found));
            }
            Ok(out)
        };
        let results: Vec<Result<Vec<Block>>> = std::thread::scope(|s| {
            let work = &work;
            // A helper that cannot be started (EAGAIN from RLIMIT_NPROC or a full
            // pids cgroup, ENOMEM under RLIMIT_AS) is simply not there: the
            // calling thread takes its share.
            let helpers: Vec<_> = (1..threads)
                .map_while(|_| {
                    std::thread::Builder::new()
                        .name("nsjoin-scan".into())
                        .stack_size(STACK)
                        .spawn_scoped(s, work)
                        .ok()
                })
                .collect();
            let mut results = vec![work()];
            for h in helpers {
                results.push(h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
            }
            results
        });
        let mut blocks = Vec::new();
        for r in results {
            blocks.extend(r?);
        }
        blocks.sort_by_key(|(start, _)| *start);
        Ok(blocks.into_iter().map(|(_, v)| v).collect())
    }
}

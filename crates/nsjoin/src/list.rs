//! Discovery: every namespace on the system, what holds it, and how to reach it.
//!
//! A namespace lives as long as something refers to it. [`Scan::run`] looks for all
//! the holders util-linux `lsns` 2.41 knows about:
//!
//! * a process in it (`/proc/PID/ns/KIND`, one readlink per process and kind);
//! * a bind mount of it (an nsfs entry in `/proc/self/mountinfo`, e.g. `/run/netns/NAME`);
//! * an open fd on it (`/proc/PID/fd/N` reading `KIND:[INODE]`);
//! * a socket created in it (a network namespace only, asked with `SIOCGSKNS` on a
//!   copy of the socket made with pidfd_getfd(2));
//! * another namespace it owns or is the parent of (`NS_GET_USERNS`, `NS_GET_PARENT`).
//!
//! The result is plain data ([`Listing`], serde-serialisable) that `nsls` prints. A
//! process that exits while it is being looked at is skipped, never an error; so is
//! one that the caller may not look into (EACCES/EPERM: another user's process), as
//! lsns skips it. Any other failure (out of fds, out of memory) fails the scan with
//! an error that names the file: a listing is complete or it is not returned.
//!
//! The scan holds a handful of fds at a time, whatever the number of processes and
//! namespaces, and its memory grows with what it finds. Its helper threads are an
//! optimisation only: where none can be started (`RLIMIT_NPROC`, a full pids
//! cgroup, a small address space) the calling thread does all the work.
//!
//! ```
//! use nsjoin::{Kind, KindSet, Scan};
//! let listing = Scan::new().kinds(KindSet::from(Kind::Uts)).run().unwrap();
//! let me = listing.process(std::process::id() as i32).unwrap();
//! let uts = listing.get(me.ns(Kind::Uts).unwrap()).unwrap();
//! assert_eq!(uts.kind, Kind::Uts);
//! assert!(uts.nprocs >= 1);
//! ```

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use serde::{Serialize, Serializer};

use crate::container::Engine;
use crate::{sys, Error, Kind, KindSet, Result};

/// How to look for namespaces. `Scan::new()` looks for every kind the kernel has,
/// through every kind of holder, using all CPUs.
#[derive(Clone)]
pub struct Scan {
    kinds: KindSet,
    fds: bool,
    mounts: bool,
    threads: usize,
    containers: Option<Arc<dyn ContainerResolver>>,
}

impl std::fmt::Debug for Scan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scan")
            .field("kinds", &self.kinds)
            .field("fds", &self.fds)
            .field("mounts", &self.mounts)
            .field("threads", &self.threads)
            .field("containers", &self.containers.is_some())
            .finish()
    }
}

impl Default for Scan {
    fn default() -> Scan {
        Scan::new()
    }
}

impl Scan {
    /// Every supported kind, every holder, container names from cgroup paths.
    pub fn new() -> Scan {
        Scan {
            kinds: KindSet::supported(),
            fds: true,
            mounts: true,
            threads: std::thread::available_parallelism().map_or(1, |n| n.get().min(8)),
            containers: Some(Arc::new(CgroupPaths)),
        }
    }

    /// Only these kinds (`lsns -t`). Owners and parents of another kind are still
    /// named by inode in [`NsInfo::owner`]/[`NsInfo::parent`], but not listed.
    pub fn kinds(mut self, kinds: KindSet) -> Scan {
        self.kinds = kinds.intersection(KindSet::supported());
        self
    }

    /// Whether to look at every process's open fds for namespace files and for
    /// sockets of otherwise unheld network namespaces (default: yes).
    pub fn fds(mut self, yes: bool) -> Scan {
        self.fds = yes;
        self
    }

    /// Whether to look for nsfs bind mounts in `/proc/self/mountinfo` (default: yes).
    pub fn mounts(mut self, yes: bool) -> Scan {
        self.mounts = yes;
        self
    }

    /// How many threads read `/proc` (default: the number of CPUs, at most 8). The
    /// calling thread is one of them; fewer run where no more can be started, and
    /// one where the fd limit is low (below 64).
    pub fn threads(mut self, n: usize) -> Scan {
        self.threads = n.max(1);
        self
    }

    /// How to tell which container a namespace belongs to (`None`: don't).
    /// The default, [`CgroupPaths`], reads the lowest PID's cgroup path.
    pub fn containers(mut self, resolver: Option<Arc<dyn ContainerResolver>>) -> Scan {
        self.containers = resolver;
        self
    }

    /// Scans the system.
    ///
    /// Fails, naming the file or call, on any error but a process or fd that went
    /// away or may not be looked into (see the module documentation).
    pub fn run(&self) -> Result<Listing> {
        let proc_dir = rustix::fs::open(
            "/proc",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::open("/proc", e))?;
        let pids = list_pids(&proc_dir)?;
        let scanned = self.scan_processes(&proc_dir, &pids)?;
        drop((pids, proc_dir));

        let mut b = Builder {
            kinds: self.kinds,
            entries: Vec::new(),
            index: HashMap::new(),
            described: Vec::new(),
            netlink: NetnsIds::new(),
        };
        let mut processes = Vec::with_capacity(scanned.len());
        let mut fd_refs = Vec::new();
        let mut sockets = Vec::new();
        // Block by block, in PID order (no second copy of every process's scan).
        for p in scanned.into_iter().flatten() {
            for kind in self.kinds.iter() {
                let ino = p.ns[kind as usize];
                if ino == 0 {
                    continue;
                }
                let i = b.entry(ino, kind);
                let e = &mut b.entries[i];
                e.nprocs += 1;
                if e.pid.is_none_or(|low| p.pid < low) {
                    e.pid = Some(p.pid);
                }
            }
            fd_refs.extend(p.nsfs_fds.iter().map(|&(fd, ino)| (p.pid, fd, ino)));
            sockets.extend(p.sockets.iter().map(|&fd| (p.pid, fd)));
            if p.ns.iter().any(|&i| i != 0) {
                processes.push(ProcInfo {
                    pid: p.pid,
                    ns: p.ns,
                });
            }
        }
        b.add_fd_held(&fd_refs)?;
        drop(fd_refs);
        if self.kinds.contains(Kind::Net) {
            b.add_socket_held(&sockets)?;
        }
        drop(sockets);
        if self.mounts {
            b.add_mounts(&read_nsfs_mounts()?)?;
        }
        b.relate()?;
        if let Some(resolver) = &self.containers {
            let mut cache: HashMap<i32, Option<ContainerId>> = HashMap::new();
            for e in &mut b.entries {
                let Some(pid) = e.pid else { continue };
                if let Some(known) = cache.get(&pid) {
                    e.container = known.clone();
                    continue;
                }
                let path = format!("/proc/{pid}/cgroup");
                let found = read_proc_file(&path)?
                    .and_then(|cgroup| resolver.resolve(pid, &String::from_utf8_lossy(&cgroup)));
                cache.insert(pid, found.clone());
                e.container = found;
            }
        }
        let mut namespaces = b.entries;
        namespaces.sort_by_key(|e| e.ino);
        let index = namespaces
            .iter()
            .enumerate()
            .map(|(i, e)| (e.ino, i))
            .collect();
        processes.sort_by_key(|p| p.pid);
        Ok(Listing {
            namespaces,
            processes,
            index,
        })
    }

    /// Reads `/proc/PID/ns/*` (and `/proc/PID/fd/*`) of every PID, on the calling
    /// thread and as many helper threads as can be started; PIDs that vanish are
    /// dropped. The first other error stops every thread and is returned. The
    /// result is in blocks, in PID order.
    fn scan_processes(&self, proc_dir: &OwnedFd, pids: &[i32]) -> Result<Vec<Vec<ProcScan>>> {
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
                    match scan_process(proc_dir, pid, self.kinds, self.fds, &mut path) {
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

/// The process, or the fd of it being looked at, is gone (ENOENT, ESRCH): it exited
/// or closed the fd while the scan looked. Skipped.
fn gone(e: Errno) -> bool {
    e == Errno::NOENT || e == Errno::SRCH
}

/// Not ours to look into (EACCES, EPERM): another user's process, or PID 1 on
/// machines whose supervisor hides it. Skipped, as lsns skips it.
fn denied(e: Errno) -> bool {
    e == Errno::ACCESS || e == Errno::PERM
}

/// Out of fds or memory. Where other failures only mean "no such information"
/// (an ioctl a kernel lacks, a socket of another kind), these still fail the scan:
/// the listing would be silently incomplete.
fn exhausted(e: Errno) -> bool {
    e == Errno::MFILE || e == Errno::NFILE || e == Errno::NOMEM
}

fn errno_of(e: &io::Error) -> Errno {
    Errno::from_io_error(e).unwrap_or(Errno::IO)
}

/// The processes of one block of PIDs, by the index of its first PID.
type Block = (usize, Vec<ProcScan>);

/// What one process showed.
struct ProcScan {
    pid: i32,
    ns: [u64; 8],
    /// (fd, inode) of open fds on nsfs.
    nsfs_fds: Vec<(i32, u64)>,
    /// fds that are sockets.
    sockets: Vec<i32>,
}

fn list_pids(proc_dir: &OwnedFd) -> Result<Vec<i32>> {
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
    proc_dir: &OwnedFd,
    pid: i32,
    kinds: KindSet,
    fds: bool,
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
    if fds {
        scan_fds(&dir, &mut scan)?;
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
fn scan_fds(pid_dir: &OwnedFd, scan: &mut ProcScan) -> Result<()> {
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

/// Builds the namespace table. Every namespace is described (owner, parent, owner
/// UID, NETNSID) through an fd opened for that alone and closed right after, so
/// that the fds held at once are those of one chain of owners and parents.
struct Builder {
    kinds: KindSet,
    entries: Vec<NsInfo>,
    index: HashMap<u64, usize>,
    /// Whether `entries[i]` was described already.
    described: Vec<bool>,
    netlink: NetnsIds,
}

impl Builder {
    fn entry(&mut self, ino: u64, kind: Kind) -> usize {
        if let Some(&i) = self.index.get(&ino) {
            return i;
        }
        let i = self.entries.len();
        self.entries.push(NsInfo::new(ino, kind));
        self.described.push(false);
        self.index.insert(ino, i);
        i
    }

    /// Records a namespace reached through `fd` (kind asked of the kernel) and
    /// describes it; returns its index, or `None` if it is not a namespace of a
    /// listed kind.
    fn add_by_fd(&mut self, fd: OwnedFd, ino: u64) -> Result<Option<usize>> {
        if let Some(&i) = self.index.get(&ino) {
            return Ok(Some(i));
        }
        let flag = match sys::ns_get_nstype(&fd) {
            Ok(flag) => flag,
            Err(e) if exhausted(errno_of(&e)) => {
                return Err(Error::sys(
                    format!("cannot ask the type of namespace {ino}"),
                    e,
                ))
            }
            Err(_) => return Ok(None),
        };
        let Some(kind) = Kind::from_clone_flag(flag) else {
            return Ok(None);
        };
        if !self.kinds.contains(kind) {
            return Ok(None);
        }
        let i = self.entry(ino, kind);
        self.describe(i, &fd)?;
        Ok(Some(i))
    }

    fn add_fd_held(&mut self, refs: &[(i32, i32, u64)]) -> Result<()> {
        for &(pid, fd, ino) in refs {
            let i = match self.index.get(&ino) {
                Some(&i) => i,
                None => {
                    let path = format!("/proc/{pid}/fd/{fd}");
                    let nsfd = match rustix::fs::open(
                        path.as_str(),
                        OFlags::RDONLY | OFlags::CLOEXEC,
                        Mode::empty(),
                    ) {
                        Ok(nsfd) => nsfd,
                        Err(e) if gone(e) || denied(e) => continue,
                        Err(e) => return Err(Error::open(path, e)),
                    };
                    // The fd may have been closed and reused meanwhile.
                    if fstat_ino(&nsfd, &path)? != ino {
                        continue;
                    }
                    match self.add_by_fd(nsfd, ino)? {
                        Some(i) => i,
                        None => continue,
                    }
                }
            };
            let e = &mut self.entries[i];
            if e.fd.is_none() {
                e.fd = Some(FdRef { pid, fd });
            }
        }
        Ok(())
    }

    /// `sockets` in increasing PID order: one pidfd is open at a time.
    fn add_socket_held(&mut self, sockets: &[(i32, i32)]) -> Result<()> {
        let mut pidfd: Option<(i32, Option<OwnedFd>)> = None;
        for &(pid, fd) in sockets {
            if pidfd.as_ref().map(|(p, _)| *p) != Some(pid) {
                // The previous process's pidfd is closed before the next one opens.
                drop(pidfd.take());
                let opened = match rustix::process::Pid::from_raw(pid)
                    .map(|p| rustix::process::pidfd_open(p, rustix::process::PidfdFlags::empty()))
                {
                    Some(Ok(pidfd)) => Some(pidfd),
                    Some(Err(e)) if exhausted(e) => {
                        return Err(Error::sys(format!("cannot open a pidfd of {pid}"), e))
                    }
                    // Gone, or pidfds missing (before 5.3): no socket-held namespaces.
                    _ => None,
                };
                pidfd = Some((pid, opened));
            }
            let Some((_, Some(pidfd))) = &pidfd else {
                continue;
            };
            let sock = match rustix::process::pidfd_getfd(
                pidfd,
                fd,
                rustix::process::PidfdGetfdFlags::empty(),
            ) {
                Ok(sock) => sock,
                Err(e) if exhausted(e) => {
                    return Err(Error::sys(format!("cannot copy fd {fd} of {pid}"), e))
                }
                // Closed meanwhile (EBADF), gone, not allowed (EPERM), or too old a
                // kernel (before 5.6): lsns skips these too.
                Err(_) => continue,
            };
            let net = match sys::socket_net_namespace(&sock) {
                Ok(net) => net,
                Err(e) if exhausted(errno_of(&e)) => {
                    return Err(Error::sys(
                        format!("cannot ask the network namespace of fd {fd} of {pid}"),
                        e,
                    ))
                }
                Err(_) => continue,
            };
            drop(sock);
            let ino = fstat_ino(&net, "a socket's network namespace")?;
            let Some(i) = self.add_by_fd(net, ino)? else {
                continue;
            };
            let e = &mut self.entries[i];
            if e.socket.is_none() {
                e.socket = Some(FdRef { pid, fd });
            }
        }
        Ok(())
    }

    fn add_mounts(&mut self, mounts: &[NsfsMount]) -> Result<()> {
        for m in mounts {
            let i = match self.index.get(&m.ino) {
                Some(&i) => i,
                None => {
                    let fd = match rustix::fs::open(
                        &m.target,
                        OFlags::RDONLY | OFlags::CLOEXEC,
                        Mode::empty(),
                    ) {
                        Ok(fd) => fd,
                        Err(e) if exhausted(e) => return Err(Error::open(&m.target, e)),
                        // Unmounted meanwhile, or under a directory we may not enter.
                        Err(_) => continue,
                    };
                    if fstat_ino(&fd, &m.target.display().to_string())? != m.ino {
                        continue; // mounted over since
                    }
                    match self.add_by_fd(fd, m.ino)? {
                        Some(i) => i,
                        None => continue,
                    }
                }
            };
            let e = &mut self.entries[i];
            if e.kind.name() == m.kind && !e.mounts.contains(&m.target) {
                e.mounts.push(m.target.clone());
            }
        }
        Ok(())
    }

    /// Describes the namespaces found through processes (the others were described
    /// when they were added), one at a time through their lowest PID's
    /// `/proc/PID/ns/KIND`.
    fn relate(&mut self) -> Result<()> {
        // Entries added meanwhile (owners, parents) are described as they are added.
        for i in 0..self.entries.len() {
            if self.described[i] {
                continue;
            }
            let e = &self.entries[i];
            let Some(pid) = e.pid else { continue };
            let ino = e.ino;
            let path = format!("/proc/{pid}/ns/{}", e.kind.name());
            let fd = match rustix::fs::open(
                path.as_str(),
                OFlags::RDONLY | OFlags::CLOEXEC,
                Mode::empty(),
            ) {
                Ok(fd) => fd,
                Err(e) if gone(e) || denied(e) => continue,
                Err(e) => return Err(Error::open(path, e)),
            };
            if fstat_ino(&fd, &path)? == ino {
                self.describe(i, &fd)?;
            }
        }
        Ok(())
    }

    /// Owner, parent, owner UID and NETNSID of `entries[i]` through `fd`; adds the
    /// owner and parent where nothing else holds them (of listed kinds), and theirs
    /// in turn, each fd closed once its namespace is described.
    fn describe(&mut self, i: usize, fd: &OwnedFd) -> Result<()> {
        self.described[i] = true;
        let (kind, ino) = (self.entries[i].kind, self.entries[i].ino);
        let what = |rel: &str| format!("cannot ask the {rel} of {}:[{ino}]", kind.name());
        // EPERM: the owner is outside the caller's user namespace; ENOTTY: a
        // kernel without the ioctl. Neither is an error, as in lsns.
        match sys::ns_get_userns(fd) {
            Ok(owner) => {
                let owner_ino = fstat_ino(&owner, "an owner namespace")?;
                self.entries[i].owner = Some(owner_ino);
                self.add_related(owner_ino, Kind::User, owner)?;
            }
            Err(e) if exhausted(errno_of(&e)) => return Err(Error::sys(what("owner"), e)),
            Err(_) => {}
        }
        if matches!(kind, Kind::Pid | Kind::User) {
            match sys::ns_get_parent(fd) {
                Ok(parent) => {
                    let parent_ino = fstat_ino(&parent, "a parent namespace")?;
                    self.entries[i].parent = Some(parent_ino);
                    self.add_related(parent_ino, kind, parent)?;
                }
                Err(e) if exhausted(errno_of(&e)) => return Err(Error::sys(what("parent"), e)),
                Err(_) => {}
            }
        }
        if kind == Kind::User {
            self.entries[i].owner_uid = sys::ns_get_owner_uid(fd).ok();
        }
        if kind == Kind::Net {
            self.entries[i].netnsid = self.netlink.get(fd)?;
        }
        Ok(())
    }

    fn add_related(&mut self, ino: u64, kind: Kind, fd: OwnedFd) -> Result<()> {
        if self.index.contains_key(&ino) || !self.kinds.contains(kind) {
            return Ok(());
        }
        let j = self.entry(ino, kind);
        self.describe(j, &fd)
    }
}

/// The inode of what `fd` refers to (`what` names it in the error).
fn fstat_ino(fd: &OwnedFd, what: &str) -> Result<u64> {
    rustix::fs::fstat(fd)
        .map(|st| st.st_ino)
        .map_err(|e| Error::sys(format!("cannot stat {what}"), e))
}

/// Everything a scan found.
#[derive(Debug, Clone, Serialize)]
pub struct Listing {
    /// Every namespace, in increasing inode order (as `lsns` lists them).
    pub namespaces: Vec<NsInfo>,
    /// Every process whose namespaces could be read, in increasing PID order.
    pub processes: Vec<ProcInfo>,
    #[serde(skip)]
    index: HashMap<u64, usize>,
}

impl Listing {
    /// The namespace with this inode number.
    pub fn get(&self, ino: u64) -> Option<&NsInfo> {
        self.index.get(&ino).map(|&i| &self.namespaces[i])
    }

    /// The process with this PID, if it was seen.
    pub fn process(&self, pid: i32) -> Option<&ProcInfo> {
        self.processes
            .binary_search_by_key(&pid, |p| p.pid)
            .ok()
            .map(|i| &self.processes[i])
    }

    /// The processes in namespace `ns`, in increasing PID order.
    pub fn members<'a>(&'a self, ns: &'a NsInfo) -> impl Iterator<Item = &'a ProcInfo> + 'a {
        self.processes
            .iter()
            .filter(move |p| p.ns(ns.kind) == Some(ns.ino))
    }
}

/// One process and the inode of each of its namespaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    /// Its PID (in the scanner's pid namespace).
    pub pid: i32,
    ns: [u64; 8],
}

impl ProcInfo {
    /// The inode of its namespace of `kind`, if that kind was scanned and readable.
    pub fn ns(&self, kind: Kind) -> Option<u64> {
        Some(self.ns[kind as usize]).filter(|&i| i != 0)
    }
}

impl Serialize for ProcInfo {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("pid", &self.pid)?;
        for kind in Kind::ALL {
            if let Some(ino) = self.ns(kind) {
                map.serialize_entry(kind.name(), &ino)?;
            }
        }
        map.end()
    }
}

impl Serialize for Kind {
    /// As its name: `"net"`.
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// One namespace and what holds it.
#[derive(Debug, Clone, Serialize)]
pub struct NsInfo {
    /// Its inode number (`lsns`' NS).
    pub ino: u64,
    /// Its kind.
    #[serde(rename = "type")]
    pub kind: Kind,
    /// How many processes are in it.
    pub nprocs: usize,
    /// The lowest PID in it.
    pub pid: Option<i32>,
    /// The inode of its parent (pid and user namespaces whose parent is visible).
    pub parent: Option<u64>,
    /// The inode of the user namespace that owns it (none for the initial one).
    pub owner: Option<u64>,
    /// For a user namespace: the UID that created it (`NS_GET_OWNER_UID`).
    pub owner_uid: Option<u32>,
    /// For a network namespace: its id as seen from the scanner's network namespace.
    pub netnsid: Option<NetnsId>,
    /// Where it is bind-mounted (nsfs mounts in the scanner's mount namespace).
    pub mounts: Vec<PathBuf>,
    /// An open fd on it (lowest PID first).
    pub fd: Option<FdRef>,
    /// A socket created in it (network namespaces only).
    pub socket: Option<FdRef>,
    /// The container it belongs to: that of its lowest PID.
    pub container: Option<ContainerId>,
}

impl NsInfo {
    fn new(ino: u64, kind: Kind) -> NsInfo {
        NsInfo {
            ino,
            kind,
            nprocs: 0,
            pid: None,
            parent: None,
            owner: None,
            owner_uid: None,
            netnsid: None,
            mounts: Vec::new(),
            fd: None,
            socket: None,
            container: None,
        }
    }

    /// Whether nothing but another namespace refers to it (it is only listed as an
    /// owner or parent).
    pub fn only_related(&self) -> bool {
        self.nprocs == 0 && self.mounts.is_empty() && self.fd.is_none() && self.socket.is_none()
    }

    /// A file that opens this namespace, for `nsjoin --KIND=PATH`: the lowest
    /// PID's `/proc/PID/ns/KIND`, else a bind mount, else `/proc/PID/fd/N` of an
    /// fd on it. A namespace held only by a socket has none: use
    /// `nsjoin -t PID -N FD` with [`NsInfo::socket`].
    pub fn path(&self) -> Option<PathBuf> {
        if let Some(pid) = self.pid {
            return Some(format!("/proc/{pid}/ns/{}", self.kind.name()).into());
        }
        if let Some(m) = self.mounts.first() {
            return Some(m.clone());
        }
        self.fd
            .map(|FdRef { pid, fd }| format!("/proc/{pid}/fd/{fd}").into())
    }
}

/// An fd of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FdRef {
    /// The process.
    pub pid: i32,
    /// The fd number in it.
    pub fd: i32,
}

/// A network namespace's id (`ip netns list-id`), relative to the scanner's own
/// network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetnsId {
    /// No id assigned.
    Unassigned,
    /// This id.
    Id(i32),
}

impl std::fmt::Display for NetnsId {
    /// As `lsns` prints it: the number or `unassigned`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NetnsId::Unassigned => f.write_str("unassigned"),
            NetnsId::Id(n) => write!(f, "{n}"),
        }
    }
}

impl Serialize for NetnsId {
    /// A number, or `null` when unassigned.
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        match self {
            NetnsId::Unassigned => s.serialize_none(),
            NetnsId::Id(n) => s.serialize_i32(*n),
        }
    }
}

/// NETNSIDs over one rtnetlink socket (RTM_GETNSID with NETNSA_FD), as lsns asks.
/// netlink-packet-route builds and parses the messages, netlink-sys is the socket.
struct NetnsIds {
    socket: Option<netlink_sys::Socket>,
    tried: bool,
    seq: u32,
}

impl NetnsIds {
    fn new() -> NetnsIds {
        NetnsIds {
            socket: None,
            tried: false,
            seq: 0,
        }
    }

    /// The NETNSID of `net`; `None` where netlink does not tell (no socket, an
    /// older kernel). Running out of fds or memory for the socket is an error.
    fn get(&mut self, net: &OwnedFd) -> Result<Option<NetnsId>> {
        if !self.tried {
            self.tried = true;
            match netlink_sys::Socket::new(netlink_sys::protocols::NETLINK_ROUTE)
                .and_then(|mut s| s.bind_auto().map(|_| s))
            {
                Ok(socket) => self.socket = Some(socket),
                Err(e) if exhausted(errno_of(&e)) => {
                    return Err(Error::sys("cannot open a netlink socket", e))
                }
                Err(_) => {}
            }
        }
        Ok(self.ask(net))
    }

    fn ask(&mut self, net: &OwnedFd) -> Option<NetnsId> {
        use netlink_packet_core::{NetlinkMessage, NetlinkPayload, NLM_F_REQUEST};
        use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
        use netlink_packet_route::RouteNetlinkMessage;

        let socket = self.socket.as_ref()?;
        let mut msg = NsidMessage::default();
        let raw = std::os::fd::AsRawFd::as_raw_fd(net);
        msg.attributes.push(NsidAttribute::Fd(raw as u32));
        let mut req = NetlinkMessage::from(RouteNetlinkMessage::GetNsId(msg));
        self.seq += 1;
        req.header.flags = NLM_F_REQUEST;
        req.header.sequence_number = self.seq;
        req.finalize();
        let mut buf = vec![0; req.buffer_len()];
        req.serialize(&mut buf);
        socket
            .send_to(&buf, &netlink_sys::SocketAddr::new(0, 0), 0)
            .ok()?;
        let mut reply = vec![0u8; 4096];
        loop {
            let n = socket.recv(&mut &mut reply[..], 0).ok()?;
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&reply[..n]).ok()?;
            if msg.header.sequence_number != self.seq {
                continue; // a late answer to an earlier question
            }
            return match msg.payload {
                NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNsId(m)) => {
                    m.attributes.iter().find_map(|a| match a {
                        NsidAttribute::Id(-1) => Some(NetnsId::Unassigned),
                        NsidAttribute::Id(n) => Some(NetnsId::Id(*n)),
                        _ => None,
                    })
                }
                _ => None,
            };
        }
    }
}

/// An nsfs bind mount from mountinfo.
pub(crate) struct NsfsMount {
    kind: String,
    ino: u64,
    target: PathBuf,
}

/// The nsfs mounts of `/proc/self/mountinfo`, read a line at a time: memory
/// grows with the nsfs mounts, not with the mount table.
fn read_nsfs_mounts() -> Result<Vec<NsfsMount>> {
    const PATH: &str = "/proc/self/mountinfo";
    let file = match File::open(PATH) {
        Ok(file) => file,
        Err(e) if exhausted(errno_of(&e)) => return Err(Error::open(PATH, e)),
        // No /proc/self (an odd chroot): no mounts to list.
        Err(_) => return Ok(Vec::new()),
    };
    let mut reader = io::BufReader::new(file);
    let mut line = Vec::new();
    let mut out = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => return Ok(out),
            Ok(_) => out.extend(parse_nsfs_line(&line)),
            Err(e) => return Err(Error::sys(format!("cannot read {PATH}"), e)),
        }
    }
}

/// The nsfs entries of a mountinfo text: `ID PARENT MAJ:MIN ROOT TARGET ... - nsfs ...`
/// where ROOT is `KIND:[INODE]`.
pub(crate) fn parse_nsfs_mounts(text: &[u8]) -> Vec<NsfsMount> {
    text.split(|&b| b == b'\n')
        .filter_map(parse_nsfs_line)
        .collect()
}

/// One line of mountinfo, if it is an nsfs mount.
fn parse_nsfs_line(line: &[u8]) -> Option<NsfsMount> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let fields: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let sep = fields.iter().position(|f| *f == b"-")?;
    if sep < 5 || fields.get(sep + 1) != Some(&&b"nsfs"[..]) {
        return None;
    }
    let root = unescape(fields[3]);
    let open = root.iter().position(|&b| b == b'[')?;
    if root.last() != Some(&b']') || open == 0 || root[open - 1] != b':' {
        return None;
    }
    let ino = std::str::from_utf8(&root[open + 1..root.len() - 1])
        .ok()
        .and_then(|s| s.parse().ok())?;
    Some(NsfsMount {
        kind: String::from_utf8_lossy(&root[..open - 1]).into_owned(),
        ino,
        target: PathBuf::from(OsStr::from_bytes(&unescape(fields[4]))),
    })
}

/// Undoes mountinfo's `\ooo` octal escapes (space, tab, newline, backslash).
fn unescape(field: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(field.len());
    let mut i = 0;
    while i < field.len() {
        if field[i] == b'\\'
            && i + 4 <= field.len()
            && field[i + 1..i + 4]
                .iter()
                .all(|b| (b'0'..=b'7').contains(b))
        {
            let v = field[i + 1..i + 4]
                .iter()
                .fold(0u32, |acc, b| acc * 8 + u32::from(b - b'0'));
            out.push(v as u8);
            i += 4;
        } else {
            out.push(field[i]);
            i += 1;
        }
    }
    out
}

/// Reads a small /proc file whole (at most 64 KiB).
fn read_small(path: &str) -> Option<Vec<u8>> {
    read_proc_file(path).ok().flatten()
}

/// Reads a small /proc file of a process whole (at most 64 KiB): `None` if the
/// process is gone or may not be looked into, an error for anything else.
fn read_proc_file(path: &str) -> Result<Option<Vec<u8>>> {
    let skip = |e: &io::Error| {
        let e = errno_of(e);
        gone(e) || denied(e)
    };
    let mut f = match File::open(path) {
        Ok(f) => f,
        Err(e) if skip(&e) => return Ok(None),
        Err(e) => return Err(Error::open(path, e)),
    };
    let mut buf = Vec::with_capacity(512);
    match f.by_ref().take(1 << 16).read_to_end(&mut buf) {
        Ok(_) => Ok(Some(buf)),
        Err(e) if skip(&e) => Ok(None),
        Err(e) => Err(Error::sys(format!("cannot read {path}"), e)),
    }
}

/// `/proc/PID/cgroup` of process `pid`, read up to 64 KiB (one line per hierarchy,
/// each a path of at most PATH_MAX), or `None` if it cannot be read.
pub fn read_cgroup(pid: i32) -> Option<String> {
    let data = read_proc_file(&format!("/proc/{pid}/cgroup")).ok()??;
    Some(String::from_utf8_lossy(&data).into_owned())
}

/// The PID of the parent of process `pid` (field 4 of `/proc/PID/stat`).
pub fn parent_pid(pid: i32) -> Option<i32> {
    let stat = read_small(&format!("/proc/{pid}/stat"))?;
    let close = stat.iter().rposition(|&b| b == b')')?;
    let rest = std::str::from_utf8(&stat[close + 1..]).ok()?;
    rest.split_ascii_whitespace().nth(1)?.parse().ok()
}

/// The UID owning `/proc/PID` (the process's effective UID, as `lsns` shows).
pub fn process_uid(pid: i32) -> Option<u32> {
    rustix::fs::stat(format!("/proc/{pid}").as_str())
        .ok()
        .map(|s| s.st_uid)
}

/// The command line of `pid` as `lsns` shows it: `/proc/PID/cmdline` with NULs as
/// spaces (its last byte, normally the final NUL, dropped), or `comm` for a kernel
/// thread. At most 8191 bytes, like lsns.
pub fn command(pid: i32) -> Option<String> {
    let read = |name: &str| -> Option<String> {
        let mut f = File::open(format!("/proc/{pid}/{name}")).ok()?;
        let mut buf = Vec::with_capacity(256);
        f.by_ref().take(8192).read_to_end(&mut buf).ok()?;
        buf.pop()?;
        for b in &mut buf {
            if *b == 0 {
                *b = b' ';
            }
        }
        // A string ends at its first NUL in C: the dropped byte was it, or the
        // command line was cut.
        Some(String::from_utf8_lossy(&buf).into_owned())
    };
    read("cmdline").or_else(|| read("comm"))
}

/// The login name of `uid` (getpwuid_r(3)), if it has one.
pub fn user_name(uid: u32) -> Option<String> {
    sys::passwd(uid).map(|p| p.name)
}

/// Whether standard output (fd 1) was closed when this process started, as in
/// `nsls >&-`: Rust's runtime puts `/dev/null` there before `main`, so a command
/// that prints its listing asks this to fail as C programs' writes would (EBADF)
/// rather than succeed having printed nothing.
pub fn stdout_was_closed() -> bool {
    sys::stdout_closed_at_start()
}

/// Whether the environment's locale (LC_ALL, LC_CTYPE, LANG) uses UTF-8 and is
/// installed: what util-linux checks to draw trees with line characters.
pub fn locale_is_utf8() -> bool {
    sys::env_locale_is_utf8()
}

/// Which container a process is in: the engine ([`crate::container::Engine`], the
/// one container targets use) and its id (or, for LXC and nspawn, its name), as its
/// cgroup path tells, and whether that engine confirmed it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct ContainerId {
    /// The engine that runs it (`cri` for a Kubernetes pod whose runtime the path
    /// does not tell).
    #[serde(serialize_with = "engine_scheme")]
    pub engine: Engine,
    /// The engine's id for it (64 hex digits for OCI engines).
    pub id: String,
    /// Its name, where something looked it up.
    pub name: Option<String>,
    /// Whether the engine said this process (its pid namespace) belongs to that
    /// container. A cgroup name alone proves nothing: any process can sit in a
    /// cgroup named like a container's (every user has a delegated subtree on
    /// systemd hosts with cgroup v2). Shown with a trailing `?` when false.
    pub confirmed: bool,
}

fn engine_scheme<S: Serializer>(engine: &Engine, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(engine.scheme())
}

impl std::fmt::Display for ContainerId {
    /// The container target that enters it: `ENGINE://NAME` where a name is known,
    /// else `ENGINE://ID`, a 64-digit ID cut to the 12 `docker ps` shows (every
    /// engine's target takes a unique prefix).
    /// Unconfirmed (see [`ContainerId::confirmed`]), it ends in `?`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let id = match &self.name {
            Some(name) => name.as_str(),
            None if is_oci_id(&self.id) => &self.id[..12],
            None => &self.id,
        };
        let unconfirmed = if self.confirmed { "" } else { "?" };
        write!(f, "{}://{id}{unconfirmed}", self.engine.scheme())
    }
}

impl ContainerId {
    /// The container a cgroup path (from `/proc/PID/cgroup`) says a process is in:
    ///
    /// | path component | engine |
    /// |---|---|
    /// | `docker-<id>.scope`, `docker/<id>` | Docker |
    /// | `libpod-<id>.scope`, `libpod-<id>` | Podman (not `libpod-conmon-`) |
    /// | `cri-containerd-<id>.scope`, `nerdctl-<id>.scope` | containerd |
    /// | `crio-<id>.scope` | CRI-O (not `crio-conmon-`) |
    /// | `kubepods…/pod<uid>/<id>` | a CRI runtime (`cri://`) |
    /// | `lxc.payload.<name>`, `lxc/<name>` | LXC |
    /// | `systemd-nspawn@<name>.service`, `machine-<name>.scope` | nspawn |
    ///
    /// The innermost match wins (Docker in Docker names the inner container).
    ///
    /// ```
    /// use nsjoin::container::Engine;
    /// use nsjoin::list::ContainerId;
    /// let id = "3f".repeat(32);
    /// let c = ContainerId::from_cgroup(&format!("/system.slice/docker-{id}.scope")).unwrap();
    /// assert_eq!((c.engine, c.id.as_str()), (Engine::Docker, id.as_str()));
    /// assert_eq!(c.to_string(), "docker://3f3f3f3f3f3f?"); // no engine confirmed it
    /// assert!(ContainerId::from_cgroup("/user.slice/user-0.slice/session-1.scope").is_none());
    /// ```
    pub fn from_cgroup(path: &str) -> Option<ContainerId> {
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let make = |engine, id: &str| {
            Some(ContainerId {
                engine,
                id: id.to_owned(),
                name: None,
                confirmed: false,
            })
        };
        for (i, part) in parts.iter().enumerate().rev() {
            let prev = if i > 0 { parts[i - 1] } else { "" };
            let scoped = |prefix: &str| {
                part.strip_prefix(prefix)
                    .map(|rest| rest.strip_suffix(".scope").unwrap_or(rest))
                    .filter(|id| is_oci_id(id))
            };
            if let Some(id) = scoped("docker-") {
                return make(Engine::Docker, id);
            }
            if let Some(id) = scoped("libpod-") {
                return make(Engine::Podman, id);
            }
            if let Some(id) = scoped("cri-containerd-").or_else(|| scoped("nerdctl-")) {
                return make(Engine::Containerd, id);
            }
            if let Some(id) = scoped("crio-") {
                return make(Engine::CriO, id);
            }
            if is_oci_id(part) {
                if prev == "docker" {
                    return make(Engine::Docker, part);
                }
                if prev.starts_with("pod") && parts[..i].iter().any(|p| p.starts_with("kubepods")) {
                    return make(Engine::Cri, part);
                }
            }
            if let Some(name) = part.strip_prefix("lxc.payload.") {
                return make(Engine::Lxc, name);
            }
            if prev == "lxc" && i == 1 {
                return make(Engine::Lxc, part);
            }
            if let Some(name) = part
                .strip_prefix("systemd-nspawn@")
                .and_then(|r| r.strip_suffix(".service"))
            {
                return make(Engine::Nspawn, &unescape_systemd(name));
            }
            if prev == "machine.slice" {
                if let Some(name) = part
                    .strip_prefix("machine-")
                    .and_then(|r| r.strip_suffix(".scope"))
                {
                    return make(Engine::Nspawn, &unescape_systemd(name));
                }
            }
        }
        None
    }
}

fn is_oci_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// systemd's `\x2d` unit-name escapes.
fn unescape_systemd(s: &str) -> String {
    let mut out = Vec::new();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1] == b'x' {
            // Bytes, not `&s[..]`: a multi-byte character after `\x` is no escape
            // (and slicing the str inside it would panic).
            let hex = &b[i + 2..i + 4];
            if let Some(v) = std::str::from_utf8(hex)
                .ok()
                .filter(|_| hex.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Tells which container a process belongs to. [`CgroupPaths`] reads it from the
/// cgroup path alone; an engine-aware resolver (names, stopped-state checks) can
/// take its place through [`Scan::containers`] without `nsls` changing.
pub trait ContainerResolver: Send + Sync {
    /// The container of process `pid`, whose `/proc/PID/cgroup` reads `cgroup`.
    fn resolve(&self, pid: i32, cgroup: &str) -> Option<ContainerId>;
}

/// Containers from cgroup paths ([`ContainerId::from_cgroup`]) without asking any
/// engine: the unified (v2) line first, then each v1 hierarchy.
#[derive(Debug, Clone, Copy, Default)]
pub struct CgroupPaths;

impl ContainerResolver for CgroupPaths {
    fn resolve(&self, _pid: i32, cgroup: &str) -> Option<ContainerId> {
        let paths = cgroup
            .lines()
            .filter_map(|l| Some((l.starts_with("0::"), l.splitn(3, ':').nth(2)?)));
        let (v2, v1): (Vec<_>, Vec<_>) = paths.partition(|(unified, _)| *unified);
        v2.into_iter()
            .chain(v1)
            .find_map(|(_, path)| ContainerId::from_cgroup(path))
    }
}

/// Containers from cgroup paths ([`CgroupPaths`]), each checked with its engine: the
/// engine is asked once per container (by its ID, or name for LXC and nspawn) for
/// its init process, and a process counts as the container's only when it is in
/// that init's pid namespace. Then the engine's name for it is used too. Where the
/// engine cannot be asked, does not know the container, or names a process in
/// another pid namespace, the cgroup's word stays unconfirmed.
#[derive(Debug, Default)]
pub struct EngineConfirmed {
    /// Per (engine, id): the init's pid namespace inode and the container's name.
    answers: std::sync::Mutex<std::collections::HashMap<(Engine, String), Option<Confirmation>>>,
}

/// What an engine said of a container: its init's pid namespace inode, its name.
type Confirmation = (u64, String);

impl EngineConfirmed {
    fn ask(engine: Engine, id: &str) -> Option<Confirmation> {
        let spec = crate::container::ContainerRef {
            engine,
            name: id.to_owned(),
            namespace: None,
        };
        let answer = crate::container::resolve(&spec).ok()?;
        if is_oci_id(id) && answer.id != id {
            return None;
        }
        let pid_ns = ns_inode(answer.pid, "pid")?;
        Some((pid_ns, answer.name))
    }
}

fn ns_inode(pid: i32, kind: &str) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(format!("/proc/{pid}/ns/{kind}"))
        .ok()
        .map(|m| m.ino())
}

impl ContainerResolver for EngineConfirmed {
    fn resolve(&self, pid: i32, cgroup: &str) -> Option<ContainerId> {
        let mut found = CgroupPaths.resolve(pid, cgroup)?;
        let answer = {
            let mut answers = self.answers.lock().unwrap_or_else(|e| e.into_inner());
            answers
                .entry((found.engine, found.id.clone()))
                .or_insert_with(|| EngineConfirmed::ask(found.engine, &found.id))
                .clone()
        };
        if let Some((init_pid_ns, name)) = answer {
            if ns_inode(pid, "pid") == Some(init_pid_ns) {
                found.confirmed = true;
                let name = name.trim_start_matches('/');
                if !name.is_empty() {
                    found.name = Some(name.to_owned());
                }
            }
        }
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_nsfs_entries() {
        let text = b"22 1 0:21 / /proc rw,nosuid - proc proc rw\n\
            611 30 0:4 net:[4026532290] /run/netns/a\\040b rw shared:5 - nsfs nsfs rw\n\
            612 30 0:4 mnt:[4026532300] /tmp/m rw - nsfs nsfs rw\n";
        let m = parse_nsfs_mounts(text);
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].kind.as_str(), m[0].ino), ("net", 4026532290));
        assert_eq!(m[0].target, PathBuf::from("/run/netns/a b"));
        assert_eq!((m[1].kind.as_str(), m[1].ino), ("mnt", 4026532300));
    }

    #[test]
    fn containers_from_cgroup_paths() {
        let id = "0123456789abcdef".repeat(4);
        let cases = [
            (format!("/system.slice/docker-{id}.scope"), Engine::Docker),
            (format!("/docker/{id}"), Engine::Docker),
            (format!("/machine.slice/libpod-{id}.scope/container"), Engine::Podman),
            (format!("/libpod_parent/libpod-{id}"), Engine::Podman),
            (
                format!("/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1_2.slice/cri-containerd-{id}.scope"),
                Engine::Containerd,
            ),
            (format!("/kubepods.slice/kubepods-pod9.slice/crio-{id}.scope"), Engine::CriO),
            (format!("/kubepods/burstable/pod1234/{id}"), Engine::Cri),
        ];
        for (path, engine) in cases {
            let c = ContainerId::from_cgroup(&path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!((c.engine, c.id.as_str()), (engine, id.as_str()), "{path}");
        }
        for path in [
            format!("/machine.slice/libpod-conmon-{id}.scope"),
            format!("/system.slice/crio-conmon-{id}.scope"),
            "/system.slice/docker.service".to_owned(),
            "/".to_owned(),
        ] {
            assert_eq!(ContainerId::from_cgroup(&path), None, "{path}");
        }
        let lxc = ContainerId::from_cgroup("/lxc.payload.web/init.scope").unwrap();
        assert_eq!((lxc.engine, lxc.id.as_str()), (Engine::Lxc, "web"));
        let n =
            ContainerId::from_cgroup("/machine.slice/systemd-nspawn@my\\x2dbox.service").unwrap();
        assert_eq!((n.engine, n.id.as_str()), (Engine::Nspawn, "my-box"));
        assert_eq!(
            ContainerId::from_cgroup(&format!("/docker/{id}/docker/{}", "f".repeat(64)))
                .unwrap()
                .id,
            "f".repeat(64)
        );
    }

    #[test]
    fn cgroup_files_prefer_the_unified_line() {
        let id = "a".repeat(64);
        let text = format!("12:pids:/\n1:name=systemd:/system.slice/docker-{id}.scope\n0::/\n");
        assert_eq!(
            CgroupPaths.resolve(1, &text).unwrap().engine,
            Engine::Docker
        );
        assert!(CgroupPaths.resolve(1, "0::/init.scope\n").is_none());
    }

    #[test]
    fn scan_sees_this_process() {
        let listing = Scan::new().threads(2).run().unwrap();
        let me = listing.process(std::process::id() as i32).unwrap();
        for kind in KindSet::supported().iter() {
            let ino = me.ns(kind).unwrap();
            assert_eq!(ino, crate::NsId::current(kind).unwrap().ino);
            let ns = listing.get(ino).unwrap();
            assert_eq!(ns.kind, kind);
            assert!(ns.nprocs >= 1 && ns.pid.unwrap() <= me.pid);
            assert!(listing.members(ns).any(|p| p.pid == me.pid));
        }
        assert!(listing.namespaces.windows(2).all(|w| w[0].ino < w[1].ino));
        let json = serde_json::to_value(&listing).unwrap();
        assert!(json["namespaces"][0]["type"].is_string());
    }
}

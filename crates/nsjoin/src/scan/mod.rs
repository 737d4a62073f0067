//! Discovery: every namespace on the system, what holds it, and how to reach it.
//!
//! A namespace lives as long as something refers to it. [`Scan::run`] looks for all
//! the holders util-linux `lsns` 2.41 knows about:
//!
//! * a process in it (`/proc/PID/ns/KIND`, one readlink per process and kind);
//! * a bind mount of it (an nsfs entry in `/proc/self/mountinfo`, e.g. `/run/netns/NAME`);
//! * an open fd on it (`/proc/PID/fd/N` reading `KIND:[INODE]`, or a path for a
//!   file opened through a bind mount, `/` once that is gone: such fds are told
//!   by the device they are on, nsfs's);
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
//! Its parts: `processes` walks `/proc` (on several threads); `holders` builds the
//! table from that and from what else holds a namespace, and relates owners and
//! parents; `netnsid`, `mountinfo` and `containers` each answer one question of
//! it; `listing` is the result. Every `/proc` path is resolved under the pinned
//! `/proc` of this process's pid namespace.
//!
//! ```
//! use nsjoin::{Kind, KindSet, Scan};
//! let listing = Scan::new().kinds(KindSet::from(Kind::Uts)).run().unwrap();
//! let me = listing.process(std::process::id() as i32).unwrap();
//! let uts = listing.get(me.ns(Kind::Uts).unwrap()).unwrap();
//! assert_eq!(uts.kind, Kind::Uts);
//! assert!(uts.nprocs >= 1);
//! ```

mod containers;
mod holders;
mod listing;
mod mountinfo;
mod netnsid;
mod processes;

use std::collections::HashMap;
use std::sync::Arc;

pub use containers::{read_cgroup, CgroupPaths, ContainerId, ContainerResolver, EngineConfirmed};
pub use listing::{FdRef, Listing, NetnsId, NsInfo, ProcInfo};
pub(crate) use mountinfo::parse_nsfs_mounts;
pub(crate) use processes::{parse_ns_link, parse_num};

use crate::{procfs, Error, Kind, KindSet, Result};
use holders::Builder;

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
        // Every /proc path below is resolved under the pinned /proc of this
        // process's pid namespace, never the thread's current view of it.
        let proc_dir = procfs::proc_root()?;
        let pids = processes::list_pids(proc_dir)?;
        let nsfs_dev = nsfs_dev(self.kinds)?;
        let scanned = self.scan_processes(proc_dir, &pids, nsfs_dev)?;
        drop(pids);

        let mut b = Builder::new(self.kinds, nsfs_dev);
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
                let i = b.entry(b.id(ino), kind);
                let e = &mut b.entries[i];
                e.nprocs += 1;
                if e.pid.is_none_or(|low| p.pid < low) {
                    e.pid = Some(p.pid);
                }
            }
            fd_refs.extend(p.nsfs_fds.iter().map(|&(fd, ino)| (p.pid, fd, ino)));
            sockets.extend(p.sockets.iter().map(|&fd| (p.pid, fd)));
            if p.ns.iter().any(|&i| i != 0) {
                processes.push(ProcInfo::new(p.pid, p.ns));
            }
        }
        b.add_fd_held(&fd_refs)?;
        drop(fd_refs);
        if self.kinds.contains(Kind::Net) {
            b.add_socket_held(&sockets)?;
        }
        drop(sockets);
        if self.mounts {
            b.add_mounts(&mountinfo::read_nsfs_mounts()?)?;
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
                let found =
                    containers::cgroup_of(pid)?.and_then(|cgroup| resolver.resolve(pid, &cgroup));
                cache.insert(pid, found.clone());
                e.container = found;
            }
        }
        Ok(Listing::new(b.entries, processes))
    }
}

/// The device of nsfs, the filesystem of every namespace (one superblock in the
/// kernel): a stat of this process's own namespace of the first of `kinds`,
/// under the pinned `/proc`. With an inode read from a `KIND:[INODE]` link, it
/// makes that namespace's [`crate::NsId`] without a stat per link.
fn nsfs_dev(kinds: KindSet) -> Result<u64> {
    let Some(kind) = kinds.iter().next() else {
        return Ok(0);
    };
    let rel = format!("self/ns/{}", kind.name());
    procfs::stat_at(&rel)?
        .map(|st| st.st_dev)
        .map_err(|e| Error::open(format!("/proc/{rel}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

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

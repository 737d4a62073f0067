//! What holds each namespace besides processes (open fds, sockets, bind mounts),
//! and how namespaces relate (owner, parent): the namespace table.

use std::collections::HashMap;
use std::os::fd::OwnedFd;

use rustix::fs::OFlags;

use super::listing::{FdRef, NsInfo};
use super::mountinfo::NsfsMount;
use super::netnsid::NetnsIds;
use super::processes::{denied, errno_of, exhausted, gone};
use crate::{procfs, sys, Error, Kind, KindSet, NsId, Result};

/// Builds the namespace table. Every namespace is described (owner, parent, owner
/// UID, NETNSID) through an fd opened for that alone and closed right after, so
/// that the fds held at once are those of one chain of owners and parents.
pub(super) struct Builder {
    kinds: KindSet,
    pub(super) entries: Vec<NsInfo>,
    index: HashMap<NsId, usize>,
    /// The device of nsfs, which holds every namespace: with an inode read from a
    /// link's text, a namespace's [`NsId`].
    nsfs_dev: u64,
    /// Whether `entries[i]` was described already.
    described: Vec<bool>,
    netlink: NetnsIds,
}

impl Builder {
    pub(super) fn new(kinds: KindSet, nsfs_dev: u64) -> Builder {
        Builder {
            kinds,
            nsfs_dev,
            entries: Vec::new(),
            index: HashMap::new(),
            described: Vec::new(),
            netlink: NetnsIds::new(),
        }
    }

    /// The id of the namespace whose link reads `KIND:[ino]`.
    pub(super) fn id(&self, ino: u64) -> NsId {
        NsId {
            dev: self.nsfs_dev,
            ino,
        }
    }

    pub(super) fn entry(&mut self, id: NsId, kind: Kind) -> usize {
        if let Some(&i) = self.index.get(&id) {
            return i;
        }
        let i = self.entries.len();
        self.entries.push(NsInfo::new(id, kind));
        self.described.push(false);
        self.index.insert(id, i);
        i
    }

    /// Records a namespace reached through `fd` (kind asked of the kernel) and
    /// describes it; returns its index, or `None` if it is not a namespace of a
    /// listed kind.
    fn add_by_fd(&mut self, fd: OwnedFd, id: NsId) -> Result<Option<usize>> {
        if let Some(&i) = self.index.get(&id) {
            return Ok(Some(i));
        }
        let flag = match sys::ns_get_nstype(&fd) {
            Ok(flag) => flag,
            Err(e) if exhausted(errno_of(&e)) => {
                return Err(Error::sys(
                    format!("cannot ask the type of namespace {id}"),
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
        let i = self.entry(id, kind);
        self.describe(i, &fd)?;
        Ok(Some(i))
    }

    pub(super) fn add_fd_held(&mut self, refs: &[(i32, i32, u64)]) -> Result<()> {
        for &(pid, fd, ino) in refs {
            let id = self.id(ino);
            let i = match self.index.get(&id) {
                Some(&i) => i,
                None => {
                    let rel = format!("{pid}/fd/{fd}");
                    let path = format!("/proc/{rel}");
                    let nsfd = match procfs::open_at(&rel, OFlags::RDONLY)? {
                        Ok(nsfd) => nsfd,
                        Err(e) if gone(e) || denied(e) => continue,
                        Err(e) => return Err(Error::open(path, e)),
                    };
                    // The fd may have been closed and reused meanwhile.
                    if fstat_id(&nsfd, &path)? != id {
                        continue;
                    }
                    match self.add_by_fd(nsfd, id)? {
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
    pub(super) fn add_socket_held(&mut self, sockets: &[(i32, i32)]) -> Result<()> {
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
            let id = fstat_id(&net, "a socket's network namespace")?;
            let Some(i) = self.add_by_fd(net, id)? else {
                continue;
            };
            let e = &mut self.entries[i];
            if e.socket.is_none() {
                e.socket = Some(FdRef { pid, fd });
            }
        }
        Ok(())
    }

    pub(super) fn add_mounts(&mut self, mounts: &[NsfsMount]) -> Result<()> {
        for m in mounts {
            let id = self.id(m.ino);
            let i = match self.index.get(&id) {
                Some(&i) => i,
                None => {
                    let fd = match rustix::fs::open(
                        &m.target,
                        OFlags::RDONLY | OFlags::CLOEXEC,
                        rustix::fs::Mode::empty(),
                    ) {
                        Ok(fd) => fd,
                        Err(e) if exhausted(e) => return Err(Error::open(&m.target, e)),
                        // Unmounted meanwhile, or under a directory we may not enter.
                        Err(_) => continue,
                    };
                    if fstat_id(&fd, &m.target.display().to_string())? != id {
                        continue; // mounted over since
                    }
                    match self.add_by_fd(fd, id)? {
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
    pub(super) fn relate(&mut self) -> Result<()> {
        // Entries added meanwhile (owners, parents) are described as they are added.
        for i in 0..self.entries.len() {
            if self.described[i] {
                continue;
            }
            let e = &self.entries[i];
            let Some(pid) = e.pid else { continue };
            let id = e.id();
            let rel = format!("{pid}/ns/{}", e.kind.name());
            let path = format!("/proc/{rel}");
            let fd = match procfs::open_at(&rel, OFlags::RDONLY)? {
                Ok(fd) => fd,
                Err(e) if gone(e) || denied(e) => continue,
                Err(e) => return Err(Error::open(path, e)),
            };
            if fstat_id(&fd, &path)? == id {
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
                let owner_id = fstat_id(&owner, "an owner namespace")?;
                self.entries[i].owner = Some(owner_id.ino);
                self.add_related(owner_id, Kind::User, owner)?;
            }
            Err(e) if exhausted(errno_of(&e)) => return Err(Error::sys(what("owner"), e)),
            Err(_) => {}
        }
        if matches!(kind, Kind::Pid | Kind::User) {
            match sys::ns_get_parent(fd) {
                Ok(parent) => {
                    let parent_id = fstat_id(&parent, "a parent namespace")?;
                    self.entries[i].parent = Some(parent_id.ino);
                    self.add_related(parent_id, kind, parent)?;
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

    fn add_related(&mut self, id: NsId, kind: Kind, fd: OwnedFd) -> Result<()> {
        if self.index.contains_key(&id) || !self.kinds.contains(kind) {
            return Ok(());
        }
        let j = self.entry(id, kind);
        self.describe(j, &fd)
    }
}

/// The identity (device and inode) of what `fd` refers to (`what` names it in the
/// error).
fn fstat_id(fd: &OwnedFd, what: &str) -> Result<NsId> {
    rustix::fs::fstat(fd)
        .map(|st| NsId {
            dev: st.st_dev,
            ino: st.st_ino,
        })
        .map_err(|e| Error::sys(format!("cannot stat {what}"), e))
}

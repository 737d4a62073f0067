//! What a scan found: plain data for `nsls` and for library users' own output.

use std::collections::HashMap;
use std::path::PathBuf;

use serde::{Serialize, Serializer};

use super::ContainerId;
use crate::{Kind, NsId};

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
    /// The listing of these namespaces and processes, each sorted (namespaces by
    /// inode, processes by PID) and the namespaces indexed.
    pub(super) fn new(mut namespaces: Vec<NsInfo>, mut processes: Vec<ProcInfo>) -> Listing {
        namespaces.sort_by_key(|e| e.ino);
        let index = namespaces
            .iter()
            .enumerate()
            .map(|(i, e)| (e.ino, i))
            .collect();
        processes.sort_by_key(|p| p.pid);
        Listing {
            namespaces,
            processes,
            index,
        }
    }

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
    pub(super) fn new(pid: i32, ns: [u64; 8]) -> ProcInfo {
        ProcInfo { pid, ns }
    }

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
    /// The device of nsfs, which with the inode makes its [`NsId`].
    #[serde(skip)]
    dev: u64,
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
    pub(super) fn new(id: NsId, kind: Kind) -> NsInfo {
        NsInfo {
            ino: id.ino,
            dev: id.dev,
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

    /// Its identity, the one [`crate::Namespace::id`] gives an open namespace:
    /// this is the namespace a handle refers to when the two are equal.
    pub fn id(&self) -> NsId {
        NsId {
            dev: self.dev,
            ino: self.ino,
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

//! The eight kinds of Linux namespace and sets of them.

use std::fmt;
use std::sync::OnceLock;

/// One kind of Linux namespace, as named in `/proc/PID/ns/` (see namespaces(7)).
///
/// ```
/// use nsjoin::Kind;
/// let k: Kind = "mount".parse().unwrap();
/// assert_eq!(k, Kind::Mnt);
/// assert_eq!(k.to_string(), "mnt");
/// assert_eq!(k.clone_flag(), libc::CLONE_NEWNS);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Control group root (`CLONE_NEWCGROUP`).
    Cgroup,
    /// System V IPC and POSIX message queues (`CLONE_NEWIPC`).
    Ipc,
    /// Mount table, root and working directory (`CLONE_NEWNS`).
    Mnt,
    /// Network devices, addresses, ports (`CLONE_NEWNET`).
    Net,
    /// Process IDs (`CLONE_NEWPID`); entering it affects children only.
    Pid,
    /// Boot and monotonic clocks (`CLONE_NEWTIME`).
    Time,
    /// User and group IDs and capabilities (`CLONE_NEWUSER`).
    User,
    /// Hostname and NIS domain name (`CLONE_NEWUTS`).
    Uts,
}

impl Kind {
    /// Every kind, in alphabetical order (the order `lsns` and `/proc/PID/ns` list them).
    pub const ALL: [Kind; 8] = [
        Kind::Cgroup,
        Kind::Ipc,
        Kind::Mnt,
        Kind::Net,
        Kind::Pid,
        Kind::Time,
        Kind::User,
        Kind::Uts,
    ];

    /// The order in which kinds are entered: util-linux nsenter's order. User comes
    /// first so that an unprivileged caller gains its capabilities before the rest;
    /// a privileged caller enters it last (see [`crate::Handles::plan`]).
    pub const ENTER_ORDER: [Kind; 8] = [
        Kind::User,
        Kind::Cgroup,
        Kind::Ipc,
        Kind::Uts,
        Kind::Net,
        Kind::Pid,
        Kind::Mnt,
        Kind::Time,
    ];

    /// The file name under `/proc/PID/ns/`.
    pub const fn name(self) -> &'static str {
        match self {
            Kind::Cgroup => "cgroup",
            Kind::Ipc => "ipc",
            Kind::Mnt => "mnt",
            Kind::Net => "net",
            Kind::Pid => "pid",
            Kind::Time => "time",
            Kind::User => "user",
            Kind::Uts => "uts",
        }
    }

    /// The `CLONE_NEW*` flag for this kind, as used by setns(2), unshare(2) and clone(2).
    pub const fn clone_flag(self) -> i32 {
        match self {
            Kind::Cgroup => libc::CLONE_NEWCGROUP,
            Kind::Ipc => libc::CLONE_NEWIPC,
            Kind::Mnt => libc::CLONE_NEWNS,
            Kind::Net => libc::CLONE_NEWNET,
            Kind::Pid => libc::CLONE_NEWPID,
            Kind::Time => libc::CLONE_NEWTIME,
            Kind::User => libc::CLONE_NEWUSER,
            Kind::Uts => libc::CLONE_NEWUTS,
        }
    }

    /// The kind whose `CLONE_NEW*` flag is `flag` (what `NS_GET_NSTYPE` returns).
    pub fn from_clone_flag(flag: i32) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.clone_flag() == flag)
    }

    /// Whether the running kernel has this kind (it shows in `/proc/self/ns/`).
    /// Probed once per process.
    pub fn is_supported(self) -> bool {
        KindSet::supported().contains(self)
    }

    pub(crate) const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Kind {
    /// The kind a name means, as util-linux and the original Python package spell
    /// them: `cgroup ipc mnt mount net pid time user uts`. (`str::parse` gives the
    /// error for any other name.)
    pub(crate) fn from_name(s: &str) -> Option<Kind> {
        Some(match s {
            "cgroup" => Kind::Cgroup,
            "ipc" => Kind::Ipc,
            "mnt" | "mount" => Kind::Mnt,
            "net" => Kind::Net,
            "pid" => Kind::Pid,
            "time" => Kind::Time,
            "user" => Kind::User,
            "uts" => Kind::Uts,
            _ => return None,
        })
    }
}

/// A set of [`Kind`]s.
///
/// ```
/// use nsjoin::{Kind, KindSet};
/// let set = KindSet::from(Kind::Net) | Kind::Uts;
/// assert!(set.contains(Kind::Uts) && !set.contains(Kind::Mnt));
/// assert_eq!(set.iter().collect::<Vec<_>>(), [Kind::Net, Kind::Uts]);
/// assert_eq!("net,uts".parse::<KindSet>().unwrap(), set);
/// ```
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct KindSet(u8);

impl KindSet {
    /// No kinds.
    pub const EMPTY: KindSet = KindSet(0);
    /// All eight kinds, whether or not the kernel has them.
    pub const ALL: KindSet = KindSet(0xff);

    /// The kinds the running kernel has (probed once from `/proc/self/ns`).
    pub fn supported() -> KindSet {
        static SUPPORTED: OnceLock<KindSet> = OnceLock::new();
        *SUPPORTED.get_or_init(|| {
            Kind::ALL
                .into_iter()
                .filter(|k| {
                    std::fs::symlink_metadata(format!("/proc/self/ns/{}", k.name())).is_ok()
                })
                .collect()
        })
    }

    /// The set of `kinds`, usable in constants.
    pub const fn from_array<const N: usize>(kinds: [Kind; N]) -> KindSet {
        let mut bits = 0;
        let mut i = 0;
        while i < N {
            bits |= kinds[i].bit();
            i += 1;
        }
        KindSet(bits)
    }

    /// Whether `kind` is in the set.
    pub const fn contains(self, kind: Kind) -> bool {
        self.0 & kind.bit() != 0
    }

    /// Adds `kind`.
    pub fn insert(&mut self, kind: Kind) {
        self.0 |= kind.bit();
    }

    /// Removes `kind`.
    pub fn remove(&mut self, kind: Kind) {
        self.0 &= !kind.bit();
    }

    /// Whether the set has no kinds.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The number of kinds in the set.
    pub const fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The one kind of a set of exactly one, without a loop over the kinds (the
    /// guard's single-kind path).
    #[inline(always)]
    pub(crate) const fn only(self) -> Option<Kind> {
        if self.0.count_ones() == 1 {
            Some(Kind::ALL[self.0.trailing_zeros() as usize])
        } else {
            None
        }
    }

    /// The kinds in both sets.
    pub const fn intersection(self, other: KindSet) -> KindSet {
        KindSet(self.0 & other.0)
    }

    /// The kinds in `self` but not in `other`.
    pub const fn difference(self, other: KindSet) -> KindSet {
        KindSet(self.0 & !other.0)
    }

    /// The OR of the kinds' `CLONE_NEW*` flags.
    pub fn clone_flags(self) -> i32 {
        self.iter().fold(0, |acc, k| acc | k.clone_flag())
    }

    /// The kinds in alphabetical order.
    pub fn iter(self) -> impl Iterator<Item = Kind> {
        Kind::ALL.into_iter().filter(move |k| self.contains(*k))
    }
}

impl From<Kind> for KindSet {
    fn from(kind: Kind) -> KindSet {
        KindSet(kind.bit())
    }
}

impl<const N: usize> From<[Kind; N]> for KindSet {
    fn from(kinds: [Kind; N]) -> KindSet {
        kinds.into_iter().collect()
    }
}

impl FromIterator<Kind> for KindSet {
    fn from_iter<I: IntoIterator<Item = Kind>>(iter: I) -> KindSet {
        let mut set = KindSet::EMPTY;
        for k in iter {
            set.insert(k);
        }
        set
    }
}

impl std::ops::BitOr for KindSet {
    type Output = KindSet;
    fn bitor(self, rhs: KindSet) -> KindSet {
        KindSet(self.0 | rhs.0)
    }
}

impl std::ops::BitOr<Kind> for KindSet {
    type Output = KindSet;
    fn bitor(self, rhs: Kind) -> KindSet {
        KindSet(self.0 | rhs.bit())
    }
}

impl fmt::Debug for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl fmt::Display for KindSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, k) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(k.name())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_names_the_kind_of_a_set_of_one() {
        for k in Kind::ALL {
            assert_eq!(KindSet::from(k).only(), Some(k));
        }
        assert_eq!(KindSet::EMPTY.only(), None);
        assert_eq!(KindSet::from([Kind::Net, Kind::Uts]).only(), None);
        assert_eq!(KindSet::ALL.only(), None);
    }

    #[test]
    fn names_round_trip_and_flags_are_distinct() {
        let mut flags = 0;
        for k in Kind::ALL {
            assert_eq!(k.name().parse::<Kind>().unwrap(), k);
            assert_eq!(Kind::from_clone_flag(k.clone_flag()), Some(k));
            assert_eq!(flags & k.clone_flag(), 0);
            flags |= k.clone_flag();
        }
        assert_eq!(KindSet::ALL.clone_flags(), flags);
        assert!("network".parse::<Kind>().is_err());
        assert!("".parse::<KindSet>().is_err());
    }

    #[test]
    fn supported_kinds_match_proc() {
        for k in Kind::ALL {
            let exists = std::path::Path::new("/proc/self/ns")
                .join(k.name())
                .exists();
            assert_eq!(k.is_supported(), exists, "{k}");
        }
        assert!(Kind::Net.is_supported());
    }

    #[test]
    fn set_operations() {
        let mut s = KindSet::from([Kind::Mnt, Kind::Net]);
        assert_eq!(s.len(), 2);
        s.remove(Kind::Mnt);
        assert_eq!(s, KindSet::from(Kind::Net));
        assert_eq!(s.to_string(), "net");
        assert_eq!(format!("{:?}", s | Kind::Pid), "{Net, Pid}");
        assert!(KindSet::EMPTY.is_empty());
        assert_eq!(
            KindSet::ALL
                .difference(s)
                .intersection(KindSet::from(Kind::Net)),
            KindSet::EMPTY
        );
    }
}

/// At most one value per kind: what a target opened, the ways back a guard holds,
/// the fds a child enters. Iterates in alphabetical order of kind ([`Kind::ALL`]).
///
/// ```
/// use nsjoin::{Kind, KindMap, KindSet};
/// let mut fds = KindMap::new();
/// fds.insert(Kind::Uts, "uts fd");
/// fds.insert(Kind::Net, "net fd");
/// assert_eq!(fds.get(Kind::Net), Some(&"net fd"));
/// assert_eq!(fds.kinds(), KindSet::from([Kind::Net, Kind::Uts]));
/// assert_eq!(fds.iter().map(|(k, _)| k).collect::<Vec<_>>(), [Kind::Net, Kind::Uts]);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KindMap<T>([Option<T>; 8]);

impl<T> KindMap<T> {
    /// An empty map.
    pub const fn new() -> KindMap<T> {
        KindMap([const { None }; 8])
    }

    /// The value for `kind`.
    pub fn get(&self, kind: Kind) -> Option<&T> {
        self.0[kind as usize].as_ref()
    }

    /// The value for `kind`, to change.
    pub fn get_mut(&mut self, kind: Kind) -> Option<&mut T> {
        self.0[kind as usize].as_mut()
    }

    /// Sets the value for `kind`, returning the one it replaces.
    pub fn insert(&mut self, kind: Kind, value: T) -> Option<T> {
        self.0[kind as usize].replace(value)
    }

    /// Takes the value for `kind` out.
    pub fn remove(&mut self, kind: Kind) -> Option<T> {
        self.0[kind as usize].take()
    }

    /// The kinds that have a value.
    pub fn kinds(&self) -> KindSet {
        self.iter().map(|(k, _)| k).collect()
    }

    /// Each kind with its value, in alphabetical order of kind.
    pub fn iter(&self) -> impl Iterator<Item = (Kind, &T)> {
        Kind::ALL
            .into_iter()
            .zip(&self.0)
            .filter_map(|(k, v)| v.as_ref().map(|v| (k, v)))
    }

    /// The values, in alphabetical order of kind.
    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.0.iter().flatten()
    }

    /// A map of the same kinds with each value converted.
    pub fn map<'a, U>(&'a self, mut f: impl FnMut(Kind, &'a T) -> U) -> KindMap<U> {
        let mut out = KindMap::new();
        for (k, v) in self.iter() {
            out.insert(k, f(k, v));
        }
        out
    }
}

impl<T> Default for KindMap<T> {
    fn default() -> KindMap<T> {
        KindMap::new()
    }
}

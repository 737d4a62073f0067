//! What to enter: a process, a pidfd, a namespace file or an open fd.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

#[cfg(feature = "containers")]
use crate::cgroup;
#[cfg(feature = "containers")]
use crate::container::{self, ContainerRef};
use crate::procfs::{self, Via};
use crate::{Error, Handles, KindMap, KindSet, Namespace, Result};

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
    #[cfg(feature = "containers")]
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
            #[cfg(feature = "containers")]
            _ => match Target::container(s) {
                Ok(target) => target,
                Err(_) => Target::path(s),
            },
            #[cfg(not(feature = "containers"))]
            _ => Target::path(s),
        }
    }

    /// What `nsjoin -t` (nsenter `--target`) takes: `PID`; `PID:INODE`, where INODE
    /// is the inode of the process's pidfd (`stat -L /proc/self/fd/N` of a pidfd the
    /// caller holds), which pins that very process; or a container,
    /// `ENGINE://NAME-OR-ID`.
    ///
    /// ```
    /// use nsjoin::Target;
    /// assert!(matches!(Target::from_arg("42"), Ok(Target::Pid { pid: 42, .. })));
    /// assert_eq!(Target::from_arg("4x").unwrap_err().to_string(), "failed to parse pid: '4x'");
    /// ```
    pub fn from_arg(spec: &str) -> Result<Target> {
        #[cfg(feature = "containers")]
        if container::ContainerRef::is_spec(spec) {
            return Target::container(spec);
        }
        let bad = || Error::BadPid {
            spec: spec.to_owned(),
        };
        let (pid, inode) = match spec.split_once(':') {
            Some((pid, inode)) => (pid, Some(inode.parse::<u64>().map_err(|_| bad())?)),
            None => (spec, None),
        };
        let pid: i32 = pid.parse().map_err(|_| bad())?;
        if pid <= 0 {
            return Err(bad());
        }
        let Some(inode) = inode else {
            return Ok(Target::pid(pid));
        };
        let pidfd = procfs::pidfd_open(pid)
            .and_then(|fd| fd.ok_or_else(|| io::Error::from_raw_os_error(libc::ENOSYS)))
            .map_err(|e| Error::sys(format!("cannot open pidfd of {pid}"), e))?;
        let st = rustix::fs::fstat(&pidfd)
            .map_err(|e| Error::sys(format!("cannot stat pidfd of {pid}"), e))?;
        if st.st_ino != inode {
            return Err(Error::PidInode { pid, inode });
        }
        Ok(Target::Pidfd(pidfd))
    }

    /// A container target from `ENGINE://NAME-OR-ID`.
    #[cfg(feature = "containers")]
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
                // A pidfd names a process of this process's pid namespace, which
                // another proc mount need not show.
                let pidfd = if proc == Path::new("/proc") {
                    procfs::open_pidfd(*pid)?
                } else {
                    None
                };
                open_process(*pid, proc, pidfd, kinds, format!("process {pid}"))
            }
            Target::Pidfd(fd) => {
                let pidfd = fd
                    .try_clone()
                    .map_err(|e| Error::sys("cannot duplicate the pidfd", e))?;
                let pid = procfs::pidfd_pid(&pidfd)?;
                let label = format!("process {pid}");
                open_process(pid, Path::new("/proc"), Some(pidfd), kinds, label)
            }
            Target::Path(path) => file_handles(Namespace::open(path)?, kinds),
            Target::Fd(fd) => {
                let dup = fd
                    .try_clone()
                    .map_err(|e| Error::sys("cannot duplicate the namespace fd", e))?;
                let ns = Namespace::from_fd_named(dup, fd.as_raw_fd())?;
                file_handles(ns, kinds)
            }
            #[cfg(feature = "containers")]
            Target::Container(spec) => {
                let settings = container::Settings::from_env()?;
                open_container(
                    spec,
                    container::resolve_with(spec, &settings)?,
                    kinds,
                    Some(&settings),
                )
            }
        }
    }

    /// [`Target::open`], a container target being resolved with `settings`
    /// (where its engine is, how long it may take) rather than with what the
    /// environment says. Other targets ignore them.
    #[cfg(feature = "containers")]
    pub fn open_with(&self, kinds: KindSet, settings: &container::Settings) -> Result<Handles> {
        match self {
            Target::Container(spec) => open_container(
                spec,
                container::resolve_with(spec, settings)?,
                kinds,
                Some(settings),
            ),
            other => other.open(kinds),
        }
    }

    #[cfg(feature = "containers")]
    /// Opens a container target from an engine's answer already in hand (from
    /// [`container::resolve`]), with the checks [`Target::open`] makes: the process
    /// the answer names must belong to that container. Anything but a container
    /// target is refused.
    pub fn open_resolved(&self, answer: container::Container, kinds: KindSet) -> Result<Handles> {
        match self {
            Target::Container(spec) => open_container(spec, answer, kinds, None),
            _ => Err(Error::NeedsProcess {
                what: "an engine's answer",
            }),
        }
    }

    /// A short description for messages: `process 42`, `/run/netns/x`.
    pub fn label(&self) -> String {
        match self {
            Target::Pid { pid, .. } => format!("process {pid}"),
            Target::Pidfd(_) => "pidfd target".to_owned(),
            Target::Path(p) => p.display().to_string(),
            Target::Fd(_) => "fd target".to_owned(),
            #[cfg(feature = "containers")]
            Target::Container(spec) => spec.to_string(),
        }
    }
}

#[cfg(feature = "containers")]
/// Opens the namespaces of the process an engine named, once it is shown to be the
/// container's: the engine's word alone is not trusted (a socket named by
/// `DOCKER_HOST` can answer any PID, a Docker-in-Docker engine's PIDs belong to
/// another pid namespace, and the container's init may exit and its PID be reused
/// between the answer and now). After the pidfd pins a process:
///
/// - engines whose cgroups name the container (Docker, Podman, containerd, CRI):
///   the process's `/proc/PID/cgroup` must have a component that is the container's
///   ID (`<id>`, `*-<id>`, `*-<id>.scope`);
/// - LXC and nspawn, whose cgroups are named by configuration: the engine is asked
///   a second time (with the same `settings`, else those of the environment),
///   after the pidfd was taken, and must name the same process.
///
/// Then the pidfd must still be alive, so the process checked is the one entered.
fn open_container(
    spec: &container::ContainerRef,
    answer: container::Container,
    kinds: KindSet,
    settings: Option<&container::Settings>,
) -> Result<Handles> {
    use container::ContainerError;
    let label = spec.to_string();
    let refuse = |why: ContainerError| Error::Container {
        target: label.clone(),
        why,
    };
    let pid = answer.pid;
    let pidfd = match procfs::open_pidfd(pid) {
        Err(e) if e.is_target_gone() => return Err(refuse(ContainerError::PidNotHere { pid })),
        other => other?,
    };
    // Under the pinned /proc (open_pid_dir pins it), never the thread's view.
    let dir = File::from(procfs::open_pid_dir(Path::new("/proc"), pid)?);
    match answer.engine {
        container::Engine::Lxc | container::Engine::Nspawn => {
            let again = match settings {
                Some(settings) => container::resolve_with(spec, settings)?,
                None => container::resolve(spec)?,
            };
            if again.pid != pid {
                return Err(refuse(ContainerError::InitChanged {
                    first: pid,
                    then: again.pid,
                }));
            }
        }
        _ => {
            let shown = PathBuf::from(format!("/proc/{pid}"));
            let text = procfs::read_file(&dir, &shown, "cgroup", procfs::CGROUP_LIMIT)?;
            if !cgroup::names(&String::from_utf8_lossy(&text), &answer.id) {
                return Err(refuse(ContainerError::NotInCgroup {
                    pid,
                    id: answer.id.clone(),
                }));
            }
        }
    }
    let alive = match &pidfd {
        Some(fd) => procfs::pidfd_alive(fd),
        None => procfs::dir_alive(&dir),
    };
    if !alive {
        return Err(Error::TargetExited { target: label });
    }
    Ok(open_process(pid, Path::new("/proc"), pidfd, kinds, label)?.with_container(answer, dir))
}

/// Opens the namespaces of process `pid`: through its pidfd where the kernel can,
/// else through `PROC/PID/ns`. `label` names the target in messages.
fn open_process(
    pid: i32,
    proc: &Path,
    pidfd: Option<OwnedFd>,
    kinds: KindSet,
    label: String,
) -> Result<Handles> {
    let dir_path = proc.join(pid.to_string());
    let gone_before = || Error::open(&dir_path, io::Error::from_raw_os_error(libc::ESRCH));
    if pid <= 0 {
        return Err(gone_before());
    }
    // Pin /proc now, while this thread's view of it is the one the PID belongs to:
    // later reads of /proc/PID (environ, cgroup, root, cwd) resolve under it. A
    // failure here only matters to those reads, which report it then.
    let _ = procfs::proc_root();
    if let Some(fd) = &pidfd {
        // pidfd_open succeeds on a zombie: an exited process is gone, not racing.
        // With kinds to open, the first ioctl tells (ESRCH) without a poll.
        if kinds.is_empty() && !procfs::pidfd_alive(fd) {
            return Err(gone_before());
        }
        if let Some(ns) = open_through_pidfd(fd, &dir_path, kinds, &label)? {
            return Ok(Handles::process(label, pid, pidfd, None, dir_path, ns));
        }
        if !procfs::pidfd_alive(fd) {
            return Err(gone_before());
        }
    }
    let dir = File::from(procfs::open_pid_dir(proc, pid)?);
    let alive = |dir: &File| procfs::process_alive(dir, pidfd.as_ref().map(AsFd::as_fd));
    if pidfd.is_none() && !alive(&dir) {
        return Err(gone_before());
    }
    let mut ns = KindMap::new();
    for kind in kinds.iter() {
        let path = dir_path.join("ns").join(kind.name());
        let via = Via::Dir(&dir, pidfd.as_ref().map(AsFd::as_fd));
        let gone = |_| Error::TargetExited {
            target: label.clone(),
        };
        if let Some((fd, source)) = procfs::process_namespace(via, kind, &path, gone)? {
            ns.insert(kind, Namespace::checked(fd, path, Some(kind), source)?);
        }
    }
    if !alive(&dir) {
        return Err(Error::TargetExited { target: label });
    }
    Ok(Handles::process(label, pid, pidfd, Some(dir), dir_path, ns))
}

/// Opens the namespaces through the pidfd itself (`PIDFD_GET_*_NAMESPACE`, Linux
/// 6.11): no path to walk, and the pidfd pins the process, so there is nothing
/// to re-check. `None` where the kernel lacks the ioctls (or `NSJOIN_FORCE_PROC=1`):
/// then `/proc` is used. Any other failure is an error.
fn open_through_pidfd(
    pidfd: &OwnedFd,
    dir_path: &Path,
    kinds: KindSet,
    label: &str,
) -> Result<Option<KindMap<Namespace>>> {
    if !procfs::pidfd_ns_enabled() {
        return Ok(None);
    }
    let mut ns = KindMap::new();
    for kind in kinds.iter() {
        let path = dir_path.join("ns").join(kind.name());
        let first = ns.kinds().is_empty();
        let gone = |e| {
            if first {
                // A zombie (or reaped) already at the first look: gone.
                Error::open(dir_path, e)
            } else {
                // Exited while its namespaces were being opened.
                Error::TargetExited {
                    target: label.to_owned(),
                }
            }
        };
        match procfs::process_namespace(Via::Pidfd(pidfd.as_fd()), kind, &path, gone)? {
            // The kernel made it of this kind: no NS_GET_NSTYPE needed.
            Some((fd, source)) => ns.insert(kind, Namespace::of_kind(fd, path, kind, source)?),
            None => return Ok(None),
        };
    }
    Ok(Some(ns))
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
    let mut handles = Handles::new().labelled(namespace.path().display().to_string());
    handles.insert(namespace);
    Ok(handles)
}

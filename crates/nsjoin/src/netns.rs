//! Named network namespaces as `ip netns` keeps them, and what `ip netns exec`
//! does around the program it runs.
//!
//! `ip netns add NAME` pins a network namespace at `/run/netns/NAME`;
//! `/etc/netns/NAME/` holds the files that namespace wants instead of the
//! system's (its own `resolv.conf`, `hosts`, ...). `ip netns exec NAME program`
//! then runs the program
//!
//! 1. in that network namespace,
//! 2. in a mount namespace of its own (`unshare(CLONE_NEWNS)`), whose mounts are
//!    all made slaves (`mount --make-rslave /`) so nothing it mounts reaches the
//!    caller's namespace, while mounts made outside still arrive,
//! 3. with `/sys` detached and a fresh sysfs mounted there (read-only if the old
//!    one could not be detached and was read-only), so that `/sys/class/net`
//!    lists the namespace's own interfaces,
//! 4. with every entry of `/etc/netns/NAME/` bind-mounted over the entry of the
//!    same name in `/etc`; an entry that cannot be bound is a warning on stderr
//!    (`Bind /etc/netns/NAME/x -> /etc/x failed: REASON`), not an error.
//!
//! [`IpNetns`] is steps 2–4, prepared before the fork so that the child only makes
//! system calls; [`crate::Spawn::ip_netns`] runs it after the namespaces are
//! entered. [`IpNetns::open`] is step 1's file.

use std::ffi::{CString, OsStr};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use rustix::io::Errno;
use rustix::mount::{MountFlags, MountPropagationFlags, UnmountFlags};

use crate::{Error, Kind, Namespace, Result};

/// Where `ip netns` pins named network namespaces.
pub const NETNS_RUN_DIR: &str = "/run/netns";
/// Where `ip netns exec` finds each namespace's own `/etc` files.
pub const NETNS_ETC_DIR: &str = "/etc/netns";

/// The mount set-up of `ip netns exec NAME`, ready to run in a child between fork
/// and exec (see the module documentation for the steps).
#[derive(Clone, Debug)]
pub struct IpNetns {
    /// The namespace's name: the sysfs mount's source, as `ip` makes it.
    name: CString,
    /// `(from, onto, warning)` per entry of `/etc/netns/NAME`, in directory order;
    /// `warning` is the line's beginning, up to the reason.
    binds: Vec<(CString, CString, Vec<u8>)>,
}

/// Which step of [`IpNetns`] failed (for the spawn report).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum NetnsStep {
    /// unshare(CLONE_NEWNS).
    Unshare = 0,
    /// `mount --make-rslave /`.
    Slave = 1,
    /// Mounting the new sysfs on `/sys`.
    Sysfs = 2,
}

impl NetnsStep {
    pub(crate) fn from_code(code: u32) -> Option<NetnsStep> {
        Some(match code {
            0 => NetnsStep::Unshare,
            1 => NetnsStep::Slave,
            2 => NetnsStep::Sysfs,
            _ => return None,
        })
    }

    /// What the step was doing, for an error message.
    pub(crate) fn what(self) -> &'static str {
        match self {
            NetnsStep::Unshare => "cannot make a mount namespace for the program (unshare)",
            NetnsStep::Slave => "cannot make the program's mounts slaves (mount --make-rslave /)",
            NetnsStep::Sysfs => "cannot mount /sys for the network namespace",
        }
    }
}

impl IpNetns {
    /// The file of the named network namespace `name`: `/run/netns/NAME`.
    pub fn path(name: impl AsRef<OsStr>) -> PathBuf {
        Path::new(NETNS_RUN_DIR).join(name.as_ref())
    }

    /// Opens the named network namespace `name` (`/run/netns/NAME`, checked to be a
    /// network namespace). A name with a `/` or that is empty, `.` or `..` is
    /// refused: it would name something else than an entry of `/run/netns`.
    pub fn open(name: impl AsRef<OsStr>) -> Result<Namespace> {
        let name = name.as_ref();
        check_name(name)?;
        let path = IpNetns::path(name);
        Namespace::open_kind(&path, Kind::Net).map_err(|e| match e {
            Error::Open { source, .. } => Error::Sys {
                what: format!(
                    "cannot open network namespace \"{}\"",
                    name.to_string_lossy()
                ),
                source,
            },
            other => other,
        })
    }

    /// The set-up for the namespace named `name`: reads `/etc/netns/NAME` now (a
    /// missing directory means nothing to bind, as for `ip`).
    pub fn named(name: impl AsRef<OsStr>) -> Result<IpNetns> {
        let name = name.as_ref();
        check_name(name)?;
        let dir = Path::new(NETNS_ETC_DIR).join(name);
        let mut binds = Vec::new();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                for entry in entries {
                    let entry = entry.map_err(|e| Error::open(&dir, e))?;
                    let file = entry.file_name();
                    let from = dir.join(&file);
                    let onto = Path::new("/etc").join(&file);
                    let mut warning = b"Bind ".to_vec();
                    warning.extend_from_slice(from.as_os_str().as_bytes());
                    warning.extend_from_slice(b" -> ");
                    warning.extend_from_slice(onto.as_os_str().as_bytes());
                    warning.extend_from_slice(b" failed: ");
                    binds.push((
                        cstring(from.as_os_str())?,
                        cstring(onto.as_os_str())?,
                        warning,
                    ));
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::open(&dir, e)),
        }
        Ok(IpNetns {
            name: cstring(name)?,
            binds,
        })
    }

    /// The set-up without a name: a mount namespace of the program's own and `/sys`
    /// for its network namespace, nothing bound over `/etc` (for a network
    /// namespace that is not a named one, such as a process's).
    pub fn unnamed() -> IpNetns {
        IpNetns {
            name: c"sysfs".to_owned(),
            binds: Vec::new(),
        }
    }

    /// The files of `/etc/netns/NAME` that will be bound over `/etc`, as
    /// `(from, onto)` paths.
    pub fn binds(&self) -> impl Iterator<Item = (&Path, &Path)> {
        self.binds.iter().map(|(from, onto, _)| {
            (
                Path::new(OsStr::from_bytes(from.as_bytes())),
                Path::new(OsStr::from_bytes(onto.as_bytes())),
            )
        })
    }

    /// Steps 2–4, in the child after the network namespace is entered: system
    /// calls on prepared strings only, nothing allocated.
    pub(crate) fn apply(&self) -> std::result::Result<(), (NetnsStep, Errno)> {
        crate::sys::unshare_mount_ns().map_err(|e| (NetnsStep::Unshare, e))?;
        rustix::mount::mount_change(
            c"/",
            MountPropagationFlags::DOWNSTREAM | MountPropagationFlags::REC,
        )
        .map_err(|e| (NetnsStep::Slave, e))?;
        let mut flags = MountFlags::empty();
        if rustix::mount::unmount(c"/sys", UnmountFlags::DETACH).is_err() {
            // Not detached (or nothing there): the new sysfs goes on top, and a
            // read-only one cannot be covered by a writable one.
            if let Ok(st) = rustix::fs::statvfs(c"/sys") {
                if st.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY) {
                    flags |= MountFlags::RDONLY;
                }
            }
        }
        rustix::mount::mount(self.name.as_c_str(), c"/sys", c"sysfs", flags, None)
            .map_err(|e| (NetnsStep::Sysfs, e))?;
        for (from, onto, warning) in &self.binds {
            if let Err(e) = rustix::mount::mount_bind(from.as_c_str(), onto.as_c_str()) {
                let stderr = rustix::stdio::stderr();
                let _ = rustix::io::write(stderr, warning);
                let mut number = [0u8; 12];
                let _ = rustix::io::write(stderr, reason(e, &mut number));
                let _ = rustix::io::write(stderr, b"\n");
            }
        }
        Ok(())
    }
}

fn check_name(name: &OsStr) -> Result<()> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/') {
        return Err(Error::sys(
            format!(
                "invalid network namespace name \"{}\"",
                name.to_string_lossy()
            ),
            io::Error::from_raw_os_error(libc::EINVAL),
        ));
    }
    Ok(())
}

fn cstring(s: &OsStr) -> Result<CString> {
    CString::new(s.as_bytes()).map_err(|_| {
        Error::sys(
            format!("{} contains a NUL byte", s.to_string_lossy()),
            io::Error::from_raw_os_error(libc::EINVAL),
        )
    })
}

/// The reason for a failed bind, as the C library words it, without allocating
/// (this runs between fork and exec): the errnos a bind mount gives, and the
/// number for any other.
fn reason(e: Errno, buf: &mut [u8; 12]) -> &[u8] {
    let text: &[u8] = match e {
        Errno::NOENT => b"No such file or directory",
        Errno::NOTDIR => b"Not a directory",
        Errno::ISDIR => b"Is a directory",
        Errno::ACCESS => b"Permission denied",
        Errno::PERM => b"Operation not permitted",
        Errno::INVAL => b"Invalid argument",
        Errno::LOOP => b"Too many levels of symbolic links",
        Errno::NOMEM => b"Cannot allocate memory",
        Errno::NAMETOOLONG => b"File name too long",
        Errno::ROFS => b"Read-only file system",
        Errno::BUSY => b"Device or resource busy",
        _ => {
            let prefix = b"errno ";
            buf[..prefix.len()].copy_from_slice(prefix);
            let mut n = e.raw_os_error().unsigned_abs();
            let mut digits = [0u8; 6];
            let mut len = 0;
            loop {
                digits[len] = b'0' + (n % 10) as u8;
                len += 1;
                n /= 10;
                if n == 0 || len == digits.len() {
                    break;
                }
            }
            for i in 0..len {
                buf[prefix.len() + i] = digits[len - 1 - i];
            }
            return &buf[..prefix.len() + len];
        }
    };
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_read_like_strerror() {
        let mut buf = [0u8; 12];
        assert_eq!(reason(Errno::NOENT, &mut buf), b"No such file or directory");
        assert_eq!(
            reason(Errno::from_raw_os_error(123), &mut buf),
            b"errno 123"
        );
        assert_eq!(reason(Errno::from_raw_os_error(7), &mut buf), b"errno 7");
        for (code, step) in [
            (0, NetnsStep::Unshare),
            (1, NetnsStep::Slave),
            (2, NetnsStep::Sysfs),
        ] {
            assert_eq!(NetnsStep::from_code(code), Some(step));
            assert_eq!(step as u32, code);
        }
        assert_eq!(NetnsStep::from_code(3), None);
    }

    #[test]
    fn names_that_are_not_entries_of_run_netns_are_refused() {
        for bad in ["", ".", "..", "a/b", "/run/netns/x"] {
            let e = IpNetns::open(bad).unwrap_err();
            assert!(
                e.to_string().starts_with("invalid network namespace name"),
                "{e}"
            );
        }
        let e = IpNetns::open("nsjoin-no-such-netns").unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot open network namespace \"nsjoin-no-such-netns\": No such file or directory"
        );
        assert_eq!(e.raw_os_error(), Some(libc::ENOENT));
    }

    #[test]
    fn a_name_without_etc_directory_binds_nothing() {
        let setup = IpNetns::named("nsjoin-no-such-netns").unwrap();
        assert_eq!(setup.binds().count(), 0);
        assert_eq!(setup.name.as_bytes(), b"nsjoin-no-such-netns");
    }
}

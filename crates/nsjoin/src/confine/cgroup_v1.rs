//! The target's cgroup v1 hierarchies (on a hybrid or v1 host), which `-c` (cgroup
//! v2 only) leaves alone: a program left in the caller's v1 groups would escape
//! the container's memory and pids limits. Each hierarchy the target is in is
//! found among this process's mounts, and its `cgroup.procs` opened here; the
//! program writes itself into each before exec.

use std::fs::File;
use std::io::Read;
use std::os::fd::OwnedFd;

use rustix::fs::{Mode, OFlags};

use super::{bad, cannot};
use crate::procfs::{self, CGROUP_LIMIT};
use crate::{Handles, Result};

/// The most of `/proc/self/mountinfo` read.
const MOUNTINFO_LIMIT: usize = 4 << 20;

/// `(controllers, path)` of each v1 line of a `/proc/PID/cgroup`.
fn v1_lines(cgroup: &str) -> Vec<(&str, &str)> {
    cgroup
        .lines()
        .filter_map(|line| {
            let mut it = line.splitn(3, ':');
            let (id, controllers, path) = (it.next()?, it.next()?, it.next()?);
            (id != "0" && !controllers.is_empty()).then_some((controllers, path))
        })
        .collect()
}

/// The mount point and root of the v1 hierarchy with exactly these controllers
/// (`memory`, `cpu,cpuacct`, `name=systemd`), from a mountinfo text.
fn mount_of<'a>(mountinfo: &'a str, controllers: &str) -> Option<(&'a str, &'a str)> {
    mountinfo.lines().find_map(|line| {
        let (fields, rest) = line.split_once(" - ")?;
        let mut rest = rest.split(' ');
        let (fstype, _source, options) = (rest.next()?, rest.next()?, rest.next()?);
        if fstype != "cgroup" {
            return None;
        }
        let options: Vec<&str> = options.split(',').collect();
        if !controllers.split(',').all(|c| options.contains(&c)) {
            return None;
        }
        let mut fields = fields.split(' ');
        let root = fields.nth(3)?;
        let point = fields.next()?;
        Some((point, root))
    })
}

/// Opens `cgroup.procs` of every v1 group the target is in, for writing.
pub(super) fn open(handles: &Handles) -> Result<Vec<OwnedFd>> {
    let what = "cgroup v1 groups";
    let data = handles.read_proc_file("cgroup", CGROUP_LIMIT, "cgroup v1 groups")?;
    let cgroup = String::from_utf8_lossy(&data);
    let lines = v1_lines(&cgroup);
    if lines.is_empty() {
        return Ok(Vec::new());
    }
    let fd = rustix::fs::openat(
        procfs::proc_root()?,
        "self/mountinfo",
        OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| cannot(what, handles, e))?;
    let mut mountinfo = String::new();
    File::from(fd)
        .take(MOUNTINFO_LIMIT as u64)
        .read_to_string(&mut mountinfo)
        .map_err(|e| cannot(what, handles, e))?;
    let mut out = Vec::new();
    for (controllers, path) in lines {
        let Some((point, root)) = mount_of(&mountinfo, controllers) else {
            return Err(bad(
                what,
                handles,
                &format!("no {controllers} cgroup hierarchy is mounted here"),
            ));
        };
        let rel = if root == "/" {
            Some(path)
        } else {
            path.strip_prefix(root)
                .filter(|r| r.is_empty() || r.starts_with('/'))
        };
        let Some(rel) = rel else {
            return Err(bad(
                what,
                handles,
                &format!("its {controllers} group {path} is outside the mounted {root}"),
            ));
        };
        let procs = format!("{point}{rel}/cgroup.procs");
        let fd = rustix::fs::open(
            procs.as_str(),
            OFlags::WRONLY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| {
            cannot(
                what,
                handles,
                std::io::Error::other(format!("{procs}: {e}")),
            )
        })?;
        out.push(fd);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_groups_are_found_under_their_mounts() {
        let cgroup = "9:name=systemd:/docker/abc\n4:memory:/docker/abc\n1:cpu,cpuacct:/docker/abc\n0::/docker/abc\n";
        assert_eq!(
            v1_lines(cgroup),
            [
                ("name=systemd", "/docker/abc"),
                ("memory", "/docker/abc"),
                ("cpu,cpuacct", "/docker/abc")
            ]
        );
        let mountinfo = "30 25 0:26 / /sys/fs/cgroup/memory rw,nosuid - cgroup cgroup rw,memory\n\
                         31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n\
                         32 25 0:28 /sub /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd\n\
                         33 25 0:29 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw\n";
        assert_eq!(
            mount_of(mountinfo, "memory"),
            Some(("/sys/fs/cgroup/memory", "/"))
        );
        assert_eq!(
            mount_of(mountinfo, "cpu,cpuacct"),
            Some(("/sys/fs/cgroup/cpu,cpuacct", "/"))
        );
        assert_eq!(
            mount_of(mountinfo, "name=systemd"),
            Some(("/sys/fs/cgroup/systemd", "/sub"))
        );
        assert_eq!(mount_of(mountinfo, "pids"), None);
        assert_eq!(v1_lines("0::/x\n"), Vec::<(&str, &str)>::new());
    }
}

//! Facts about the processes of the rows shown, read from `/proc` only for them:
//! parent, owner, login name, command line, container.

use std::collections::HashMap;
use std::fs::File;
use std::io::Read;
use std::sync::Arc;

use nsjoin::list::{self, ContainerResolver};
use nsjoin::os;

/// Per-process facts read only for the rows shown.
pub(super) struct Procs {
    ppid: HashMap<i32, i32>,
    uid: HashMap<i32, u32>,
    names: HashMap<u32, String>,
    containers: HashMap<i32, Option<String>>,
    resolver: Arc<dyn ContainerResolver>,
}

impl Procs {
    pub(super) fn new(resolver: Arc<dyn ContainerResolver>) -> Procs {
        Procs {
            ppid: HashMap::new(),
            uid: HashMap::new(),
            names: HashMap::new(),
            containers: HashMap::new(),
            resolver,
        }
    }

    pub(super) fn ppid(&mut self, pid: i32) -> i32 {
        *self
            .ppid
            .entry(pid)
            .or_insert_with(|| parent_pid(pid).unwrap_or(0))
    }

    pub(super) fn uid(&mut self, pid: i32) -> u32 {
        *self
            .uid
            .entry(pid)
            .or_insert_with(|| process_uid(pid).unwrap_or(0))
    }

    pub(super) fn user(&mut self, uid: u32) -> String {
        self.names
            .entry(uid)
            .or_insert_with(|| os::user_name(uid).unwrap_or_else(|| uid.to_string()))
            .clone()
    }

    pub(super) fn container(&mut self, pid: i32) -> Option<String> {
        self.containers
            .entry(pid)
            .or_insert_with(|| {
                let cgroup = list::read_cgroup(pid)?;
                self.resolver.resolve(pid, &cgroup).map(|c| c.target())
            })
            .clone()
    }
}

/// Reads a small `/proc` file whole (at most 64 KiB), if it can be read.
fn read_small(path: &str) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(512);
    File::open(path)
        .ok()?
        .take(1 << 16)
        .read_to_end(&mut buf)
        .ok()?;
    Some(buf)
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

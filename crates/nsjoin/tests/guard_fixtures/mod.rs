//! What the guard_* tests share: the calling thread's view of its namespaces,
//! a process that moves to new namespaces when told, and a thread to enter on.
// Each test binary that includes this module uses only some of it.
#![allow(dead_code)]

use common::{thread_hostname, thread_ns_ino, Sandbox};
use nsjoin::{Kind, KindSet};
use nsjoin_test_support as common;

/// The kinds a Guard can enter on any thread, that `Sandbox::new` makes fresh.
pub const THREAD_KINDS: [Kind; 4] = [Kind::Net, Kind::Uts, Kind::Ipc, Kind::Cgroup];

/// What the calling thread sees: the inode of each kind, and its hostname.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub inos: Vec<(Kind, u64)>,
    pub hostname: String,
}

pub fn view(kinds: &[Kind]) -> View {
    View {
        inos: kinds
            .iter()
            .map(|k| (*k, thread_ns_ino(k.name())))
            .collect(),
        hostname: thread_hostname(),
    }
}

/// What the sandbox's own `/proc/PID/ns` says, and its hostname.
pub fn sandbox_view(sandbox: &Sandbox, kinds: &[Kind]) -> View {
    View {
        inos: kinds
            .iter()
            .map(|k| (*k, sandbox.ns_ino(k.name())))
            .collect(),
        hostname: sandbox.hostname.clone(),
    }
}

/// The network interfaces the calling thread sees.
pub fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/thread-self/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_owned())
        .collect()
}

/// Runs `f` on a new thread and returns what it returns (a panic in it fails
/// the test).
pub fn on_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

pub fn kinds(list: &[Kind]) -> KindSet {
    list.iter().copied().collect()
}

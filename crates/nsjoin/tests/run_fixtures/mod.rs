//! What the run_* tests share: what the calling thread and every thread of the
//! process see.
// Each test binary that includes this module uses only some of it.
#![allow(dead_code)]

use common::thread_ns_ino;
use nsjoin_test_support as common;
use std::os::unix::fs::MetadataExt;
use std::time::{Duration, Instant};

/// The inodes of the calling thread's namespaces of these kinds.
pub fn thread_inos(kinds: &[&str]) -> Vec<u64> {
    kinds.iter().map(|k| thread_ns_ino(k)).collect()
}

/// The net namespace inode of every thread of this process that can still be read
/// (a thread that is exiting has already dropped its namespaces and is skipped).
pub fn all_threads_net() -> Vec<(String, u64)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").unwrap() {
        let entry = entry.unwrap();
        if let Ok(m) = std::fs::metadata(entry.path().join("ns/net")) {
            out.push((entry.file_name().to_string_lossy().into_owned(), m.ino()));
        }
    }
    out
}

/// Waits until every thread of this process is in net namespace `ino`. A thread that
/// run_in has joined can linger in /proc/self/task for a moment while the kernel
/// finishes its exit, so this polls for up to two seconds before giving up.
pub fn assert_all_threads_in_net(ino: u64) {
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let threads = all_threads_net();
        assert!(!threads.is_empty());
        let foreign: Vec<_> = threads.iter().filter(|(_, i)| *i != ino).collect();
        if foreign.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "threads still in a foreign net namespace (expected {ino}): {foreign:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

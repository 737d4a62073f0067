//! What the target_* tests share: inodes, pidfds, and the check of an open error.
// Each test binary that includes this module uses only some of it.
#![allow(dead_code)]

use common::Sandbox;
use nsjoin::{Error, Kind};
use nsjoin_test_support as common;
use std::os::fd::OwnedFd;
use std::path::Path;

/// The inode of `/proc/PID/ns/KIND` as a `Kind`.
pub fn ino(sandbox: &Sandbox, kind: Kind) -> u64 {
    sandbox.ns_ino(kind.name())
}

/// A pidfd for `pid`.
pub fn pidfd(pid: i32) -> OwnedFd {
    rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::PidfdFlags::empty(),
    )
    .unwrap()
}

/// Asserts that `err` is an `Error::Open` about `path` and that its one-line
/// message names `path`.
pub fn assert_open_error(err: &Error, path: &Path) {
    match err {
        Error::Open { path: p, .. } => assert_eq!(p, path, "{err}"),
        other => panic!(
            "expected an Open error about {}, got {other:?}",
            path.display()
        ),
    }
    let msg = err.to_string();
    assert!(msg.contains(&path.display().to_string()), "{msg}");
    assert!(!msg.contains('\n'), "{msg:?}");
}

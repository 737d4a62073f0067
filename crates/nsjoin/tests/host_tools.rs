//! `Spawn::host_tools` against real namespaces: sandboxes made with util-linux
//! `unshare`, one of them with its own user namespace. (The command's tests run it
//! on Docker and Podman containers: crates/nsjoin-cli/tests/host_tools.rs.)

use nsjoin_test_support as common;

use std::path::PathBuf;
use std::process::Command;

use common::{exclusive, shared, Sandbox};
use nsjoin::{Dir, IpNetns, Kind, KindSet, Spawn, Target};

fn link(pid: &str, kind: &str) -> String {
    std::fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    cmd
}

/// Prints, one a line: the program's net, uts, pid-for-children and mnt links,
/// its hostname, the PIDs `ps` lists, the marker the sandbox left in its tmpfs.
const LOOK: &str = "for k in net uts pid mnt; do readlink /proc/self/ns/$k; done; \
                    hostname; ps -e -o pid= | tr -d ' ' | tr '\\n' ' '; echo; \
                    cat /target/mnt/marker";

#[test]
fn a_sandbox_is_seen_with_this_machines_root() {
    if !common::root_or_skip("a_sandbox_is_seen_with_this_machines_root") {
        return;
    }
    // Exclusive: the fd count below is the whole process's.
    let _g = exclusive();
    let sb = Sandbox::start(
        &["--uts", "--net", "--ipc", "--pid", "--mount", "--cgroup"],
        "mount -t tmpfs nsjoin-test /mnt && echo inside > /mnt/marker",
    );
    let kinds = KindSet::from([
        Kind::Uts,
        Kind::Net,
        Kind::Ipc,
        Kind::Pid,
        Kind::Mnt,
        Kind::Cgroup,
    ]);
    let handles = Target::pid(sb.pid).open(kinds).unwrap();
    // Spawned from the test harness, a multithreaded process.
    let out = Spawn::new(&handles)
        .host_tools(None)
        .output(sh(LOOK))
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    let pid = sb.pid.to_string();
    assert_eq!(lines[0], link(&pid, "net"));
    assert_eq!(lines[1], link(&pid, "uts"));
    assert_eq!(lines[2], link(&pid, "pid"));
    // A mount namespace of its own: neither the sandbox's nor ours.
    assert_ne!(lines[3], link(&pid, "mnt"));
    assert_ne!(lines[3], link("self", "mnt"));
    assert_eq!(lines[4], sb.hostname);
    // ps lists the sandbox's processes: its shell (1), sleep, and the program's.
    let pids: Vec<u32> = lines[5]
        .split_whitespace()
        .map(|p| p.parse().unwrap())
        .collect();
    assert_eq!(pids.first(), Some(&1), "{pids:?}");
    assert!(pids.len() <= 5, "{pids:?}");
    // The sandbox's own mount, under /target.
    assert_eq!(lines[6], "inside");
    // Once more: no fd is left behind (the first run pinned /proc for good).
    let fds = common::fd_count();
    let again = Spawn::new(&handles)
        .host_tools(None)
        .output(sh(LOOK))
        .unwrap();
    assert!(again.status.success(), "{again:?}");
    assert_eq!(common::fd_count(), fds, "an fd was left open");
}

#[test]
fn a_target_with_its_own_user_namespace_is_entered_last() {
    if !common::root_or_skip("a_target_with_its_own_user_namespace_is_entered_last") {
        return;
    }
    let _g = shared();
    let sb = Sandbox::with_user();
    let handles = Target::pid(sb.pid).open(KindSet::supported()).unwrap();
    let out = Spawn::new(&handles)
        .host_tools(Some(PathBuf::from("/run/nsjoin-host-tools-user")))
        .root_in_user_namespace(true)
        .output(sh(
            "readlink /proc/self/ns/user; id -u; ps -e -o pid= | head -1 | tr -d ' '; \
             ls -d /run/nsjoin-host-tools-user/proc",
        ))
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            link(&sb.pid.to_string(), "user").as_str(),
            "0",
            "1",
            "/run/nsjoin-host-tools-user/proc"
        ]
    );
    assert!(!std::path::Path::new("/run/nsjoin-host-tools-user").exists());
}

#[test]
fn the_target_cwd_is_under_dir_and_root_is_refused() {
    if !common::root_or_skip("the_target_cwd_is_under_dir_and_root_is_refused") {
        return;
    }
    let _g = shared();
    let sb = Sandbox::start(&["--mount", "--pid"], "cd /etc");
    let handles = Target::pid(sb.pid)
        .open(KindSet::from([Kind::Mnt, Kind::Pid]))
        .unwrap();
    let out = Spawn::new(&handles)
        .host_tools(Some("/mnt".into()))
        .cwd(Dir::Target)
        .output(sh("pwd"))
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "/mnt/etc");
    let err = Spawn::new(&handles)
        .host_tools(None)
        .root(Dir::Target)
        .output(sh("true"))
        .unwrap_err();
    assert!(err.to_string().contains("--root"), "{err}");
    // So are the other options that set the program's root or mounts.
    let err = Spawn::new(&handles)
        .host_tools(None)
        .confine(true)
        .output(sh("true"))
        .unwrap_err();
    assert!(err.to_string().contains("host tools"), "{err}");
    let err = Spawn::new(&handles)
        .host_tools(None)
        .ip_netns(IpNetns::unnamed())
        .output(sh("true"))
        .unwrap_err();
    assert!(err.to_string().contains("--netns"), "{err}");
    let err = Spawn::new(&handles)
        .host_tools(Some("relative".into()))
        .output(sh("true"))
        .unwrap_err();
    assert!(err.to_string().contains("absolute"), "{err}");
}

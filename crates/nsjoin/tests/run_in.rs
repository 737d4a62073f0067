//! Integration tests for `nsjoin::run_in` / `Handles::run`: a closure on a thread of
//! its own inside real namespaces (made with util-linux `unshare` and `ip netns`),
//! what that thread really sees, and that nothing else in the process is touched.

use nsjoin_test_support as common;

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{fd_count, thread_hostname, thread_ns_ino, NetnsFile, Sandbox, TempDir};
use nsjoin::{Error, Kind, KindSet, Target};

mod run_fixtures;
use run_fixtures::*;

/// (dev, ino) of a path, as this thread resolves it.
fn dev_ino(path: impl AsRef<Path>) -> (u64, u64) {
    let m = std::fs::metadata(path).unwrap();
    (m.dev(), m.ino())
}

/// Waits until `pid` is gone or a zombie (its namespaces released).
fn wait_dead(pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return,
            Ok(stat) => {
                let state = stat.rsplit(')').next().unwrap().split_whitespace().next();
                if state == Some("Z") || state == Some("X") {
                    return;
                }
            }
        }
        assert!(Instant::now() < deadline, "process {pid} did not die");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Adds a link named `d0` inside `netns`: a dummy one, or a bridge where the kernel
/// was built without the dummy driver (as on some CI VMs).
fn add_link_d0(netns: &NetnsFile) {
    for kind in ["dummy", "bridge"] {
        let ok = Command::new("ip")
            .args(["-n", &netns.name, "link", "add", "d0", "type", kind])
            .stderr(std::process::Stdio::null())
            .status()
            .expect("cannot run ip (iproute2)")
            .success();
        if ok {
            return;
        }
    }
    panic!("cannot add a dummy or bridge link d0 in {}", netns.name);
}

const NET_UTS_IPC_CGROUP_PID: [Kind; 5] =
    [Kind::Net, Kind::Uts, Kind::Ipc, Kind::Cgroup, Kind::Pid];

// ---------------------------------------------------------------------------
// What the closure sees, and that it comes back.
// ---------------------------------------------------------------------------

#[test]
fn run_in_net_uts_ipc_cgroup_pid_closure_sees_sandbox_ids_and_hostname() {
    let Some(_lock) =
        common::root_shared("run_in_net_uts_ipc_cgroup_pid_closure_sees_sandbox_ids_and_hostname")
    else {
        return;
    };
    let sb = Sandbox::new();
    let kinds = ["net", "uts", "ipc", "cgroup"];
    let caller_before = thread_inos(&["net", "uts", "ipc", "cgroup", "pid", "pid_for_children"]);

    let (inside, pid, pid_for_children, hostname, closure_tid) = nsjoin::run_in(
        &Target::pid(sb.pid),
        KindSet::from(NET_UTS_IPC_CGROUP_PID),
        || {
            (
                thread_inos(&kinds),
                thread_ns_ino("pid"),
                thread_ns_ino("pid_for_children"),
                thread_hostname(),
                rustix::thread::gettid().as_raw_nonzero().get(),
            )
        },
    )
    .expect("run_in");

    let expected: Vec<u64> = kinds.iter().map(|k| sb.ns_ino(k)).collect();
    assert_eq!(inside, expected, "closure's {kinds:?} vs the sandbox's");
    assert_eq!(hostname, sb.hostname);
    // pid: only pid_for_children moves; the thread itself stays in the caller's.
    assert_eq!(pid_for_children, sb.ns_ino("pid"));
    assert_eq!(pid, caller_before[4]);
    assert_ne!(pid, sb.ns_ino("pid"));
    // It ran on a thread of its own.
    assert_ne!(closure_tid, rustix::thread::gettid().as_raw_nonzero().get());
    // And the caller never moved.
    assert_eq!(
        thread_inos(&["net", "uts", "ipc", "cgroup", "pid", "pid_for_children"]),
        caller_before
    );
    assert_ne!(thread_hostname(), sb.hostname);
}

#[test]
fn run_in_leaves_caller_thread_and_all_other_threads_in_their_namespaces() {
    let Some(_lock) = common::root_exclusive(
        "run_in_leaves_caller_thread_and_all_other_threads_in_their_namespaces",
    ) else {
        return;
    };
    let sb = Sandbox::new();
    let kinds = ["net", "uts", "ipc", "cgroup", "mnt", "pid_for_children"];
    let before = thread_inos(&kinds);
    let before_host = thread_hostname();
    assert_all_threads_in_net(before[0]);

    // While the closure runs, other threads (this one included) must stay outside.
    let (seen, others_during) = nsjoin::run_in(
        &Target::pid(sb.pid),
        KindSet::from(NET_UTS_IPC_CGROUP_PID),
        || {
            let me = rustix::thread::gettid().as_raw_nonzero().get().to_string();
            let others: Vec<_> = all_threads_net()
                .into_iter()
                .filter(|(tid, _)| *tid != me)
                .collect();
            (thread_ns_ino("net"), others)
        },
    )
    .unwrap();
    assert_eq!(seen, sb.ns_ino("net"));
    assert!(!others_during.is_empty());
    for (tid, ino) in &others_during {
        assert_eq!(
            *ino, before[0],
            "thread {tid} was moved while the closure ran"
        );
    }

    assert_eq!(thread_inos(&kinds), before);
    assert_eq!(thread_hostname(), before_host);
    assert_all_threads_in_net(before[0]);
}

#[test]
fn run_in_mnt_closure_reads_sandbox_tmpfs_marker_caller_cannot_and_keeps_cwd_root() {
    let Some(_lock) = common::root_shared(
        "run_in_mnt_closure_reads_sandbox_tmpfs_marker_caller_cannot_and_keeps_cwd_root",
    ) else {
        return;
    };
    // /mnt on these machines holds mounts of the test machinery: use a directory of
    // our own as the mountpoint (private propagation keeps the tmpfs in the sandbox).
    let dir = TempDir::new("mnt");
    let marker = dir.0.join("nsj-marker");
    let sb = Sandbox::start(
        &["--mount", "--uts"],
        &format!(
            "mount -t tmpfs none {d} && echo inside > {m} || exit 1",
            d = dir.0.display(),
            m = marker.display()
        ),
    );
    let mnt_before = thread_ns_ino("mnt");
    let root_before = dev_ino("/");
    let cwd_before = dev_ino(".");
    let cwd_path_before = std::env::current_dir().unwrap();
    assert!(!marker.exists(), "caller must not see the sandbox's tmpfs");

    let (text, mnt_inside, dir_fs) = nsjoin::run_in(&Target::pid(sb.pid), Kind::Mnt.into(), || {
        (
            std::fs::read_to_string(&marker),
            thread_ns_ino("mnt"),
            dev_ino(&dir.0),
        )
    })
    .unwrap();
    assert_eq!(text.expect("closure reads the marker").trim(), "inside");
    assert_eq!(mnt_inside, sb.ns_ino("mnt"));
    assert_ne!(
        dir_fs,
        dev_ino(&dir.0),
        "closure saw the tmpfs, caller the plain dir"
    );

    assert!(!marker.exists(), "caller must still not see the marker");
    assert_eq!(thread_ns_ino("mnt"), mnt_before);
    assert_eq!(dev_ino("/"), root_before);
    assert_eq!(dev_ino("."), cwd_before);
    assert_eq!(std::env::current_dir().unwrap(), cwd_path_before);
}

#[test]
fn run_in_closure_borrows_callers_stack_and_returns_value() {
    let Some(_lock) = common::root_shared("run_in_closure_borrows_callers_stack_and_returns_value")
    else {
        return;
    };
    let sb = Sandbox::new();
    let prefix = String::from("seen:"); // borrowed immutably
    let mut log: Vec<String> = Vec::new(); // borrowed mutably
    let n = nsjoin::run_in(&Target::pid(sb.pid), Kind::Uts.into(), || {
        log.push(format!("{prefix}{}", thread_hostname()));
        log.len() + prefix.len()
    })
    .unwrap();
    assert_eq!(log, [format!("seen:{}", sb.hostname)]);
    assert_eq!(n, 1 + "seen:".len());
}

#[test]
fn run_in_panic_is_resumed_in_caller_with_same_payload_and_nothing_leaks() {
    let Some(_lock) = common::root_exclusive(
        "run_in_panic_is_resumed_in_caller_with_same_payload_and_nothing_leaks",
    ) else {
        return;
    };
    let sb = Sandbox::new();
    let kinds = ["net", "uts", "ipc", "mnt"];
    let ns_before = thread_inos(&kinds);
    let fds_before = fd_count();
    let target = Target::pid(sb.pid);
    let set = KindSet::from([Kind::Net, Kind::Uts, Kind::Ipc, Kind::Mnt]);

    let r = std::panic::catch_unwind(|| {
        let _ = nsjoin::run_in(&target, set, || -> u32 { panic!("static boom") });
    });
    let payload = r.expect_err("the panic must reach the caller");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"static boom"));

    let r = std::panic::catch_unwind(|| {
        let _ = nsjoin::run_in(&target, set, || -> u32 {
            let host = thread_hostname();
            panic!("formatted boom in {host}")
        });
    });
    let payload = r.expect_err("the panic must reach the caller");
    assert_eq!(
        payload.downcast_ref::<String>().map(String::as_str),
        Some(format!("formatted boom in {}", sb.hostname).as_str()),
        "String payload, made inside the sandbox's uts namespace"
    );

    assert_eq!(thread_inos(&kinds), ns_before);
    assert_eq!(fd_count(), fds_before);
    assert_all_threads_in_net(ns_before[0]);
}

#[test]
fn run_in_refuses_user_and_time_with_needs_other_api_naming_spawn() {
    let Some(_lock) =
        common::root_shared("run_in_refuses_user_and_time_with_needs_other_api_naming_spawn")
    else {
        return;
    };
    let sb = Sandbox::with_user();
    let target = Target::pid(sb.pid);
    for kind in [Kind::User, Kind::Time] {
        for set in [KindSet::from(kind), KindSet::from(kind) | Kind::Net] {
            let mut called = false;
            let err = nsjoin::run_in(&target, set, || called = true)
                .expect_err(&format!("run_in {set} must be refused"));
            assert!(!called, "closure must not run for {set}");
            match &err {
                Error::NeedsOtherApi { kind: k, .. } => assert_eq!(*k, kind),
                other => panic!("{set}: expected NeedsOtherApi, got {other:?}"),
            }
            let msg = err.to_string();
            assert!(
                msg.contains("Spawn"),
                "{set}: message should point to Spawn: {msg}"
            );
            assert!(
                msg.contains(kind.name()),
                "{set}: message should name {kind}: {msg}"
            );
        }
    }
}

#[test]
fn run_in_netns_file_closure_sees_its_dummy_link() {
    let Some(_lock) = common::root_shared("run_in_netns_file_closure_sees_its_dummy_link") else {
        return;
    };
    let netns = NetnsFile::new();
    add_link_d0(&netns);
    let file_ino = std::fs::metadata(&netns.path).unwrap().ino();

    let (ino, dev) = nsjoin::run_in(&Target::path(&netns.path), Kind::Net.into(), || {
        (
            thread_ns_ino("net"),
            std::fs::read_to_string("/proc/thread-self/net/dev").unwrap(),
        )
    })
    .unwrap();
    assert_eq!(ino, file_ino);
    assert!(
        dev.lines().any(|l| l.trim_start().starts_with("d0:")),
        "{dev}"
    );
    let outside = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap();
    assert!(!outside.lines().any(|l| l.trim_start().starts_with("d0:")));
    assert_ne!(thread_ns_ino("net"), file_ino);
}

#[test]
fn run_in_net_uts_of_sandbox_owned_by_another_user_ns_works_as_root() {
    let Some(_lock) =
        common::root_shared("run_in_net_uts_of_sandbox_owned_by_another_user_ns_works_as_root")
    else {
        return;
    };
    let sb = Sandbox::with_user();
    assert_ne!(sb.ns_ino("user"), thread_ns_ino("user"));
    let (net, uts, user, host) = nsjoin::run_in(
        &Target::pid(sb.pid),
        KindSet::from([Kind::Net, Kind::Uts]),
        || {
            (
                thread_ns_ino("net"),
                thread_ns_ino("uts"),
                thread_ns_ino("user"),
                thread_hostname(),
            )
        },
    )
    .unwrap();
    assert_eq!(net, sb.ns_ino("net"));
    assert_eq!(uts, sb.ns_ino("uts"));
    assert_eq!(host, sb.hostname);
    assert_eq!(user, thread_ns_ino("user"), "user ns was not asked for");
}

#[test]
fn run_in_on_exited_target_returns_err_without_calling_closure() {
    let Some(_lock) =
        common::root_shared("run_in_on_exited_target_returns_err_without_calling_closure")
    else {
        return;
    };
    let sb = Sandbox::new();
    let pid = sb.pid;
    drop(sb);
    wait_dead(pid);
    let mut called = false;
    let err = nsjoin::run_in(
        &Target::pid(pid),
        KindSet::from([Kind::Net, Kind::Uts]),
        || called = true,
    )
    .expect_err("a dead target must give an error");
    assert!(!called);
    assert!(
        matches!(err, Error::Open { .. } | Error::TargetExited { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains(&pid.to_string()), "{err}");
}

use nsjoin_test_support as common;

// Integration tests for `nsjoin::run_in` / `Handles::run`: a closure on a thread of
// its own inside real namespaces (made with util-linux `unshare` and `ip netns`),
// what that thread really sees, and that nothing else in the process is touched.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{
    exclusive, fd_count, shared, thread_hostname, thread_ns_ino, NetnsFile, Sandbox, TempDir,
};
use nsjoin::{Error, Kind, KindSet, Target};

// ---------------------------------------------------------------------------
// Fixtures local to this file.
// ---------------------------------------------------------------------------

/// The inodes of the calling thread's namespaces of these kinds.
fn thread_inos(kinds: &[&str]) -> Vec<u64> {
    kinds.iter().map(|k| thread_ns_ino(k)).collect()
}

/// (dev, ino) of a path, as this thread resolves it.
fn dev_ino(path: impl AsRef<Path>) -> (u64, u64) {
    let m = std::fs::metadata(path).unwrap();
    (m.dev(), m.ino())
}

/// The net namespace inode of every thread of this process that can still be read
/// (a thread that is exiting has already dropped its namespaces and is skipped).
fn all_threads_net() -> Vec<(String, u64)> {
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
fn assert_all_threads_in_net(ino: u64) {
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
    if !common::root_or_skip("run_in_net_uts_ipc_cgroup_pid_closure_sees_sandbox_ids_and_hostname")
    {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip(
        "run_in_leaves_caller_thread_and_all_other_threads_in_their_namespaces",
    ) {
        return;
    }
    let _lock = exclusive();
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
    if !common::root_or_skip(
        "run_in_mnt_closure_reads_sandbox_tmpfs_marker_caller_cannot_and_keeps_cwd_root",
    ) {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("run_in_closure_borrows_callers_stack_and_returns_value") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip(
        "run_in_panic_is_resumed_in_caller_with_same_payload_and_nothing_leaks",
    ) {
        return;
    }
    let _lock = exclusive();
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
    if !common::root_or_skip("run_in_refuses_user_and_time_with_needs_other_api_naming_spawn") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("run_in_netns_file_closure_sees_its_dummy_link") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("run_in_net_uts_of_sandbox_owned_by_another_user_ns_works_as_root") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("run_in_on_exited_target_returns_err_without_calling_closure") {
        return;
    }
    let _lock = shared();
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

// ---------------------------------------------------------------------------
// Reuse, concurrency, nesting, leaks.
// ---------------------------------------------------------------------------

#[test]
fn handles_run_reused_100_times_enters_same_namespaces_each_time() {
    if !common::root_or_skip("handles_run_reused_100_times_enters_same_namespaces_each_time") {
        return;
    }
    let _lock = shared();
    let sb = Sandbox::new();
    let set = KindSet::from([Kind::Net, Kind::Uts, Kind::Ipc]);
    let handles = Target::pid(sb.pid).open(set).unwrap();
    let want = (
        vec![sb.ns_ino("net"), sb.ns_ino("uts"), sb.ns_ino("ipc")],
        sb.hostname.clone(),
    );
    assert_eq!(handles.get(Kind::Net).unwrap().id().ino, want.0[0]);
    for i in 0..100 {
        // Alternate subsets so that each call really enters what it is asked for.
        let (sub, names): (KindSet, &[&str]) = if i % 2 == 0 {
            (set, &["net", "uts", "ipc"])
        } else {
            (Kind::Uts.into(), &["uts"])
        };
        let (inos, host, net) = handles
            .run(sub, || {
                (thread_inos(names), thread_hostname(), thread_ns_ino("net"))
            })
            .unwrap();
        assert_eq!(host, want.1, "iteration {i}");
        if i % 2 == 0 {
            assert_eq!(inos, want.0, "iteration {i}");
        } else {
            assert_eq!(inos, [want.0[1]], "iteration {i}");
            assert_eq!(
                net,
                thread_ns_ino("net"),
                "net not asked for, iteration {i}"
            );
        }
    }
    // Kinds that were not opened are refused, not silently skipped.
    let err = handles.run(Kind::Mnt.into(), || ()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotProvided {
                kind: Kind::Mnt,
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn run_in_16_threads_x_200_against_4_sandboxes_all_correct_and_no_fd_leak() {
    if !common::root_or_skip(
        "run_in_16_threads_x_200_against_4_sandboxes_all_correct_and_no_fd_leak",
    ) {
        return;
    }
    let _lock = exclusive();
    let sandboxes: Vec<Sandbox> = (0..4).map(|_| Sandbox::new()).collect();
    let expected: Vec<(u64, u64, u64, String)> = sandboxes
        .iter()
        .map(|s| {
            (
                s.ns_ino("net"),
                s.ns_ino("uts"),
                s.ns_ino("ipc"),
                s.hostname.clone(),
            )
        })
        .collect();
    let caller = thread_inos(&["net", "uts", "ipc"]);
    let fds_before = fd_count();
    let set = KindSet::from([Kind::Net, Kind::Uts, Kind::Ipc]);

    std::thread::scope(|scope| {
        for t in 0..16 {
            let sandboxes = &sandboxes;
            let expected = &expected;
            let caller = &caller;
            scope.spawn(move || {
                for i in 0..200 {
                    let which = (t + i) % 4;
                    let got = nsjoin::run_in(&Target::pid(sandboxes[which].pid), set, || {
                        (
                            thread_ns_ino("net"),
                            thread_ns_ino("uts"),
                            thread_ns_ino("ipc"),
                            thread_hostname(),
                        )
                    })
                    .unwrap_or_else(|e| panic!("thread {t} iteration {i}: {e}"));
                    assert_eq!(got, expected[which], "thread {t} iteration {i}");
                    assert_eq!(
                        &thread_inos(&["net", "uts", "ipc"]),
                        caller,
                        "worker thread {t} moved"
                    );
                }
            });
        }
    });

    assert_eq!(fd_count(), fds_before);
    assert_eq!(thread_inos(&["net", "uts", "ipc"]), caller);
    assert_all_threads_in_net(caller[0]);
}

/// A thread that Linux creates inherits the namespaces (the nsproxy) of the thread
/// that creates it, not those of the process's main thread. run_in's thread is made
/// by the calling thread, so a run_in called inside another run_in's closure starts
/// from the outer closure's namespaces: the inner closure sees A's net (inherited)
/// and B's uts (entered), and the outer thread is untouched by the inner call.
#[test]
fn nested_run_in_inner_closure_sees_outer_net_and_inner_uts() {
    if !common::root_or_skip("nested_run_in_inner_closure_sees_outer_net_and_inner_uts") {
        return;
    }
    let _lock = shared();
    let a = Sandbox::new();
    let b = Sandbox::new();
    let caller = thread_inos(&["net", "uts"]);
    let target_b = Target::pid(b.pid);

    let (outer_before, inner, outer_after) =
        nsjoin::run_in(&Target::pid(a.pid), Kind::Net.into(), || {
            let outer_before = thread_inos(&["net", "uts"]);
            let inner = nsjoin::run_in(&target_b, Kind::Uts.into(), || {
                (thread_inos(&["net", "uts"]), thread_hostname())
            })
            .unwrap();
            (outer_before, inner, thread_inos(&["net", "uts"]))
        })
        .unwrap();

    assert_eq!(outer_before, [a.ns_ino("net"), caller[1]]);
    assert_eq!(
        inner.0,
        [a.ns_ino("net"), b.ns_ino("uts")],
        "inner: A's net, B's uts"
    );
    assert_ne!(inner.0[0], b.ns_ino("net"));
    assert_eq!(inner.1, b.hostname);
    assert_eq!(
        outer_after, outer_before,
        "inner run_in must not move the outer thread"
    );
    assert_eq!(thread_inos(&["net", "uts"]), caller);
}

#[test]
fn run_in_10000_sequential_calls_leak_no_fds_or_threads() {
    if !common::root_or_skip("run_in_10000_sequential_calls_leak_no_fds_or_threads") {
        return;
    }
    let _lock = exclusive();
    let sb = Sandbox::new();
    let target = Target::pid(sb.pid);
    let want = sb.ns_ino("uts");
    let threads_before = std::fs::read_dir("/proc/self/task").unwrap().count();
    let fds_before = fd_count();
    for i in 0..10_000 {
        let uts = nsjoin::run_in(&target, Kind::Uts.into(), || thread_ns_ino("uts"))
            .unwrap_or_else(|e| panic!("iteration {i}: {e}"));
        assert_eq!(uts, want, "iteration {i}");
    }
    assert_eq!(fd_count(), fds_before);
    // Joined threads may take a moment to leave /proc/self/task (a hang guard,
    // not a timing: speed is measured by the benchmarks).
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir("/proc/self/task").unwrap().count() > threads_before {
        assert!(Instant::now() < deadline, "threads left behind");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Against util-linux.
// ---------------------------------------------------------------------------

#[test]
fn run_in_hostname_equals_util_linux_nsenter_net_uts_hostname() {
    if !common::root_or_skip("run_in_hostname_equals_util_linux_nsenter_net_uts_hostname") {
        return;
    }
    let _lock = shared();
    let sb = Sandbox::new();
    let out = Command::new("nsenter")
        .args([
            "-t",
            &sb.pid.to_string(),
            "-n",
            "-u",
            "cat",
            "/proc/sys/kernel/hostname",
        ])
        .output()
        .expect("cannot run nsenter (util-linux)");
    assert!(
        out.status.success(),
        "nsenter: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let ours = nsjoin::run_in(
        &Target::pid(sb.pid),
        KindSet::from([Kind::Net, Kind::Uts]),
        thread_hostname,
    )
    .unwrap();
    assert_eq!(ours, theirs);
    assert_eq!(ours, sb.hostname);
}

// ---------------------------------------------------------------------------
// Library bugs found while writing these tests (see the report; kept failing).
// ---------------------------------------------------------------------------

/// Handles are a snapshot: "one O_CLOEXEC fd per namespace kind, identity = dev+ino".
/// Running them later must enter the namespaces that were opened, whatever the target
/// process did since, and must not depend on how many kinds are asked for.
/// The target here is a shell that, once triggered, execs `unshare --net sleep`
/// (same PID, new net namespace).
#[test]
fn handles_run_enters_the_opened_net_ns_even_after_target_moved_to_another() {
    if !common::root_or_skip(
        "handles_run_enters_the_opened_net_ns_even_after_target_moved_to_another",
    ) {
        return;
    }
    let _lock = shared();
    let trigger = std::env::temp_dir().join(format!("nsj-run-trigger-{}", std::process::id()));
    let _ = std::fs::remove_file(&trigger);
    let sb = Sandbox::start(
        &["--uts", "--net"],
        &format!(
            "echo ready; while [ ! -e {t} ]; do sleep 0.01; done; exec unshare --net sleep 100000",
            t = trigger.display()
        ),
    );
    let handles = Target::pid(sb.pid)
        .open(KindSet::from([Kind::Net, Kind::Uts]))
        .unwrap();
    let opened_net = handles.get(Kind::Net).unwrap().id().ino;
    assert_eq!(opened_net, sb.ns_ino("net"));

    std::fs::write(&trigger, "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while common::ns_ino(sb.pid, "net") == opened_net {
        assert!(
            Instant::now() < deadline,
            "target did not move to a new net ns"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = std::fs::remove_file(&trigger);
    let moved_net = sb.ns_ino("net");

    let net_only = handles
        .run(Kind::Net.into(), || thread_ns_ino("net"))
        .unwrap();
    let net_uts = handles
        .run(KindSet::from([Kind::Net, Kind::Uts]), || {
            thread_ns_ino("net")
        })
        .unwrap();
    assert_eq!(
        net_only, opened_net,
        "run(net) entered the opened namespace"
    );
    assert_eq!(
        net_uts, opened_net,
        "run(net,uts) entered the target's current net ns {moved_net}, not the opened {opened_net}"
    );
}

/// `Target::open` documents that an empty set means "its kind" for a namespace file;
/// run_in forwards the same empty set to `Handles::run`, which then enters nothing,
/// so the closure silently runs in the caller's own network namespace.
#[test]
fn run_in_netns_file_with_empty_kinds_enters_the_files_kind() {
    if !common::root_or_skip("run_in_netns_file_with_empty_kinds_enters_the_files_kind") {
        return;
    }
    let _lock = shared();
    let netns = NetnsFile::new();
    let file_ino = std::fs::metadata(&netns.path).unwrap().ino();
    let seen = nsjoin::run_in(&Target::path(&netns.path), KindSet::EMPTY, || {
        thread_ns_ino("net")
    })
    .unwrap();
    assert_eq!(
        seen, file_ino,
        "run_in(file, EMPTY) ran the closure in net ns {seen}, not the file's {file_ino}"
    );
}

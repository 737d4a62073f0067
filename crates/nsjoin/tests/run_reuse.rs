//! `nsjoin::run_in` / `Handles::run` many times: reused handles, many threads,
//! nesting, no leaks; compared with util-linux `nsenter`; and defects found while
//! writing these tests.

use nsjoin_test_support as common;

use std::os::unix::fs::MetadataExt;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{fd_count, thread_hostname, thread_ns_ino, NetnsFile, Sandbox};
use nsjoin::{Error, Kind, KindSet, Target};

mod run_fixtures;
use run_fixtures::*;

// ---------------------------------------------------------------------------
// Reuse, concurrency, nesting, leaks.
// ---------------------------------------------------------------------------

#[test]
fn handles_run_reused_100_times_enters_same_namespaces_each_time() {
    let Some(_lock) =
        common::root_shared("handles_run_reused_100_times_enters_same_namespaces_each_time")
    else {
        return;
    };
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
    let Some(_lock) = common::root_exclusive(
        "run_in_16_threads_x_200_against_4_sandboxes_all_correct_and_no_fd_leak",
    ) else {
        return;
    };
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
    let Some(_lock) =
        common::root_shared("nested_run_in_inner_closure_sees_outer_net_and_inner_uts")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_exclusive("run_in_10000_sequential_calls_leak_no_fds_or_threads")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_shared("run_in_hostname_equals_util_linux_nsenter_net_uts_hostname")
    else {
        return;
    };
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
    let Some(_lock) = common::root_shared(
        "handles_run_enters_the_opened_net_ns_even_after_target_moved_to_another",
    ) else {
        return;
    };
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
    let Some(_lock) =
        common::root_shared("run_in_netns_file_with_empty_kinds_enters_the_files_kind")
    else {
        return;
    };
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

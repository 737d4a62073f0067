//! `Guard` on one thread: entering each kind, what it refuses (user, time, mnt on a
//! shared fs), and coming back.

use nsjoin_test_support as common;

use std::sync::mpsc;

use common::{thread_hostname, thread_ns_ino, NetnsFile, Sandbox};
use nsjoin::{Error, Kind, KindSet, NsId, Target};

mod guard_fixtures;
use guard_fixtures::*;

// ---------------------------------------------------------------------------
// Entering and leaving.

/// Enters the sandbox on a spawned thread, lets the test thread look at itself
/// while the guard is held, then leaves with `leave` (`by_leave`) or by drop.
fn enter_hold_and_restore(by_leave: bool) {
    let sandbox = Sandbox::new();
    let inside = sandbox_view(&sandbox, &THREAD_KINDS);
    let mine = view(&THREAD_KINDS);
    for (kind, ino) in &inside.inos {
        assert_ne!(
            Some(ino),
            mine.inos.iter().find(|(k, _)| k == kind).map(|(_, i)| i)
        );
    }
    let (held_tx, held_rx) = mpsc::channel::<()>();
    let (checked_tx, checked_rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        let (sandbox, mine, inside) = (&sandbox, &mine, &inside);
        let worker = s.spawn(move || {
            let before = view(&THREAD_KINDS);
            assert_eq!(&before, mine, "a new thread starts where the process is");
            let handles = Target::pid(sandbox.pid).open(kinds(&THREAD_KINDS)).unwrap();
            let guard = handles.enter(kinds(&THREAD_KINDS)).unwrap();
            assert_eq!(guard.entered(), kinds(&THREAD_KINDS));
            assert_eq!(&view(&THREAD_KINDS), inside);
            assert_eq!(interfaces(), ["lo"]);
            for kind in THREAD_KINDS {
                assert!(handles.get(kind).unwrap().is_current().unwrap(), "{kind}");
            }
            held_tx.send(()).unwrap();
            checked_rx.recv().unwrap();
            // Still inside after the other thread looked.
            assert_eq!(&view(&THREAD_KINDS), inside);
            if by_leave {
                guard.leave().unwrap();
            } else {
                drop(guard);
            }
            assert_eq!(view(&THREAD_KINDS), before);
            assert_ne!(interfaces(), ["lo"]);
            for kind in THREAD_KINDS {
                assert!(!handles.get(kind).unwrap().is_current().unwrap(), "{kind}");
            }
        });
        held_rx.recv().unwrap();
        // The test thread has not moved while the other thread is inside.
        assert_eq!(&view(&THREAD_KINDS), mine);
        assert_ne!(thread_hostname(), sandbox.hostname);
        checked_tx.send(()).unwrap();
        worker.join().unwrap();
    });
    assert_eq!(view(&THREAD_KINDS), mine);
}

#[test]
fn guard_enters_net_uts_ipc_cgroup_on_its_thread_only_and_drop_restores() {
    let Some(_lock) =
        common::root_shared("guard_enters_net_uts_ipc_cgroup_on_its_thread_only_and_drop_restores")
    else {
        return;
    };
    enter_hold_and_restore(false);
}

#[test]
fn guard_leave_restores_every_kind() {
    let Some(_lock) = common::root_shared("guard_leave_restores_every_kind") else {
        return;
    };
    enter_hold_and_restore(true);
}

#[test]
fn guard_enters_each_kind_alone() {
    let Some(_lock) = common::root_shared("guard_enters_each_kind_alone") else {
        return;
    };
    let sandbox = Sandbox::new();
    let handles = Target::pid(sandbox.pid).open(kinds(&THREAD_KINDS)).unwrap();
    on_thread(|| {
        let before = view(&THREAD_KINDS);
        for kind in THREAD_KINDS {
            let guard = handles.enter(kind.into()).unwrap();
            assert_eq!(guard.entered(), KindSet::from(kind));
            for (k, ino) in view(&THREAD_KINDS).inos {
                if k == kind {
                    assert_eq!(ino, sandbox.ns_ino(k.name()), "{kind} entered");
                } else {
                    assert_eq!(
                        Some(ino),
                        before.inos.iter().find(|(b, _)| *b == k).map(|(_, i)| *i),
                        "{k} moved while entering {kind}"
                    );
                }
            }
            drop(guard);
            assert_eq!(view(&THREAD_KINDS), before, "after {kind}");
        }
    });
}

#[test]
fn guard_without_a_pidfd_enters_the_opened_fds() {
    let Some(_lock) = common::root_shared("guard_without_a_pidfd_enters_the_opened_fds") else {
        return;
    };
    let sandbox = Sandbox::new();
    // Another path to proc: no pidfd, so entering goes fd by fd.
    let handles = Target::pid(sandbox.pid)
        .with_proc("/proc/../proc")
        .open(kinds(&THREAD_KINDS))
        .unwrap();
    assert!(handles.pidfd().is_none());
    on_thread(|| {
        let before = view(&THREAD_KINDS);
        let guard = handles.enter(kinds(&THREAD_KINDS)).unwrap();
        assert_eq!(view(&THREAD_KINDS), sandbox_view(&sandbox, &THREAD_KINDS));
        assert_eq!(interfaces(), ["lo"]);
        guard.leave().unwrap();
        assert_eq!(view(&THREAD_KINDS), before);
    });
}

#[test]
fn guard_on_a_netns_file_enters_its_net_ns() {
    let Some(_lock) = common::root_shared("guard_on_a_netns_file_enters_its_net_ns") else {
        return;
    };
    let netns = NetnsFile::new();
    netns.ip(&[
        "link", "add", "nsjveth0", "type", "veth", "peer", "name", "nsjveth1",
    ]);
    let expected = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&netns.path).unwrap().ino()
    };
    on_thread(|| {
        let before = view(&THREAD_KINDS);
        let before_ifaces = interfaces();
        let guard = nsjoin::enter(&Target::path(&netns.path), Kind::Net.into()).unwrap();
        assert_eq!(guard.entered(), KindSet::from(Kind::Net));
        assert_eq!(thread_ns_ino("net"), expected);
        let mut inside = interfaces();
        inside.sort();
        assert_eq!(inside, ["lo", "nsjveth0", "nsjveth1"]);
        // Only net moved.
        assert_eq!(thread_hostname(), before.hostname);
        assert_eq!(thread_ns_ino("uts"), before.inos[1].1);
        drop(guard);
        assert_eq!(view(&THREAD_KINDS), before);
        assert_eq!(interfaces(), before_ifaces);
    });
}

#[test]
fn guard_with_pid_changes_pid_for_children_only_and_restores_it() {
    let Some(_lock) =
        common::root_shared("guard_with_pid_changes_pid_for_children_only_and_restores_it")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let handles = Target::pid(sandbox.pid).open(Kind::Pid.into()).unwrap();
    let sandbox_pid_ns = sandbox.ns_ino("pid");
    on_thread(|| {
        let pid = thread_ns_ino("pid");
        let for_children = thread_ns_ino("pid_for_children");
        assert_ne!(for_children, sandbox_pid_ns);
        let guard = handles.enter(Kind::Pid.into()).unwrap();
        assert_eq!(guard.entered(), KindSet::from(Kind::Pid));
        assert_eq!(thread_ns_ino("pid_for_children"), sandbox_pid_ns);
        // The thread itself stays in its pid namespace.
        assert_eq!(thread_ns_ino("pid"), pid);
        assert_eq!(NsId::current(Kind::Pid).unwrap().ino, pid);
        drop(guard);
        assert_eq!(thread_ns_ino("pid_for_children"), for_children);
        assert_eq!(thread_ns_ino("pid"), pid);
    });
}

#[test]
fn guard_enters_the_net_ns_of_a_user_sandbox_as_root() {
    let Some(_lock) = common::root_shared("guard_enters_the_net_ns_of_a_user_sandbox_as_root")
    else {
        return;
    };
    let sandbox = Sandbox::with_user();
    let handles = Target::pid(sandbox.pid)
        .open(KindSet::from([Kind::Net, Kind::Uts]))
        .unwrap();
    // Owned by the sandbox's user ns, not ours.
    let owner = handles.get(Kind::Net).unwrap().owner().unwrap();
    assert_eq!(owner.id().ino, sandbox.ns_ino("user"));
    assert!(!owner.is_current().unwrap());
    on_thread(|| {
        let before = view(&[Kind::Net, Kind::Uts, Kind::User]);
        let guard = handles
            .enter(KindSet::from([Kind::Net, Kind::Uts]))
            .unwrap();
        assert_eq!(thread_ns_ino("net"), sandbox.ns_ino("net"));
        assert_eq!(thread_ns_ino("uts"), sandbox.ns_ino("uts"));
        assert_eq!(thread_hostname(), sandbox.hostname);
        assert_eq!(interfaces(), ["lo"]);
        // The user namespace was not touched.
        assert_eq!(thread_ns_ino("user"), before.inos[2].1);
        drop(guard);
        assert_eq!(view(&[Kind::Net, Kind::Uts, Kind::User]), before);
    });
}

#[test]
fn guard_entered_is_what_was_asked_and_no_kinds_means_all_opened() {
    let Some(_lock) =
        common::root_shared("guard_entered_is_what_was_asked_and_no_kinds_means_all_opened")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let handles = Target::pid(sandbox.pid)
        .open(KindSet::from([Kind::Net, Kind::Uts, Kind::User]))
        .unwrap();
    let netns = NetnsFile::new();
    let file = Target::path(&netns.path).open(KindSet::EMPTY).unwrap();
    on_thread(|| {
        let before = view(&THREAD_KINDS);

        // Only the kinds asked for, not all that were opened.
        let guard = handles.enter(Kind::Uts.into()).unwrap();
        assert_eq!(guard.entered(), KindSet::from(Kind::Uts));
        assert_eq!(thread_ns_ino("net"), before.inos[0].1);
        assert_eq!(thread_hostname(), sandbox.hostname);
        drop(guard);
        assert_eq!(view(&THREAD_KINDS), before);

        // No kinds: every opened kind, less our own user ns (skipped, not entered).
        let guard = handles.enter(KindSet::EMPTY).unwrap();
        assert_eq!(guard.entered(), KindSet::from([Kind::Net, Kind::Uts]));
        assert_eq!(thread_ns_ino("net"), sandbox.ns_ino("net"));
        assert_eq!(thread_hostname(), sandbox.hostname);
        guard.leave().unwrap();
        assert_eq!(view(&THREAD_KINDS), before);

        // For a namespace file, no kinds means its kind.
        let guard = file.enter(KindSet::EMPTY).unwrap();
        assert_eq!(guard.entered(), KindSet::from(Kind::Net));
        assert_eq!(thread_ns_ino("net"), file.get(Kind::Net).unwrap().id().ino);
        drop(guard);
        assert_eq!(view(&THREAD_KINDS), before);
    });
}

/// An empty set means "every opened kind"; when those include a user namespace
/// other than ours, or a time namespace, the guard must refuse them the same way
/// it refuses them when asked by name, and enter nothing.
#[test]
fn guard_with_no_kinds_still_refuses_opened_user_and_time() {
    let Some(_lock) = common::root_shared("guard_with_no_kinds_still_refuses_opened_user_and_time")
    else {
        return;
    };
    let sandbox = Sandbox::with_user();
    let mut cases = vec![(
        Target::pid(sandbox.pid)
            .open(KindSet::from([Kind::Net, Kind::Uts, Kind::User]))
            .unwrap(),
        Kind::User,
    )];
    if Kind::Time.is_supported() {
        cases.push((
            Target::pid(sandbox.pid)
                .open(KindSet::from([Kind::Net, Kind::Time]))
                .unwrap(),
            Kind::Time,
        ));
    }
    on_thread(|| {
        let before = view(&[Kind::Net, Kind::Uts, Kind::User]);
        let mut wrong = Vec::new();
        for (handles, refused) in &cases {
            match handles.enter(KindSet::EMPTY) {
                Err(Error::NeedsOtherApi { kind, .. }) if kind == *refused => {}
                Err(other) => wrong.push(format!("{refused}: {other}")),
                Ok(guard) => wrong.push(format!("{refused}: entered {:?}", guard.entered())),
            }
            assert_eq!(view(&[Kind::Net, Kind::Uts, Kind::User]), before);
        }
        assert!(wrong.is_empty(), "expected NeedsOtherApi: {wrong:#?}");
    });
}

// ---------------------------------------------------------------------------
// Refusals and rollback.

#[test]
fn guard_refuses_user_and_time_pointing_to_spawn() {
    let Some(_lock) = common::root_shared("guard_refuses_user_and_time_pointing_to_spawn") else {
        return;
    };
    let user = Sandbox::with_user();
    let user_handles = Target::pid(user.pid)
        .open(KindSet::from([Kind::User, Kind::Net]))
        .unwrap();
    let time_handles = Kind::Time.is_supported().then(|| {
        Target::pid(user.pid)
            .open(KindSet::from([Kind::Time, Kind::Net]))
            .unwrap()
    });
    let mut cases = vec![
        (&user_handles, KindSet::from(Kind::User), Kind::User),
        (
            &user_handles,
            KindSet::from([Kind::User, Kind::Net]),
            Kind::User,
        ),
    ];
    if let Some(time_handles) = &time_handles {
        cases.push((time_handles, KindSet::from(Kind::Time), Kind::Time));
        cases.push((
            time_handles,
            KindSet::from([Kind::Net, Kind::Time]),
            Kind::Time,
        ));
    }
    on_thread(|| {
        let before = view(&[Kind::Net, Kind::User, Kind::Uts]);
        for (handles, kinds, refused) in cases {
            let err = handles.enter(kinds).unwrap_err();
            match &err {
                Error::NeedsOtherApi { kind, .. } => assert_eq!(*kind, refused),
                other => panic!("{kinds:?}: expected NeedsOtherApi, got {other:?}"),
            }
            let msg = err.to_string();
            assert!(msg.contains("Spawn"), "{msg}");
            assert!(msg.contains(refused.name()), "{msg}");
            assert!(!msg.contains('\n'), "{msg:?}");
            assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
            // Nothing was entered, not even net.
            assert_eq!(
                view(&[Kind::Net, Kind::User, Kind::Uts]),
                before,
                "{kinds:?}"
            );
        }
    });
}

#[test]
fn guard_enters_mnt_on_a_thread_with_its_own_fs_and_restores_root_and_cwd() {
    let Some(_lock) = common::root_shared(
        "guard_enters_mnt_on_a_thread_with_its_own_fs_and_restores_root_and_cwd",
    ) else {
        return;
    };
    let dir = common::TempDir::new("guard-mnt");
    let mountpoint = dir.path().to_str().unwrap().to_owned();
    let sandbox = Sandbox::start(
        &["--mount"],
        &format!("mount -t tmpfs none {mountpoint} && echo inside > {mountpoint}/marker || exit 1"),
    );
    let handles = Target::pid(sandbox.pid)
        .open(KindSet::from(Kind::Mnt))
        .unwrap();
    let marker = dir.path().join("marker");
    on_thread(|| {
        nsjoin::unshare_thread_fs().unwrap();
        let cwd = std::env::current_dir().unwrap();
        let before = view(&[Kind::Mnt]);
        assert!(!marker.exists());
        let guard = handles.enter(Kind::Mnt.into()).unwrap();
        assert_eq!(
            view(&[Kind::Mnt]).inos,
            sandbox_view(&sandbox, &[Kind::Mnt]).inos
        );
        assert_eq!(std::fs::read_to_string(&marker).unwrap(), "inside\n");
        guard.leave().unwrap();
        assert_eq!(view(&[Kind::Mnt]), before);
        assert!(!marker.exists(), "the sandbox's tmpfs is still visible");
        assert_eq!(std::env::current_dir().unwrap(), cwd);
    });
}

#[test]
fn guard_with_mnt_on_a_multithreaded_process_points_to_run_in() {
    let Some(_lock) =
        common::root_shared("guard_with_mnt_on_a_multithreaded_process_points_to_run_in")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let handles = Target::pid(sandbox.pid)
        .open(KindSet::from([Kind::Mnt, Kind::Net]))
        .unwrap();
    on_thread(|| {
        let before = view(&[Kind::Mnt, Kind::Net]);
        let cwd = std::env::current_dir().unwrap();
        let err = handles.enter(Kind::Mnt.into()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NeedsOtherApi {
                    kind: Kind::Mnt,
                    ..
                }
            ),
            "{err:?}"
        );
        let msg = err.to_string();
        assert!(msg.contains("run_in"), "{msg}");
        assert!(!msg.contains('\n'), "{msg:?}");
        assert_eq!(view(&[Kind::Mnt, Kind::Net]), before);
        assert_eq!(std::env::current_dir().unwrap(), cwd);
    });
}

/// net is entered first, then mnt fails: the guard must take the thread back out
/// of net before it reports the error. Checked for both ways of entering: with
/// the target's pidfd, and fd by fd.
#[test]
fn guard_failing_on_mnt_after_net_rolls_net_back() {
    let Some(_lock) = common::root_shared("guard_failing_on_mnt_after_net_rolls_net_back") else {
        return;
    };
    let sandbox = Sandbox::new();
    let both = KindSet::from([Kind::Mnt, Kind::Net, Kind::Uts]);
    let with_pidfd = Target::pid(sandbox.pid).open(both).unwrap();
    let by_fd = Target::pid(sandbox.pid)
        .with_proc("/proc/../proc")
        .open(both)
        .unwrap();
    assert!(by_fd.pidfd().is_none());
    on_thread(|| {
        let before = view(&[Kind::Mnt, Kind::Net, Kind::Uts]);
        for (how, handles) in [("pidfd", &with_pidfd), ("fds", &by_fd)] {
            for kinds in [
                KindSet::from([Kind::Net, Kind::Mnt]),
                KindSet::from([Kind::Net, Kind::Mnt, Kind::Uts]),
            ] {
                let err = handles.enter(kinds).unwrap_err();
                assert!(
                    matches!(
                        err,
                        Error::NeedsOtherApi {
                            kind: Kind::Mnt,
                            ..
                        }
                    ),
                    "{how} {kinds:?}: {err:?}"
                );
                assert!(err.to_string().contains("run_in"), "{err}");
                assert_eq!(
                    view(&[Kind::Mnt, Kind::Net, Kind::Uts]),
                    before,
                    "{how} {kinds:?}: not rolled back"
                );
                assert_ne!(interfaces(), ["lo"]);
            }
        }
    });
}

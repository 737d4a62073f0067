//! Opening namespaces of processes: `Target::pid`, pidfds, `with_proc`, against
//! real namespaces made by `unshare`.

use nsjoin_test_support as common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{shared, zombie, Sandbox, TempDir};
use nsjoin::{Kind, KindSet, Namespace, NsId, Target};

mod target_fixtures;
use target_fixtures::*;

// ---------------------------------------------------------------------------
// Target::pid and friends.

#[test]
fn pid_target_opens_requested_kinds_with_the_sandboxes_inodes() {
    let Some(_lock) =
        common::root_shared("pid_target_opens_requested_kinds_with_the_sandboxes_inodes")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let kinds = KindSet::from([Kind::Net, Kind::Uts, Kind::Ipc, Kind::Pid, Kind::Mnt]);
    let handles = Target::pid(sandbox.pid).open(kinds).unwrap();
    assert_eq!(handles.kinds(), kinds);
    assert_eq!(handles.pid(), Some(sandbox.pid));
    assert!(
        handles.pidfd().is_some(),
        "a /proc target should hold a pidfd"
    );
    assert_eq!(handles.label(), format!("process {}", sandbox.pid));
    for kind in kinds.iter() {
        let ns = handles.get(kind).unwrap();
        assert_eq!(ns.kind(), kind);
        assert_eq!(ns.id().ino, ino(&sandbox, kind), "{kind}");
        assert_eq!(
            ns.path(),
            Path::new(&format!("/proc/{}/ns/{kind}", sandbox.pid))
        );
        // The sandbox's namespaces are fresh: none of them is ours.
        assert_ne!(ns.id(), NsId::current(kind).unwrap(), "{kind}");
        assert!(!ns.is_current().unwrap(), "{kind}");
    }
    // Kinds not asked for were not opened.
    assert!(handles.get(Kind::Cgroup).is_none());
    assert!(handles.get(Kind::User).is_none());
    let listed: Vec<Kind> = handles.iter().map(Namespace::kind).collect();
    assert_eq!(listed, kinds.iter().collect::<Vec<_>>());
}

#[test]
fn pid_target_opens_every_supported_kind() {
    let Some(_lock) = common::root_shared("pid_target_opens_every_supported_kind") else {
        return;
    };
    let sandbox = Sandbox::new();
    let kinds = KindSet::supported();
    let handles = Target::pid(sandbox.pid).open(kinds).unwrap();
    assert_eq!(handles.kinds(), kinds);
    for ns in handles.iter() {
        assert_eq!(ns.id().ino, ino(&sandbox, ns.kind()), "{}", ns.kind());
    }
    // The sandbox shares our user namespace (it made no user ns of its own).
    assert!(handles.get(Kind::User).unwrap().is_current().unwrap());
}

#[test]
fn empty_kind_set_opens_nothing_for_a_process() {
    let Some(_lock) = common::root_shared("empty_kind_set_opens_nothing_for_a_process") else {
        return;
    };
    let sandbox = Sandbox::new();
    assert!(KindSet::EMPTY.is_empty());
    assert_eq!(KindSet::EMPTY.len(), 0);
    assert_eq!(KindSet::EMPTY.iter().count(), 0);
    let handles = Target::pid(sandbox.pid).open(KindSet::EMPTY).unwrap();
    assert!(handles.kinds().is_empty());
    assert_eq!(handles.iter().count(), 0);
    assert_eq!(handles.pid(), Some(sandbox.pid));
    assert!(handles.is_alive());
    let plan = handles.plan(KindSet::EMPTY).unwrap();
    assert!(plan.kinds().is_empty() && plan.skipped().is_empty());
}

#[test]
fn parse_digits_is_a_pid_and_anything_else_a_path() {
    let _lock = shared();
    match Target::parse("42") {
        Target::Pid { pid: 42, proc } => assert_eq!(proc, Path::new("/proc")),
        other => panic!("42: {other:?}"),
    }
    assert!(matches!(Target::parse("0042"), Target::Pid { pid: 42, .. }));
    for s in [
        "+1",
        "-1",
        "/run/netns/blue",
        "/proc/42/ns/net",
        "42/ns",
        "4x",
        "",
        " 42",
        "99999999999",
    ] {
        match Target::parse(s) {
            Target::Path(p) => assert_eq!(p, Path::new(s)),
            other => panic!("{s:?} should be a path, got {other:?}"),
        }
    }
    assert_eq!(Target::parse("/run/netns/blue").label(), "/run/netns/blue");
    assert_eq!(Target::parse("42").label(), "process 42");
}

#[test]
fn pidfd_target_opens_the_sandboxes_namespaces() {
    let Some(_lock) = common::root_shared("pidfd_target_opens_the_sandboxes_namespaces") else {
        return;
    };
    let sandbox = Sandbox::new();
    let target = Target::Pidfd(pidfd(sandbox.pid));
    let kinds = KindSet::from([Kind::Net, Kind::Uts, Kind::Cgroup]);
    let handles = target.open(kinds).unwrap();
    assert_eq!(handles.kinds(), kinds);
    assert_eq!(handles.pid(), Some(sandbox.pid));
    assert!(handles.pidfd().is_some());
    for ns in handles.iter() {
        assert_eq!(ns.id().ino, ino(&sandbox, ns.kind()), "{}", ns.kind());
    }
    // The target keeps its own pidfd: it can be opened again.
    let again = target.open(Kind::Net.into()).unwrap();
    assert_eq!(
        again.get(Kind::Net).unwrap().id(),
        handles.get(Kind::Net).unwrap().id()
    );
}

#[test]
fn pidfd_of_a_reaped_process_is_gone_and_says_so() {
    let Some(_lock) = common::root_shared("pidfd_of_a_reaped_process_is_gone_and_says_so") else {
        return;
    };
    let mut child = Command::new("true").spawn().unwrap();
    let fd = pidfd(child.id() as i32);
    child.wait().unwrap();
    let target = Target::Pidfd(fd);
    for kinds in [KindSet::from(Kind::Net), KindSet::EMPTY] {
        match target.open(kinds) {
            Err(e) => {
                assert!(e.is_target_gone(), "{e:?}");
                assert_eq!(e.raw_os_error(), Some(libc::ESRCH));
                let text = e.to_string();
                assert!(!text.contains('\n'));
                // Gone before the call: not "-1", not "while ... being opened".
                assert_eq!(text, "the pidfd's process has exited: No such process");
            }
            Ok(h) => panic!("a reaped process's pidfd opened {:?}", h.kinds()),
        }
    }
}

/// A process that has exited but is still a zombie has no namespaces any more;
/// `open` must say that it is gone (it was gone before the call: not "exited while
/// its namespaces were being opened"), not report a missing file.
#[test]
fn exited_unreaped_process_is_gone_before_the_call() {
    let Some(_lock) = common::root_shared("exited_unreaped_process_is_gone_before_the_call") else {
        return;
    };
    let mut child = zombie();
    let pid = child.id() as i32;
    let by_pidfd = Target::Pidfd(pidfd(pid)).open(Kind::Net.into());
    let by_pid = Target::pid(pid).open(Kind::Net.into());
    let empty = Target::pid(pid).open(KindSet::EMPTY);
    // Without a pidfd (another proc mount's path), the zombie is seen in /proc.
    let by_proc = Target::pid(pid)
        .with_proc("/proc/self/root/proc")
        .open(Kind::Net.into());
    child.wait().unwrap();
    let mut wrong = Vec::new();
    for (what, result) in [
        ("pidfd", by_pidfd),
        ("pid", by_pid),
        ("pid, no kinds", empty),
        ("pid through /proc", by_proc),
    ] {
        match result {
            Err(e) if e.is_target_gone() && !e.to_string().contains("while") => {
                assert!(e.to_string().contains(&pid.to_string()), "{what}: {e}");
            }
            Err(other) => wrong.push(format!("{what}: {other}")),
            Ok(h) => wrong.push(format!("{what}: a zombie opened {:?}", h.kinds())),
        }
    }
    assert!(wrong.is_empty(), "expected 'gone': {wrong:#?}");
}

#[test]
fn pid_that_does_not_exist_names_proc_pid() {
    let Some(_lock) = common::root_shared("pid_that_does_not_exist_names_proc_pid") else {
        return;
    };
    let mut child = Command::new("true").spawn().unwrap();
    let pid = child.id() as i32;
    child.wait().unwrap();
    let err = Target::pid(pid).open(Kind::Net.into()).unwrap_err();
    assert_open_error(&err, &PathBuf::from(format!("/proc/{pid}")));
    let errno = err.raw_os_error();
    assert!(
        errno == Some(libc::ESRCH) || errno == Some(libc::ENOENT),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("No such process") || msg.contains("No such file or directory"),
        "{msg}"
    );
    // The same through another proc mount (no pidfd): the /proc/PID directory.
    let err = Target::pid(pid)
        .with_proc("/proc/../proc")
        .open(Kind::Net.into())
        .unwrap_err();
    assert_open_error(&err, &PathBuf::from(format!("/proc/../proc/{pid}")));
    assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err:?}");
}

#[test]
fn pid_zero_and_negative_pids_are_refused_clearly() {
    let _lock = shared();
    for pid in [0, -1, -42, i32::MIN] {
        for target in [
            Target::pid(pid),
            Target::pid(pid).with_proc("/proc/../proc"),
        ] {
            let proc = match &target {
                Target::Pid { proc, .. } => proc.clone(),
                _ => unreachable!(),
            };
            let err = target.open(Kind::Net.into()).unwrap_err();
            assert_open_error(&err, &proc.join(pid.to_string()));
            assert_eq!(err.raw_os_error(), Some(libc::ESRCH), "{err:?}");
            assert!(err.to_string().contains("No such process"), "{err}");
        }
    }
}

#[test]
fn with_proc_slash_proc_uses_a_pidfd() {
    let Some(_lock) = common::root_shared("with_proc_slash_proc_uses_a_pidfd") else {
        return;
    };
    let sandbox = Sandbox::new();
    let handles = Target::pid(sandbox.pid)
        .with_proc("/proc")
        .open(Kind::Net.into())
        .unwrap();
    assert!(handles.pidfd().is_some());
    assert_eq!(
        handles.get(Kind::Net).unwrap().id().ino,
        ino(&sandbox, Kind::Net)
    );
}

#[test]
fn with_proc_through_another_path_opens_without_a_pidfd() {
    let Some(_lock) = common::root_shared("with_proc_through_another_path_opens_without_a_pidfd")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let kinds = KindSet::from([Kind::Net, Kind::Uts]);
    let handles = Target::pid(sandbox.pid)
        .with_proc("/proc/../proc")
        .open(kinds)
        .unwrap();
    assert!(handles.pidfd().is_none());
    for ns in handles.iter() {
        assert_eq!(ns.id().ino, ino(&sandbox, ns.kind()));
    }
    assert!(handles.is_alive());
}

#[test]
fn with_proc_on_a_fake_proc_directory_is_refused() {
    let Some(_lock) = common::root_shared("with_proc_on_a_fake_proc_directory_is_refused") else {
        return;
    };
    let sandbox = Sandbox::new();
    let fake = TempDir::new("target");
    let ns_dir = fake.path().join(sandbox.pid.to_string()).join("ns");
    std::fs::create_dir_all(&ns_dir).unwrap();
    // A regular file, and a symlink to the real namespace file: both refused,
    // because the directory is not on proc.
    std::fs::write(ns_dir.join("uts"), "uts:[4026531838]").unwrap();
    std::os::unix::fs::symlink(format!("/proc/{}/ns/net", sandbox.pid), ns_dir.join("net"))
        .unwrap();
    for kind in [Kind::Net, Kind::Uts] {
        let err = Target::pid(sandbox.pid)
            .with_proc(fake.path())
            .open(kind.into())
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("not on a proc filesystem"), "{msg}");
        assert!(
            msg.contains(
                &fake
                    .path()
                    .join(sandbox.pid.to_string())
                    .display()
                    .to_string()
            ),
            "{msg}"
        );
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL), "{err:?}");
    }
}

#[test]
fn with_proc_is_ignored_for_path_targets() {
    let _lock = shared();
    let t = Target::path("/run/netns/x").with_proc("/elsewhere");
    assert!(matches!(&t, Target::Path(p) if p == Path::new("/run/netns/x")));
}

//! `Handles`: ownership and parents, the plan of what is entered, liveness of the
//! target; the errors' messages and errnos; no fd leaks.

use nsjoin_test_support as common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{shared, NetnsFile, Sandbox, TempDir};
use nsjoin::{Error, Kind, KindSet, Namespace, Target};

mod target_fixtures;
use target_fixtures::*;

// ---------------------------------------------------------------------------
// Handles.

#[test]
fn plan_skips_our_own_user_ns_and_keeps_a_foreign_one() {
    let Some(_lock) = common::root_shared("plan_skips_our_own_user_ns_and_keeps_a_foreign_one")
    else {
        return;
    };
    let kinds = KindSet::from([Kind::User, Kind::Net, Kind::Uts]);

    let plain = Sandbox::new();
    let handles = Target::pid(plain.pid).open(kinds).unwrap();
    let plan = handles.plan(kinds).unwrap();
    assert_eq!(plan.skipped(), KindSet::from(Kind::User));
    assert_eq!(plan.kinds(), KindSet::from([Kind::Net, Kind::Uts]));
    // Not asked for: neither entered nor skipped.
    let plan = handles.plan(KindSet::from(Kind::Net)).unwrap();
    assert_eq!(plan.kinds(), KindSet::from(Kind::Net));
    assert!(plan.skipped().is_empty());
    // No kinds: every opened kind, with the same skip.
    assert_eq!(
        handles.plan(KindSet::EMPTY).unwrap(),
        handles.plan(kinds).unwrap()
    );

    let user = Sandbox::with_user();
    let handles = Target::pid(user.pid).open(kinds).unwrap();
    let plan = handles.plan(kinds).unwrap();
    assert!(plan.skipped().is_empty());
    assert_eq!(plan.kinds(), kinds);
    assert_eq!(
        handles.get(Kind::User).unwrap().id().ino,
        user.ns_ino("user")
    );
}

#[test]
fn plan_of_a_kind_not_opened_is_not_provided() {
    let Some(_lock) = common::root_shared("plan_of_a_kind_not_opened_is_not_provided") else {
        return;
    };
    let sandbox = Sandbox::new();
    let handles = Target::pid(sandbox.pid).open(Kind::Net.into()).unwrap();
    let err = handles
        .plan(KindSet::from([Kind::Net, Kind::Uts]))
        .unwrap_err();
    match &err {
        Error::NotProvided { target, kind } => {
            assert_eq!(target, &format!("process {}", sandbox.pid));
            assert_eq!(*kind, Kind::Uts);
        }
        other => panic!("expected NotProvided, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains(&sandbox.pid.to_string()) && msg.contains("uts"),
        "{msg}"
    );
    assert_eq!(err.raw_os_error(), Some(libc::EINVAL));

    let netns = NetnsFile::new();
    let handles = Target::path(&netns.path).open(KindSet::EMPTY).unwrap();
    let err = handles.plan(KindSet::from(Kind::Ipc)).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NotProvided {
                kind: Kind::Ipc,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(&netns.path.display().to_string()),
        "{err}"
    );
}

fn wait_dead(handles: &nsjoin::Handles) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if !handles.is_alive() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

#[test]
fn is_alive_turns_false_once_the_sandbox_is_gone() {
    let Some(_lock) = common::root_shared("is_alive_turns_false_once_the_sandbox_is_gone") else {
        return;
    };
    let sandbox = Sandbox::new();
    let with_pidfd = Target::pid(sandbox.pid).open(Kind::Net.into()).unwrap();
    let netns_handles = Target::path(format!("/proc/{}/ns/net", sandbox.pid))
        .open(KindSet::EMPTY)
        .unwrap();
    assert!(with_pidfd.is_alive());
    assert!(netns_handles.is_alive());
    let net = with_pidfd.get(Kind::Net).unwrap().id();
    drop(sandbox);
    assert!(
        wait_dead(&with_pidfd),
        "pidfd handles still alive after 5 s"
    );
    // A namespace file stays valid while it is open, and so does the identity.
    assert!(netns_handles.is_alive());
    assert_eq!(with_pidfd.get(Kind::Net).unwrap().id(), net);
    assert_eq!(
        rustix::fs::fstat(with_pidfd.get(Kind::Net).unwrap())
            .unwrap()
            .st_ino,
        net.ino
    );
}

#[test]
fn is_alive_without_a_pidfd_turns_false_once_the_sandbox_is_reaped() {
    let Some(_lock) =
        common::root_shared("is_alive_without_a_pidfd_turns_false_once_the_sandbox_is_reaped")
    else {
        return;
    };
    // Our own child, so that we reap it and /proc/PID goes away for certain.
    let mut child = Command::new("sleep").arg("100").spawn().unwrap();
    let pid = child.id() as i32;
    let handles = Target::pid(pid)
        .with_proc("/proc/../proc")
        .open(Kind::Net.into())
        .unwrap();
    assert!(handles.pidfd().is_none());
    assert!(handles.is_alive());
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(wait_dead(&handles));
}

// ---------------------------------------------------------------------------
// Errors.

#[test]
fn error_messages_are_one_line_and_name_what_they_are_about() {
    let _lock = shared();
    let dir = TempDir::new("target");
    let missing = dir.path().join("no-such-ns");
    let cases: Vec<(Error, String)> = vec![
        (
            Namespace::open(&missing).unwrap_err(),
            missing.display().to_string(),
        ),
        (
            Namespace::open(dir.path()).unwrap_err(),
            dir.path().display().to_string(),
        ),
        (
            Namespace::open_kind("/proc/self/ns/uts", Kind::Net).unwrap_err(),
            "/proc/self/ns/uts".to_owned(),
        ),
        (
            Target::pid(0).open(Kind::Net.into()).unwrap_err(),
            "/proc/0".to_owned(),
        ),
        ("netwrok".parse::<Kind>().unwrap_err(), "netwrok".to_owned()),
        (
            "net,bogus".parse::<KindSet>().unwrap_err(),
            "bogus".to_owned(),
        ),
    ];
    for (err, about) in cases {
        let msg = err.to_string();
        assert!(!msg.contains('\n'), "{msg:?}");
        assert!(msg.contains(&about), "{msg:?} does not name {about}");
        assert!(!msg.is_empty());
    }
}

#[test]
fn raw_os_error_gives_the_errno_of_each_error() {
    let _lock = shared();
    let dir = TempDir::new("target");
    let missing = dir.path().join("missing");
    let enoent = Namespace::open(&missing).unwrap_err();
    assert_eq!(enoent.raw_os_error(), Some(libc::ENOENT));
    let not_ns = Namespace::open("/dev/null").unwrap_err();
    assert_eq!(not_ns.raw_os_error(), Some(libc::EINVAL));
    let wrong = Namespace::open_kind("/proc/self/ns/ipc", Kind::Uts).unwrap_err();
    assert_eq!(wrong.raw_os_error(), Some(libc::EINVAL));
    let esrch = Target::pid(0).open(Kind::Net.into()).unwrap_err();
    assert_eq!(esrch.raw_os_error(), Some(libc::ESRCH));
    assert_eq!(
        Error::TargetExited {
            target: "process 5".into()
        }
        .raw_os_error(),
        Some(libc::ESRCH)
    );
    assert_eq!(
        Error::KindUnsupported(Kind::Time).raw_os_error(),
        Some(libc::ENOSYS)
    );
    let unknown = "bogus".parse::<Kind>().unwrap_err();
    assert_eq!(unknown.raw_os_error(), None);
    // A permission error keeps its errno: a non-directory in the path.
    let file = dir.path().join("file");
    std::fs::write(&file, "").unwrap();
    let enotdir = Namespace::open(file.join("ns")).unwrap_err();
    assert_eq!(enotdir.raw_os_error(), Some(libc::ENOTDIR));
}

// ---------------------------------------------------------------------------
// No fd leaks.

#[test]
fn opening_and_dropping_handles_leaks_no_fd() {
    let Some(_lock) = common::root_exclusive("opening_and_dropping_handles_leaks_no_fd") else {
        return;
    };
    let sandbox = Sandbox::new();
    let netns = NetnsFile::new();
    let kinds = KindSet::supported();
    let pidfd_target = Target::Pidfd(pidfd(sandbox.pid));
    let before = common::fd_count();
    for _ in 0..100 {
        let a = Target::pid(sandbox.pid).open(kinds).unwrap();
        let b = Target::pid(sandbox.pid)
            .with_proc("/proc/../proc")
            .open(kinds)
            .unwrap();
        let c = pidfd_target.open(kinds).unwrap();
        let d = Target::path(&netns.path).open(KindSet::EMPTY).unwrap();
        let e = Namespace::current(Kind::Net).unwrap().owner().unwrap();
        let f = a.get(Kind::Net).unwrap().try_clone().unwrap();
        assert_eq!(
            a.kinds().len() + b.kinds().len() + c.kinds().len(),
            3 * kinds.len()
        );
        drop((a, b, c, d, e, f));
        // Failures must not leak either.
        assert!(Target::path("/dev/null").open(KindSet::EMPTY).is_err());
        assert!(Target::path(&netns.path).open(Kind::Uts.into()).is_err());
        assert!(Target::pid(0).open(kinds).is_err());
    }
    assert_eq!(common::fd_count(), before);
}

//! Opening namespace files and fds (`Target::path`, `Target::Fd`), and `Namespace`
//! and `NsId`, against real namespaces made by `unshare` and `ip netns`.

use nsjoin_test_support as common;

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{shared, NetnsFile, Sandbox, TempDir};
use nsjoin::{Error, Kind, KindSet, Namespace, NsId, Target};

mod target_fixtures;
use target_fixtures::*;

// ---------------------------------------------------------------------------
// Target::path and Target::Fd.

#[test]
fn path_target_on_run_netns_is_a_net_namespace() {
    let Some(_lock) = common::root_shared("path_target_on_run_netns_is_a_net_namespace") else {
        return;
    };
    let netns = NetnsFile::new();
    let expected = std::fs::metadata(&netns.path).unwrap().ino();
    for kinds in [KindSet::EMPTY, KindSet::from(Kind::Net)] {
        let handles = Target::path(&netns.path).open(kinds).unwrap();
        assert_eq!(handles.kinds(), KindSet::from(Kind::Net), "{kinds:?}");
        let ns = handles.get(Kind::Net).unwrap();
        assert_eq!(ns.id().ino, expected);
        assert_eq!(ns.path(), netns.path);
        assert_ne!(ns.id(), NsId::current(Kind::Net).unwrap());
        assert_eq!(handles.pid(), None);
        assert!(handles.pidfd().is_none());
        assert!(handles.is_alive());
        assert_eq!(handles.label(), netns.path.display().to_string());
    }
    // Target::parse takes the same path.
    let parsed = Target::parse(netns.path.to_str().unwrap());
    let handles = parsed.open(KindSet::EMPTY).unwrap();
    assert_eq!(handles.get(Kind::Net).unwrap().id().ino, expected);
}

#[test]
fn path_target_asked_for_another_kind_is_wrong_kind() {
    let Some(_lock) = common::root_shared("path_target_asked_for_another_kind_is_wrong_kind")
    else {
        return;
    };
    let netns = NetnsFile::new();
    for (kinds, expected) in [
        (KindSet::from(Kind::Uts), Kind::Uts),
        (KindSet::from([Kind::Net, Kind::Mnt]), Kind::Mnt),
    ] {
        let err = Target::path(&netns.path).open(kinds).unwrap_err();
        match &err {
            Error::WrongKind {
                path,
                expected: e,
                actual,
            } => {
                assert_eq!(path, &netns.path);
                assert_eq!(*e, expected);
                assert_eq!(*actual, Kind::Net);
            }
            other => panic!("expected WrongKind, got {other:?}"),
        }
        let msg = err.to_string();
        assert!(msg.contains(&netns.path.display().to_string()), "{msg}");
        assert!(
            msg.contains("net") && msg.contains(expected.name()),
            "{msg}"
        );
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }
}

#[test]
fn path_target_on_non_namespace_files_is_refused_without_hanging() {
    let _lock = shared();
    let dir = TempDir::new("target");
    let regular = dir.path().join("regular");
    std::fs::write(&regular, "net:[4026531840]\n").unwrap();
    let fifo = dir.path().join("fifo");
    rustix::fs::mknodat(
        rustix::fs::CWD,
        &fifo,
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let dangling = dir.path().join("dangling");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling).unwrap();
    let missing = dir.path().join("missing");
    let subdir = dir.path().join("subdir");
    std::fs::create_dir(&subdir).unwrap();

    let cases: Vec<(PathBuf, bool)> = vec![
        (regular, false),
        (subdir, false),
        (fifo, false),
        (PathBuf::from("/dev/null"), false),
        (PathBuf::from("/proc/self/stat"), false),
        (dangling, true),
        (missing, true),
    ];
    // Run the opens on another thread so that a blocking open of the FIFO fails
    // the test instead of hanging it.
    let (tx, rx) = std::sync::mpsc::channel();
    let paths: Vec<PathBuf> = cases.iter().map(|(p, _)| p.clone()).collect();
    std::thread::spawn(move || {
        for path in paths {
            let target = Target::path(&path).open(KindSet::EMPTY).map(|_| ());
            let direct = Namespace::open(&path).map(|_| ());
            tx.send((path, target, direct)).unwrap();
        }
    });
    for (path, missing) in cases {
        let (got, target, direct) = rx
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("opening {} hung", path.display()));
        assert_eq!(got, path);
        for result in [target, direct] {
            let err = result.expect_err(&path.display().to_string());
            if missing {
                assert_open_error(&err, &path);
                assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{err:?}");
            } else {
                match &err {
                    Error::NotNamespace { path: p } => assert_eq!(p, &path),
                    other => panic!("{}: expected NotNamespace, got {other:?}", path.display()),
                }
                assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
                let msg = err.to_string();
                assert!(msg.contains(&path.display().to_string()), "{msg}");
                assert!(!msg.contains('\n'), "{msg:?}");
            }
        }
    }
}

#[test]
fn fd_target_with_an_nsfs_fd_opens_its_kind() {
    let Some(_lock) = common::root_shared("fd_target_with_an_nsfs_fd_opens_its_kind") else {
        return;
    };
    let sandbox = Sandbox::new();
    let file = File::open(format!("/proc/{}/ns/uts", sandbox.pid)).unwrap();
    let target = Target::Fd(OwnedFd::from(file));
    let handles = target.open(KindSet::EMPTY).unwrap();
    assert_eq!(handles.kinds(), KindSet::from(Kind::Uts));
    assert_eq!(
        handles.get(Kind::Uts).unwrap().id().ino,
        ino(&sandbox, Kind::Uts)
    );
    assert_eq!(handles.pid(), None);
    // The target's fd was duplicated, not taken: it opens again.
    let again = target.open(Kind::Uts.into()).unwrap();
    assert_eq!(
        again.get(Kind::Uts).unwrap().id().ino,
        ino(&sandbox, Kind::Uts)
    );
    assert!(matches!(
        target.open(Kind::Net.into()),
        Err(Error::WrongKind {
            expected: Kind::Net,
            actual: Kind::Uts,
            ..
        })
    ));
}

#[test]
fn fd_and_pidfd_targets_refuse_fds_of_the_wrong_sort() {
    let _lock = shared();
    let dir = TempDir::new("target");
    let regular = dir.path().join("f");
    std::fs::write(&regular, "x").unwrap();
    let fds: Vec<OwnedFd> = vec![
        File::open(&regular).unwrap().into(),
        File::open("/dev/null").unwrap().into(),
        File::open(dir.path()).unwrap().into(),
        rustix::pipe::pipe().unwrap().0,
    ];
    for fd in fds {
        let dup = fd.try_clone().unwrap();
        let raw = dup.as_raw_fd();
        let err = Namespace::from_fd(dup).unwrap_err();
        assert!(matches!(err, Error::NotNamespace { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("fd {raw} is not a namespace file"));
        let err = Target::Fd(fd.try_clone().unwrap())
            .open(KindSet::EMPTY)
            .unwrap_err();
        assert!(matches!(err, Error::NotNamespace { .. }), "{err:?}");
        // Not a pidfd either: an error, not a panic or someone's namespaces.
        let err = Target::Pidfd(fd).open(Kind::Net.into()).unwrap_err();
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}

// ---------------------------------------------------------------------------
// Namespace and NsId.

#[test]
fn namespace_open_and_open_kind_check_the_kernels_kind() {
    let Some(_lock) = common::root_shared("namespace_open_and_open_kind_check_the_kernels_kind")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    for kind in [
        Kind::Net,
        Kind::Uts,
        Kind::Ipc,
        Kind::Mnt,
        Kind::Pid,
        Kind::Cgroup,
    ] {
        let path = format!("/proc/{}/ns/{kind}", sandbox.pid);
        let ns = Namespace::open(&path).unwrap();
        assert_eq!(ns.kind(), kind);
        assert_eq!(ns.id().ino, ino(&sandbox, kind));
        assert_eq!(ns.path(), Path::new(&path));
        let ns = Namespace::open_kind(&path, kind).unwrap();
        assert_eq!(ns.id().ino, ino(&sandbox, kind));
    }
    // The file name is not trusted: a uts file asked to be net is refused.
    let uts = format!("/proc/{}/ns/uts", sandbox.pid);
    let err = Namespace::open_kind(&uts, Kind::Net).unwrap_err();
    match &err {
        Error::WrongKind {
            path,
            expected,
            actual,
        } => {
            assert_eq!(path, Path::new(&uts));
            assert_eq!((*expected, *actual), (Kind::Net, Kind::Uts));
        }
        other => panic!("expected WrongKind, got {other:?}"),
    }
    assert!(err.to_string().contains(&uts), "{err}");
    // pid_for_children is a pid namespace file too.
    let ns = Namespace::open(format!("/proc/{}/ns/pid_for_children", sandbox.pid)).unwrap();
    assert_eq!(ns.kind(), Kind::Pid);
}

#[test]
fn namespace_from_fd_and_try_clone_keep_kind_and_id() {
    let Some(_lock) = common::root_shared("namespace_from_fd_and_try_clone_keep_kind_and_id")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let file = File::open(format!("/proc/{}/ns/net", sandbox.pid)).unwrap();
    let raw = file.as_raw_fd();
    let ns = Namespace::from_fd(file.into()).unwrap();
    assert_eq!(ns.kind(), Kind::Net);
    assert_eq!(ns.id().ino, ino(&sandbox, Kind::Net));
    assert_eq!(ns.path(), Path::new(&format!("fd {raw}")));
    let clone = ns.try_clone().unwrap();
    assert_eq!(clone.kind(), ns.kind());
    assert_eq!(clone.id(), ns.id());
    assert_eq!(clone.path(), ns.path());
    assert_ne!(clone.as_fd().as_raw_fd(), ns.as_fd().as_raw_fd());
    drop(ns);
    // The clone's fd is its own: still valid, still the sandbox's net ns.
    let st = rustix::fs::fstat(&clone).unwrap();
    assert_eq!(st.st_ino, ino(&sandbox, Kind::Net));
    let fd: OwnedFd = clone.into();
    assert_eq!(
        rustix::fs::fstat(&fd).unwrap().st_ino,
        ino(&sandbox, Kind::Net)
    );
}

#[test]
fn namespace_current_and_nsid_current_match_thread_self() {
    let _lock = shared();
    for kind in KindSet::supported().iter() {
        let name = kind.name();
        let here = common::thread_ns_ino(name);
        let id = NsId::current(kind).unwrap();
        assert_eq!(id.ino, here, "{kind}");
        assert_eq!(id.to_string(), here.to_string());
        let ns = Namespace::current(kind).unwrap();
        assert_eq!(ns.kind(), kind);
        assert_eq!(ns.id(), id);
        assert!(ns.is_current().unwrap(), "{kind}");
        assert_eq!(
            ns.path(),
            Path::new(&format!("/proc/thread-self/ns/{name}"))
        );
        // The same namespace as the process's own (this thread has not moved).
        let own = std::fs::metadata(format!("/proc/self/ns/{name}")).unwrap();
        assert_eq!((id.dev, id.ino), (own.dev(), own.ino()), "{kind}");
    }
}

#[test]
fn owner_of_a_user_sandboxes_net_ns_is_its_user_ns() {
    let Some(_lock) = common::root_shared("owner_of_a_user_sandboxes_net_ns_is_its_user_ns") else {
        return;
    };
    let sandbox = Sandbox::with_user();
    let user_ino = sandbox.ns_ino("user");
    assert_ne!(user_ino, common::thread_ns_ino("user"));
    for kind in [Kind::Net, Kind::Uts, Kind::Ipc, Kind::Mnt, Kind::Pid] {
        let ns = Namespace::open(format!("/proc/{}/ns/{kind}", sandbox.pid)).unwrap();
        let owner = ns.owner().unwrap();
        assert_eq!(owner.kind(), Kind::User);
        assert_eq!(owner.id().ino, user_ino, "owner of {kind}");
        assert!(owner.path().display().to_string().contains("owner of"));
    }
    // Our own net ns is owned by our own user ns.
    let owner = Namespace::current(Kind::Net).unwrap().owner().unwrap();
    assert!(owner.is_current().unwrap());
    assert_eq!(owner.id(), NsId::current(Kind::User).unwrap());
}

#[test]
fn parent_of_a_user_sandboxes_user_ns_is_ours() {
    let Some(_lock) = common::root_shared("parent_of_a_user_sandboxes_user_ns_is_ours") else {
        return;
    };
    let sandbox = Sandbox::with_user();
    let user = Namespace::open(format!("/proc/{}/ns/user", sandbox.pid)).unwrap();
    assert_eq!(user.kind(), Kind::User);
    assert_eq!(user.id().ino, sandbox.ns_ino("user"));
    let parent = user.parent().unwrap();
    assert_eq!(parent.kind(), Kind::User);
    assert_eq!(parent.id(), NsId::current(Kind::User).unwrap());
    assert!(parent.is_current().unwrap());
    // Same for the sandbox's pid ns: its parent is our pid ns.
    let pid = Namespace::open(format!("/proc/{}/ns/pid", sandbox.pid)).unwrap();
    assert_eq!(
        pid.parent().unwrap().id(),
        NsId::current(Kind::Pid).unwrap()
    );
}

#[test]
fn parent_of_a_kind_without_parents_is_an_error_naming_the_path() {
    let Some(_lock) =
        common::root_shared("parent_of_a_kind_without_parents_is_an_error_naming_the_path")
    else {
        return;
    };
    let netns = NetnsFile::new();
    let ns = Namespace::open(&netns.path).unwrap();
    let err = ns.parent().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&netns.path.display().to_string()), "{msg}");
    assert!(!msg.contains('\n'), "{msg:?}");
    assert!(err.raw_os_error().is_some(), "{err:?}");
}

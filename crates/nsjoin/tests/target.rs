use nsjoin_test_support as common;

// Opening namespaces: `Target`, `Namespace`, `NsId` and `Handles`, against real
// namespaces made by `unshare` and `ip netns`.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{exclusive, shared, zombie, NetnsFile, Sandbox, TempDir};
use nsjoin::{Error, Kind, KindSet, Namespace, NsId, Target};

// ---------------------------------------------------------------------------
// Small fixtures of this file.

/// The inode of `/proc/PID/ns/KIND` as a `Kind`.
fn ino(sandbox: &Sandbox, kind: Kind) -> u64 {
    sandbox.ns_ino(kind.name())
}

/// A pidfd for `pid`.
fn pidfd(pid: i32) -> OwnedFd {
    rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::PidfdFlags::empty(),
    )
    .unwrap()
}

/// Asserts that `err` is an `Error::Open` about `path` and that its one-line
/// message names `path`.
fn assert_open_error(err: &Error, path: &Path) {
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

// ---------------------------------------------------------------------------
// Target::pid and friends.

#[test]
fn pid_target_opens_requested_kinds_with_the_sandboxes_inodes() {
    if !common::root_or_skip("pid_target_opens_requested_kinds_with_the_sandboxes_inodes") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("pid_target_opens_every_supported_kind") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("empty_kind_set_opens_nothing_for_a_process") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("pidfd_target_opens_the_sandboxes_namespaces") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("pidfd_of_a_reaped_process_is_gone_and_says_so") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("exited_unreaped_process_is_gone_before_the_call") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("pid_that_does_not_exist_names_proc_pid") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("with_proc_slash_proc_uses_a_pidfd") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("with_proc_through_another_path_opens_without_a_pidfd") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("with_proc_on_a_fake_proc_directory_is_refused") {
        return;
    }
    let _lock = shared();
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

// ---------------------------------------------------------------------------
// Target::path and Target::Fd.

#[test]
fn path_target_on_run_netns_is_a_net_namespace() {
    if !common::root_or_skip("path_target_on_run_netns_is_a_net_namespace") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("path_target_asked_for_another_kind_is_wrong_kind") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("fd_target_with_an_nsfs_fd_opens_its_kind") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("namespace_open_and_open_kind_check_the_kernels_kind") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("namespace_from_fd_and_try_clone_keep_kind_and_id") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("owner_of_a_user_sandboxes_net_ns_is_its_user_ns") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("parent_of_a_user_sandboxes_user_ns_is_ours") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("parent_of_a_kind_without_parents_is_an_error_naming_the_path") {
        return;
    }
    let _lock = shared();
    let netns = NetnsFile::new();
    let ns = Namespace::open(&netns.path).unwrap();
    let err = ns.parent().unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains(&netns.path.display().to_string()), "{msg}");
    assert!(!msg.contains('\n'), "{msg:?}");
    assert!(err.raw_os_error().is_some(), "{err:?}");
}

// ---------------------------------------------------------------------------
// Handles.

#[test]
fn plan_skips_our_own_user_ns_and_keeps_a_foreign_one() {
    if !common::root_or_skip("plan_skips_our_own_user_ns_and_keeps_a_foreign_one") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("plan_of_a_kind_not_opened_is_not_provided") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("is_alive_turns_false_once_the_sandbox_is_gone") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("is_alive_without_a_pidfd_turns_false_once_the_sandbox_is_reaped") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("opening_and_dropping_handles_leaks_no_fd") {
        return;
    }
    let _lock = exclusive();
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

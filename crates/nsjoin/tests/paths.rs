use nsjoin_test_support as common;

// Which path the library took, not only what came out: each way of opening a
// namespace (a pidfd's PIDFD_GET_*_NAMESPACE, /proc/PID/ns) is asserted, and neither
// depends on the calling thread's view of /proc. scripts/test.sh runs this file twice:
// as is, and with NSJOIN_FORCE_PROC=1, which turns the pidfd ioctls off everywhere,
// so that the /proc fallback is exercised on every run on kernels that have both.

use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::Sandbox;
use nsjoin::{Kind, KindSet, Namespace, NsId, Source, Target};

/// The source every process-target namespace and every "current" namespace must
/// have here: the pidfd ioctls on Linux 6.11 and later, unless forced off.
fn expected_source() -> Source {
    let forced = std::env::var_os(nsjoin::FORCE_PROC_ENV).is_some_and(|v| v == "1");
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    if !forced && (major, minor) >= (6, 11) {
        Source::Pidfd
    } else {
        Source::Proc
    }
}

fn on_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

/// A sandbox that looks like a container: its own pid and mount namespaces with a
/// /proc of its own pid namespace mounted (where our PIDs mean nothing).
fn container() -> Sandbox {
    Sandbox::start(
        &[
            "--uts",
            "--net",
            "--ipc",
            "--pid",
            "--mount",
            "--mount-proc",
        ],
        "",
    )
}

/// A `sleep` with a marker in its environment, started by us in our namespaces.
/// Returned once it runs sleep: while the shell is still exec'ing it, its
/// environment reads as empty.
fn marked_process(marker: &str) -> Child {
    let child = common::spawn_ready(
        Command::new("sh")
            .args(["-c", "echo ready; exec sleep 100000"])
            .env("NSJOIN_TEST_MARK", marker)
            .stdin(Stdio::null()),
    );
    let proc_dir = format!("/proc/{}", child.id());
    let want = format!("NSJOIN_TEST_MARK={marker}");
    common::wait_for("the marked process to run sleep", || {
        std::fs::read_to_string(format!("{proc_dir}/comm")).is_ok_and(|c| c == "sleep\n")
            && std::fs::read(format!("{proc_dir}/environ"))
                .is_ok_and(|e| e.split(|&b| b == 0).any(|v| v == want.as_bytes()))
    });
    child
}

#[test]
fn each_namespace_says_how_it_was_opened() {
    let Some(_lock) = common::root_shared("each_namespace_says_how_it_was_opened") else {
        return;
    };
    let sandbox = Sandbox::new();
    let want = expected_source();
    let handles = Target::pid(sandbox.pid).open(KindSet::supported()).unwrap();
    for ns in handles.iter() {
        assert_eq!(ns.source(), want, "{} of the sandbox", ns.kind());
        let meta = std::fs::metadata(format!("/proc/{}/ns/{}", sandbox.pid, ns.kind())).unwrap();
        assert_eq!((ns.id().dev, ns.id().ino), (meta.dev(), meta.ino()));
    }
    for kind in KindSet::supported().iter() {
        assert_eq!(
            Namespace::current(kind).unwrap().source(),
            want,
            "own {kind}"
        );
    }
    // Another proc mount never uses the target's pidfd; a file and an fd are
    // what they are.
    let via_proc = Target::pid(sandbox.pid)
        .with_proc("/proc/self/root/proc")
        .open(Kind::Net.into())
        .unwrap();
    assert_eq!(via_proc.get(Kind::Net).unwrap().source(), Source::Proc);
    let file = Namespace::open(format!("/proc/{}/ns/uts", sandbox.pid)).unwrap();
    assert_eq!(file.source(), Source::File);
    let fd = std::fs::File::open(format!("/proc/{}/ns/ipc", sandbox.pid)).unwrap();
    let by_fd = Target::Fd(fd.into()).open(KindSet::EMPTY).unwrap();
    assert_eq!(by_fd.get(Kind::Ipc).unwrap().source(), Source::Fd);
}

/// Defect: `/proc/PID` was opened on first use through the thread's current view
/// of /proc, so from inside a container's mount namespace the target's environment
/// was read from whatever the container's /proc/PID is (nothing, or another
/// process), and that wrong directory stayed cached.
#[test]
fn a_targets_proc_files_are_its_own_from_inside_a_containers_mount_namespace() {
    let Some(_lock) = common::root_shared(
        "a_targets_proc_files_are_its_own_from_inside_a_containers_mount_namespace",
    ) else {
        return;
    };
    let box_ = container();
    let marker = format!("mark-{}", std::process::id());
    let mut target = marked_process(&marker);
    let theirs = Target::pid(target.id() as i32)
        .open(Kind::Net.into())
        .unwrap();
    // With no namespace asked for, nothing is opened through /proc at open time on
    // any kernel: the /proc/PID read comes later, inside the container's view.
    let bare = Target::pid(target.id() as i32)
        .open(KindSet::EMPTY)
        .unwrap();
    let inside = Target::pid(box_.pid).open(Kind::Mnt.into()).unwrap();
    let mark = |env: Vec<(std::ffi::OsString, std::ffi::OsString)>| {
        env.into_iter()
            .find(|(k, _)| k == "NSJOIN_TEST_MARK")
            .map(|(_, v)| v.to_string_lossy().into_owned())
    };
    on_thread(|| {
        nsjoin::unshare_thread_fs().unwrap();
        let guard = inside.enter(Kind::Mnt.into()).unwrap();
        // This thread's /proc is the container's now.
        assert!(std::fs::metadata(format!("/proc/{}", target.id())).is_err());
        assert_eq!(mark(theirs.environ().unwrap()).as_deref(), Some(&*marker));
        assert_eq!(mark(bare.environ().unwrap()).as_deref(), Some(&*marker));
        guard.leave().unwrap();
        assert_eq!(mark(theirs.environ().unwrap()).as_deref(), Some(&*marker));
        assert_eq!(mark(bare.environ().unwrap()).as_deref(), Some(&*marker));
    });
    let _ = target.kill();
    let _ = target.wait();
}

/// Defect: saving the way back opened /proc/thread-self/ns/KIND through the
/// thread's view of /proc; inside a container's mount namespace a second guard, and
/// NsId::current / Namespace::current, failed with ENOENT.
#[test]
fn guards_and_current_work_inside_a_containers_mount_namespace() {
    let Some(_lock) =
        common::root_shared("guards_and_current_work_inside_a_containers_mount_namespace")
    else {
        return;
    };
    let box_ = container();
    let handles = Target::pid(box_.pid)
        .open(KindSet::from([Kind::Mnt, Kind::Uts, Kind::Net]))
        .unwrap();
    let box_uts = handles.get(Kind::Uts).unwrap().id();
    let box_net = handles.get(Kind::Net).unwrap().id();
    on_thread(|| {
        let own_uts = NsId::current(Kind::Uts).unwrap();
        let own_net = NsId::current(Kind::Net).unwrap();
        let own_mnt = NsId::current(Kind::Mnt).unwrap();
        nsjoin::unshare_thread_fs().unwrap();
        let mnt = handles.enter(Kind::Mnt.into()).unwrap();
        assert!(std::fs::metadata("/proc/thread-self").is_err());
        assert_eq!(NsId::current(Kind::Uts).unwrap(), own_uts);
        assert_eq!(Namespace::current(Kind::Net).unwrap().id(), own_net);
        let inner = handles
            .enter(KindSet::from([Kind::Uts, Kind::Net]))
            .unwrap();
        assert_eq!(NsId::current(Kind::Uts).unwrap(), box_uts);
        assert_eq!(NsId::current(Kind::Net).unwrap(), box_net);
        inner.leave().unwrap();
        assert_eq!(NsId::current(Kind::Uts).unwrap(), own_uts);
        assert_eq!(NsId::current(Kind::Net).unwrap(), own_net);
        mnt.leave().unwrap();
        assert_eq!(NsId::current(Kind::Mnt).unwrap(), own_mnt);
        assert!(std::fs::metadata("/proc/thread-self").is_ok());
    });
}

/// Defect: without a pidfd, a killed but unreaped process (a zombie) was reported
/// alive, because its /proc/PID directory is still there.
#[test]
fn a_zombie_is_not_alive_without_a_pidfd() {
    let Some(_lock) = common::root_shared("a_zombie_is_not_alive_without_a_pidfd") else {
        return;
    };
    let mut child = Command::new("sleep")
        .arg("100000")
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id() as i32;
    let by_pidfd = Target::pid(pid).open(Kind::Net.into()).unwrap();
    let by_proc = Target::pid(pid)
        .with_proc("/proc/self/root/proc")
        .open(Kind::Net.into())
        .unwrap();
    assert!(by_proc.pidfd().is_none());
    assert!(by_pidfd.is_alive() && by_proc.is_alive());
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::Signal::KILL,
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while by_pidfd.is_alive() {
        assert!(Instant::now() < deadline, "the child did not die");
        std::thread::sleep(Duration::from_millis(2));
    }
    // Not reaped yet: a zombie, /proc/PID still there.
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(!by_proc.is_alive(), "a zombie was reported alive");
    child.wait().unwrap();
    assert!(!by_proc.is_alive());
}

/// Defect: a Target::Fd error named the library's duplicate of the fd.
#[test]
fn an_fd_target_error_names_the_callers_fd() {
    let null = std::fs::File::open("/dev/null").unwrap();
    let raw = null.as_raw_fd();
    let err = Target::Fd(null.into()).open(KindSet::EMPTY).unwrap_err();
    assert_eq!(err.to_string(), format!("fd {raw} is not a namespace file"));
}

#[test]
fn a_target_gone_before_the_call_is_gone_not_racing() {
    // A PID that names no process (pid_max is at most 2^22).
    let err = Target::pid(i32::MAX).open(Kind::Net.into()).unwrap_err();
    assert!(err.is_target_gone(), "{err:?}");
    assert!(!err.to_string().contains("while"), "{err}");
    assert!(err.to_string().contains(&i32::MAX.to_string()), "{err}");
    // Not every error is "gone".
    let other = Target::path("/etc/hostname")
        .open(KindSet::EMPTY)
        .unwrap_err();
    assert!(!other.is_target_gone());
}

/// The way `nsjoin::enter` must take here: one setns on the process's pidfd for
/// kinds that allow it (setns on pidfds is in every kernel this runs on, 5.8 and
/// later), unless forced onto the namespace files.
fn expected_entry() -> nsjoin::EnteredBy {
    let forced = std::env::var_os(nsjoin::FORCE_PROC_ENV).is_some_and(|v| v == "1");
    if forced {
        nsjoin::EnteredBy::NamespaceFds
    } else {
        nsjoin::EnteredBy::ProcessPidfd
    }
}

/// `nsjoin::enter` on a process goes in through its pidfd in one step, lands
/// where the namespace files would have taken it, and comes back the same way.
#[test]
fn one_statement_enter_on_a_process_takes_its_pidfd() {
    let Some(_lock) = common::root_shared("one_statement_enter_on_a_process_takes_its_pidfd")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let kinds = KindSet::from([Kind::Net, Kind::Uts, Kind::Ipc, Kind::Pid, Kind::Cgroup]);
    let ours: Vec<u64> = ["net", "uts", "ipc", "pid_for_children", "cgroup"]
        .iter()
        .map(|k| common::thread_ns_ino(k))
        .collect();
    let theirs: Vec<u64> = ["net", "uts", "ipc", "pid", "cgroup"]
        .iter()
        .map(|k| sandbox.ns_ino(k))
        .collect();
    on_thread(|| {
        let by_pid = nsjoin::enter(&Target::pid(sandbox.pid), kinds).unwrap();
        assert_eq!(by_pid.entered_by(), expected_entry());
        assert_eq!(by_pid.entered(), kinds);
        let inside: Vec<u64> = ["net", "uts", "ipc", "pid_for_children", "cgroup"]
            .iter()
            .map(|k| common::thread_ns_ino(k))
            .collect();
        assert_eq!(inside, theirs);
        by_pid.leave().unwrap();
        let back: Vec<u64> = ["net", "uts", "ipc", "pid_for_children", "cgroup"]
            .iter()
            .map(|k| common::thread_ns_ino(k))
            .collect();
        assert_eq!(back, ours);

        // A pidfd the caller holds takes the same way.
        let pidfd = rustix::process::pidfd_open(
            rustix::process::Pid::from_raw(sandbox.pid).unwrap(),
            rustix::process::PidfdFlags::empty(),
        )
        .unwrap();
        let by_pidfd = nsjoin::enter(&Target::Pidfd(pidfd), Kind::Uts.into()).unwrap();
        assert_eq!(by_pidfd.entered_by(), expected_entry());
        assert_eq!(common::thread_hostname(), {
            let guard = Target::pid(sandbox.pid)
                .open(Kind::Uts.into())
                .unwrap()
                .enter(Kind::Uts.into())
                .unwrap();
            assert_eq!(guard.entered_by(), nsjoin::EnteredBy::NamespaceFds);
            let name = common::thread_hostname();
            guard.leave().unwrap();
            name
        });
        drop(by_pidfd);
        assert_eq!(common::thread_ns_ino("uts"), ours[1]);
    });
}

/// Where one setns on a pidfd cannot do it (a mount namespace, a namespace file,
/// another proc mount), `nsjoin::enter` opens the namespace files, and says so; a
/// process that is gone gives the error opening it would have given.
#[test]
fn one_statement_enter_opens_files_where_a_pidfd_cannot_do_it() {
    let Some(_lock) =
        common::root_shared("one_statement_enter_opens_files_where_a_pidfd_cannot_do_it")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    on_thread(|| {
        nsjoin::unshare_thread_fs().unwrap();
        let with_mnt = KindSet::from([Kind::Net, Kind::Mnt]);
        let guard = nsjoin::enter(&Target::pid(sandbox.pid), with_mnt).unwrap();
        assert_eq!(guard.entered_by(), nsjoin::EnteredBy::NamespaceFds);
        assert_eq!(common::thread_ns_ino("mnt"), sandbox.ns_ino("mnt"));
        guard.leave().unwrap();

        let file = Target::path(format!("/proc/{}/ns/net", sandbox.pid));
        let guard = nsjoin::enter(&file, Kind::Net.into()).unwrap();
        assert_eq!(guard.entered_by(), nsjoin::EnteredBy::NamespaceFds);
        assert_eq!(common::thread_ns_ino("net"), sandbox.ns_ino("net"));
        guard.leave().unwrap();

        let other_proc = Target::pid(sandbox.pid).with_proc("/proc/self/root/proc");
        let guard = nsjoin::enter(&other_proc, Kind::Net.into()).unwrap();
        assert_eq!(guard.entered_by(), nsjoin::EnteredBy::NamespaceFds);
        guard.leave().unwrap();
    });
    let mut gone = Command::new("true").spawn().unwrap();
    let pid = gone.id() as i32;
    gone.wait().unwrap();
    let opened = Target::pid(pid).open(Kind::Net.into()).unwrap_err();
    let entered = nsjoin::enter(&Target::pid(pid), Kind::Net.into()).unwrap_err();
    assert_eq!(entered.to_string(), opened.to_string());
}

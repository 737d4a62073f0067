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
fn marked_process(marker: &str) -> Child {
    common::spawn_ready(
        Command::new("sh")
            .args(["-c", "echo ready; exec sleep 100000"])
            .env("NSJOIN_TEST_MARK", marker)
            .stdin(Stdio::null()),
    )
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

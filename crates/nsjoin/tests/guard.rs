use nsjoin_test_support as common;

// Entering namespaces on one thread with `Guard`, and coming back, against real
// namespaces made by `unshare` and `ip netns`. Every test enters on a thread it
// spawns, so the harness's threads never move.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{exclusive, shared, thread_hostname, thread_ns_ino, NetnsFile, Sandbox};
use nsjoin::{Error, Kind, KindSet, NsId, Target};

// ---------------------------------------------------------------------------
// Small fixtures of this file.

/// The kinds a Guard can enter on any thread, that `Sandbox::new` makes fresh.
const THREAD_KINDS: [Kind; 4] = [Kind::Net, Kind::Uts, Kind::Ipc, Kind::Cgroup];

/// What the calling thread sees: the inode of each kind, and its hostname.
#[derive(Debug, Clone, PartialEq, Eq)]
struct View {
    inos: Vec<(Kind, u64)>,
    hostname: String,
}

fn view(kinds: &[Kind]) -> View {
    View {
        inos: kinds
            .iter()
            .map(|k| (*k, thread_ns_ino(k.name())))
            .collect(),
        hostname: thread_hostname(),
    }
}

/// What the sandbox's own `/proc/PID/ns` says, and its hostname.
fn sandbox_view(sandbox: &Sandbox, kinds: &[Kind]) -> View {
    View {
        inos: kinds
            .iter()
            .map(|k| (*k, sandbox.ns_ino(k.name())))
            .collect(),
        hostname: sandbox.hostname.clone(),
    }
}

/// The network interfaces the calling thread sees.
fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/thread-self/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|s| s.trim().to_owned())
        .collect()
}

/// Runs `f` on a new thread and returns what it returns (a panic in it fails
/// the test).
fn on_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

/// A process that moves itself into fresh net and uts namespaces when told to
/// (`unshare` without `--fork` execs in place: same PID, new namespaces).
struct Mover {
    child: Child,
    stdin: Option<ChildStdin>,
    pid: i32,
}

impl Mover {
    fn start() -> Mover {
        let mut child = Command::new("/bin/sh")
            .args([
                "-c",
                "echo ready; read go; exec unshare --net --uts sleep 100000",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line.trim(), "ready");
        let stdin = child.stdin.take();
        let pid = child.id() as i32;
        Mover { child, stdin, pid }
    }

    /// Tells it to move, and waits until its net namespace has changed.
    fn moved(&mut self) -> u64 {
        let before = common::ns_ino(self.pid, "net");
        writeln!(self.stdin.as_mut().unwrap(), "go").unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let now = common::ns_ino(self.pid, "net");
            if now != before {
                return now;
            }
            assert!(Instant::now() < deadline, "the mover did not move");
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Mover {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn kinds(list: &[Kind]) -> KindSet {
    list.iter().copied().collect()
}

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
    if !common::root_or_skip("guard_enters_net_uts_ipc_cgroup_on_its_thread_only_and_drop_restores")
    {
        return;
    }
    let _lock = shared();
    enter_hold_and_restore(false);
}

#[test]
fn guard_leave_restores_every_kind() {
    if !common::root_or_skip("guard_leave_restores_every_kind") {
        return;
    }
    let _lock = shared();
    enter_hold_and_restore(true);
}

#[test]
fn guard_enters_each_kind_alone() {
    if !common::root_or_skip("guard_enters_each_kind_alone") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("guard_without_a_pidfd_enters_the_opened_fds") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("guard_on_a_netns_file_enters_its_net_ns") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("guard_with_pid_changes_pid_for_children_only_and_restores_it") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("guard_enters_the_net_ns_of_a_user_sandbox_as_root") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("guard_entered_is_what_was_asked_and_no_kinds_means_all_opened") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("guard_with_no_kinds_still_refuses_opened_user_and_time") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("guard_refuses_user_and_time_pointing_to_spawn") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip(
        "guard_enters_mnt_on_a_thread_with_its_own_fs_and_restores_root_and_cwd",
    ) {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("guard_with_mnt_on_a_multithreaded_process_points_to_run_in") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("guard_failing_on_mnt_after_net_rolls_net_back") {
        return;
    }
    let _lock = shared();
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

#[test]
fn guard_of_a_kind_not_opened_is_not_provided_and_enters_nothing() {
    if !common::root_or_skip("guard_of_a_kind_not_opened_is_not_provided_and_enters_nothing") {
        return;
    }
    let _lock = shared();
    let netns = NetnsFile::new();
    let handles = Target::path(&netns.path).open(KindSet::EMPTY).unwrap();
    on_thread(|| {
        let before = view(&THREAD_KINDS);
        let err = handles
            .enter(KindSet::from([Kind::Net, Kind::Uts]))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotProvided {
                    kind: Kind::Uts,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(view(&THREAD_KINDS), before);
    });
}

// ---------------------------------------------------------------------------
// Several guards.

#[test]
fn nested_guards_on_two_sandboxes_restore_in_reverse() {
    if !common::root_or_skip("nested_guards_on_two_sandboxes_restore_in_reverse") {
        return;
    }
    let _lock = shared();
    let a = Sandbox::new();
    let b = Sandbox::new();
    let a_net = Target::pid(a.pid).open(Kind::Net.into()).unwrap();
    let b_uts = Target::pid(b.pid).open(Kind::Uts.into()).unwrap();
    let b_net = Target::pid(b.pid).open(Kind::Net.into()).unwrap();
    on_thread(|| {
        let before = view(&THREAD_KINDS);
        let outer = a_net.enter(Kind::Net.into()).unwrap();
        assert_eq!(thread_ns_ino("net"), a.ns_ino("net"));
        assert_eq!(thread_hostname(), before.hostname);
        let inner = b_uts.enter(Kind::Uts.into()).unwrap();
        assert_eq!(thread_ns_ino("net"), a.ns_ino("net"));
        assert_eq!(thread_ns_ino("uts"), b.ns_ino("uts"));
        assert_eq!(thread_hostname(), b.hostname);
        assert_eq!(interfaces(), ["lo"]);
        drop(inner);
        assert_eq!(thread_ns_ino("net"), a.ns_ino("net"));
        assert_eq!(thread_ns_ino("uts"), before.inos[1].1);
        assert_eq!(thread_hostname(), before.hostname);
        drop(outer);
        assert_eq!(view(&THREAD_KINDS), before);

        // The same kind nested: net of A, then net of B; each drop goes back one.
        let outer = a_net.enter(Kind::Net.into()).unwrap();
        let inner = b_net.enter(Kind::Net.into()).unwrap();
        assert_eq!(thread_ns_ino("net"), b.ns_ino("net"));
        inner.leave().unwrap();
        assert_eq!(thread_ns_ino("net"), a.ns_ino("net"));
        outer.leave().unwrap();
        assert_eq!(view(&THREAD_KINDS), before);
    });
}

#[test]
fn sixteen_threads_hold_guards_on_four_sandboxes_concurrently() {
    if !common::root_or_skip("sixteen_threads_hold_guards_on_four_sandboxes_concurrently") {
        return;
    }
    let _lock = exclusive();
    const THREADS: usize = 16;
    const ITERATIONS: usize = 300;
    let sandboxes: Vec<Sandbox> = (0..4).map(|_| Sandbox::new()).collect();
    let expected: Vec<(u64, u64, String)> = sandboxes
        .iter()
        .map(|s| (s.ns_ino("net"), s.ns_ino("uts"), s.hostname.clone()))
        .collect();
    let mine = view(&THREAD_KINDS);
    let fds_before = common::fd_count();
    let threads_before = common::thread_count();
    let start = Barrier::new(THREADS);
    std::thread::scope(|s| {
        for t in 0..THREADS {
            let (sandboxes, expected, start, mine) = (&sandboxes, &expected, &start, &mine);
            s.spawn(move || {
                let which = t % sandboxes.len();
                let (net, uts, hostname) = &expected[which];
                let kinds = KindSet::from([Kind::Net, Kind::Uts]);
                // Half the threads open once and enter many times, half open
                // every time.
                let kept = Target::pid(sandboxes[which].pid).open(kinds).unwrap();
                start.wait();
                for i in 0..ITERATIONS {
                    let fresh;
                    let handles = if t % 2 == 0 {
                        &kept
                    } else {
                        fresh = Target::pid(sandboxes[which].pid).open(kinds).unwrap();
                        &fresh
                    };
                    let guard = handles.enter(kinds).unwrap();
                    assert_eq!(thread_ns_ino("net"), *net, "thread {t} iteration {i}");
                    assert_eq!(thread_ns_ino("uts"), *uts, "thread {t} iteration {i}");
                    assert_eq!(&thread_hostname(), hostname, "thread {t} iteration {i}");
                    if i % 2 == 0 {
                        drop(guard);
                    } else {
                        guard.leave().unwrap();
                    }
                    assert_eq!(&view(&THREAD_KINDS), mine, "thread {t} iteration {i}");
                }
            });
        }
    });
    assert_eq!(view(&THREAD_KINDS), mine);
    // Each thread's way home (kept per thread) is closed as the thread ends.
    common::wait_for_threads(threads_before);
    assert_eq!(common::fd_count(), fds_before);
}

#[test]
fn guards_leak_no_fd() {
    if !common::root_or_skip("guards_leak_no_fd") {
        return;
    }
    let _lock = exclusive();
    let sandbox = Sandbox::new();
    let handles = Target::pid(sandbox.pid)
        .open(KindSet::from([Kind::Net, Kind::Uts, Kind::Mnt, Kind::User]))
        .unwrap();
    let before = common::fd_count();
    on_thread(|| {
        for _ in 0..100 {
            handles
                .enter(KindSet::from([Kind::Net, Kind::Uts]))
                .unwrap()
                .leave()
                .unwrap();
            drop(handles.enter(Kind::Net.into()).unwrap());
            // Failures, with and without a partial entry to roll back.
            assert!(handles
                .enter(KindSet::from([Kind::Net, Kind::Mnt]))
                .is_err());
            assert!(handles.enter(Kind::User.into()).is_err());
        }
    });
    assert_eq!(common::fd_count(), before);
}

// ---------------------------------------------------------------------------
// What exactly is entered.

/// `Handles` pin the namespaces that were opened; a guard must enter those, as
/// `Handles::get(kind).id()` reports them, even if the target process has moved to
/// other namespaces since.
#[test]
fn guard_enters_the_opened_namespaces_even_after_the_target_moved() {
    if !common::root_or_skip("guard_enters_the_opened_namespaces_even_after_the_target_moved") {
        return;
    }
    let _lock = shared();
    let mut mover = Mover::start();
    let kinds = KindSet::from([Kind::Net, Kind::Uts]);
    let handles = Target::pid(mover.pid).open(kinds).unwrap();
    let opened_net = handles.get(Kind::Net).unwrap().id().ino;
    let opened_uts = handles.get(Kind::Uts).unwrap().id().ino;
    let new_net = mover.moved();
    assert_ne!(new_net, opened_net);
    assert!(handles.is_alive());
    on_thread(|| {
        let before = view(&THREAD_KINDS);
        for kinds in [KindSet::from(Kind::Net), kinds] {
            let guard = handles.enter(kinds).unwrap();
            let (net, uts) = (thread_ns_ino("net"), thread_ns_ino("uts"));
            drop(guard);
            assert_eq!(view(&THREAD_KINDS), before);
            assert_ne!(net, new_net, "{kinds:?}: entered the target's new net ns");
            assert_eq!(net, opened_net, "{kinds:?}");
            if kinds.contains(Kind::Uts) {
                assert_eq!(uts, opened_uts, "{kinds:?}");
            }
        }
    });
}

// ---------------------------------------------------------------------------
// Home: the way back saved once.

#[test]
fn guards_from_a_home_enter_and_come_back_without_opening_anything() {
    if !common::root_or_skip("guards_from_a_home_enter_and_come_back_without_opening_anything") {
        return;
    }
    let _lock = exclusive();
    let sandbox = Sandbox::new();
    let kinds = kinds(&[Kind::Net, Kind::Uts]);
    let handles = Target::pid(sandbox.pid).open(kinds).unwrap();
    on_thread(|| {
        let before = view(&[Kind::Net, Kind::Uts]);
        let home = nsjoin::Home::save(kinds).unwrap();
        assert_eq!(home.kinds(), kinds);
        let fds = common::fd_count();
        for _ in 0..200 {
            let guard = handles.enter_from(&home, kinds).unwrap();
            assert_eq!(guard.entered(), kinds);
            // The guard holds no fd of its own: the way back is the home's.
            assert_eq!(common::fd_count(), fds);
            assert_eq!(
                view(&[Kind::Net, Kind::Uts]),
                sandbox_view(&sandbox, &[Kind::Net, Kind::Uts])
            );
            guard.leave().unwrap();
            assert_eq!(view(&[Kind::Net, Kind::Uts]), before);
        }
        assert_eq!(common::fd_count(), fds);
    });
}

#[test]
fn a_home_inside_another_guard_comes_back_to_that_guard_not_home() {
    if !common::root_or_skip("a_home_inside_another_guard_comes_back_to_that_guard_not_home") {
        return;
    }
    let _lock = shared();
    let a = Sandbox::new();
    let b = Sandbox::new();
    let a_net = Target::pid(a.pid).open(Kind::Net.into()).unwrap();
    let b_net = Target::pid(b.pid)
        .open(kinds(&[Kind::Net, Kind::Uts]))
        .unwrap();
    on_thread(|| {
        let before = view(&THREAD_KINDS);
        let home = nsjoin::Home::save(kinds(&[Kind::Net, Kind::Uts])).unwrap();
        let outer = a_net.enter(Kind::Net.into()).unwrap();
        // net: the thread is in a's, not home's, so it is saved afresh; uts: home.
        let inner = b_net
            .enter_from(&home, kinds(&[Kind::Net, Kind::Uts]))
            .unwrap();
        assert_eq!(thread_ns_ino("net"), b.ns_ino("net"));
        drop(inner);
        assert_eq!(
            thread_ns_ino("net"),
            a.ns_ino("net"),
            "inner went home, not back to a"
        );
        assert_eq!(thread_hostname(), before.hostname);
        drop(outer);
        assert_eq!(view(&THREAD_KINDS), before);
        // Not inside anything any more: the home serves net again.
        let again = b_net.enter_from(&home, Kind::Net.into()).unwrap();
        again.leave().unwrap();
        assert_eq!(view(&THREAD_KINDS), before);
    });
}

#[test]
fn a_home_never_saves_a_user_namespace() {
    let err = nsjoin::Home::save(kinds(&[Kind::Net, Kind::User])).unwrap_err();
    assert!(
        matches!(
            err,
            Error::NeedsOtherApi {
                kind: Kind::User,
                ..
            }
        ),
        "{err:?}"
    );
}

// ---------------------------------------------------------------------------
// Guards left out of order, and entering for good.

/// Defect: two guards of the same kind, the outer one dropped first, left the
/// thread in the first target's namespace, and both leave() calls said Ok.
#[test]
fn guards_left_out_of_order_end_where_they_started() {
    if !common::root_or_skip("guards_left_out_of_order_end_where_they_started") {
        return;
    }
    let _lock = shared();
    let (a, b, c) = (Sandbox::new(), Sandbox::new(), Sandbox::new());
    let open = |s: &Sandbox| {
        Target::pid(s.pid)
            .open(kinds(&[Kind::Net, Kind::Uts]))
            .unwrap()
    };
    let (ha, hb, hc) = (open(&a), open(&b), open(&c));
    on_thread(|| {
        let before = view(&THREAD_KINDS);
        // Outer first: the thread stays in the innermost's namespace until it goes.
        let outer = ha.enter(Kind::Net.into()).unwrap();
        let inner = hb.enter(Kind::Net.into()).unwrap();
        outer.leave().unwrap();
        assert_eq!(thread_ns_ino("net"), b.ns_ino("net"), "inner still holds");
        inner.leave().unwrap();
        assert_eq!(view(&THREAD_KINDS), before, "not home after both left");

        // Three deep, the middle one first, by drop.
        let one = ha.enter(Kind::Net.into()).unwrap();
        let two = hb.enter(kinds(&[Kind::Net, Kind::Uts])).unwrap();
        let three = hc.enter(Kind::Net.into()).unwrap();
        drop(two);
        assert_eq!(thread_ns_ino("net"), c.ns_ino("net"));
        // uts: two was the only guard inside it, so that went home at once.
        assert_eq!(thread_hostname(), before.hostname);
        drop(three);
        // three now goes where two would have: back to one's (a's) namespace.
        assert_eq!(thread_ns_ino("net"), a.ns_ino("net"));
        drop(one);
        assert_eq!(view(&THREAD_KINDS), before);
    });
}

/// Defect: enter_permanently, refused on user in a multithreaded process, had
/// already entered uts and left it so; a later kind failing left earlier ones
/// entered. All or nothing now.
#[test]
fn enter_permanently_is_all_or_nothing() {
    if !common::root_or_skip("enter_permanently_is_all_or_nothing") {
        return;
    }
    let _lock = shared();
    let user = Sandbox::with_user();
    let plain = Sandbox::new();
    let uh = Target::pid(user.pid)
        .open(kinds(&[Kind::Uts, Kind::User]))
        .unwrap();
    let ph = Target::pid(plain.pid)
        .open(kinds(&[Kind::Uts, Kind::Net, Kind::Mnt]))
        .unwrap();
    on_thread(|| {
        let before = view(&THREAD_KINDS);
        // The test binary has many threads: user is refused up front.
        let err = uh
            .enter_permanently(kinds(&[Kind::Uts, Kind::User]))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::NeedsOtherApi {
                    kind: Kind::User,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(view(&THREAD_KINDS), before, "something was entered");
        // mnt fails on a thread that shares its fs context with others (EINVAL),
        // after uts and net went in: they must be left again.
        let err = ph
            .enter_permanently(kinds(&[Kind::Uts, Kind::Net, Kind::Mnt]))
            .unwrap_err();
        assert!(
            matches!(
                err,
                Error::Enter {
                    kind: Kind::Mnt,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            view(&THREAD_KINDS),
            before,
            "entered kinds were not rolled back"
        );
        // And a permanent entry that works stays, and is not undone by a guard.
        ph.enter_permanently(kinds(&[Kind::Uts])).unwrap();
        assert_eq!(thread_hostname(), plain.hostname);
        let guard = ph.enter(kinds(&[Kind::Net])).unwrap();
        guard.leave().unwrap();
        assert_eq!(thread_hostname(), plain.hostname);
    });
}

/// The way back is taken once per thread and kept; a thread that moves itself with
/// a raw setns(2) says so with forget_thread_home, and the next guard comes back to
/// where the thread really was, not to the namespace it started in.
#[test]
fn forget_thread_home_after_a_raw_setns() {
    if !common::root_or_skip("forget_thread_home_after_a_raw_setns") {
        return;
    }
    let _lock = shared();
    let (a, b) = (Sandbox::new(), Sandbox::new());
    let hb = Target::pid(b.pid).open(Kind::Net.into()).unwrap();
    let a_net = std::fs::File::open(format!("/proc/{}/ns/net", a.pid)).unwrap();
    on_thread(|| {
        let own = thread_ns_ino("net");
        // The first guard on this thread takes its home: our own net.
        hb.enter(Kind::Net.into()).unwrap().leave().unwrap();
        assert_eq!(thread_ns_ino("net"), own);
        // Moved behind nsjoin's back, then said so.
        rustix::thread::move_into_link_name_space(std::os::fd::AsFd::as_fd(&a_net), None).unwrap();
        nsjoin::forget_thread_home();
        hb.enter(Kind::Net.into()).unwrap().leave().unwrap();
        assert_eq!(
            thread_ns_ino("net"),
            a.ns_ino("net"),
            "went to a stale home"
        );
    });
}

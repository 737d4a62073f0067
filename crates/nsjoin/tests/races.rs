use nsjoin_test_support as common;

// Races between nsjoin and the life of its target: a target that exits after it was
// opened, a PID that is reused, a container that stops, processes that vanish
// during a namespace scan.

use std::os::fd::OwnedFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{exclusive, thread_ns_ino, Container, Sandbox};
use nsjoin::{Error, Kind, KindSet, Target};

const NET_UTS_IPC: [Kind; 3] = [Kind::Net, Kind::Uts, Kind::Ipc];

fn pidfd(pid: i32) -> OwnedFd {
    rustix::process::pidfd_open(
        rustix::process::Pid::from_raw(pid).unwrap(),
        rustix::process::PidfdFlags::empty(),
    )
    .unwrap()
}

/// Waits until the process behind `pidfd` has exited and `/proc/PID` is gone
/// (reaped), at most 5 s.
fn wait_gone(pidfd: &OwnedFd, pid: i32) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut fds = [rustix::event::PollFd::new(
            pidfd,
            rustix::event::PollFlags::IN,
        )];
        let zero = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        let exited = rustix::event::poll(&mut fds, Some(&zero)).unwrap() > 0;
        if exited && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            return;
        }
        assert!(Instant::now() < deadline, "process {pid} not reaped in 5 s");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The inodes of the calling thread's net, uts and ipc namespaces.
fn thread_inos() -> [u64; 3] {
    NET_UTS_IPC.map(|k| thread_ns_ino(k.name()))
}

#[test]
fn target_exiting_after_open_is_entered_into_the_opened_namespaces_only() {
    let Some(_lock) =
        common::root_shared("target_exiting_after_open_is_entered_into_the_opened_namespaces_only")
    else {
        return;
    };
    let kinds = KindSet::from(NET_UTS_IPC);
    let sandbox = Sandbox::new();
    let pid = sandbox.pid;
    let opened = NET_UTS_IPC.map(|k| sandbox.ns_ino(k.name()));
    let handles = Target::pid(pid).open(kinds).unwrap();
    for (kind, ino) in NET_UTS_IPC.iter().zip(opened) {
        assert_eq!(handles.get(*kind).unwrap().id().ino, ino, "{kind}");
    }
    let watch = pidfd(pid);
    drop(sandbox);
    wait_gone(&watch, pid);
    assert!(!handles.is_alive());

    let home = thread_inos();
    match handles.run(kinds, thread_inos) {
        // The held fds keep the namespaces alive: entering lands in exactly them.
        Ok(inside) => {
            eprintln!("entered the namespaces of an exited target");
            assert_eq!(inside, opened, "entered other namespaces")
        }
        // Or a clean refusal; never anything else.
        Err(e) => assert!(
            matches!(e, Error::TargetExited { .. } | Error::Enter { .. }),
            "{e:?}"
        ),
    }
    assert_eq!(thread_inos(), home, "the calling thread moved");

    // Opening again now fails: the process is gone.
    let err = Target::pid(pid).open(kinds).unwrap_err();
    assert!(
        matches!(err, Error::TargetExited { .. } | Error::Open { .. }),
        "{err:?}"
    );
}

/// Writes `/proc/sys/kernel/ns_last_pid` so that the next fork gets `pid` if no
/// other process forks first, and starts `unshare --net sleep` (no fork: it stays
/// the forked PID). Returns the child whatever PID it got.
fn spawn_at(pid: i32) -> Child {
    let _ = std::fs::write("/proc/sys/kernel/ns_last_pid", (pid - 1).to_string());
    Command::new("unshare")
        .args(["--net", "sleep", "100000"])
        .stdin(Stdio::null())
        .spawn()
        .unwrap()
}

/// What this proves: a pidfd of a process that has exited and been reaped never
/// opens anything — not even when its PID number is reused by a process in other
/// namespaces. Reuse is forced through `ns_last_pid` (root in the initial pid ns,
/// other processes may fork in between; it is retried a few times). Whether or not
/// reuse happened, `Target::Pidfd` must say the target is gone; the message printed
/// says which case was exercised. (The process is gone before the call, so the
/// error is the one [`Error::is_target_gone`] recognises, not `TargetExited`.)
#[test]
fn pidfd_of_reaped_process_never_opens_the_namespaces_of_a_new_process() {
    if !common::root_or_skip("pidfd_of_reaped_process_never_opens_the_namespaces_of_a_new_process")
    {
        return;
    }
    // ns_last_pid and forks: nothing else of this binary may fork meanwhile.
    let _lock = exclusive();
    let mut reused = false;
    for _ in 0..5 {
        let sandbox = Sandbox::new();
        let old_pid = sandbox.pid;
        let old_net = sandbox.ns_ino("net");
        let old = pidfd(old_pid);
        drop(sandbox);
        wait_gone(&old, old_pid);

        let mut new = spawn_at(old_pid);
        let new_pid = new.id() as i32;
        // Wait until unshare has exec'd sleep in its own netns.
        let deadline = Instant::now() + Duration::from_secs(5);
        while common::ns_ino(new_pid, "net") == old_net
            || std::fs::read_to_string(format!("/proc/{new_pid}/comm")).unwrap() != "sleep\n"
        {
            assert!(Instant::now() < deadline, "unshare --net did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        let new_net = common::ns_ino(new_pid, "net");

        let result = Target::Pidfd(old).open(KindSet::from(NET_UTS_IPC));
        let _ = new.kill();
        let _ = new.wait();
        match result {
            Err(e) if e.is_target_gone() => {}
            Err(e) => panic!("expected 'gone', got {e:?}"),
            Ok(h) => panic!(
                "a dead pidfd opened namespaces (net {}, new process's {new_net})",
                h.get(Kind::Net).unwrap().id().ino
            ),
        }
        if new_pid == old_pid {
            reused = true;
            break;
        }
    }
    eprintln!(
        "pidfd_of_reaped_process_never_opens_the_namespaces_of_a_new_process: PID reuse {}",
        if reused {
            "forced and refused"
        } else {
            "not achieved; only the dead-pidfd refusal was checked"
        }
    );
}

#[test]
fn docker_container_stopped_after_resolution_is_refused_with_a_clear_error() {
    let Some(_lock) = common::root_shared(
        "docker_container_stopped_after_resolution_is_refused_with_a_clear_error",
    ) else {
        return;
    };
    let Some(c) = Container::start_or_skip(
        "docker_container_stopped_after_resolution_is_refused_with_a_clear_error",
    ) else {
        return;
    };
    let spec = format!("docker://{}", c.name);
    let target = Target::container(&spec).unwrap();
    let Target::Container(cref) = &target else {
        unreachable!()
    };
    let resolved = nsjoin::container::resolve(cref).unwrap();
    assert_eq!(resolved.pid, c.pid);
    let early = pidfd(resolved.pid);
    let container_net = common::ns_ino(c.pid, "net");

    let ok = common::docker()
        .args(["stop", "-t", "0", &c.name])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "docker stop failed");
    wait_gone(&early, resolved.pid);

    let kinds = KindSet::from(NET_UTS_IPC);
    // The pidfd taken at resolution time: the process it names has exited.
    match Target::Pidfd(early).open(kinds) {
        Err(e) if e.is_target_gone() => {}
        other => panic!("expected 'gone', got {other:?}"),
    }
    // The resolved PID number: gone (or, if reused, never the container's).
    match Target::pid(resolved.pid).open(kinds) {
        Err(Error::TargetExited { .. } | Error::Open { .. }) => {}
        Err(e) => panic!("unexpected error {e:?}"),
        // A reused PID: another process, never the stopped container's netns.
        Ok(h) => assert_ne!(h.get(Kind::Net).unwrap().id().ino, container_net),
    }
    // Resolving again: the engine says it is not running, in one line naming it.
    let err = target.open(kinds).unwrap_err();
    assert!(matches!(err, Error::Container { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&spec) && !msg.contains('\n'), "{msg}");
}

#[test]
fn scan_succeeds_while_many_short_lived_processes_come_and_go() {
    let Some(_lock) =
        common::root_exclusive("scan_succeeds_while_many_short_lived_processes_come_and_go")
    else {
        return;
    };
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let churners: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0;
                    while !stop.load(Ordering::Relaxed) {
                        // Each of these forks a few more that exit at once.
                        let mut child = Command::new("sh")
                            .args(["-c", "true & true & sleep 0.001 & wait"])
                            .stdin(Stdio::null())
                            .spawn()
                            .unwrap();
                        if n % 2 == 0 {
                            // Killed mid-way instead of exiting by itself.
                            let _ = child.kill();
                        }
                        let _ = child.wait();
                        n += 1;
                    }
                    n
                })
            })
            .collect();
        let result = (|| {
            for round in 0..15 {
                let scan = if round % 2 == 0 {
                    nsjoin::Scan::new()
                } else {
                    nsjoin::Scan::new().threads(1)
                };
                let listing = scan.run().map_err(|e| format!("round {round}: {e:?}"))?;
                let me = std::process::id() as i32;
                if listing.process(me).is_none() {
                    return Err(format!("round {round}: the scan lost this process"));
                }
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        let spawned: usize = churners.into_iter().map(|t| t.join().unwrap()).sum();
        result.unwrap();
        assert!(spawned > 0);
    });
}

/// What this proves: an engine's answer is bound to the container before anything
/// is entered. The Docker container's init is killed after the engine answered, its
/// PID is handed to an impostor (a `sleep` in a fresh netns, through `ns_last_pid`),
/// and then the answer is opened: refused, because the impostor's cgroup does not
/// name the container. A plain PID target for the same number enters the impostor,
/// which shows the reuse really happened in that round.
#[test]
fn docker_init_replaced_between_answer_and_entry_is_refused() {
    let Some(_lock) =
        common::root_exclusive("docker_init_replaced_between_answer_and_entry_is_refused")
    else {
        return;
    };
    let mut reused = false;
    for _ in 0..5 {
        let Some(c) =
            Container::start_or_skip("docker_init_replaced_between_answer_and_entry_is_refused")
        else {
            return;
        };
        let spec = format!("docker://{}", c.name);
        let target = Target::container(&spec).unwrap();
        let Target::Container(cref) = &target else {
            unreachable!()
        };
        let answer = nsjoin::container::resolve(cref).unwrap();
        let pid = answer.pid;
        let early = pidfd(pid);
        let status = common::docker()
            .args(["kill", &c.name])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "docker kill failed");
        wait_gone(&early, pid);
        let mut impostor = spawn_at(pid);
        let impostor_pid = impostor.id() as i32;
        let deadline = Instant::now() + Duration::from_secs(5);
        while impostor_pid == pid
            && std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .ok()
                .as_deref()
                != Some("sleep\n")
        {
            assert!(Instant::now() < deadline, "the impostor did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        let result = target.open_resolved(answer, KindSet::from(NET_UTS_IPC));
        let plain = (impostor_pid == pid).then(|| Target::pid(pid).open(Kind::Net.into()));
        let impostor_net = common::ns_ino(impostor_pid, "net");
        let _ = impostor.kill();
        let _ = impostor.wait();
        match result {
            Err(Error::Container { why, .. }) if impostor_pid == pid => {
                assert!(
                    why.to_string().contains("not in a cgroup of container"),
                    "{why}"
                );
            }
            Err(e) if impostor_pid != pid => {
                assert!(
                    e.is_target_gone() || matches!(e, Error::Container { .. }),
                    "{e:?}"
                );
            }
            Err(e) => panic!("unexpected error {e:?}"),
            Ok(h) => panic!(
                "entered process {pid} (net {}, impostor's {impostor_net})",
                h.get(Kind::Net).unwrap().id().ino
            ),
        }
        if let Some(plain) = plain {
            let plain = plain.expect("the impostor is a process like any other");
            assert_eq!(plain.get(Kind::Net).unwrap().id().ino, impostor_net);
            reused = true;
            break;
        }
    }
    eprintln!(
        "docker_init_replaced_between_answer_and_entry_is_refused: PID reuse {}",
        if reused {
            "forced; the impostor was refused"
        } else {
            "not achieved; only the dead-init refusal was checked"
        }
    );
}

use nsjoin_test_support as common;

// Leaks under load and on failure: many guard cycles on many threads leave every
// thread where it was and the fd table as it was; a Spawn that fails leaves the
// caller's namespaces, fds and children alone; a program gets no fd of nsjoin's.
// SECURITY.md cites these tests by name. (A panic in run_in: run.rs.)

use std::collections::BTreeSet;
use std::fs;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{children, fd_count, Sandbox};
use nsjoin::{Dir, Error, Home, Kind, KindSet, Spawn, Target};

const KINDS: [Kind; 3] = [Kind::Net, Kind::Uts, Kind::Ipc];
const THREADS: usize = 16;
const CYCLES: usize = 100_000;

/// The namespaces (`/proc/.../ns/KIND` links) of a task, for every kind there is.
fn ns_of(dir: &str) -> Vec<(String, String)> {
    try_ns_of(dir).unwrap()
}

/// As `ns_of`, or None when the task is gone.
fn try_ns_of(dir: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    for e in fs::read_dir(format!("{dir}/ns")).ok()? {
        let e = e.ok()?;
        let link = fs::read_link(e.path()).ok()?;
        out.push((
            e.file_name().to_string_lossy().into_owned(),
            link.to_string_lossy().into_owned(),
        ));
    }
    out.sort();
    Some(out)
}

/// The distinct namespace sets of this process's threads. A set, not a per-thread
/// list: libtest's own threads come and go while a test runs (one that has just
/// released the lock may still be exiting), and what must not change is that no
/// thread is left in a namespace the caller was not in.
fn all_tasks_ns() -> BTreeSet<Vec<(String, String)>> {
    fs::read_dir("/proc/self/task")
        .unwrap()
        // A thread that exits between the listing and the read is gone, not moved.
        .filter_map(|e| try_ns_of(e.ok()?.path().to_str()?))
        .collect()
}

#[test]
fn hundred_thousand_guard_cycles_on_sixteen_threads_leak_nothing() {
    let Some(_lock) =
        common::root_exclusive("hundred_thousand_guard_cycles_on_sixteen_threads_leak_nothing")
    else {
        return;
    };
    let sandboxes: Vec<Sandbox> = (0..4).map(|_| Sandbox::new()).collect();
    let kinds = KindSet::from(KINDS);
    let handles: Vec<_> = sandboxes
        .iter()
        .map(|s| Target::pid(s.pid).open(kinds).unwrap())
        .collect();
    let threads_before = common::thread_count();
    let tasks_before = all_tasks_ns();
    let fds_before = fd_count();
    let barrier = Barrier::new(THREADS);
    std::thread::scope(|scope| {
        for t in 0..THREADS {
            let (handles, sandboxes, barrier) = (&handles, &sandboxes, &barrier);
            scope.spawn(move || {
                let mine = ns_of("/proc/thread-self");
                // Half the threads come back through a Home, half save each time.
                let home = (t % 2 == 0).then(|| Home::save(kinds).unwrap());
                barrier.wait();
                for i in 0..CYCLES / THREADS {
                    // Each cycle, another sandbox and another subset of the kinds.
                    let s = (t + i) % handles.len();
                    let which = match i % 4 {
                        0 => kinds,
                        1 => KindSet::from(Kind::Net),
                        2 => KindSet::from([Kind::Uts, Kind::Ipc]),
                        _ => KindSet::from(Kind::Uts),
                    };
                    let guard = match &home {
                        Some(home) => handles[s].enter_from(home, which).unwrap(),
                        None => handles[s].enter(which).unwrap(),
                    };
                    if i % 997 == 0 && which.contains(Kind::Uts) {
                        assert_eq!(common::thread_hostname(), sandboxes[s].hostname);
                    }
                    guard.leave().unwrap();
                }
                assert_eq!(ns_of("/proc/thread-self"), mine, "thread {t}");
            });
        }
    });
    common::wait_for_threads(threads_before);
    assert_eq!(all_tasks_ns(), tasks_before);
    assert_eq!(fd_count(), fds_before);
}

/// What a failed spawn must leave as it was.
#[derive(Debug, PartialEq)]
struct Caller {
    ns: BTreeSet<Vec<(String, String)>>,
    fds: usize,
    children: BTreeSet<i32>,
    cwd: std::path::PathBuf,
}

fn caller() -> Caller {
    Caller {
        ns: all_tasks_ns(),
        fds: fd_count(),
        children: children(),
        cwd: std::env::current_dir().unwrap(),
    }
}

#[test]
fn failed_spawn_leaves_the_caller_as_it_was() {
    let Some(_lock) = common::root_exclusive("failed_spawn_leaves_the_caller_as_it_was") else {
        return;
    };
    let plain = Sandbox::new();
    let user = Sandbox::with_user();
    let plain_h = Target::pid(plain.pid).open(KindSet::supported()).unwrap();
    let user_h = Target::pid(user.pid).open(KindSet::supported()).unwrap();
    let before = caller();
    for round in 0..20 {
        // exec of a missing program
        let err = Spawn::new(&plain_h)
            .output(Command::new("/nonexistent/program"))
            .unwrap_err();
        assert!(matches!(err, Error::Exec { .. }), "{err:?}");
        // a working directory that does not exist inside
        let err = Spawn::new(&plain_h)
            .cwd(Dir::Inside("/nonexistent/dir".into()))
            .output(Command::new("true"))
            .unwrap_err();
        assert!(err.to_string().contains("cannot change directory"), "{err}");
        // a uid the user namespace does not map
        let err = Spawn::new(&user_h)
            .uid(1000)
            .gid(0)
            .output(Command::new("true"))
            .unwrap_err();
        assert!(err.to_string().contains("setuid failed"), "{err}");
        // a gid it does not map
        let err = Spawn::new(&user_h)
            .gid(1000)
            .output(Command::new("true"))
            .unwrap_err();
        assert!(err.to_string().contains("setgid failed"), "{err}");
        // and the same from a pid namespace entered without forking the program
        let err = Spawn::new(&plain_h)
            .kinds(KindSet::from([Kind::Pid, Kind::Uts]))
            .output(Command::new("/nonexistent/program"))
            .unwrap_err();
        assert!(matches!(err, Error::Exec { .. }), "{err:?}");
        assert_eq!(caller(), before, "round {round}");
    }
    // The spawns still work afterwards.
    let out = Spawn::new(&user_h).output(Command::new("true")).unwrap();
    assert!(out.status.success());
    assert_eq!(caller(), before);
}

/// The fds of a running process.
fn fds_of(pid: u32) -> BTreeSet<i32> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect()
}

fn is_cloexec(fd: i32) -> bool {
    let info = fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap();
    let flags = info
        .lines()
        .find_map(|l| l.strip_prefix("flags:"))
        .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
        .unwrap();
    flags & 0o2000000 != 0
}

#[test]
fn program_gets_no_fd_of_nsjoin_but_the_callers_own_inheritable_ones() {
    let Some(_lock) =
        common::root_exclusive("program_gets_no_fd_of_nsjoin_but_the_callers_own_inheritable_ones")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let handles = Target::pid(sandbox.pid).open(KindSet::supported()).unwrap();
    // An fd the caller made itself without O_CLOEXEC: std does not close it, and
    // neither does nsjoin (documented in SECURITY.md).
    let leaky: OwnedFd = rustix::fs::open(
        "/dev/null",
        rustix::fs::OFlags::RDONLY,
        rustix::fs::Mode::empty(),
    )
    .unwrap();
    let leaky_fd = std::os::fd::AsRawFd::as_raw_fd(&leaky);
    let inheritable: BTreeSet<i32> = fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .filter(|fd| fs::metadata(format!("/proc/self/fdinfo/{fd}")).is_ok() && !is_cloexec(*fd))
        .chain(0..3)
        .collect();
    assert!(inheritable.contains(&leaky_fd));
    for pid_ns in [false, true] {
        let mut spawn = Spawn::new(&handles);
        spawn
            .root(Dir::Target)
            .cwd(Dir::Target)
            .target_env(true)
            .die_with_parent(true)
            .uid(65534)
            .gid(65534);
        if !pid_ns {
            spawn.kinds(KindSet::from([Kind::Net, Kind::Uts, Kind::Mnt]));
        }
        let mut cmd = Command::new("/bin/sleep");
        cmd.arg("100000")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = spawn.spawn(cmd).unwrap();
        // sleep may hold a locale file for a moment while it starts; an fd of
        // nsjoin's would stay.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut fds = fds_of(child.id());
        while !fds.is_subset(&inheritable) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            fds = fds_of(child.id());
        }
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(fds.contains(&leaky_fd), "pid_ns={pid_ns}: {fds:?}");
        assert!(
            fds.is_subset(&inheritable),
            "pid_ns={pid_ns}: {fds:?} ⊄ {inheritable:?}"
        );
    }
}

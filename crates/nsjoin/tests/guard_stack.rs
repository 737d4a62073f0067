//! Many guards: nested and out of order on one thread (the per-thread stack),
//! on sixteen threads at once, from an explicit home, enter_permanently, and
//! no fd left behind.

use nsjoin_test_support as common;

use std::io::Write;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use common::{thread_hostname, thread_ns_ino, NetnsFile, Sandbox};
use nsjoin::{Error, Kind, KindSet, Target};

mod guard_fixtures;
use guard_fixtures::*;

/// A process that moves itself into fresh net and uts namespaces when told to
/// (`unshare` without `--fork` execs in place: same PID, new namespaces).
struct Mover {
    child: Child,
    stdin: Option<ChildStdin>,
    pid: i32,
}

impl Mover {
    fn start() -> Mover {
        let mut child = common::spawn_ready(
            Command::new("/bin/sh")
                .args([
                    "-c",
                    "echo ready; read go; exec unshare --net --uts sleep 100000",
                ])
                .stdin(Stdio::piped()),
        );
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

// ---------------------------------------------------------------------------
// Several guards.

#[test]
fn nested_guards_on_two_sandboxes_restore_in_reverse() {
    let Some(_lock) = common::root_shared("nested_guards_on_two_sandboxes_restore_in_reverse")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_exclusive("sixteen_threads_hold_guards_on_four_sandboxes_concurrently")
    else {
        return;
    };
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
    let Some(_lock) = common::root_exclusive("guards_leak_no_fd") else {
        return;
    };
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

#[test]
fn guard_of_a_kind_not_opened_is_not_provided_and_enters_nothing() {
    let Some(_lock) =
        common::root_shared("guard_of_a_kind_not_opened_is_not_provided_and_enters_nothing")
    else {
        return;
    };
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

/// `Handles` pin the namespaces that were opened; a guard must enter those, as
/// `Handles::get(kind).id()` reports them, even if the target process has moved to
/// other namespaces since.
#[test]
fn guard_enters_the_opened_namespaces_even_after_the_target_moved() {
    let Some(_lock) =
        common::root_shared("guard_enters_the_opened_namespaces_even_after_the_target_moved")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_exclusive("guards_from_a_home_enter_and_come_back_without_opening_anything")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_shared("a_home_inside_another_guard_comes_back_to_that_guard_not_home")
    else {
        return;
    };
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
    let Some(_lock) = common::root_shared("guards_left_out_of_order_end_where_they_started") else {
        return;
    };
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

/// A guard of one kind puts its frame on the thread's stack before its setns; if
/// the setns fails, the frame comes off again (else the guard before it would no
/// longer be the innermost, and would not move the thread when left). A way back
/// that fails is reported, with the thread where the error says.
#[test]
fn a_single_kind_that_fails_to_enter_or_leave_leaves_the_stack_as_it_was() {
    let Some(_lock) = common::root_shared(
        "a_single_kind_that_fails_to_enter_or_leave_leaves_the_stack_as_it_was",
    ) else {
        return;
    };
    let (a, b) = (Sandbox::new(), Sandbox::new());
    let net = KindSet::from(Kind::Net);
    let (ha, hb) = (
        Target::pid(a.pid).open(net).unwrap(),
        Target::pid(b.pid).open(net).unwrap(),
    );
    // setns needs CAP_SYS_ADMIN; capabilities belong to the thread.
    let without_sys_admin = || {
        use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
        let had = capabilities(None).unwrap();
        let mut less = had;
        less.effective.remove(CapabilitySet::SYS_ADMIN);
        set_capabilities(None, less).unwrap();
        move || set_capabilities(None, had).unwrap()
    };
    on_thread(|| {
        let before = view(&THREAD_KINDS);
        let outer = ha.enter(net).unwrap();
        let give_back = without_sys_admin();
        let by_handles = hb.enter(net).unwrap_err();
        let in_one_statement = nsjoin::enter(&Target::pid(b.pid), net).unwrap_err();
        give_back();
        for err in [by_handles, in_one_statement] {
            assert!(
                matches!(
                    err,
                    Error::Enter {
                        kind: Kind::Net,
                        ..
                    }
                ),
                "{err:?}"
            );
            assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err:?}");
        }
        assert_eq!(thread_ns_ino("net"), a.ns_ino("net"));
        outer.leave().unwrap();
        assert_eq!(
            view(&THREAD_KINDS),
            before,
            "the failed guards stayed on the stack"
        );

        let guard = hb.enter(net).unwrap();
        let give_back = without_sys_admin();
        let err = guard.leave().unwrap_err();
        give_back();
        assert!(
            matches!(
                err,
                Error::Restore {
                    kind: Kind::Net,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err:?}");
        assert_eq!(thread_ns_ino("net"), b.ns_ino("net"));
        // As the docs say, the thread must not run on: it ends here.
    });
}

/// Defect: enter_permanently, refused on user in a multithreaded process, had
/// already entered uts and left it so; a later kind failing left earlier ones
/// entered. All or nothing now.
#[test]
fn enter_permanently_is_all_or_nothing() {
    let Some(_lock) = common::root_shared("enter_permanently_is_all_or_nothing") else {
        return;
    };
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
    let Some(_lock) = common::root_shared("forget_thread_home_after_a_raw_setns") else {
        return;
    };
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

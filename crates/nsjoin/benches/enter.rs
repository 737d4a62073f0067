//! How much entering and leaving namespaces costs, against the floor of two bare
//! setns(2) calls. Needs root (setns needs CAP_SYS_ADMIN); makes its own target, a
//! `sleep` in fresh namespaces under util-linux `unshare`, and kills it at the end
//! (and if this process dies first: the holder gets SIGKILL through `setpriv
//! --pdeathsig`, and unshare's `--kill-child` takes the sleep along).
//!
//! ```sh
//! cargo bench --bench enter -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! | id | what one iteration does |
//! |---|---|
//! | `raw_setns_pair/net` | setns into the target's net fd and back into ours, both opened in advance: the floor |
//! | `guard_cycle_preopened/net` | plain `Handles::enter` + `Guard::leave` on handles opened once (the thread's way back is taken once per thread) |
//! | `guard_cycle_home/net` | `Handles::enter_from` an explicit `Home` + `Guard::leave` |
//! | `raw_setns_pair_in_fn/net` | the floor again, each setns made in a function of its own that returns after it (see `guard::guarded` for why that costs) |
//! | `raw_setns_pair_guard_fds/net` | the floor on the fds a guard uses (the target's from `Target::open`, ours as a guard saves it) |
//! | `guard_cycle_oneshot/net` | `nsjoin::enter(&target, net)` + leave: one statement, through the process's pidfd (`with Namespace(pid, 'net')`) |
//! | `guard_cycle_open_enter/net` | `Target::open` + `Handles::enter` + leave + close: the namespace files opened each time |
//! | `run_in/net` | `nsjoin::run_in`: open, a closure on a thread of its own, join |
//! | `spawn_true/all` | `/bin/true` inside net, uts, ipc, mnt and pid (`Spawn`, pre-opened handles), waited for |

use std::os::fd::{AsFd, OwnedFd};
use std::process::Command;

use nsjoin_test_support as common;

use common::Sandbox;
use criterion::Criterion;
use nsjoin::{Kind, KindSet, Spawn, Target};
use rustix::fs::{Mode, OFlags};
use rustix::thread::move_into_link_name_space;

fn open_ns(path: &str) -> OwnedFd {
    rustix::fs::open(path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty())
        .unwrap_or_else(|e| panic!("cannot open {path}: {e}"))
}

#[inline(never)]
fn setns_in_fn(fd: std::os::fd::BorrowedFd<'_>) {
    move_into_link_name_space(fd, None).expect("setns");
}

fn benches(c: &mut Criterion, sandbox: &Sandbox) {
    let target = Target::pid(sandbox.pid);
    let net = KindSet::from(Kind::Net);

    // The floor: what any correct enter+leave must at least do.
    let theirs = open_ns(&format!("/proc/{}/ns/net", sandbox.pid));
    let ours = open_ns("/proc/thread-self/ns/net");
    c.bench_function("raw_setns_pair/net", |b| {
        b.iter(|| {
            move_into_link_name_space(theirs.as_fd(), None).expect("setns into the target");
            move_into_link_name_space(ours.as_fd(), None).expect("setns back");
        })
    });

    // The floor made the way a plain library function would make it: each setns in
    // a function that returns after it. Where the kernel untrains the CPU's return
    // predictor on system call entry, each such return costs hundreds of ns.
    c.bench_function("raw_setns_pair_in_fn/net", |b| {
        b.iter(|| {
            setns_in_fn(theirs.as_fd());
            setns_in_fn(ours.as_fd());
        })
    });

    // The target opened once; plain enter/leave (the default way back).
    let handles = target.open(net).expect("open the sandbox's net namespace");

    // The floor again, on the very files a guard uses: the target's namespace as
    // `Target::open` opened it and this thread's as the guard saves it. Any gap
    // between this and `raw_setns_pair` is the kernel's, not the guard's.
    let mine = nsjoin::Namespace::current(Kind::Net).expect("this thread's net namespace");
    let theirs_opened = handles.get(Kind::Net).expect("the net namespace");
    c.bench_function("raw_setns_pair_guard_fds/net", |b| {
        b.iter(|| {
            move_into_link_name_space(theirs_opened.as_fd(), None).expect("setns into the target");
            move_into_link_name_space(mine.as_fd(), None).expect("setns back");
        })
    });
    c.bench_function("guard_cycle_preopened/net", |b| {
        b.iter(|| handles.enter(net).expect("enter").leave().expect("leave"))
    });

    // The same with an explicit Home.
    let home = nsjoin::Home::save(net).expect("save this thread's net namespace");
    c.bench_function("guard_cycle_home/net", |b| {
        b.iter(|| {
            handles
                .enter_from(&home, net)
                .expect("enter")
                .leave()
                .expect("leave")
        })
    });

    c.bench_function("guard_cycle_oneshot/net", |b| {
        b.iter(|| {
            nsjoin::enter(&target, net)
                .expect("enter")
                .leave()
                .expect("leave")
        })
    });

    c.bench_function("guard_cycle_open_enter/net", |b| {
        b.iter(|| {
            let handles = target.open(net).expect("open");
            handles.enter(net).expect("enter").leave().expect("leave");
        })
    });

    c.bench_function("run_in/net", |b| {
        b.iter(|| nsjoin::run_in(&target, net, || std::hint::black_box(1)).expect("run_in"))
    });

    let five = KindSet::from([Kind::Net, Kind::Uts, Kind::Ipc, Kind::Mnt, Kind::Pid]);
    let all = target.open(five).expect("open the sandbox's namespaces");
    c.bench_function("spawn_true/all", |b| {
        b.iter(|| {
            let status = Spawn::new(&all)
                .kinds(five)
                .status(Command::new("/bin/true"))
                .expect("spawn /bin/true");
            assert!(status.success());
        })
    });
}

fn main() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("benches/enter.rs: skipped: entering namespaces needs root");
        return;
    }
    let mut c = Criterion::default().configure_from_args();
    let sandbox = Sandbox::new();
    benches(&mut c, &sandbox);
    drop(sandbox);
    c.final_summary();
}

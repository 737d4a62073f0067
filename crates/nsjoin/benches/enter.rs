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
//! | `guard_cycle_oneshot/net` | `Target::open` + enter + leave + close (`with Namespace(pid, 'net')`) |
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

    // The target opened once; plain enter/leave (the default way back).
    let handles = target.open(net).expect("open the sandbox's net namespace");
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

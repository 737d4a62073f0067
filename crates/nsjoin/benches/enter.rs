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
//! | `guard_cycle_preopened/net` | `Handles::enter` + `Guard::leave`, the target opened once |
//! | `guard_cycle_oneshot/net` | `Target::open` + enter + leave + close (`with Namespace(pid, 'net')`) |
//! | `run_in/net` | `nsjoin::run_in`: open, a closure on a thread of its own, join |
//! | `spawn_true/all` | `/bin/true` inside net, uts, ipc, mnt and pid (`Spawn`, pre-opened handles), waited for |

use std::io::{BufRead, BufReader};
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};

use criterion::Criterion;
use nsjoin::{Kind, KindSet, Spawn, Target};
use rustix::fs::{Mode, OFlags};
use rustix::thread::move_into_link_name_space;

/// A `sleep` in fresh uts, net, ipc, pid, mnt and cgroup namespaces; killed on drop.
struct Sandbox {
    holder: Child,
    pid: i32,
}

impl Sandbox {
    fn start() -> Sandbox {
        let mut holder = Command::new("setpriv")
            .args(["--pdeathsig", "KILL", "--", "unshare"])
            .args(["--uts", "--net", "--ipc", "--pid", "--mount", "--cgroup"])
            .args(["--fork", "--kill-child", "/bin/sh", "-c"])
            .arg("echo ready; exec sleep 100000")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot run setpriv/unshare (util-linux)");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("reading from the sandbox");
        assert_eq!(line.trim(), "ready", "the sandbox did not start");
        // setpriv execs unshare, so the holder's child is the sandboxed shell/sleep.
        let pid = child_of(holder.id() as i32).expect("sandbox process not found");
        Sandbox { holder, pid }
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.holder.kill();
        let _ = self.holder.wait();
    }
}

fn child_of(pid: i32) -> Option<i32> {
    for _ in 0..200 {
        if let Ok(list) = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children")) {
            if let Some(first) = list.split_whitespace().next() {
                return first.parse().ok();
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    None
}

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

    let handles = target.open(net).expect("open the sandbox's net namespace");
    c.bench_function("guard_cycle_preopened/net", |b| {
        b.iter(|| handles.enter(net).expect("enter").leave().expect("leave"))
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
    let sandbox = Sandbox::start();
    benches(&mut c, &sandbox);
    drop(sandbox);
    c.final_summary();
}

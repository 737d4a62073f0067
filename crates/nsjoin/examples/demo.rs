//! Starts a sandbox process in fresh uts/net/ipc/pid/mnt/cgroup namespaces, then
//! uses the library three ways to look inside it and prints what it sees inside
//! next to what it sees outside. Run as root: `cargo run --example demo`.

use nsjoin_test_support as common;

use std::process::{Command, ExitCode};

use nsjoin::{Kind, KindSet, NsId, Spawn, Target};

fn interfaces() -> String {
    // /proc/thread-self/net follows the calling thread's network namespace.
    let dev = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap_or_default();
    let names: Vec<_> = dev
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(str::trim)
        .collect();
    names.join(" ")
}

fn view() -> [String; 3] {
    [
        common::thread_hostname(),
        interfaces(),
        format!(
            "net:[{}] uts:[{}]",
            NsId::current(Kind::Net).map_or(0, |i| i.ino),
            NsId::current(Kind::Uts).map_or(0, |i| i.ino)
        ),
    ]
}

fn main() -> ExitCode {
    if !rustix::process::geteuid().is_root() {
        eprintln!("demo: run me as root (entering namespaces needs CAP_SYS_ADMIN)");
        return ExitCode::FAILURE;
    }
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> nsjoin::Result<()> {
    let sandbox = common::Sandbox::new();
    println!(
        "started a sandbox: PID {} in new uts, net, ipc, pid, mnt and cgroup namespaces\n",
        sandbox.pid
    );
    let target = Target::pid(sandbox.pid);

    // 1. run_in: a closure on a thread of its own, inside net + uts + mnt.
    let outside = view();
    let inside = nsjoin::run_in(
        &target,
        KindSet::from([Kind::Net, Kind::Uts, Kind::Mnt]),
        view,
    )?;
    println!("{:<12} {:<36} inside (run_in)", "", "outside");
    for (label, (o, i)) in ["hostname", "interfaces", "namespaces"]
        .iter()
        .zip(outside.iter().zip(inside.iter()))
    {
        println!("{label:<12} {o:<36} {i}");
    }

    // 2. Guard: this very thread goes in and comes back.
    let handles = target.open(KindSet::supported())?;
    let guard = handles.enter(KindSet::from(Kind::Uts))?;
    println!(
        "\nGuard: hostname on this thread inside: {}",
        common::thread_hostname()
    );
    guard.leave()?;
    println!(
        "Guard: hostname on this thread after leave(): {}",
        common::thread_hostname()
    );

    // 3. Spawn: a program in every namespace, pid included.
    let out = Spawn::new(&handles).output({
        let mut cmd = Command::new("/bin/sh");
        cmd.args([
            "-c",
            "echo \"pid inside: $$, hostname: $(cat /proc/sys/kernel/hostname)\"",
        ]);
        cmd
    })?;
    print!("\nSpawn: {}", String::from_utf8_lossy(&out.stdout));
    Ok(())
}

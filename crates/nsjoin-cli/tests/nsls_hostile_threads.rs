//! `nsls` with no threads to be had (RLIMIT_NPROC, a full pids cgroup, a small
//! address space, many processes in it): it scans on the calling thread and prints
//! what it prints without the limit. Every run of nsls is bounded in time and
//! memory, and what it prints on failure is one line and exit status 1: never a
//! panic (101) or an abort (134).

use nsjoin_test_support as common;

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Sandbox, TempDir};
use nsjoin::KindSet;

mod nsls_hostile_fixtures;
use nsls_hostile_fixtures::*;

/// What `ARGS` print for the sandbox's own namespaces (`-p PID`, its fresh kinds
/// only, so that nothing another test does changes the rows).
fn sandbox_args(sandbox: &Sandbox) -> Vec<String> {
    let mut args = vec!["-p".to_owned(), sandbox.pid.to_string()];
    for kind in ["uts", "net", "ipc", "pid", "mnt", "cgroup"] {
        args.extend(["-t".to_owned(), kind.to_owned()]);
    }
    args.extend(
        [
            "-n",
            "-r",
            "-o",
            "NS,TYPE,NPROCS,PID,PNS,ONS,NETNSID,COMMAND",
        ]
        .map(str::to_owned),
    );
    args
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

// ---- Item 5: no threads to be had ------------------------------------------

/// What nsls prints for `args` without limits: what every limited run must print.
fn unlimited(args: &[String]) -> String {
    nsls(Limits::default(), &strs(args))
        .success("nsls without limits")
        .to_owned()
}

/// RLIMIT_NPROC applies to a user's processes and threads together. As nobody,
/// with a limit of 1, nsls is that one process and can start no thread: it scans
/// on its own thread and lists what nobody may see (its own namespaces).
#[test]
fn nproc_limit_leaves_the_scan_to_the_calling_thread() {
    let Some(_g) = common::root_shared("nproc_limit_leaves_the_scan_to_the_calling_thread") else {
        return;
    };
    // The build tree may be in a directory nobody cannot enter.
    let dir = TempDir::new("nsls-nproc");
    let copy = dir.path().join("nsls");
    std::fs::copy(NSLS, &copy).unwrap();
    let copy = copy.to_str().unwrap();
    let limits = Limits {
        nproc: Some(1),
        ..Limits::default()
    };
    let setpriv = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let out = run(
        limited(&setpriv, limits, copy, &["-n", "-r", "-o", "TYPE,NPROCS"]),
        true,
    );
    let stdout = out.success("nsls as nobody with --nproc=1");
    let kinds: BTreeSet<&str> = stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    let supported: BTreeSet<&str> = KindSet::supported().iter().map(|k| k.name()).collect();
    assert_eq!(kinds, supported, "{stdout}");
}

/// A pids cgroup: v2 where its controller is there, else v1 (this machine's
/// hybrid layout has pids on v1 only). Made for one test, removed on drop.
struct PidsCgroup {
    dir: PathBuf,
}

impl PidsCgroup {
    /// A cgroup whose `pids.max` is `max`, or `None` where no pids controller is
    /// mounted.
    fn new(max: u32) -> Option<PidsCgroup> {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "nsjoin-test-{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mut roots: Vec<(PathBuf, bool)> = Vec::new();
        for line in mountinfo.lines() {
            let Some((mount, fs)) = line.split_once(" - ") else {
                continue;
            };
            let Some(target) = mount.split(' ').nth(4) else {
                continue;
            };
            let fs: Vec<&str> = fs.split(' ').collect();
            let root = PathBuf::from(target);
            match fs.first() {
                Some(&"cgroup2") => {
                    let controllers = std::fs::read_to_string(root.join("cgroup.controllers"))
                        .unwrap_or_default();
                    if controllers.split_whitespace().any(|c| c == "pids") {
                        roots.insert(0, (root, true));
                    }
                }
                Some(&"cgroup") if fs.get(2).is_some_and(|o| o.split(',').any(|o| o == "pids")) => {
                    roots.push((root, false))
                }
                _ => {}
            }
        }
        for (root, v2) in roots {
            if v2 {
                let control = root.join("cgroup.subtree_control");
                let enabled = std::fs::read_to_string(&control).unwrap_or_default();
                if !enabled.split_whitespace().any(|c| c == "pids")
                    && std::fs::write(&control, "+pids").is_err()
                {
                    continue;
                }
            }
            let dir = root.join(&name);
            if std::fs::create_dir(&dir).is_err() {
                continue;
            }
            let cgroup = PidsCgroup { dir };
            std::fs::write(cgroup.dir.join("pids.max"), max.to_string()).unwrap();
            return Some(cgroup);
        }
        None
    }

    /// `sh -c` that moves itself into the cgroup, then execs the rest.
    fn prefix(&self) -> Vec<String> {
        vec![
            "sh".into(),
            "-c".into(),
            r#"echo $$ > "$0/cgroup.procs" && exec "$@""#.into(),
            self.dir.display().to_string(),
        ]
    }
}

impl Drop for PidsCgroup {
    fn drop(&mut self) {
        // Empty once its process has been waited for; rmdir is all it takes.
        for _ in 0..100 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!("could not remove {}", self.dir.display());
    }
}

/// Root is not bound by RLIMIT_NPROC, but a pids cgroup at its limit refuses
/// every new thread (EAGAIN): nsls lists the same rows as without it.
#[test]
fn full_pids_cgroup_leaves_the_scan_to_the_calling_thread() {
    let Some(_g) = common::root_shared("full_pids_cgroup_leaves_the_scan_to_the_calling_thread")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let args = sandbox_args(&sandbox);
    let expected = unlimited(&args);
    assert_eq!(expected.lines().count(), 6, "{expected}");

    let Some(cgroup) = PidsCgroup::new(1) else {
        if std::env::var("NSJOIN_REQUIRE_ROOT").as_deref() == Ok("1") {
            panic!("no pids cgroup controller is mounted");
        }
        eprintln!(
            "skipped full_pids_cgroup_leaves_the_scan_to_the_calling_thread: no pids controller"
        );
        return;
    };
    let prefix = cgroup.prefix();
    let out = run(
        limited(&strs(&prefix), Limits::default(), NSLS, &strs(&args)),
        true,
    );
    assert_eq!(out.success("nsls in a full pids cgroup"), expected);
    // It was full: the kernel counted the threads it refused (pids.events, "max N").
    let events = std::fs::read_to_string(cgroup.dir.join("pids.events")).unwrap();
    let refused: u64 = events
        .lines()
        .find_map(|l| l.strip_prefix("max "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(refused >= 1, "no thread was refused: {events}");
}

/// The smallest address space (in MiB) in which this build of nsls starts at all
/// (`--version`: the binary, its libraries and Rust's runtime, no scan).
fn smallest_address_space() -> u64 {
    for mib in 4..=128 {
        let out = nsls(
            Limits {
                address_space: mib * MIB,
                ..Limits::default()
            },
            &["--version"],
        );
        if out.code == Some(0) {
            return mib;
        }
    }
    panic!("nsls --version does not run in 128 MiB");
}

/// In an address space a few MiB above what the binary itself needs, a helper
/// thread's stack (2 MiB by default, each) cannot be mapped: nsls scans on its own
/// thread and prints what it prints without the limit. Before, it panicked
/// ("failed to spawn thread", exit 101) up to 4 MiB above that point.
#[test]
fn small_address_space_leaves_the_scan_to_the_calling_thread() {
    let Some(_g) = common::root_shared("small_address_space_leaves_the_scan_to_the_calling_thread")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    let args = sandbox_args(&sandbox);
    let expected = unlimited(&args);
    let base = smallest_address_space();
    for extra in 1..=3 {
        let limits = Limits {
            address_space: (base + extra) * MIB,
            ..Limits::default()
        };
        let out = nsls(limits, &strs(&args));
        assert_eq!(
            out.success(&format!("nsls in {} MiB", base + extra)),
            expected
        );
    }
}

/// Processes that do nothing but exist: a perl that forks `n` children, all in
/// one process group, killed (by that group's id) on drop.
struct Crowd {
    leader: Child,
}

impl Crowd {
    fn new(n: usize) -> Crowd {
        let script = r#"$| = 1; setpgrp(0, 0); my $n = shift;
            for (1 .. $n) { my $p = fork(); die "fork: $!" unless defined $p;
                            if (!$p) { sleep 300; exit 0 } }
            print "ready\n"; sleep 300"#;
        let mut leader = Command::new("perl")
            .args(["-e", script, &n.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("cannot run perl");
        let mut line = String::new();
        BufReader::new(leader.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let crowd = Crowd { leader };
        assert_eq!(line, "ready\n", "perl could not fork {n} processes");
        crowd
    }
}

impl Drop for Crowd {
    fn drop(&mut self) {
        let group = rustix::process::Pid::from_raw(self.leader.id() as i32).unwrap();
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        let _ = self.leader.wait();
    }
}

/// Memory grows with what is found, not with threads: with 3,000 more processes
/// nsls still works 2 MiB above what its binary needs (the processes cost it about
/// 80 bytes each). Before, it needed 4 MiB more than that for its thread stacks
/// alone (more on machines with more CPUs), and aborted or panicked below.
#[test]
fn many_processes_in_a_small_address_space() {
    let Some(_g) = common::root_shared("many_processes_in_a_small_address_space") else {
        return;
    };
    let sandbox = Sandbox::new();
    let args = sandbox_args(&sandbox);
    let base = smallest_address_space();
    let _crowd = Crowd::new(3000);
    let expected = unlimited(&args);
    let limits = Limits {
        address_space: (base + 2) * MIB,
        ..Limits::default()
    };
    let out = nsls(limits, &strs(&args));
    assert_eq!(
        out.success(&format!("nsls in {} MiB with 3,000 processes", base + 2)),
        expected
    );
}

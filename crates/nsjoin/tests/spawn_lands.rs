//! Integration tests of `nsjoin::Spawn` against real namespaces: where the program
//! lands (every program prints what it sees of itself, compared with the target's
//! `/proc/PID/ns/*` links and with util-linux `nsenter`), and its credentials.

use nsjoin_test_support as common;

use std::collections::BTreeMap;
use std::fmt::Display;
use std::fs;
use std::io::BufReader;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use common::{ns_link, wait_for, Sandbox};
use nsjoin::{Dir, Error, Kind, KindSet, Spawn, Target};

mod spawn_fixtures;
use spawn_fixtures::*;

/// The kinds `Sandbox::new()` has namespaces of, as `/proc/PID/ns` names them.
const SANDBOX_KINDS: [&str; 6] = ["cgroup", "ipc", "mnt", "net", "pid", "uts"];

const ALL_KINDS: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// Prints `KIND=LINK` for every namespace the program is in, and its hostname.
const REPORT: &str = "for k in cgroup ipc mnt net pid time user uts; do \
                      echo \"$k=$(readlink /proc/self/ns/$k)\"; done; \
                      echo \"hostname=$(cat /proc/sys/kernel/hostname)\"";

fn host_hostname() -> String {
    common::thread_hostname()
}

/// What `REPORT` should print for a program that entered `entered` kinds of
/// process `from` and kept the test process's others.
fn expected(from: i32, entered: &[&str], hostname: &str) -> BTreeMap<String, String> {
    let me = std::process::id();
    let mut want: BTreeMap<String, String> = ALL_KINDS
        .iter()
        .map(|k| {
            let link = if entered.contains(k) {
                ns_link(from, k)
            } else {
                ns_link(me, k)
            };
            (k.to_string(), link)
        })
        .collect();
    want.insert("hostname".into(), hostname.into());
    want
}

/// The parent PID of `pid` (field 4 of `/proc/PID/stat`).
fn ppid(pid: u32) -> u32 {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after = &stat[stat.rfind(')').unwrap() + 1..];
    after.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A field of `/proc/PID/status` (`PID` may be `self` or `thread-self`).
fn status_field(pid: impl Display, name: &str) -> String {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
        .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"))
        .trim()
        .to_owned()
}

/// util-linux `nsenter -t PID -a /bin/sh -c SCRIPT`'s stdout.
fn nsenter_all(pid: i32, script: &str) -> String {
    let out = Command::new("nsenter")
        .args(["-t", &pid.to_string(), "-a", "/bin/sh", "-c", script])
        .stdin(Stdio::null())
        .output()
        .expect("cannot run nsenter (util-linux)");
    assert!(
        out.status.success(),
        "nsenter failed: {:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Sets the test process's supplementary groups while alive (glibc applies
/// setgroups to every thread); clears them again on drop. Only under `exclusive()`.
struct GroupsSet;

impl GroupsSet {
    fn new(groups: &[libc::gid_t]) -> GroupsSet {
        // SAFETY: `groups` is a valid slice of `groups.len()` gids.
        let rc = unsafe { libc::setgroups(groups.len(), groups.as_ptr()) };
        assert_eq!(rc, 0, "setgroups: {}", std::io::Error::last_os_error());
        GroupsSet
    }
}

impl Drop for GroupsSet {
    fn drop(&mut self) {
        // SAFETY: an empty list; the pointer is not read.
        unsafe { libc::setgroups(0, std::ptr::null()) };
    }
}

// ---------------------------------------------------------------------------
// Where the program lands
// ---------------------------------------------------------------------------

#[test]
fn spawn_all_sandbox_kinds_program_sees_sandbox_namespaces_hostname_and_is_pid_ns_sibling() {
    let Some(_lock) = common::root_shared(
        "spawn_all_sandbox_kinds_program_sees_sandbox_namespaces_hostname_and_is_pid_ns_sibling",
    ) else {
        return;
    };
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let mut cmd = sh(&format!(
        "{REPORT}; echo \"self=$$\"; echo done; exec sleep 1000"
    ));
    cmd.stdout(Stdio::piped());
    let mut child = Running(Spawn::new(&handles).spawn(cmd).unwrap());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut seen = parse(&read_until_done(&mut out));

    // $$ is the PID inside the sandbox's fresh pid ns: small, not the host PID.
    let inner: u32 = seen.remove("self").unwrap().parse().unwrap();
    let id = child.id();
    assert_eq!(
        seen,
        expected(sb.pid, &SANDBOX_KINDS, &sb.hostname),
        "the program's namespaces and hostname"
    );
    assert_ne!(inner, id, "$$ must be the PID inside the new pid ns");
    assert!(
        (2..100).contains(&inner),
        "$$ = {inner} is not a fresh-pid-ns PID"
    );

    // Child::id() is the program's real host PID: the host sees it in the sandbox's
    // namespaces, with $$ as its inner PID, and as a child of the test process
    // (CLONE_PARENT) although an intermediate process forked it.
    for kind in SANDBOX_KINDS {
        assert_eq!(
            ns_link(id, kind),
            ns_link(sb.pid, kind),
            "/proc/{id}/ns/{kind}"
        );
    }
    assert_eq!(status_field(id, "NSpid"), format!("{id}\t{inner}"));
    assert_eq!(ppid(id), std::process::id(), "parent of the program");

    child.kill().unwrap();
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));
}

#[test]
fn spawn_all_kinds_prints_the_same_as_util_linux_nsenter_all() {
    let Some(_lock) =
        common::root_shared("spawn_all_kinds_prints_the_same_as_util_linux_nsenter_all")
    else {
        return;
    };
    let sb = Sandbox::new();
    let script = format!(
        "{REPORT}; echo \"uid=$(id -u)\"; echo uid_map=$(cat /proc/self/uid_map); \
         grep '^0::' /proc/self/cgroup; ip -o link | cut -d: -f2"
    );
    let handles = Target::pid(sb.pid).open(KindSet::supported()).unwrap();
    let ours = output_ok(&Spawn::new(&handles), sh(&script));
    let theirs = nsenter_all(sb.pid, &script);
    assert_eq!(ours, theirs);
    // And that output really is the sandbox's, not ours.
    assert!(
        ours.contains(&format!("net={}\n", ns_link(sb.pid, "net"))),
        "{ours}"
    );
    assert!(
        ours.contains(&format!("hostname={}\n", sb.hostname)),
        "{ours}"
    );
}

#[test]
fn spawn_with_only_net_kind_enters_sandbox_net_and_keeps_our_other_namespaces() {
    let Some(_lock) = common::root_shared(
        "spawn_with_only_net_kind_enters_sandbox_net_and_keeps_our_other_namespaces",
    ) else {
        return;
    };
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(KindSet::from(Kind::Net)).unwrap();
    let mut cmd = sh(&format!("{REPORT}; echo \"self=$$\""));
    cmd.stdout(Stdio::piped());
    let child = Spawn::new(&handles).spawn(cmd).unwrap();
    let id = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let mut seen = parse(&String::from_utf8(out.stdout).unwrap());
    // No pid ns entered: no second fork, the program is our direct child.
    assert_eq!(seen.remove("self").unwrap(), id.to_string());
    assert_eq!(seen, expected(sb.pid, &["net"], &host_hostname()));
    assert_ne!(ns_link(sb.pid, "net"), ns_link("self", "net"));
}

#[test]
fn spawn_kinds_subset_enters_only_net_and_uts_of_the_opened_six() {
    let Some(_lock) =
        common::root_shared("spawn_kinds_subset_enters_only_net_and_uts_of_the_opened_six")
    else {
        return;
    };
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let out = output_ok(
        Spawn::new(&handles).kinds(KindSet::from([Kind::Net, Kind::Uts])),
        sh(REPORT),
    );
    assert_eq!(parse(&out), expected(sb.pid, &["net", "uts"], &sb.hostname));
}

#[test]
fn spawn_into_user_sandbox_all_kinds_runs_as_mapped_root_like_nsenter() {
    let Some(_lock) =
        common::root_shared("spawn_into_user_sandbox_all_kinds_runs_as_mapped_root_like_nsenter")
    else {
        return;
    };
    let sb = Sandbox::with_user();
    let handles = Target::pid(sb.pid).open(KindSet::supported()).unwrap();
    assert!(handles.kinds().contains(Kind::User));
    let script = format!("{REPORT}; echo \"uid=$(id -u)\"; echo uid_map=$(cat /proc/self/uid_map)");
    let out = output_ok(&Spawn::new(&handles), sh(&script));
    let mut seen = parse(&out);
    let sandbox_map = fs::read_to_string(format!("/proc/{}/uid_map", sb.pid)).unwrap();
    let sandbox_map = sandbox_map.split_whitespace().collect::<Vec<_>>().join(" ");
    let our_map = fs::read_to_string("/proc/self/uid_map").unwrap();
    assert_ne!(
        sandbox_map,
        our_map.split_whitespace().collect::<Vec<_>>().join(" ")
    );
    assert_eq!(seen.remove("uid").unwrap(), "0");
    assert_eq!(seen.remove("uid_map").unwrap(), sandbox_map);
    // Every namespace (user included) is the sandbox's.
    assert_eq!(seen, expected(sb.pid, &ALL_KINDS, &sb.hostname));
    assert_ne!(ns_link(sb.pid, "user"), ns_link("self", "user"));
    assert_eq!(out, nsenter_all(sb.pid, &script));
}

#[test]
fn spawn_into_netns_file_enters_it_and_refuses_options_that_need_a_process() {
    let Some(_lock) = common::root_shared(
        "spawn_into_netns_file_enters_it_and_refuses_options_that_need_a_process",
    ) else {
        return;
    };
    let netns = common::NetnsFile::new();
    let handles = Target::path(&netns.path).open(KindSet::EMPTY).unwrap();
    let ino = handles.get(Kind::Net).unwrap().id().ino;
    let out = output_ok(&Spawn::new(&handles), sh(REPORT));
    let mut want = expected(std::process::id() as i32, &[], &host_hostname());
    want.insert("net".into(), format!("net:[{ino}]"));
    assert_eq!(parse(&out), want);
    for (what, spawn) in [
        ("target_env", Spawn::new(&handles).target_env(true).clone()),
        (
            "join_cgroup",
            Spawn::new(&handles).join_cgroup(true).clone(),
        ),
        ("root", Spawn::new(&handles).root(Dir::Target).clone()),
        ("cwd", Spawn::new(&handles).cwd(Dir::Target).clone()),
    ] {
        let err = spawn.spawn(sh("echo must not run")).unwrap_err();
        assert!(matches!(err, Error::NeedsProcess { .. }), "{what}: {err:?}");
    }
}

#[test]
fn spawn_from_8_threads_concurrently_each_program_lands_in_its_own_sandbox() {
    let Some(_lock) = common::root_shared(
        "spawn_from_8_threads_concurrently_each_program_lands_in_its_own_sandbox",
    ) else {
        return;
    };
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                let sb = Sandbox::new();
                let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
                let want = expected(sb.pid, &SANDBOX_KINDS, &sb.hostname);
                for _ in 0..4 {
                    let out = output_ok(&Spawn::new(&handles), sh(REPORT));
                    assert_eq!(parse(&out), want);
                }
            });
        }
    });
}

#[test]
fn spawn_into_exited_target_enters_held_namespaces_or_fails_for_pid() {
    let Some(_lock) =
        common::root_exclusive("spawn_into_exited_target_enters_held_namespaces_or_fails_for_pid")
    else {
        return;
    };
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let link = |kind: Kind| format!("{}:[{}]", kind.name(), handles.get(kind).unwrap().id().ino);
    let hostname = sb.hostname.clone();
    drop(sb);
    wait_for("the sandbox to exit", || !handles.is_alive());

    // Every kind but pid: entered from the held fds, exactly those namespaces.
    let no_pid = sandbox_kinds().difference(KindSet::from(Kind::Pid));
    let out = output_ok(Spawn::new(&handles).kinds(no_pid), sh(REPORT));
    let mut want = expected(std::process::id() as i32, &[], &hostname);
    for kind in no_pid.iter() {
        want.insert(kind.name().to_owned(), link(kind));
    }
    assert_eq!(parse(&out), want);

    // With pid: the pid ns lost its init (the sandbox's sleep), so the kernel
    // refuses to fork into it; the spawn fails instead of starting the program
    // anywhere else, and leaves nothing behind.
    let before = common::children();
    let err = Spawn::new(&handles).spawn(sh(REPORT)).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("its init process has exited"), "{msg}");
    assert_eq!(err.raw_os_error(), Some(libc::ENOMEM), "{msg}");
    assert_eq!(common::children(), before, "a process was left behind");
}

// ---------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------

#[test]
fn spawn_uid_gid_switches_ids_and_clears_inherited_supplementary_groups() {
    let Some(_lock) = common::root_exclusive(
        "spawn_uid_gid_switches_ids_and_clears_inherited_supplementary_groups",
    ) else {
        return;
    };
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    // Give the spawning process supplementary groups, so that clearing them shows.
    let _groups = GroupsSet::new(&[4, 27]);
    assert_eq!(status_field("thread-self", "Groups"), "4 27");
    let out = output_ok(
        Spawn::new(&handles).uid(65534).gid(65534),
        sh(
            "echo \"net=$(readlink /proc/self/ns/net)\"; echo \"uid=$(id -u)\"; \
            echo \"gid=$(id -g)\"; echo \"groups=$(id -G)\"; \
            echo \"status=$(grep '^Groups:' /proc/self/status | cut -f2)\"",
        ),
    );
    let seen = parse(&out);
    assert_eq!(seen["net"], ns_link(sb.pid, "net"));
    assert_eq!(seen["uid"], "65534");
    assert_eq!(seen["gid"], "65534");
    assert_eq!(
        seen["groups"], "65534",
        "supplementary groups must be cleared"
    );
    assert_eq!(seen["status"], "");
}

#[test]
fn spawn_groups_sets_the_supplementary_groups() {
    let Some(_lock) = common::root_shared("spawn_groups_sets_the_supplementary_groups") else {
        return;
    };
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let out = output_ok(
        Spawn::new(&handles).uid(65534).gid(65534).groups([1, 2]),
        sh("echo \"uid=$(id -u)\"; echo \"groups=$(id -G)\"; \
            echo \"status=$(grep '^Groups:' /proc/self/status | cut -f2)\""),
    );
    let seen = parse(&out);
    assert_eq!(seen["uid"], "65534");
    assert_eq!(seen["groups"], "65534 1 2");
    assert_eq!(seen["status"], "1 2");
}

fn caps_of(out: &str) -> (u64, u64, u64) {
    let seen = parse(out);
    let hex = |k: &str| u64::from_str_radix(&seen[k], 16).unwrap();
    (hex("CapPrm"), hex("CapEff"), hex("CapAmb"))
}

const CAPS: &str =
    "echo \"uid=$(id -u)\"; grep -E '^Cap(Prm|Eff|Amb):' /proc/self/status | tr -d ':\\t ' | \
                    sed 's/^\\(Cap...\\)/\\1=/'";

#[test]
fn spawn_keep_caps_with_uid_65534_keeps_permitted_caps_as_ambient_and_effective() {
    let Some(_lock) = common::root_shared(
        "spawn_keep_caps_with_uid_65534_keeps_permitted_caps_as_ambient_and_effective",
    ) else {
        return;
    };
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let out = output_ok(
        Spawn::new(&handles).uid(65534).gid(65534).keep_caps(true),
        sh(CAPS),
    );
    assert_eq!(parse(&out)["uid"], "65534");
    let ours = u64::from_str_radix(&status_field("self", "CapPrm"), 16).unwrap();
    assert_ne!(ours, 0);
    let (prm, eff, amb) = caps_of(&out);
    assert_eq!((prm, eff, amb), (ours, ours, ours), "{out}");
}

#[test]
fn spawn_uid_65534_without_keep_caps_has_no_caps() {
    let Some(_lock) = common::root_shared("spawn_uid_65534_without_keep_caps_has_no_caps") else {
        return;
    };
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let out = output_ok(Spawn::new(&handles).uid(65534).gid(65534), sh(CAPS));
    assert_eq!(parse(&out)["uid"], "65534");
    assert_eq!(caps_of(&out), (0, 0, 0), "{out}");
}

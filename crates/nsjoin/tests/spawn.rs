use nsjoin_test_support as common;

// Integration tests of `nsjoin::Spawn` and `nsjoin::Child` against real namespaces:
// every program prints what it sees of itself, and that is compared with the
// target's `/proc/PID/ns/*` links (and, where it applies, with util-linux `nsenter`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Display;
use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::ops::{Deref, DerefMut};
use std::os::fd::OwnedFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{exclusive, ns_link, shared, Sandbox, TempDir};
use nsjoin::{Dir, Error, Kind, KindSet, Spawn, Target};

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// The `unshare` flags of `Sandbox::new()`, for sandboxes with a setup snippet.
const NEW_FLAGS: [&str; 6] = ["--uts", "--net", "--ipc", "--pid", "--mount", "--cgroup"];

/// The kinds `Sandbox::new()` has namespaces of, as `/proc/PID/ns` names them.
const SANDBOX_KINDS: [&str; 6] = ["cgroup", "ipc", "mnt", "net", "pid", "uts"];

fn sandbox_kinds() -> KindSet {
    KindSet::from([
        Kind::Cgroup,
        Kind::Ipc,
        Kind::Mnt,
        Kind::Net,
        Kind::Pid,
        Kind::Uts,
    ])
}

const ALL_KINDS: [&str; 8] = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"];

/// Prints `KIND=LINK` for every namespace the program is in, and its hostname.
const REPORT: &str = "for k in cgroup ipc mnt net pid time user uts; do \
                      echo \"$k=$(readlink /proc/self/ns/$k)\"; done; \
                      echo \"hostname=$(cat /proc/sys/kernel/hostname)\"";

fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "nsj-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A target process started by the test; killed and reaped on drop.
struct Proc(std::process::Child);

impl Proc {
    fn start(cmd: &mut Command) -> Proc {
        Proc(cmd.stdin(Stdio::null()).spawn().unwrap())
    }

    fn pid(&self) -> i32 {
        self.0.id() as i32
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A program started by `Spawn`; killed (if still running) and reaped on drop.
struct Running(nsjoin::Child);

impl Deref for Running {
    type Target = nsjoin::Child;
    fn deref(&self) -> &nsjoin::Child {
        &self.0
    }
}

impl DerefMut for Running {
    fn deref_mut(&mut self) -> &mut nsjoin::Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A cgroup v2 group of our own; emptied and removed on drop.
struct Cgroup {
    root: PathBuf,
    path: PathBuf,
}

impl Cgroup {
    fn new() -> Cgroup {
        let root = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            .into_iter()
            .map(PathBuf::from)
            .find(|p| p.join("cgroup.controllers").exists())
            .expect("no cgroup2 hierarchy mounted");
        let path = root.join(format!("nsjoin-test-{}", unique("cg")));
        fs::create_dir(&path).unwrap();
        Cgroup { root, path }
    }

    fn name(&self) -> String {
        self.path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned()
    }

    fn add(&self, pid: impl Display) {
        fs::write(self.path.join("cgroup.procs"), pid.to_string()).unwrap();
    }

    fn procs(&self) -> Vec<u32> {
        fs::read_to_string(self.path.join("cgroup.procs"))
            .unwrap()
            .split_whitespace()
            .map(|p| p.parse().unwrap())
            .collect()
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        // Whatever is still inside (dying or not) goes back to the root first.
        for pid in fs::read_to_string(self.path.join("cgroup.procs"))
            .unwrap_or_default()
            .split_whitespace()
        {
            let _ = fs::write(self.root.join("cgroup.procs"), pid);
        }
        let start = Instant::now();
        while fs::remove_dir(&self.path).is_err() && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

fn sh(script: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script);
    cmd
}

/// Runs `cmd` with `Spawn::output`, insists that it succeeded, returns its stdout.
fn output_ok(spawn: &Spawn, cmd: Command) -> String {
    let out = spawn.output(cmd).expect("spawn failed");
    assert!(
        out.status.success(),
        "program failed: {:?}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn host_hostname() -> String {
    common::thread_hostname()
}

/// `KEY=VALUE` lines into a map.
fn parse(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
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

/// 0, 1, 2, and whatever fds of the test process lack FD_CLOEXEC: normally none,
/// but a test run may inherit some from whoever started it, and any program gets
/// those (std's Command and util-linux nsenter pass them on too).
fn stdio_and_inheritable_fds() -> BTreeSet<u32> {
    const O_CLOEXEC: u32 = 0o2000000;
    let mut fds = BTreeSet::from([0, 1, 2]);
    for entry in fs::read_dir("/proc/self/fdinfo").unwrap() {
        let entry = entry.unwrap();
        let fd: u32 = entry.file_name().to_str().unwrap().parse().unwrap();
        // Fds of other threads come and go; a vanished one is no matter.
        let Ok(info) = fs::read_to_string(entry.path()) else {
            continue;
        };
        let flags = info
            .lines()
            .find_map(|l| l.strip_prefix("flags:"))
            .map(|f| u32::from_str_radix(f.trim(), 8).unwrap())
            .unwrap();
        if flags & O_CLOEXEC == 0 {
            fds.insert(fd);
        }
    }
    fds
}

/// Reads lines up to a line `done`, which the program prints before it waits.
fn read_until_done(r: &mut impl BufRead) -> String {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "program ended before printing 'done'; it printed: {text}"
        );
        if line.trim() == "done" {
            return text;
        }
        text.push_str(&line);
    }
}

fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
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

/// Replaces the test process's fd 0 with the read end of a pipe (whose write end
/// stays open, so a reader would block) while alive. Only under `exclusive()`.
struct StdinIsPipe {
    saved: OwnedFd,
    _write: OwnedFd,
}

impl StdinIsPipe {
    fn new() -> StdinIsPipe {
        let saved = rustix::io::fcntl_dupfd_cloexec(rustix::stdio::stdin(), 3).unwrap();
        let (read, write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC).unwrap();
        rustix::stdio::dup2_stdin(&read).unwrap();
        StdinIsPipe {
            saved,
            _write: write,
        }
    }
}

impl Drop for StdinIsPipe {
    fn drop(&mut self) {
        let _ = rustix::stdio::dup2_stdin(&self.saved);
    }
}

// ---------------------------------------------------------------------------
// Where the program lands
// ---------------------------------------------------------------------------

#[test]
fn spawn_all_sandbox_kinds_program_sees_sandbox_namespaces_hostname_and_is_pid_ns_sibling() {
    if !common::root_or_skip(
        "spawn_all_sandbox_kinds_program_sees_sandbox_namespaces_hostname_and_is_pid_ns_sibling",
    ) {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("spawn_all_kinds_prints_the_same_as_util_linux_nsenter_all") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip(
        "spawn_with_only_net_kind_enters_sandbox_net_and_keeps_our_other_namespaces",
    ) {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("spawn_kinds_subset_enters_only_net_and_uts_of_the_opened_six") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("spawn_into_user_sandbox_all_kinds_runs_as_mapped_root_like_nsenter") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip(
        "spawn_into_netns_file_enters_it_and_refuses_options_that_need_a_process",
    ) {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip(
        "spawn_from_8_threads_concurrently_each_program_lands_in_its_own_sandbox",
    ) {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("spawn_into_exited_target_enters_held_namespaces_or_fails_for_pid") {
        return;
    }
    let _lock = exclusive();
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
    if !common::root_or_skip("spawn_uid_gid_switches_ids_and_clears_inherited_supplementary_groups")
    {
        return;
    }
    let _lock = exclusive();
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
    if !common::root_or_skip("spawn_groups_sets_the_supplementary_groups") {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip(
        "spawn_keep_caps_with_uid_65534_keeps_permitted_caps_as_ambient_and_effective",
    ) {
        return;
    }
    let _lock = shared();
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
    if !common::root_or_skip("spawn_uid_65534_without_keep_caps_has_no_caps") {
        return;
    }
    let _lock = shared();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let out = output_ok(Spawn::new(&handles).uid(65534).gid(65534), sh(CAPS));
    assert_eq!(parse(&out)["uid"], "65534");
    assert_eq!(caps_of(&out), (0, 0, 0), "{out}");
}

// ---------------------------------------------------------------------------
// Root, working directory, environment, cgroup
// ---------------------------------------------------------------------------

#[test]
fn spawn_cwd_dir_target_starts_in_the_targets_working_directory() {
    if !common::root_or_skip("spawn_cwd_dir_target_starts_in_the_targets_working_directory") {
        return;
    }
    let _lock = shared();
    let tmp = TempDir::new("cwd");
    let dir = tmp.path().join("nsj-cwd");
    let sb = Sandbox::start(
        &NEW_FLAGS,
        &format!("mkdir -p {d} && cd {d} || exit 1", d = dir.display()),
    );
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let mut cmd = sh("pwd; readlink /proc/self/ns/mnt");
    cmd.env_remove("PWD");
    let out = output_ok(Spawn::new(&handles).cwd(Dir::Target), cmd);
    assert_eq!(
        out,
        format!("{}\n{}\n", dir.display(), ns_link(sb.pid, "mnt"))
    );
    // Without it, the program starts at the root of the mount namespace.
    let mut cmd = sh("pwd");
    cmd.env_remove("PWD");
    assert_eq!(output_ok(&Spawn::new(&handles), cmd), "/\n");
}

#[test]
fn spawn_cwd_dir_path_resolves_before_entering_and_dir_inside_after() {
    if !common::root_or_skip("spawn_cwd_dir_path_resolves_before_entering_and_dir_inside_after") {
        return;
    }
    let _lock = shared();
    let tmp = TempDir::new("shadow");
    let dir = tmp.path().join("shadowed");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("where"), "host\n").unwrap();
    // Inside the sandbox's mount ns a tmpfs hides the host's directory.
    let sb = Sandbox::start(
        &NEW_FLAGS,
        &format!(
            "mount -t tmpfs nsj-spawn {d} && echo inside > {d}/where || exit 1",
            d = dir.display()
        ),
    );
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let script = "cat where; readlink /proc/self/ns/mnt";
    let mnt = ns_link(sb.pid, "mnt");
    let out = output_ok(Spawn::new(&handles).cwd(Dir::Path(dir.clone())), sh(script));
    assert_eq!(out, format!("host\n{mnt}\n"), "Dir::Path");
    let out = output_ok(
        Spawn::new(&handles).cwd(Dir::Inside(dir.clone())),
        sh(script),
    );
    assert_eq!(out, format!("inside\n{mnt}\n"), "Dir::Inside");
}

#[test]
fn spawn_root_dir_target_runs_the_program_in_the_targets_chroot() {
    if !common::root_or_skip("spawn_root_dir_target_runs_the_program_in_the_targets_chroot") {
        return;
    }
    let _lock = shared();
    let tmp = TempDir::new("rootfs");
    let rootfs = tmp.path().join("rootfs");
    fs::create_dir_all(rootfs.join("bin")).unwrap();
    fs::copy("/usr/bin/busybox", rootfs.join("bin/busybox")).unwrap();
    let marker = unique("marker");
    fs::write(rootfs.join(&marker), "x").unwrap();
    let target =
        Proc::start(
            Command::new("chroot")
                .arg(&rootfs)
                .args(["/bin/busybox", "sleep", "1000"]),
        );
    wait_for("the target to chroot", || {
        fs::read_link(format!("/proc/{}/root", target.pid()))
            .ok()
            .as_deref()
            == Some(&rootfs)
    });
    let handles = Target::pid(target.pid())
        .open(KindSet::from([Kind::Mnt, Kind::Uts]))
        .unwrap();
    let mut ls = Command::new("/bin/busybox");
    ls.args(["ls", "-1", "/"]);
    let out = output_ok(Spawn::new(&handles).root(Dir::Target), ls);
    let listed: BTreeSet<&str> = out.lines().collect();
    assert_eq!(listed, BTreeSet::from(["bin", marker.as_str()]));
}

#[test]
fn spawn_cwd_inside_nonexistent_fails_cannot_change_directory_and_leaves_no_process() {
    if !common::root_or_skip(
        "spawn_cwd_inside_nonexistent_fails_cannot_change_directory_and_leaves_no_process",
    ) {
        return;
    }
    let _lock = exclusive();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    for kinds in [sandbox_kinds(), KindSet::from(Kind::Net)] {
        let before = common::children();
        let err = Spawn::new(&handles)
            .kinds(kinds)
            .cwd(Dir::Inside(PathBuf::from("/nonexistent-nsj-cwd")))
            .spawn(sh("echo must not run"))
            .unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("cannot change directory"), "{kinds}: {msg}");
        assert!(msg.contains("No such file or directory"), "{kinds}: {msg}");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{kinds}: {msg}");
        assert_eq!(
            common::children(),
            before,
            "{kinds}: a process was left behind"
        );
    }
}

#[test]
fn spawn_target_env_gives_the_program_exactly_the_targets_environment() {
    if !common::root_or_skip("spawn_target_env_gives_the_program_exactly_the_targets_environment") {
        return;
    }
    let _lock = shared();
    let target = Proc::start(Command::new("/usr/bin/env").args([
        "-i",
        "NSJ_MARK=xyz",
        "A=1",
        "/usr/bin/sleep",
        "1000",
    ]));
    let environ = format!("/proc/{}/environ", target.pid());
    wait_for("env to exec sleep", || {
        fs::read(&environ).is_ok_and(|e| e == b"NSJ_MARK=xyz\0A=1\0")
    });
    let handles = Target::pid(target.pid())
        .open(KindSet::from(Kind::Uts))
        .unwrap();
    let env = || {
        let mut cmd = Command::new("/usr/bin/env");
        cmd.env("NSJ_FROM_TEST", "1");
        cmd
    };
    let out = output_ok(Spawn::new(&handles).target_env(true), env());
    // The set of variables, not their order: std's Command keeps them sorted.
    let seen: BTreeSet<&str> = out.lines().collect();
    assert_eq!(seen, BTreeSet::from(["NSJ_MARK=xyz", "A=1"]), "{out}");
    // Without target_env the program gets the Command's environment.
    let out = output_ok(&Spawn::new(&handles), env());
    assert!(out.contains("NSJ_FROM_TEST=1\n"), "{out}");
    assert!(!out.contains("NSJ_MARK"), "{out}");
}

#[test]
fn spawn_join_cgroup_puts_the_program_in_the_targets_cgroup_v2_group() {
    if !common::root_or_skip("spawn_join_cgroup_puts_the_program_in_the_targets_cgroup_v2_group") {
        return;
    }
    let _lock = shared();
    let cgroup = Cgroup::new();
    let sb = Sandbox::new();
    cgroup.add(sb.pid);
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let mut cmd = sh(&format!(
        "grep '^0::' /proc/self/cgroup; grep '^0::' /proc/{}/cgroup; echo done; exec sleep 1000",
        sb.pid
    ));
    cmd.stdout(Stdio::piped());
    let mut child = Running(Spawn::new(&handles).join_cgroup(true).spawn(cmd).unwrap());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let text = read_until_done(&mut out);
    let lines: Vec<&str> = text.lines().collect();
    // Both seen from the sandbox's cgroup ns: the program's group is the target's.
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], lines[1], "program and target cgroups differ");
    assert!(lines[0].ends_with(&format!("/{}", cgroup.name())), "{text}");
    // And from the host: the program's real PID is in that group.
    let mut procs = cgroup.procs();
    procs.sort();
    let mut want = vec![sb.pid as u32, child.id()];
    want.sort();
    assert_eq!(procs, want);
    child.kill().unwrap();
    child.wait().unwrap();
    // Without join_cgroup the program stays in ours.
    let out = output_ok(&Spawn::new(&handles), sh("grep '^0::' /proc/self/cgroup"));
    assert!(!out.contains(&cgroup.name()), "{out}");
    drop(child);
    drop(sb);
}

// ---------------------------------------------------------------------------
// Exec failures
// ---------------------------------------------------------------------------

#[test]
fn spawn_missing_program_is_exec_error_enoent_with_and_without_pid_kind_and_leaves_no_process() {
    if !common::root_or_skip("spawn_missing_program_is_exec_error_enoent_with_and_without_pid_kind_and_leaves_no_process") {
        return;
    }
    let _lock = exclusive();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let by_path = format!("/nonexistent-{}/prog", unique("dir"));
    let by_name = unique("missing-prog");
    for kinds in [sandbox_kinds(), KindSet::from(Kind::Net)] {
        for program in [&by_path, &by_name] {
            let before = common::children();
            let err = Spawn::new(&handles)
                .kinds(kinds)
                .spawn(Command::new(program))
                .unwrap_err();
            let msg = err.to_string();
            assert!(matches!(err, Error::Exec { .. }), "{kinds}: {err:?}");
            assert!(
                msg.starts_with(&format!(
                    "failed to execute {program}: No such file or directory"
                )),
                "{kinds}: {msg}"
            );
            assert_eq!(err.raw_os_error(), Some(libc::ENOENT));
            assert_eq!(
                common::children(),
                before,
                "{kinds}: a process was left behind"
            );
        }
    }
}

#[test]
fn spawn_non_executable_file_is_exec_error_eacces_and_leaves_no_process() {
    if !common::root_or_skip("spawn_non_executable_file_is_exec_error_eacces_and_leaves_no_process")
    {
        return;
    }
    let _lock = exclusive();
    let tmp = TempDir::new("noexec");
    let file = tmp.path().join("script");
    fs::write(&file, "#!/bin/sh\necho ran\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    for kinds in [sandbox_kinds(), KindSet::from(Kind::Net)] {
        let before = common::children();
        let err = Spawn::new(&handles)
            .kinds(kinds)
            .spawn(Command::new(&file))
            .unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Exec { .. }), "{kinds}: {err:?}");
        assert!(
            msg.starts_with(&format!(
                "failed to execute {}: Permission denied",
                file.display()
            )),
            "{kinds}: {msg}"
        );
        assert_eq!(err.raw_os_error(), Some(libc::EACCES));
        assert_eq!(
            common::children(),
            before,
            "{kinds}: a process was left behind"
        );
    }
}

// ---------------------------------------------------------------------------
// Child: waiting, signals, exit codes, stdio
// ---------------------------------------------------------------------------

#[test]
fn child_kill_then_wait_reports_sigkill_for_a_pid_namespace_program() {
    if !common::root_or_skip("child_kill_then_wait_reports_sigkill_for_a_pid_namespace_program") {
        return;
    }
    let _lock = shared();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let mut sleep = Command::new("sleep");
    sleep.arg("1000");
    let mut child = Running(Spawn::new(&handles).spawn(sleep).unwrap());
    let id = child.id();
    assert_eq!(ns_link(id, "pid"), ns_link(sb.pid, "pid"));
    assert!(child.try_wait().unwrap().is_none(), "sleep ended early");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    assert_eq!(status.code(), None);
    // Reaped: the status is remembered, and signalling it again is a no-op.
    assert_eq!(child.try_wait().unwrap(), Some(status));
    child.kill().unwrap();
}

#[test]
fn child_try_wait_is_none_while_running_then_some_with_the_exit_code() {
    if !common::root_or_skip("child_try_wait_is_none_while_running_then_some_with_the_exit_code") {
        return;
    }
    let _lock = shared();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let tmp = TempDir::new("go");
    let go = tmp.path().join("go");
    let cmd = sh(&format!(
        "while [ ! -e {} ]; do sleep 0.01; done; exit 3",
        go.display()
    ));
    let mut child = Running(Spawn::new(&handles).spawn(cmd).unwrap());
    assert!(child.try_wait().unwrap().is_none());
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        child.try_wait().unwrap().is_none(),
        "ended before it was told to"
    );
    fs::write(&go, "").unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(start.elapsed() < Duration::from_secs(5), "never ended");
        std::thread::sleep(Duration::from_millis(5));
    };
    assert_eq!(status.code(), Some(3));
}

#[test]
fn spawn_status_propagates_the_exit_code_with_and_without_pid_kind() {
    if !common::root_or_skip("spawn_status_propagates_the_exit_code_with_and_without_pid_kind") {
        return;
    }
    let _lock = shared();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    for kinds in [sandbox_kinds(), KindSet::from(Kind::Net)] {
        let status = Spawn::new(&handles)
            .kinds(kinds)
            .status(sh("exit 7"))
            .unwrap();
        assert_eq!(status.code(), Some(7), "{kinds}");
        let status = Spawn::new(&handles)
            .kinds(kinds)
            .status(sh("kill -TERM $$"))
            .unwrap();
        assert_eq!(status.signal(), Some(libc::SIGTERM), "{kinds}");
    }
}

#[test]
fn spawn_piped_stdin_reaches_the_program_in_the_pid_namespace() {
    if !common::root_or_skip("spawn_piped_stdin_reaches_the_program_in_the_pid_namespace") {
        return;
    }
    let _lock = shared();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    for kinds in [KindSet::from(Kind::Net), sandbox_kinds()] {
        let mut cat = Command::new("cat");
        cat.stdin(Stdio::piped()).stdout(Stdio::piped());
        let mut child = Running(Spawn::new(&handles).kinds(kinds).spawn(cat).unwrap());
        let mut stdin = child
            .stdin
            .take()
            .unwrap_or_else(|| panic!("{kinds}: no piped stdin on the Child"));
        let text = format!("hello from {}\nsecond line\n", unique("stdin"));
        stdin.write_all(text.as_bytes()).unwrap();
        drop(stdin);
        let mut echoed = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut echoed)
            .unwrap();
        assert_eq!(echoed, text, "{kinds}");
        assert!(child.wait().unwrap().success(), "{kinds}");
    }
}

#[test]
fn spawn_output_captures_stdout_stderr_and_exit_code_separately() {
    if !common::root_or_skip("spawn_output_captures_stdout_stderr_and_exit_code_separately") {
        return;
    }
    let _lock = shared();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let out = Spawn::new(&handles)
        .output(sh("cat /proc/sys/kernel/hostname; echo err >&2; exit 4"))
        .unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        format!("{}\n", sb.hostname)
    );
    assert_eq!(out.stderr, b"err\n");
    assert_eq!(out.status.code(), Some(4));
}

#[test]
fn spawn_output_gives_the_program_dev_null_as_stdin() {
    if !common::root_or_skip("spawn_output_gives_the_program_dev_null_as_stdin") {
        return;
    }
    let _lock = exclusive();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(KindSet::from(Kind::Net)).unwrap();
    // Our own stdin is a pipe nobody writes to: inheriting it would show.
    let _stdin = StdinIsPipe::new();
    let out = output_ok(&Spawn::new(&handles), sh("readlink /proc/self/fd/0"));
    assert_eq!(out, "/dev/null\n", "Spawn::output's documented stdin");
}

#[test]
fn spawn_passes_only_fds_0_1_2_to_the_program() {
    if !common::root_or_skip("spawn_passes_only_fds_0_1_2_to_the_program") {
        return;
    }
    let _lock = shared();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    for kinds in [sandbox_kinds(), KindSet::from(Kind::Net)] {
        // dash's glob opens the directory itself, on one more fd.
        let out = output_ok(
            Spawn::new(&handles).kinds(kinds),
            sh("cd /proc/self/fd && echo *"),
        );
        let seen: BTreeSet<u32> = out.split_whitespace().map(|f| f.parse().unwrap()).collect();
        let want = stdio_and_inheritable_fds();
        let extra: Vec<_> = seen.difference(&want).collect();
        assert!(
            seen.is_superset(&want) && extra.len() == 1,
            "{kinds}: {out}"
        );
        // Seen from outside. Static busybox opens nothing of its own; still, wait
        // for the set to settle (a leaked fd would stay for good).
        let mut sleep = Command::new("/usr/bin/busybox");
        sleep.args(["sleep", "1000"]).stdin(Stdio::null());
        let child = Running(Spawn::new(&handles).kinds(kinds).spawn(sleep).unwrap());
        let fd_dir = format!("/proc/{}/fd", child.id());
        let list = || -> BTreeMap<u32, String> {
            fs::read_dir(&fd_dir)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    let link = fs::read_link(e.path()).unwrap_or_default();
                    let fd = e.file_name().to_str().unwrap().parse().unwrap();
                    (fd, link.display().to_string())
                })
                .collect()
        };
        let start = Instant::now();
        let mut fds = list();
        while fds.keys().copied().collect::<BTreeSet<_>>() != stdio_and_inheritable_fds()
            && start.elapsed() < Duration::from_secs(2)
        {
            std::thread::sleep(Duration::from_millis(10));
            fds = list();
        }
        assert_eq!(
            fds.keys().copied().collect::<BTreeSet<_>>(),
            stdio_and_inheritable_fds(),
            "{kinds}: {fds:?}"
        );
    }
}

#[test]
fn fifty_spawns_and_failures_leave_the_fd_count_and_children_unchanged() {
    if !common::root_or_skip("fifty_spawns_and_failures_leave_the_fd_count_and_children_unchanged")
    {
        return;
    }
    let _lock = exclusive();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let quiet = |program: &str| {
        let mut cmd = Command::new(program);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        cmd
    };
    // Warm up whatever std or the library set up once.
    Spawn::new(&handles).status(quiet("true")).unwrap();
    let fds = common::fd_count();
    let children = common::children();
    for i in 0..50 {
        let kinds = if i % 2 == 0 {
            sandbox_kinds()
        } else {
            KindSet::from(Kind::Net)
        };
        let status = Spawn::new(&handles)
            .kinds(kinds)
            .status(quiet("true"))
            .unwrap();
        assert!(status.success());
        if i % 5 == 0 {
            assert!(Spawn::new(&handles)
                .kinds(kinds)
                .spawn(quiet("/nonexistent/nsj"))
                .is_err());
            assert!(Spawn::new(&handles)
                .kinds(kinds)
                .cwd(Dir::Inside("/nonexistent".into()))
                .spawn(quiet("true"))
                .is_err());
        }
    }
    assert_eq!(common::fd_count(), fds, "fds leaked");
    assert_eq!(common::children(), children, "processes left behind");
}

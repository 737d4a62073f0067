//! Integration tests of `nsjoin::Spawn`: the program's root, working directory,
//! environment and cgroup taken from the target, and exec failures.

use nsjoin_test_support as common;

use std::collections::BTreeSet;
use std::fmt::Display;
use std::fs;
use std::io::BufReader;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ns_link, wait_for, Sandbox, TempDir};
use nsjoin::{Dir, Error, Kind, KindSet, Spawn, Target};

mod spawn_fixtures;
use spawn_fixtures::*;

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// The `unshare` flags of `Sandbox::new()`, for sandboxes with a setup snippet.
const NEW_FLAGS: [&str; 6] = ["--uts", "--net", "--ipc", "--pid", "--mount", "--cgroup"];

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

/// The error `spawn` ends in when it runs `cmd` entering `kinds`; no process
/// may be left behind.
fn spawn_fails(spawn: &mut Spawn, kinds: KindSet, cmd: Command) -> Error {
    let before = common::children();
    let err = spawn.kinds(kinds).spawn(cmd).unwrap_err();
    assert_eq!(
        common::children(),
        before,
        "{kinds}: a process was left behind"
    );
    err
}

/// `err` is the failure to execute `program`: `why`, errno `errno`.
fn assert_exec_error(err: &Error, kinds: KindSet, program: &str, why: &str, errno: i32) {
    let msg = err.to_string();
    assert!(matches!(err, Error::Exec { .. }), "{kinds}: {err:?}");
    assert!(
        msg.starts_with(&format!("failed to execute {program}: {why}")),
        "{kinds}: {msg}"
    );
    assert_eq!(err.raw_os_error(), Some(errno), "{kinds}: {msg}");
}

// ---------------------------------------------------------------------------
// Root, working directory, environment, cgroup
// ---------------------------------------------------------------------------

#[test]
fn spawn_cwd_dir_target_starts_in_the_targets_working_directory() {
    let Some(_lock) =
        common::root_shared("spawn_cwd_dir_target_starts_in_the_targets_working_directory")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_shared("spawn_cwd_dir_path_resolves_before_entering_and_dir_inside_after")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_shared("spawn_root_dir_target_runs_the_program_in_the_targets_chroot")
    else {
        return;
    };
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
    let Some(_lock) = common::root_exclusive(
        "spawn_cwd_inside_nonexistent_fails_cannot_change_directory_and_leaves_no_process",
    ) else {
        return;
    };
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    for kinds in [sandbox_kinds(), KindSet::from(Kind::Net)] {
        let err = spawn_fails(
            Spawn::new(&handles).cwd(Dir::Inside(PathBuf::from("/nonexistent-nsj-cwd"))),
            kinds,
            sh("echo must not run"),
        );
        let msg = err.to_string();
        assert!(msg.contains("cannot change directory"), "{kinds}: {msg}");
        assert!(msg.contains("No such file or directory"), "{kinds}: {msg}");
        assert_eq!(err.raw_os_error(), Some(libc::ENOENT), "{kinds}: {msg}");
    }
}

#[test]
fn spawn_target_env_gives_the_program_exactly_the_targets_environment() {
    let Some(_lock) =
        common::root_shared("spawn_target_env_gives_the_program_exactly_the_targets_environment")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_shared("spawn_join_cgroup_puts_the_program_in_the_targets_cgroup_v2_group")
    else {
        return;
    };
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
    let Some(_lock) = common::root_exclusive("spawn_missing_program_is_exec_error_enoent_with_and_without_pid_kind_and_leaves_no_process") else {
    return;
    };
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    let by_path = format!("/nonexistent-{}/prog", unique("dir"));
    let by_name = unique("missing-prog");
    for kinds in [sandbox_kinds(), KindSet::from(Kind::Net)] {
        for program in [&by_path, &by_name] {
            let err = spawn_fails(&mut Spawn::new(&handles), kinds, Command::new(program));
            assert_exec_error(
                &err,
                kinds,
                program,
                "No such file or directory",
                libc::ENOENT,
            );
        }
    }
}

#[test]
fn spawn_non_executable_file_is_exec_error_eacces_and_leaves_no_process() {
    let Some(_lock) = common::root_exclusive(
        "spawn_non_executable_file_is_exec_error_eacces_and_leaves_no_process",
    ) else {
        return;
    };
    let tmp = TempDir::new("noexec");
    let file = tmp.path().join("script");
    fs::write(&file, "#!/bin/sh\necho ran\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(sandbox_kinds()).unwrap();
    for kinds in [sandbox_kinds(), KindSet::from(Kind::Net)] {
        let err = spawn_fails(&mut Spawn::new(&handles), kinds, Command::new(&file));
        let program = file.display().to_string();
        assert_exec_error(&err, kinds, &program, "Permission denied", libc::EACCES);
    }
}

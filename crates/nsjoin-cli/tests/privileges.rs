// Privileges and trust: the `nsjoin` binary run by an unprivileged user, the
// credentials a program ends up with, and what a hostile target can and cannot make
// nsjoin do with its environment, its working directory and its fds. SECURITY.md
// cites these tests by name.

use nsjoin_test_support as common;

use std::collections::BTreeSet;
use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Reachable, Sandbox, TempDir};

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");
const NOBODY: u32 = 65534;

// ---------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------

/// `cmd` as nobody: uid and gid 65534; std drops the supplementary groups when it
/// switches uid as root.
fn as_nobody(mut cmd: Command) -> Command {
    cmd.uid(NOBODY).gid(NOBODY);
    cmd
}

fn output(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null());
    // The copy of nsjoin was just written: while another test thread forks, its
    // child briefly holds the write fd, and exec says ETXTBSY.
    for _ in 0..100 {
        match cmd.output() {
            Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result.unwrap(),
        }
    }
    panic!("{cmd:?}: text file busy");
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// nsjoin failed on its own: exit 1, one line `nsjoin: ...` on stderr, nothing on stdout.
fn assert_refused(out: &Output, what: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {out:?}");
    assert!(out.stdout.is_empty(), "{what}: {out:?}");
    assert_eq!(err.lines().count(), 1, "{what}: {err}");
    assert!(err.starts_with("nsjoin: "), "{what}: {err}");
}

/// A process the test started (possibly as nobody); killed and reaped on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `sleep` in fresh namespaces of every kind owned by a fresh user namespace,
/// started by nobody (`unshare -Ur --fork ...`). Returns the holder and the PID of
/// the sleep.
fn nobodys_own_namespaces() -> (Proc, i32) {
    let mut cmd = Command::new("setpriv");
    cmd.args(["--pdeathsig", "KILL", "--", "unshare", "-Ur", "--fork"])
        .args([
            "--kill-child",
            "--pid",
            "--mount",
            "--uts",
            "--ipc",
            "--net",
        ])
        .args([
            "--cgroup",
            "--time",
            "sh",
            "-c",
            "echo ready; exec sleep 100000",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped());
    let mut child = as_nobody(cmd).spawn().unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let holder = Proc(child);
    assert_eq!(line.trim(), "ready", "unshare -Ur as nobody did not start");
    // setpriv execs unshare, whose child is the sandboxed process.
    let sleep = common::child_of(holder.0.id() as i32).expect("no sandboxed sleep");
    (holder, sleep)
}

/// The fields of `/proc/self/status` that say who a process is.
fn status_field<'a>(status: &'a str, name: &str) -> &'a str {
    status
        .lines()
        .find_map(|l| l.strip_prefix(name).and_then(|r| r.strip_prefix(':')))
        .unwrap_or_else(|| panic!("no {name} in {status}"))
        .trim()
}

const STATUS: [&str; 4] = [
    "grep",
    "-E",
    "^(Uid|Gid|Groups|Cap[A-Za-z]+):",
    "/proc/self/status",
];

fn fds_of(pid: i32) -> BTreeSet<i32> {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_str().unwrap().parse().unwrap())
        .collect()
}

/// Waits for a descendant of `pid` (or `pid` itself) whose comm is `comm`.
fn find_program(pid: i32, comm: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut todo = vec![pid];
        while let Some(p) = todo.pop() {
            let name = fs::read_to_string(format!("/proc/{p}/comm")).unwrap_or_default();
            if name.trim() == comm {
                return p;
            }
            if let Ok(list) = fs::read_to_string(format!("/proc/{p}/task/{p}/children")) {
                todo.extend(list.split_whitespace().map(|c| c.parse::<i32>().unwrap()));
            }
        }
        assert!(Instant::now() < deadline, "no {comm} under {pid}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

// ---------------------------------------------------------------------------
// Who may enter what
// ---------------------------------------------------------------------------

#[test]
fn unprivileged_user_is_refused_roots_namespaces_in_one_line() {
    let Some(_lock) =
        common::root_shared("unprivileged_user_is_refused_roots_namespaces_in_one_line")
    else {
        return;
    };
    let sandbox = Sandbox::new();
    // The build tree may not be reachable by nobody: a copy that is.
    let bin = Reachable::new("bin");
    let ours = bin.copy(NSJOIN);
    let t = sandbox.pid.to_string();
    for args in [
        &["-t", &t, "-n", "id", "-u"][..],
        &["-t", &t, "-u", "-i", "-m", "id", "-u"],
        &["--all", "-t", &t, "id", "-u"],
        &["--all", "-t", &t, "-S", "0", "-G", "0", "id", "-u"],
        &["-t", &t, "-e", "-n", "env"],
        &["-t", &t, "-r", "-w", "-n", "pwd"],
        &["--net=/proc/1/ns/net", "id", "-u"],
    ] {
        let mut cmd = Command::new(&ours);
        cmd.args(args);
        let out = output(as_nobody(cmd));
        assert_refused(&out, &args.join(" "));
    }
}

#[test]
fn unprivileged_user_enters_namespaces_it_owns() {
    let Some(_lock) = common::root_shared("unprivileged_user_enters_namespaces_it_owns") else {
        return;
    };
    let (_holder, pid) = nobodys_own_namespaces();
    // The build tree may not be reachable by nobody: a copy that is.
    let bin = Reachable::new("bin");
    let ours = bin.copy(NSJOIN);
    let t = pid.to_string();
    // Like nsenter: without --preserve-credentials the program is forced to 0/0 and
    // supplementary groups dropped, which nobody may not do outside and which the
    // namespace (setgroups "deny", as unshare -r writes it) refuses inside.
    let mut cmd = Command::new(&ours);
    cmd.args(["--all", "-t", &t, "id", "-u"]);
    assert_refused(&output(as_nobody(cmd)), "--all as nobody, forced 0/0");

    let mut cmd = Command::new(&ours);
    cmd.args(["--all", "--preserve-credentials", "-t", &t, "id", "-u"]);
    let out = output(as_nobody(cmd));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out).trim(), "0", "{out:?}");

    // Inside, the program is in every namespace of the target.
    let mut cmd = Command::new(&ours);
    cmd.args(["--all", "--preserve-credentials", "-t", &t, "readlink"]);
    let kinds = ["user", "mnt", "net", "uts", "ipc", "pid", "cgroup", "time"];
    cmd.args(kinds.map(|k| format!("/proc/self/ns/{k}")));
    let out = output(as_nobody(cmd));
    assert!(out.status.success(), "{out:?}");
    let want: Vec<String> = kinds
        .iter()
        .map(|k| fs::read_link(format!("/proc/{pid}/ns/{k}")).unwrap())
        .map(|l| l.to_string_lossy().into_owned())
        .collect();
    assert_eq!(stdout(&out).lines().collect::<Vec<_>>(), want, "{out:?}");

    // --keep-caps: the capabilities nobody has in its own user namespace become
    // ambient, and only there.
    let mut cmd = Command::new(&ours);
    cmd.args(["--all", "--preserve-credentials", "--keep-caps", "-t", &t]);
    cmd.args(STATUS);
    let out = output(as_nobody(cmd));
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    assert_ne!(status_field(&text, "CapAmb"), "0000000000000000", "{text}");
    assert_eq!(
        status_field(&text, "CapAmb"),
        status_field(&text, "CapPrm"),
        "{text}"
    );
}

// ---------------------------------------------------------------------------
// Credentials
// ---------------------------------------------------------------------------

#[test]
fn setuid_and_setgid_drop_every_privilege() {
    let Some(_lock) = common::root_shared("setuid_and_setgid_drop_every_privilege") else {
        return;
    };
    let sandbox = Sandbox::new();
    let t = sandbox.pid.to_string();
    // The exec path (no pid namespace) and the fork path (--all enters it).
    for kinds in [&["-n", "-u"][..], &["--all"]] {
        for keep_caps in [false, true] {
            let mut cmd = Command::new(NSJOIN);
            cmd.args(["-t", &t])
                .args(kinds)
                .args(["-S", "65534", "-G", "65534"]);
            if keep_caps {
                // Without a user namespace entered --keep-caps does nothing (nsenter).
                cmd.arg("--keep-caps");
            }
            cmd.args(STATUS);
            let out = output(cmd);
            let label = format!("{kinds:?} keep_caps={keep_caps}");
            assert!(out.status.success(), "{label}: {out:?}");
            let text = stdout(&out);
            for field in ["Uid", "Gid"] {
                let ids: Vec<&str> = status_field(&text, field).split_whitespace().collect();
                assert_eq!(ids, ["65534"; 4], "{label}: {text}");
            }
            assert_eq!(status_field(&text, "Groups"), "", "{label}: {text}");
            for cap in ["CapEff", "CapPrm", "CapAmb", "CapInh"] {
                assert_eq!(
                    status_field(&text, cap),
                    "0000000000000000",
                    "{label} {cap}: {text}"
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Target-controlled data
// ---------------------------------------------------------------------------

/// A `sleep` in a fresh uts namespace whose environment is hostile.
fn hostile_env_target() -> (Proc, i32) {
    let child = Command::new("/usr/bin/setpriv")
        .args([
            "--pdeathsig",
            "KILL",
            "--",
            "/usr/bin/unshare",
            "--uts",
            "--fork",
        ])
        .args(["--kill-child", "/bin/sleep", "100000"])
        .env_clear()
        .env("LD_PRELOAD", "/nonexistent")
        .env("PATH", "/evil")
        .env("NSJOIN_MARK", "target")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let holder = Proc(child);
    let sleep = common::child_of(holder.0.id() as i32).expect("no sleep");
    (holder, sleep)
}

#[test]
fn target_environment_reaches_the_program_only_with_env_option() {
    let Some(_lock) =
        common::root_shared("target_environment_reaches_the_program_only_with_env_option")
    else {
        return;
    };
    let (_holder, pid) = hostile_env_target();
    let t = pid.to_string();
    let caller = |cmd: &mut Command| {
        cmd.env_clear()
            .env("PATH", "/usr/bin:/bin")
            .env("NSJOIN_MARK", "caller");
    };

    // Without -e: the caller's environment, nothing of the target's.
    let mut cmd = Command::new(NSJOIN);
    cmd.args(["-t", &t, "-u", "env"]);
    caller(&mut cmd);
    let out = output(cmd);
    assert!(out.status.success(), "{out:?}");
    let env = stdout(&out);
    assert!(env.lines().any(|l| l == "NSJOIN_MARK=caller"), "{env}");
    assert!(env.lines().any(|l| l == "PATH=/usr/bin:/bin"), "{env}");
    assert!(!env.contains("LD_PRELOAD"), "{env}");
    assert!(!env.contains("/evil"), "{env}");

    // With -e: the target's, by design, LD_PRELOAD and PATH included; a bare
    // program name is then looked up in the target's PATH.
    let mut cmd = Command::new(NSJOIN);
    cmd.args(["-t", &t, "-u", "-e", "/usr/bin/env"]);
    caller(&mut cmd);
    let out = output(cmd);
    assert!(out.status.success(), "{out:?}");
    let env = stdout(&out);
    assert!(env.lines().any(|l| l == "NSJOIN_MARK=target"), "{env}");
    assert!(env.lines().any(|l| l == "PATH=/evil"), "{env}");
    assert!(env.lines().any(|l| l == "LD_PRELOAD=/nonexistent"), "{env}");

    let mut cmd = Command::new(NSJOIN);
    cmd.args(["-t", &t, "-u", "-e", "env"]);
    caller(&mut cmd);
    let out = output(cmd);
    assert_eq!(out.status.code(), Some(127), "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn target_working_directory_is_the_directory_not_its_path() {
    let Some(_lock) = common::root_shared("target_working_directory_is_the_directory_not_its_path")
    else {
        return;
    };
    let dir = TempDir::new("cwd");
    let work = dir.path().join("work");
    let moved = dir.path().join("moved");
    let elsewhere = dir.path().join("elsewhere");
    fs::create_dir(&work).unwrap();
    fs::create_dir(&elsewhere).unwrap();
    fs::write(work.join("mine"), "").unwrap();
    fs::write(elsewhere.join("not-mine"), "").unwrap();
    let child = Command::new("setpriv")
        .args(["--pdeathsig", "KILL", "--", "unshare", "--uts", "--fork"])
        .args(["--kill-child", "/bin/sleep", "100000"])
        .current_dir(&work)
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let holder = Proc(child);
    let pid = common::child_of(holder.0.id() as i32).expect("no sleep");
    // The target swaps its directory's path for a symlink to another directory.
    fs::rename(&work, &moved).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &work).unwrap();

    let t = pid.to_string();
    let out = output({
        let mut cmd = Command::new(NSJOIN);
        cmd.args(["-t", &t, "-u", "-w", "sh", "-c", "pwd -P; ls"]);
        cmd
    });
    assert!(out.status.success(), "{out:?}");
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines, [moved.to_str().unwrap(), "mine"], "{out:?}");

    // A directory the target removed: still entered, nothing to see.
    fs::remove_file(moved.join("mine")).unwrap();
    fs::remove_dir(&moved).unwrap();
    let out = output({
        let mut cmd = Command::new(NSJOIN);
        cmd.args(["-t", &t, "-u", "-w", "ls", "-a"]);
        cmd
    });
    assert!(out.status.success(), "{out:?}");
    assert_eq!(stdout(&out), "", "{out:?}");
}

// ---------------------------------------------------------------------------
// Fds
// ---------------------------------------------------------------------------

#[test]
fn program_gets_no_fd_of_nsjoin() {
    let Some(_lock) = common::root_exclusive("program_gets_no_fd_of_nsjoin") else {
        return;
    };
    let sandbox = Sandbox::new();
    let t = sandbox.pid.to_string();
    let allowed: BTreeSet<i32> = common::inheritable_fds().into_iter().chain(0..3).collect();
    // Exec in place (no pid namespace), and fork and supervise (--all); with every
    // option that makes nsjoin open something of its own.
    for kinds in [&["-n", "-u", "-m"][..], &["--all"]] {
        let mut cmd = Command::new(NSJOIN);
        cmd.args(["-t", &t, "-r", "-w", "-S", "65534", "-G", "65534"])
            .args(kinds)
            .args(["sleep", "100000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let nsjoin = Proc(cmd.spawn().unwrap());
        let program = find_program(nsjoin.0.id() as i32, "sleep");
        // sleep may hold a locale file for a moment while it starts; an fd of
        // nsjoin's would stay.
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut fds = fds_of(program);
        while !fds.is_subset(&allowed) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            fds = fds_of(program);
        }
        let links: Vec<_> = fds
            .iter()
            .map(|fd| (fd, fs::read_link(format!("/proc/{program}/fd/{fd}"))))
            .collect();
        assert!(
            fds.is_subset(&allowed),
            "{kinds:?}: {links:?} ⊄ {allowed:?}"
        );
    }
}

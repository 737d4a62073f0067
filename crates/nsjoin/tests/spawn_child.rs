//! Integration tests of `nsjoin::Child`: waiting, signals, exit codes, stdio, and
//! that spawning leaves no fd or process behind.

use nsjoin_test_support as common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{ns_link, Sandbox, TempDir};
use nsjoin::{Dir, Kind, KindSet, Spawn, Target};

mod spawn_fixtures;
use spawn_fixtures::*;

/// 0, 1, 2, and whatever fds of the test process lack FD_CLOEXEC: normally none,
/// but a test run may inherit some from whoever started it, and any program gets
/// those (std's Command and util-linux nsenter pass them on too).
fn stdio_and_inheritable_fds() -> BTreeSet<u32> {
    let inheritable = common::inheritable_fds().into_iter().map(|fd| fd as u32);
    inheritable.chain(0..3).collect()
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
// Child: waiting, signals, exit codes, stdio
// ---------------------------------------------------------------------------

#[test]
fn child_kill_then_wait_reports_sigkill_for_a_pid_namespace_program() {
    let Some(_lock) =
        common::root_shared("child_kill_then_wait_reports_sigkill_for_a_pid_namespace_program")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_shared("child_try_wait_is_none_while_running_then_some_with_the_exit_code")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_shared("spawn_status_propagates_the_exit_code_with_and_without_pid_kind")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_shared("spawn_piped_stdin_reaches_the_program_in_the_pid_namespace")
    else {
        return;
    };
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
    let Some(_lock) =
        common::root_shared("spawn_output_captures_stdout_stderr_and_exit_code_separately")
    else {
        return;
    };
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
    let Some(_lock) = common::root_exclusive("spawn_output_gives_the_program_dev_null_as_stdin")
    else {
        return;
    };
    let sb = Sandbox::new();
    let handles = Target::pid(sb.pid).open(KindSet::from(Kind::Net)).unwrap();
    // Our own stdin is a pipe nobody writes to: inheriting it would show.
    let _stdin = StdinIsPipe::new();
    let out = output_ok(&Spawn::new(&handles), sh("readlink /proc/self/fd/0"));
    assert_eq!(out, "/dev/null\n", "Spawn::output's documented stdin");
}

#[test]
fn spawn_passes_only_fds_0_1_2_to_the_program() {
    let Some(_lock) = common::root_shared("spawn_passes_only_fds_0_1_2_to_the_program") else {
        return;
    };
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
    let Some(_lock) = common::root_exclusive(
        "fifty_spawns_and_failures_leave_the_fd_count_and_children_unchanged",
    ) else {
        return;
    };
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

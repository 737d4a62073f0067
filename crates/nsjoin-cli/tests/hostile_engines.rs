//! `nsjoin` against hostile engines (stand-ins on the test's own sockets, given
//! through DOCKER_HOST) and its messages where the cause is not the program or
//! the target: each ends in one line, `nsjoin: ...`, with nsenter's exit codes
//! (1 for nsjoin's own errors, 126 when the program cannot be executed), within
//! NSJOIN_ENGINE_TIMEOUT and a little slack. A run still going after [`HANG`] is
//! killed and fails the test (before this suite, nsjoin waited forever on a
//! listener that never accepts and on an engine sending a byte every 2 s).
//!
//! The library's suite (crates/nsjoin/tests/hostile_engines.rs) covers every
//! engine; this one checks what the user sees.

use nsjoin_test_support as common;
#[path = "../../nsjoin/tests/engine_fakes/sockets.rs"]
mod engine_fakes;

use std::io::Write;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use engine_fakes::{engine_api, inspect_with_pid, pour, trickle, Fake, Stuck, ENDLESS};
use rustix::net::SocketAddrUnix;

use common::TempDir;

const LIMIT: &str = "1";
const SLACK: Duration = Duration::from_secs(3);
const HANG: Duration = Duration::from_secs(25);

/// Runs `cmd` to its end, or kills it after [`HANG`] and fails.
fn finish(mut cmd: Command) -> (Output, Duration) {
    let start = Instant::now();
    let mut child: Child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("cannot run nsjoin");
    loop {
        if child.try_wait().unwrap().is_some() {
            let took = start.elapsed();
            return (child.wait_with_output().unwrap(), took);
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{cmd:?} still running after {HANG:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One line on stderr, `nsjoin: ` and `wanted` in it, nothing on stdout, `code`.
fn assert_one_line(out: &Output, code: i32, wanted: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(out.stdout.is_empty(), "stdout: {:?}", out.stdout);
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(err.starts_with("nsjoin: "), "stderr: {err}");
    assert!(err.contains(wanted), "wanted {wanted:?} in: {err}");
    assert!(!err.contains("(os error"), "stderr: {err}");
    err
}

/// A socket path for a stand-in Docker, and `nsjoin -t docker://web -n true`
/// pointed at it with NSJOIN_ENGINE_TIMEOUT=LIMIT.
struct Docker {
    dir: TempDir,
}

impl Docker {
    fn new() -> Docker {
        Docker {
            dir: TempDir::new("hostile-cli"),
        }
    }

    fn socket(&self) -> String {
        self.dir.path().join("docker.sock").display().to_string()
    }

    fn addr(&self) -> SocketAddrUnix {
        SocketAddrUnix::new(self.socket().as_str()).unwrap()
    }

    fn nsjoin(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsjoin"));
        cmd.args(["-t", "docker://web", "-n", "true"])
            .env("DOCKER_HOST", format!("unix://{}", self.socket()))
            .env("NSJOIN_ENGINE_TIMEOUT", LIMIT);
        cmd
    }
}

#[test]
fn a_docker_engine_that_never_accepts_is_given_up_at_the_deadline() {
    let docker = Docker::new();
    let _stuck = Stuck::at(&docker.addr());
    let (out, took) = finish(docker.nsjoin());
    let err = assert_one_line(&out, 1, "did not answer in time");
    assert!(err.contains(&docker.socket()), "{err}");
    assert!(
        took >= Duration::from_millis(950) && took < Duration::from_secs(1) + SLACK,
        "{took:?}"
    );
}

#[test]
fn a_docker_engine_that_trickles_is_given_up_at_the_deadline() {
    let docker = Docker::new();
    let _fake = Fake::at(&docker.addr(), |conn, stop| {
        trickle(conn, b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\n", &stop)
    });
    let (out, took) = finish(docker.nsjoin());
    let err = assert_one_line(&out, 1, "did not answer in time");
    assert!(
        err.contains(&format!(
            "nsjoin: docker://web: the engine at {} did not answer in time (nsjoin waits 1 s; \
             NSJOIN_ENGINE_TIMEOUT sets another limit)",
            docker.socket()
        )),
        "{err}"
    );
    assert!(took < Duration::from_secs(1) + SLACK, "{took:?}");
}

#[test]
fn an_endless_docker_answer_is_refused() {
    let docker = Docker::new();
    let _fake = Fake::at(
        &docker.addr(),
        engine_api(|conn, stop| {
            if conn.write_all(b"HTTP/1.1 200 OK\r\n\r\n").is_ok() {
                pour(conn, b' ', ENDLESS, stop);
            }
        }),
    );
    let (out, took) = finish(docker.nsjoin());
    assert_one_line(
        &out,
        1,
        "the engine's answer is larger than 16 MiB; refused",
    );
    assert!(took < Duration::from_secs(1) + SLACK, "{took:?}");
}

#[test]
fn a_docker_engine_lying_about_the_pid_is_named() {
    for pid in [0, -1] {
        let docker = Docker::new();
        let _fake = Fake::at(
            &docker.addr(),
            engine_api(move |conn, _| {
                let _ = conn.write_all(inspect_with_pid(pid).as_bytes());
            }),
        );
        let (out, _) = finish(docker.nsjoin());
        let err = assert_one_line(
            &out,
            1,
            &format!(
                "nsjoin: docker://web: the engine reported the container running but with no \
                 valid PID (Pid {pid})"
            ),
        );
        assert!(!err.contains("not running"), "{err}");
    }
}

#[test]
fn a_malformed_engine_timeout_is_one_line() {
    let docker = Docker::new();
    let mut cmd = docker.nsjoin();
    cmd.env("NSJOIN_ENGINE_TIMEOUT", "soon");
    let (out, _) = finish(cmd);
    assert_one_line(
        &out,
        1,
        "nsjoin: NSJOIN_ENGINE_TIMEOUT=soon: not a time limit in seconds (such as 10 or 0.5)",
    );
}

/// `-t PID:INODE` of a process that does not exist: util-linux's wording of the
/// errno, without Rust's "(os error 3)".
#[test]
fn a_pid_inode_target_that_is_gone_is_one_plain_line() {
    // Above PID_MAX_LIMIT (2^22): never a process.
    let (out, _) = finish({
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_nsjoin"));
        cmd.args(["-t", "4194305:1234", "-n", "true"]);
        cmd
    });
    let err = assert_one_line(&out, 1, "cannot open pidfd of 4194305: No such process");
    assert_eq!(
        err.trim_end(),
        "nsjoin: cannot open pidfd of 4194305: No such process"
    );
}

/// Out of fds, every failure is one line naming the cause; where it is the
/// program that could not be started (exit 126, as util-linux has for every exec
/// failure but ENOENT), it says "too many open files", not "failed to execute",
/// which reads as the program's fault.
#[test]
fn running_out_of_fds_is_named_as_the_cause() {
    if !common::root_or_skip("running_out_of_fds_is_named_as_the_cause") {
        return;
    }
    /// The target, killed however the test ends.
    struct Target(Child);
    impl Drop for Target {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let target = Target(
        Command::new("sleep")
            .arg("1000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let pid = target.0.id().to_string();
    let mut exec_failures = 0;
    let mut fd_failures = 0;
    for limit in 3..=40 {
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={limit}"))
            .arg(env!("CARGO_BIN_EXE_nsjoin"))
            .args(["-t", &pid, "-n", "-p", "true"]);
        let (out, _) = finish(cmd);
        if out.status.success() {
            continue;
        }
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        if err.contains("error while loading shared libraries") {
            // Too few for the dynamic loader: nsjoin never ran.
            continue;
        }
        let code = out.status.code();
        assert!(
            code == Some(1) || code == Some(126),
            "limit {limit}: {code:?}: {err}"
        );
        assert_one_line(&out, code.unwrap(), "");
        assert!(
            err.to_lowercase().contains("too many open files"),
            "limit {limit}: {err}"
        );
        fd_failures += 1;
        if code == Some(126) {
            exec_failures += 1;
            assert!(
                err.starts_with("nsjoin: cannot execute true: too many open files"),
                "limit {limit}: {err}"
            );
        }
    }
    drop(target);
    assert!(fd_failures > 0, "no limit made nsjoin run out of fds");
    eprintln!("{fd_failures} limits failed, {exec_failures} of them at exec");
}

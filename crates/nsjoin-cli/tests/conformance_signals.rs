//! Conformance of the `nsjoin` command with util-linux `nsenter` (how cases run:
//! tests/conformance_fixtures): signals to the tool and to the program (stop and
//! continue, SIGTERM, SIGKILL).

use nsjoin_test_support as common;

use std::fs;
use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use common::Sandbox;
use rustix::process::Signal;

mod conformance_fixtures;
use conformance_fixtures::*;

/// The state letter of /proc/PID/stat (R, S, T, Z...), None once the PID is gone.
fn proc_state(pid: i32) -> Option<char> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Waits (up to 10 s) for a descendant of `pid` that runs `comm`.
fn wait_for_descendant(pid: i32, comm: &str) -> i32 {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let mut todo = children(pid);
        while let Some(p) = todo.pop() {
            if fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == comm) {
                return p;
            }
            todo.extend(children(p));
        }
        thread::sleep(Duration::from_millis(10));
    }
    panic!("no `{comm}` under process {pid} after 10 s");
}

// ---------------------------------------------------------------------------
// Signals
// ---------------------------------------------------------------------------

/// Waits (up to `secs`) for `child` to end; kills it (and `program`) and fails
/// the test if it does not.
fn wait_or_kill(child: &mut Child, program: i32, secs: u64, what: &str) -> ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = signal(program, Signal::KILL);
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not end within {secs} s");
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Starts the tool `bin` (stdin null, stderr piped) and waits for its program,
/// the descendant that runs `comm`: the tool's child, its PID and the program's.
fn start_tool(bin: &str, args: &[&str], stdout: Stdio, comm: &str) -> (Child, i32, i32) {
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let tool = child.id() as i32;
    let program = wait_for_descendant(tool, comm);
    (child, tool, program)
}

/// What a tool does when its program (in a pid namespace, so after a fork) stops:
/// whether the tool stopped too, then, once the tool got SIGCONT, how it ended.
fn stop_and_continue(bin: &str, target: i32) -> (bool, Output) {
    let target = target.to_string();
    let args = ["-t", &target, "-p", "sh", "-c", "sleep 1; echo done"];
    let (mut child, tool, program) = start_tool(bin, &args, Stdio::piped(), "sh");
    signal(program, Signal::STOP).unwrap();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut tool_stopped = false;
    while !tool_stopped && Instant::now() < deadline {
        tool_stopped = proc_state(tool) == Some('T');
        thread::sleep(Duration::from_millis(10));
    }
    // Continue the tool (it continues the program), or, if it did not stop, the
    // program itself, so that the run ends either way.
    signal(if tool_stopped { tool } else { program }, Signal::CONT).unwrap();
    let status = wait_or_kill(&mut child, program, 10, &format!("{bin} after SIGCONT"));
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (
        tool_stopped,
        Output {
            status,
            stdout,
            stderr,
        },
    )
}

/// Waits up to `secs` seconds until `program` is gone: reaped, or at least dead
/// (left to its namespace's init, a `sleep` that never reaps). Kills it if it is
/// not, and says whether it was still running.
fn still_running_after(program: i32, secs: u64) -> bool {
    let gone = || matches!(proc_state(program), None | Some('Z') | Some('X'));
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !gone() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    let running = !gone();
    if running {
        let _ = signal(program, Signal::KILL);
    }
    running
}

#[test]
fn stopped_program_stops_the_tool_and_continues_with_it_like_nsenter() {
    if !common::root_or_skip("stopped_program_stops_the_tool_and_continues_with_it_like_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    for bin in ["nsenter", NSJOIN] {
        let (stopped, out) = stop_and_continue(bin, sb.pid);
        assert!(
            stopped,
            "{bin}: did not stop when its program stopped: {out:?}"
        );
        assert_eq!(out.status.code(), Some(0), "{bin}: {out:?}");
        assert_eq!(out.stdout, "done\n", "{bin}: {out:?}");
    }
}

#[test]
fn sigterm_to_nsjoin_reaches_the_program_and_ends_nsjoin_by_it() {
    if !common::root_or_skip("sigterm_to_nsjoin_reaches_the_program_and_ends_nsjoin_by_it") {
        return;
    }
    // nsenter does not forward signals (its forked program keeps running);
    // nsjoin forwards TERM, INT, HUP and QUIT, then ends by the same signal.
    let sb = Sandbox::new();
    for (sig, number) in [
        (Signal::TERM, 15),
        (Signal::INT, 2),
        (Signal::HUP, 1),
        (Signal::QUIT, 3),
    ] {
        let args = ["-t", &sb.pid.to_string(), "-p", "sleep", "30"];
        let (mut child, tool, program) = start_tool(NSJOIN, &args, Stdio::null(), "sleep");
        signal(tool, sig).unwrap();
        let status = wait_or_kill(&mut child, program, 10, "nsjoin after the signal");
        let running = still_running_after(program, 2);
        assert_eq!(
            status.signal(),
            Some(number),
            "{sig:?}: nsjoin ended with {status:?}"
        );
        assert!(
            !running,
            "{sig:?}: the program was still running after nsjoin ended"
        );
    }
}

#[test]
fn sigkill_to_nsjoin_leaves_no_program_running() {
    if !common::root_or_skip("sigkill_to_nsjoin_leaves_no_program_running") {
        return;
    }
    // SIGKILL cannot be forwarded: the program dies with nsjoin instead
    // (PR_SET_PDEATHSIG), where nsenter's would keep running.
    let sb = Sandbox::new();
    let args = ["-t", &sb.pid.to_string(), "-p", "-n", "sleep", "30"];
    let (mut child, tool, program) = start_tool(NSJOIN, &args, Stdio::null(), "sleep");
    signal(tool, Signal::KILL).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.signal(), Some(9), "nsjoin ended with {status:?}");
    let running = still_running_after(program, 5);
    assert!(
        !running,
        "the program was still running after nsjoin was killed"
    );
}

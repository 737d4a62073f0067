//! Conformance of the `nsjoin` command with util-linux `nsenter` (how cases run:
//! tests/conformance_fixtures): a Docker container as the target, programs and
//! their arguments, exit codes, usage errors, help and version.

use nsjoin_test_support as common;

use std::fs;
use std::os::unix::fs::PermissionsExt;

use common::{ns_link, reaped_pid, Container, Sandbox, TempDir};

mod conformance_fixtures;
use conformance_fixtures::*;

// ---------------------------------------------------------------------------
// A Docker container
// ---------------------------------------------------------------------------

/// Drops the line of `ps` itself (its PID differs from run to run).
fn without_ps(stdout: &str) -> String {
    stdout
        .lines()
        .filter(|line| !line.trim_end().ends_with(" ps"))
        .map(|line| format!("{line}\n"))
        .collect()
}

#[test]
fn docker_container_matches_nsenter() {
    if !common::root_or_skip("docker_container_matches_nsenter") {
        return;
    }
    let Some(c) = Container::start_or_skip("docker_container_matches_nsenter") else {
        return;
    };
    let t = c.pid.to_string();
    // The container shares the host's user namespace: --all skips it.
    assert_eq!(
        ns_link(c.pid, "user"),
        ns_link(std::process::id() as i32, "user")
    );
    let (ps, rootfs) = ("PID   COMMAND\n    1 sleep", "bin\ndev\netc\nproc\nsys");
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints(&c.hostname), &["--all", "-t", &t, "hostname"]),
        case(Want::Prints(&c.hostname), &["-a", "-t", &t, "/bin/hostname"]),
        case(Want::Prints("0"), &["--all", "-t", &t, "id", "-u"]),
        case(Want::Same(0), &["-m", "-u", "-i", "-n", "-p", "-t", &t, "ps"]).filter(without_ps),
        case(Want::Prints(ps), &["-m", "-u", "-i", "-n", "-p", "-t", &t, "ps", "-o", "pid,comm"]).filter(without_ps),
        case(Want::Prints(rootfs), &["-m", "-u", "-i", "-n", "-p", "-t", &t, "ls", "/"]),
        // The container's root without its mount namespace.
        case(Want::Prints(rootfs), &["-t", &t, "-u", "-r", "ls", "/"]),
        case(Want::Prints("/etc"), &["-t", &t, "-m", "-W/etc", "pwd"]),
        case(Want::Same(0), &["-t", &t, "-n", "ip", "-o", "link"]),
        case(Want::Exits(3, ""), &["-a", "-t", &t, "sh", "-c", "exit 3"]),
        // Asked for explicitly, the caller's own user namespace cannot be entered.
        case(Want::Fails(1), &["-U", "-t", &t, "true"]),
    ];
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// Programs, arguments, exit codes
// ---------------------------------------------------------------------------

#[test]
fn program_and_its_arguments_match_nsenter() {
    if !common::root_or_skip("program_and_its_arguments_match_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let dir = TempDir::new("exec");
    let plain = dir.path().join("not-executable");
    fs::write(&plain, "#!/bin/sh\necho never\n").unwrap();
    fs::set_permissions(&plain, fs::Permissions::from_mode(0o644)).unwrap();
    let plain = plain.to_str().unwrap();
    let dir = dir.path().to_str().unwrap();
    #[rustfmt::skip]
    let cases = [
        // Options end at the program: what follows is its own.
        case(Want::Prints("-x"), &["-t", &t, "-u", "sh", "-c", "echo $0", "-x"]),
        case(Want::Prints("-x"), &["-t", &t, "-u", "--", "sh", "-c", "echo $0", "-x"]),
        case(Want::Prints("-u -t --all"), &["-t", &t, "-u", "echo", "-u", "-t", "--all"]),
        // `--` ends the options: `-h` is a program's name there.
        case(Want::Fails(127), &["-t", &t, "-u", "--", "-h"]),
        case(Want::Fails(127), &["-t", &t, "-u", "nsjoin-no-such-program"]),
        case(Want::Fails(127), &["-t", &t, "-u", "/nonexistent/nsjoin"]),
        case(Want::Fails(127), &["-t", &t, "-p", "nsjoin-no-such-program"]),
        case(Want::Fails(126), &["-t", &t, "-u", plain]),
        case(Want::Fails(126), &["-t", &t, "-u", dir]),
        case(Want::Fails(126), &["-t", &t, "-p", dir]),
        case(Want::Exits(3, ""), &["-t", &t, "-u", "sh", "-c", "exit 3"]),
        case(Want::Exits(3, "out"), &["-t", &t, "-p", "sh", "-c", "echo out; exit 3"]),
        case(Want::Exits(255, ""), &["-t", &t, "-u", "-F", "sh", "-c", "exit 255"]),
        // Killed by a signal: the tool ends by the same signal (directly with exec,
        // by re-raising it after the fork of -p).
        case(Want::Killed(15), &["-t", &t, "-u", "sh", "-c", "kill -TERM $$"]),
        case(Want::Killed(15), &["-t", &t, "-p", "sh", "-c", "kill -TERM $$"]),
        case(Want::Killed(9), &["-t", &t, "-p", "sh", "-c", "kill -KILL $$"]),
        case(Want::Killed(10), &["-t", &t, "-m", "-p", "sh", "-c", "kill -USR1 $$"]),
    ];
    check_all(&cases);
}

#[test]
fn no_program_runs_shell_as_login_shell_like_nsenter() {
    if !common::root_or_skip("no_program_runs_shell_as_login_shell_like_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let shell = || Opts::stdin("echo $0; hostname; exit 4\n").env("SHELL", "/bin/sh");
    let out = format!("-sh\n{}", sb.hostname);
    #[rustfmt::skip]
    let cases = [
        case(Want::Exits(4, &out), &["-t", &t, "-u"]).opts(shell()),
        case(Want::Exits(4, &out), &["-t", &t, "-u", "-p"]).opts(shell()),
        case(Want::Exits(4, &out), &["-t", &t, "-u", "--"]).opts(shell()),
    ];
    check_all(&cases);
}

#[test]
fn usage_errors_match_nsenter() {
    if !common::root_or_skip("usage_errors_match_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let gone = reaped_pid().to_string();
    #[rustfmt::skip]
    let cases = [
        // No target to take the namespace from.
        case(Want::Fails(1), &["-u", "hostname"]),
        case(Want::Fails(1), &["--net", "ip", "link"]),
        // Bad targets.
        case(Want::Fails(1), &["-t", &gone, "-u", "true"]),
        case(Want::Fails(1), &["-t", &gone, "-a", "true"]),
        case(Want::Fails(1), &["-t", "0", "-u", "true"]),
        case(Want::Fails(1), &["-t", "abc", "-u", "true"]),
        case(Want::Fails(1), &["-t", "-5", "-u", "true"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-t"]),
        // Bad options.
        case(Want::Fails(1), &["-t", &t, "-u", "--bogus", "true"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-x", "true"]),
        case(Want::Fails(1), &["--bogus"]),
        case(Want::Fails(1), &["-t", &t, "--all=yes", "true"]),
        // Ambiguous abbreviation (--net, --no-fork...).
        case(Want::Fails(1), &["-t", &t, "--n", "true"]),
    ];
    check_all(&cases);
}

#[test]
fn help_and_version_exit_zero_like_nsenter() {
    // Neither needs root, nor a target; their text is nsjoin's own.
    for flag in ["-h", "--help", "-V", "--version"] {
        let args = vec![flag.to_owned()];
        let theirs = run("nsenter", &args, &Opts::default());
        assert_eq!(theirs.status.code(), Some(0), "nsenter {flag}: {theirs:?}");
        let ours = run(NSJOIN, &args, &Opts::default());
        assert_eq!(ours.status.code(), Some(0), "nsjoin {flag}: {ours:?}");
        assert!(!ours.stdout.is_empty(), "nsjoin {flag} printed nothing");
        assert_eq!(ours.stderr, "", "nsjoin {flag}");
    }
    for flag in ["-V", "--version"] {
        let out = nsjoin(&[flag], &Opts::default());
        let want = format!("nsjoin {}", env!("CARGO_PKG_VERSION"));
        assert!(out.stdout.starts_with(&want), "nsjoin {flag}: {out:?}");
    }
    // -h and -V win over a target that does not exist, like in nsenter.
    let gone = reaped_pid().to_string();
    for flag in ["-h", "-V"] {
        let args = vec![
            "-t".to_owned(),
            gone.clone(),
            "-u".to_owned(),
            flag.to_owned(),
        ];
        let theirs = run("nsenter", &args, &Opts::default());
        let ours = run(NSJOIN, &args, &Opts::default());
        assert_eq!(
            theirs.status.code(),
            Some(0),
            "nsenter {args:?}: {theirs:?}"
        );
        assert_eq!(ours.status.code(), Some(0), "nsjoin {args:?}: {ours:?}");
    }
}

#[test]
fn selinux_follow_context_is_accepted_like_nsenter() {
    if !common::root_or_skip("selinux_follow_context_is_accepted_like_nsenter") {
        return;
    }
    // Without SELinux nsenter ignores -Z; nsjoin may say so on stderr.
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints(&sb.hostname), &["-t", &t, "-u", "-Z", "hostname"]),
        case(Want::Prints(&sb.hostname), &["-t", &t, "-u", "--follow-context", "hostname"]),
    ];
    check_all(&cases);
}

//! `nsjoin --confine`: side by side with `docker exec` against real Docker
//! containers started with different security settings, and against plain
//! processes made with `setpriv` and `unshare`. The program's security lines of
//! `/proc/self/status` must be those of a program the container (or process)
//! runs itself, a blocked syscall must fail the same way, and the target must be
//! running and untraced afterwards.

use nsjoin_test_support as common;

use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{docker, security_lines, Container, StatusTarget, TempDir};

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

fn nsjoin(args: &[&str]) -> Command {
    let mut cmd = Command::new(NSJOIN);
    cmd.args(args).env_remove("DOCKER_HOST");
    cmd
}

fn run(mut cmd: Command) -> Output {
    cmd.stdin(Stdio::null());
    cmd.output().expect("cannot run the command")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The security lines a command printed with `cat /proc/self/status`.
fn lines_of(cmd: Command) -> Vec<String> {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "failed: {}\n{}",
        out.status,
        text(&out.stderr)
    );
    security_lines(&text(&out.stdout))
}

/// The target is running (not stopped) and nobody traces it.
fn assert_running_untraced(pid: i32) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let value = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(':'))
            .unwrap_or_else(|| panic!("no {name} in the target's status"))
            .trim()
            .to_owned()
    };
    let state = value("State");
    assert!(
        state.starts_with('S') || state.starts_with('R'),
        "target state: {state}"
    );
    assert_eq!(value("TracerPid"), "0", "the target is still traced");
}

/// The exit status and stderr of `hostname x`, which calls sethostname(2).
fn sethostname(cmd: Command) -> (Option<i32>, String) {
    let out = run(cmd);
    (out.status.code(), text(&out.stderr))
}

/// Starts a container with `options`, and compares `docker exec` with
/// `nsjoin --confine` (forked into the pid namespace with `-a`, and exec'd in
/// place with `-F`): the security lines, and how `hostname x`
/// fails. Returns the container and that failure.
fn side_by_side(test: &str, options: &[&str]) -> Option<(Container, (Option<i32>, String))> {
    if !common::root_or_skip(test) {
        return None;
    }
    let c = Container::start_with_or_skip(test, options)?;
    let target = format!("docker://{}", c.name);
    let docker_exec = |args: &[&str]| {
        let mut cmd = docker();
        cmd.arg("exec").arg(&c.name).args(args);
        cmd
    };
    let wanted = lines_of(docker_exec(&["cat", "/proc/self/status"]));
    let forked = lines_of(nsjoin(&[
        "--confine",
        "-a",
        "-t",
        &target,
        "cat",
        "/proc/self/status",
    ]));
    assert_eq!(
        forked, wanted,
        "nsjoin --confine -a vs docker exec, {options:?}"
    );
    assert_running_untraced(c.pid);
    // -F: exec'd in place, outside the pid namespace (where the container's
    // /proc has no self); the shell's child is inside (`&& true` keeps the shell
    // from exec'ing cat in its own place).
    let in_place = lines_of(nsjoin(&[
        "--confine",
        "-a",
        "-F",
        "-t",
        &target,
        "sh",
        "-c",
        "cat /proc/self/status && true",
    ]));
    assert_eq!(in_place, wanted, "nsjoin --confine without -p, {options:?}");
    assert_running_untraced(c.pid);
    let blocked = sethostname(docker_exec(&["hostname", "x"]));
    assert_ne!(blocked.0, Some(0), "docker exec could set the hostname");
    let confined = sethostname(nsjoin(&["--confine", "-a", "-t", &target, "hostname", "x"]));
    assert_eq!(confined, blocked, "hostname x, {options:?}");
    assert_running_untraced(c.pid);
    Some((c, blocked))
}

#[test]
fn confine_matches_docker_exec_in_a_default_container() {
    let Some((c, _)) = side_by_side("confine_default", &[]) else {
        return;
    };
    // Without --confine the program has far more than the container's processes.
    let target = format!("docker://{}", c.name);
    let free = lines_of(nsjoin(&["-a", "-t", &target, "cat", "/proc/self/status"]));
    let mut cmd = docker();
    cmd.args(["exec", &c.name, "cat", "/proc/self/status"]);
    let wanted = lines_of(cmd);
    assert_ne!(free, wanted, "an unconfined entry looks confined");
    // The copied filter really is the container's default profile: more than a
    // handful of instructions, and Seccomp_filters 1 in both.
    assert!(wanted.contains(&"Seccomp:\t2".to_owned()), "{wanted:?}");
    assert!(
        wanted.contains(&"Seccomp_filters:\t1".to_owned()),
        "{wanted:?}"
    );
    // The working directory and environment are the container's.
    let out = run(nsjoin(&[
        "--confine",
        "-a",
        "-t",
        &target,
        "sh",
        "-c",
        "pwd; echo $PATH",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "/\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    );
    // So are its cgroups, v1 hierarchies (on a hybrid host) included.
    let cgroups = |cmd: Command| {
        let out = run(cmd);
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let mut cmd = docker();
    cmd.args(["exec", &c.name, "cat", "/proc/self/cgroup"]);
    assert_eq!(
        cgroups(nsjoin(&[
            "--confine",
            "-a",
            "-t",
            &target,
            "cat",
            "/proc/self/cgroup"
        ])),
        cgroups(cmd)
    );
}

#[test]
fn confine_matches_docker_exec_for_another_user_and_group() {
    side_by_side(
        "confine_user",
        &["--user", "1000:1000", "--group-add", "10"],
    );
}

#[test]
fn confine_matches_docker_exec_with_one_capability() {
    side_by_side(
        "confine_caps",
        &["--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"],
    );
}

#[test]
fn confine_matches_docker_exec_with_no_new_privileges() {
    side_by_side("confine_nnp", &["--security-opt", "no-new-privileges"]);
}

#[test]
fn confine_matches_docker_exec_without_seccomp() {
    side_by_side(
        "confine_unconfined",
        &["--security-opt", "seccomp=unconfined"],
    );
}

#[test]
fn confine_copies_a_custom_seccomp_profile() {
    let dir = TempDir::new("confine-profile");
    let profile = dir.path().join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["sethostname"],"action":"SCMP_ACT_ERRNO","errnoRet":95}]}"#,
    )
    .unwrap();
    let option = format!("seccomp={}", profile.display());
    let Some((_, (code, stderr))) = side_by_side("confine_profile", &["--security-opt", &option])
    else {
        return;
    };
    // EOPNOTSUPP comes from the filter: the capability check would say EPERM.
    assert_ne!(code, Some(0));
    assert!(
        stderr.contains("Operation not supported"),
        "hostname x: {stderr}"
    );
}

/// The security lines `nsjoin --confine` gives a program in `target`.
fn confined_lines(target: &StatusTarget) -> Vec<String> {
    let pid = target.pid().to_string();
    lines_of(nsjoin(&[
        "--confine",
        "-a",
        "-t",
        &pid,
        "cat",
        "/proc/self/status",
    ]))
}

/// `nsjoin --confine` gives a program in `target` the security lines the
/// target's own programs get, and leaves it running untraced; those lines.
fn assert_confined_as_its_own(target: &StatusTarget) -> Vec<String> {
    let wanted = security_lines(&target.status);
    assert_eq!(confined_lines(target), wanted);
    assert_running_untraced(target.pid());
    wanted
}

#[test]
fn confine_matches_a_process_made_with_setpriv() {
    if !common::root_or_skip("confine_matches_a_process_made_with_setpriv") {
        return;
    }
    // Another user with two groups, one bounding capability besides an ambient
    // one, and no_new_privs.
    let target = StatusTarget::start(&[
        "setpriv",
        "--reuid=1000",
        "--regid=1000",
        "--groups=10,20",
        "--bounding-set=-all,+net_bind_service,+net_raw",
        "--inh-caps=-all,+net_bind_service",
        "--ambient-caps=+net_bind_service",
        "--no-new-privs",
    ]);
    let wanted = assert_confined_as_its_own(&target);
    assert!(wanted.contains(&"NoNewPrivs:\t1".to_owned()), "{wanted:?}");
    assert!(
        wanted.contains(&"CapAmb:\t0000000000000400".to_owned()),
        "{wanted:?}"
    );
}

#[test]
fn confine_matches_a_process_in_a_user_namespace_made_with_unshare() {
    if !common::root_or_skip("confine_matches_a_process_in_a_user_namespace_made_with_unshare") {
        return;
    }
    // Root outside is uid and gid 1000 inside (setgroups denied): the IDs are
    // translated into the target's user namespace, which the program enters.
    let target = StatusTarget::start(&[
        "unshare",
        "-U",
        "--map-user=1000",
        "--map-group=1000",
        "-m",
        "-u",
        "-i",
        "-n",
    ]);
    let wanted = assert_confined_as_its_own(&target);
    assert!(wanted[0].starts_with("Uid:\t1000\t"), "{wanted:?}");
    // Root in its user namespace, with every capability there.
    let target = StatusTarget::start(&["unshare", "-U", "-r", "-m", "-u", "-n"]);
    assert_confined_as_its_own(&target);
}

#[test]
fn confine_refuses_contradicting_options_in_one_line() {
    for (extra, option) in [
        (&["-S", "0"][..], "-S/--setuid"),
        (&["-G", "0"], "-G/--setgid"),
        (&["--keep-caps"], "--keep-caps"),
        (&["--preserve-credentials"], "--preserve-credentials"),
        (&["-r/"], "-r DIR/--root=DIR"),
    ] {
        let mut args = vec!["--confine", "-a", "-t", "1"];
        args.extend_from_slice(extra);
        args.push("true");
        let out = run(nsjoin(&args));
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{extra:?}: {err}");
        assert!(out.stdout.is_empty());
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "nsjoin: --confine cannot be combined with {option}"
            )),
            "{extra:?}: {err}"
        );
    }
}

#[test]
fn a_traced_target_is_an_error_naming_its_seccomp_filters() {
    if !common::root_or_skip("a_traced_target_is_an_error_naming_its_seccomp_filters") {
        return;
    }
    let Some(c) = Container::start_or_skip("confine_traced") else {
        return;
    };
    let mut strace = Command::new("strace")
        .args(["-o", "/dev/null", "-p", &c.pid.to_string()])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cannot run strace");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let status = std::fs::read_to_string(format!("/proc/{}/status", c.pid)).unwrap();
        if !status.contains("TracerPid:\t0\n") {
            break;
        }
        assert!(Instant::now() < deadline, "strace never attached");
        std::thread::sleep(Duration::from_millis(10));
    }
    let target = format!("docker://{}", c.name);
    let out = run(nsjoin(&["--confine", "-a", "-t", &target, "echo", "ran"]));
    let _ = strace.kill();
    let _ = strace.wait();
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        out.stdout.is_empty(),
        "the program ran: {}",
        text(&out.stdout)
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "nsjoin: cannot copy the seccomp filters of {target}: "
        )),
        "{err}"
    );
    // strace is gone: so is every tracer.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(format!("/proc/{}/status", c.pid))
        .unwrap()
        .contains("TracerPid:\t0\n")
    {
        assert!(Instant::now() < deadline, "the target stayed traced");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_running_untraced(c.pid);
}

#[test]
fn a_paused_container_is_an_error_and_is_let_go() {
    if !common::root_or_skip("a_paused_container_is_an_error_and_is_let_go") {
        return;
    }
    let Some(c) = Container::start_or_skip("confine_paused") else {
        return;
    };
    let docker_run = |verb: &str| {
        let out = docker().args([verb, &c.name]).output().unwrap();
        assert!(out.status.success(), "docker {verb}: {}", text(&out.stderr));
    };
    docker_run("pause");
    // A frozen target never reports its ptrace stop: nsjoin gives up, in time.
    let target = format!("docker://{}", c.name);
    let started = Instant::now();
    let out = run(nsjoin(&["--confine", "-a", "-t", &target, "echo", "ran"]));
    let err = text(&out.stderr);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "the program ran");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "nsjoin: cannot copy the seccomp filters of {target}: "
        )),
        "{err}"
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", c.pid)).unwrap();
    assert!(
        status.contains("TracerPid:\t0\n"),
        "still traced:\n{status}"
    );
    // Thawed, it runs on: no interrupt of ours was left pending.
    docker_run("unpause");
    std::thread::sleep(Duration::from_millis(300));
    assert_running_untraced(c.pid);
    // And it can be confined now.
    let out = run(nsjoin(&["--confine", "-a", "-t", &target, "echo", "ran"]));
    assert_eq!(text(&out.stdout), "ran\n", "{}", text(&out.stderr));
    assert_running_untraced(c.pid);
}

#[test]
fn a_limit_the_caller_cannot_raise_is_an_error_naming_it() {
    if !common::root_or_skip("a_limit_the_caller_cannot_raise_is_an_error_naming_it") {
        return;
    }
    let target = StatusTarget::start(&["env"]);
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", target.pid())).unwrap();
    let hard: Option<u64> = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(4))
        .and_then(|n| n.parse().ok());
    assert!(
        hard.is_some_and(|n| n > 512),
        "the target's open files limit: {limits}"
    );
    // nsjoin without CAP_SYS_RESOURCE (gone from the bounding set, so from root's
    // permitted set at exec) and a hard limit below the target's: the program
    // cannot get the target's limits, and is not run.
    let pid = target.pid().to_string();
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--bounding-set=-sys_resource",
        "prlimit",
        "--nofile=512:512",
    ])
    .args([NSJOIN, "--confine", "-a", "-t", &pid, "echo", "ran"]);
    let out = run(cmd);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "the program ran");
    assert_eq!(
        err.trim_end(),
        "nsjoin: cannot apply the target's resource limits: Operation not permitted"
    );
    assert_running_untraced(target.pid());
}

#[test]
fn a_bounding_set_the_caller_lacks_is_an_error_naming_it() {
    if !common::root_or_skip("a_bounding_set_the_caller_lacks_is_an_error_naming_it") {
        return;
    }
    // The target has CAP_NET_RAW (13) in its bounding set; nsjoin has not, and
    // a bounding set cannot grow back.
    let target = StatusTarget::start(&["env"]);
    let pid = target.pid().to_string();
    let mut cmd = Command::new("setpriv");
    cmd.args([
        "--bounding-set=-net_raw",
        NSJOIN,
        "--confine",
        "-a",
        "-t",
        &pid,
    ])
    .args(["echo", "ran"]);
    let out = run(cmd);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(out.stdout.is_empty(), "the program ran");
    assert_eq!(
        err.trim_end(),
        format!(
            "nsjoin: cannot copy the capability bounding set of process {pid}: it has \
             capabilities nsjoin's own bounding set lacks (numbers 13)"
        )
    );
}

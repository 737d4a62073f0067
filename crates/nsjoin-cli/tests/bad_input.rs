//! Bad input to the `nsjoin` command: a table of cases, each of which must fail with
//! exit code 1 (what util-linux nsenter 2.38 on this machine gives for the same case,
//! where it knows the case: that is asserted too), exactly one line on stderr that
//! starts with `nsjoin: `, nothing on stdout, no panic, and nothing left behind (no
//! child processes, no /run/netns entries, no fds of the test process).

use nsjoin_test_support as common;

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::{children, reaped_pid, zombie, Container, NetnsFile, TempDir};

mod bad_input_fixtures;
use bad_input_fixtures::*;

fn netns_entries() -> BTreeSet<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// What nsenter 2.38 is to be compared with.
#[derive(Clone, Copy)]
enum Nsenter {
    /// nsenter must give the same exit code.
    Same,
    /// Not compared, and why (nsenter lacks the option, hangs, or 2.38 differs
    /// from 2.41; see conformance_v241.rs).
    Skip(&'static str),
}

struct Case {
    name: &'static str,
    args: Vec<String>,
    env: Vec<(&'static str, &'static str)>,
    nsenter: Nsenter,
}

fn case(name: &'static str, args: &[&str], nsenter: Nsenter) -> Case {
    Case {
        name,
        args: args.iter().map(|s| s.to_string()).collect(),
        env: Vec::new(),
        nsenter,
    }
}

fn case_env(name: &'static str, args: &[&str], env: &[(&'static str, &'static str)]) -> Case {
    Case {
        env: env.to_vec(),
        ..case(
            name,
            args,
            Nsenter::Skip("container targets are nsjoin's own"),
        )
    }
}

/// Runs one case and returns what is wrong with it, if anything.
fn check(case: &Case) -> Vec<String> {
    let mut wrong = Vec::new();
    let out = run(NSJOIN, &case.args, &case.env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut what = format!("{} ({:?})", case.name, case.args);
    if let Nsenter::Skip(why) = case.nsenter {
        what += &format!(" [nsenter not compared: {why}]");
    }
    if out.status.code() != Some(1) {
        wrong.push(format!("{what}: exit {:?}, want 1", out.status));
    }
    if !stdout.is_empty() {
        wrong.push(format!("{what}: stdout {stdout:?}"));
    }
    let lines: Vec<&str> = stderr.lines().collect();
    if lines.len() != 1 || !lines[0].starts_with("nsjoin: ") || !stderr.ends_with('\n') {
        wrong.push(format!(
            "{what}: stderr is not one `nsjoin: ` line: {stderr:?}"
        ));
    }
    if stderr.contains("panicked") || stderr.contains("RUST_BACKTRACE") {
        wrong.push(format!("{what}: panic: {stderr:?}"));
    }
    if let Nsenter::Same = case.nsenter {
        let theirs = run("nsenter", &case.args, &case.env);
        if theirs.status.code() != out.status.code() {
            wrong.push(format!(
                "{what}: nsenter exits {:?}, nsjoin {:?}",
                theirs.status, out.status
            ));
        }
    }
    wrong
}

/// A `sleep` that is killed and reaped on drop.
struct Sleeper(Child);

impl Sleeper {
    fn new() -> Sleeper {
        Sleeper(
            Command::new("sleep")
                .arg("100000")
                .stdin(Stdio::null())
                .spawn()
                .unwrap(),
        )
    }
    fn pid(&self) -> String {
        self.0.id().to_string()
    }
}

impl Drop for Sleeper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn bad_inputs_exit_1_with_one_nsjoin_line_and_leave_no_process_fd_or_netns_behind() {
    let Some(_lock) = common::root_exclusive(
        "bad_inputs_exit_1_with_one_nsjoin_line_and_leave_no_process_fd_or_netns_behind",
    ) else {
        return;
    };

    // Fixtures, made before the "before" snapshot.
    let live = Sleeper::new();
    let p = live.pid();
    let mut zombie = zombie();
    let z = zombie.id().to_string();
    let gone = reaped_pid().to_string();
    let netns = NetnsFile::new();
    let dir = TempDir::new("bad-input");
    let d = dir.path();
    let fifo = d.join("fifo");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    let regular = d.join("regular");
    std::fs::write(&regular, "not a namespace\n").unwrap();
    let dangling = d.join("dangling");
    std::os::unix::fs::symlink(d.join("nowhere"), &dangling).unwrap();
    let missing = d.join("missing");
    let s = |p: &Path| p.to_str().unwrap().to_owned();
    let (fifo, regular, dangling, missing, dirs) =
        (s(&fifo), s(&regular), s(&dangling), s(&missing), s(d));
    let netns_path = s(&netns.path);
    let unknown_container = format!("docker://nsjoin-no-such-container-{}", std::process::id());

    use Nsenter::{Same, Skip};
    let o = |flag: &str, v: &str| format!("--{flag}={v}");
    let (net_null, net_dir, net_missing, net_dangling, net_fifo, net_regular, mnt_regular) = (
        o("net", "/dev/null"),
        o("net", &dirs),
        o("net", &missing),
        o("net", &dangling),
        o("net", &fifo),
        o("net", &regular),
        o("mount", &regular),
    );
    let uts_netns = o("uts", &netns_path);
    let cases = vec![
        // PIDs.
        case("pid 0", &["-t", "0", "-n", "true"], Same),
        case("pid -1", &["-t", "-1", "-n", "true"], Same),
        case("pid -5", &["-t", "-5", "-n", "true"], Same),
        case("pid 2^31-1", &["-t", "2147483647", "-n", "true"], Same),
        case("pid 2^32", &["-t", "4294967296", "-n", "true"], Same),
        case("pid 2^40", &["-t", "1099511627776", "-n", "true"], Same),
        case("pid abc", &["-t", "abc", "-n", "true"], Same),
        case("pid empty", &["-t", "", "-n", "true"], Same),
        case(
            "pid with a space inside",
            &["-t", "5 6", "-n", "true"],
            Same,
        ),
        case(
            "pid with a trailing space",
            &["-t", &format!("{p} "), "-n", "true"],
            Same,
        ),
        case("pid in hex", &["-t", "0x10", "-n", "true"], Same),
        case("pid 1e3", &["-t", "1e3", "-n", "true"], Same),
        case("zombie pid", &["-t", &z, "-n", "true"], Same),
        case("zombie pid, all", &["-t", &z, "-a", "true"], Same),
        case("reaped pid", &["-t", &gone, "-n", "true"], Same),
        case("-t without value", &["-t"], Same),
        // Files.
        case("--net=/dev/null", &[&net_null, "true"], Same),
        case("--net=directory", &[&net_dir, "true"], Same),
        case("--net=missing file", &[&net_missing, "true"], Same),
        case("--net=dangling symlink", &[&net_dangling, "true"], Same),
        case(
            "--net=fifo",
            &[&net_fifo, "true"],
            Skip("nsenter 2.38 blocks opening a FIFO"),
        ),
        case("--net=regular file", &[&net_regular, "true"], Same),
        case("--mount=regular file", &[&mnt_regular, "true"], Same),
        case("--uts=a netns file", &[&uts_netns, "true"], Same),
        case(
            "--net=another kind under /proc",
            &["--net=/proc/self/ns/uts", "true"],
            Same,
        ),
        case("--net= empty", &["-t", &p, "--net=", "true"], Same),
        // Options.
        case("-w and -W", &["-t", &p, "-w", "-W", "true"], Same),
        case(
            "-t twice",
            &["-t", &p, "-t", &p, "-n", "true"],
            Skip("an error since util-linux 2.41, accepted by 2.38"),
        ),
        case("-S without value", &["-t", &p, "-n", "-S"], Same),
        case("-S abc", &["-t", &p, "-n", "-S", "abc", "true"], Same),
        case("-G abc", &["-t", &p, "-n", "-G", "abc", "true"], Same),
        case(
            "-N without -t",
            &["-N", "3", "-n", "true"],
            Skip("2.38 lacks -N"),
        ),
        case(
            "-N abc",
            &["-t", &p, "-N", "abc", "-n", "true"],
            Skip("2.38 lacks -N"),
        ),
        case(
            "--user-parent without target",
            &["--user-parent", "true"],
            Skip("2.38 lacks --user-parent"),
        ),
        case(
            "no namespace",
            &["-t", &p, "true"],
            Skip("an error since util-linux 2.41, accepted by 2.38"),
        ),
        case("unknown long option", &["--bogus", "true"], Same),
        case("unknown short option", &["-j", "true"], Same),
        // Containers.
        case_env("empty docker name", &["-t", "docker://", "-n", "true"], &[]),
        case_env("empty podman name", &["-t", "podman://", "-n", "true"], &[]),
        case_env(
            "unknown container",
            &["-t", &unknown_container, "-n", "true"],
            &[],
        ),
        case_env("docker://a/b", &["-t", "docker://a/b", "-n", "true"], &[]),
        case_env("docker://../x", &["-t", "docker://../x", "-n", "true"], &[]),
        case_env("unknown engine", &["-t", "foo://x", "-n", "true"], &[]),
        case_env(
            "unreachable docker",
            &["-t", "docker://x", "-n", "true"],
            &[("DOCKER_HOST", "unix:///nonexistent")],
        ),
        case_env(
            "unreachable podman",
            &["-t", "podman://x", "-n", "true"],
            &[("CONTAINER_HOST", "unix:///nonexistent")],
        ),
        case_env(
            "unreachable containerd",
            &["-t", "containerd://x", "-n", "true"],
            &[("CONTAINERD_ADDRESS", "unix:///nonexistent")],
        ),
        case_env(
            "unreachable containerd, plain path",
            &["-t", "containerd://x", "-n", "true"],
            &[("CONTAINERD_ADDRESS", "/nonexistent")],
        ),
    ];
    assert!(cases.len() >= 40, "only {} cases", cases.len());

    let (kids, nets, fds) = (children(), netns_entries(), common::fd_count());
    let wrong: Vec<String> = cases.iter().flat_map(check).collect();
    assert_eq!(children(), kids, "child processes left behind");
    assert_eq!(netns_entries(), nets, "/run/netns entries left behind");
    assert_eq!(common::fd_count(), fds, "fds left open in the test process");
    assert!(
        wrong.is_empty(),
        "{} bad cases:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    zombie.wait().unwrap();
}

/// A kernel thread (PID 2, kthreadd) has the initial namespaces: entering them is
/// allowed and `true` runs there, as with nsenter.
#[test]
fn kernel_thread_pid_2_is_entered_like_nsenter_does() {
    let Some(_lock) = common::root_shared("kernel_thread_pid_2_is_entered_like_nsenter_does")
    else {
        return;
    };
    for args in [["-t", "2", "-n", "true"], ["-t", "2", "-a", "true"]] {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let ours = run(NSJOIN, &args, &[]);
        let theirs = run("nsenter", &args, &[]);
        assert_eq!(ours.status.code(), theirs.status.code(), "{args:?}");
        assert_eq!(ours.stdout, theirs.stdout, "{args:?}");
        if ours.status.success() {
            assert!(ours.stderr.is_empty(), "{args:?}: {ours:?}");
        }
    }
}

#[test]
fn ambiguous_docker_id_prefix_exits_1_with_one_line() {
    let Some(_lock) = common::root_shared("ambiguous_docker_id_prefix_exits_1_with_one_line")
    else {
        return;
    };
    let Some(first) = Container::start_or_skip("ambiguous_docker_id_prefix_exits_1_with_one_line")
    else {
        return;
    };
    // Created (not started) containers until two IDs share their first hex digit:
    // 17 IDs always do.
    let mut made = vec![first.name.clone()];
    let id = |name: &str| {
        let out = common::docker()
            .args(["inspect", "-f", "{{.Id}}", name])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let mut ids = vec![id(&first.name)];
    let mut prefix = None;
    for i in 0..17 {
        let name = format!("{}-amb-{i}", first.name);
        let ok = common::docker()
            .args(["create", "--name", &name, common::IMAGE, "sleep", "1"])
            .stdout(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "docker create {name} failed");
        made.push(name.clone());
        let new = id(&name);
        if let Some(same) = ids.iter().find(|i| i[..1] == new[..1]) {
            prefix = Some(same[..1].to_owned());
            break;
        }
        ids.push(new);
    }
    let spec = format!("docker://{}", prefix.expect("17 IDs share no first digit"));
    let wrong = check(&case_env("ambiguous", &["-t", &spec, "-n", "true"], &[]));
    let _ = common::docker()
        .arg("rm")
        .args(&made[1..])
        .stdout(Stdio::null())
        .status();
    assert!(wrong.is_empty(), "{wrong:?}");
}

#[test]
fn stopped_docker_container_exits_1_with_one_line() {
    let Some(_lock) = common::root_shared("stopped_docker_container_exits_1_with_one_line") else {
        return;
    };
    let Some(c) = Container::start_or_skip("stopped_docker_container_exits_1_with_one_line") else {
        return;
    };
    let ok = common::docker()
        .args(["stop", "-t", "0", &c.name])
        .stdout(Stdio::null())
        .status()
        .unwrap()
        .success();
    assert!(ok, "docker stop failed");
    let spec = format!("docker://{}", c.name);
    let wrong = check(&case_env("stopped", &["-t", &spec, "-n", "true"], &[]));
    assert!(wrong.is_empty(), "{wrong:?}");
}

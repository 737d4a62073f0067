//! The flags that the machine's nsenter (util-linux 2.38) lacks (-e, -c, --keep-caps,
//! --user-parent, -N, -S/-G follow) and where later util-linux differs from 2.38 (no
//! namespace and -t twice are errors; -W takes its directory only attached, like
//! -w): tested against nsenter(1) of util-linux 2.41 and its source, running
//! nsjoin alone (how cases run: tests/conformance_fixtures).

use nsjoin_test_support as common;

use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use common::{ns_link, NetnsFile, Reachable, Sandbox, TempDir};

mod conformance_fixtures;
use conformance_fixtures::*;

/// A child cgroup of the cgroup v2 hierarchy, removed on drop (after its processes
/// are gone: declare it before the processes moved into it).
struct Cgroup {
    /// Its path from the hierarchy's root, as /proc/PID/cgroup shows it.
    name: String,
    dir: PathBuf,
}

impl Cgroup {
    /// None where no cgroup2 file system is mounted.
    fn new() -> Option<Cgroup> {
        let mounts = fs::read_to_string("/proc/self/mounts").unwrap();
        let root = mounts.lines().find_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            (fields.get(2) == Some(&"cgroup2")).then(|| PathBuf::from(fields[1]))
        })?;
        let base = format!("nsjoin-conf-{}", std::process::id());
        let dir = root.join(&base);
        fs::create_dir(&dir).unwrap();
        Some(Cgroup {
            name: format!("/{base}"),
            dir,
        })
    }

    fn add(&self, pid: i32) {
        fs::write(self.dir.join("cgroup.procs"), pid.to_string()).unwrap();
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        for _ in 0..100 {
            if fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            thread::sleep(Duration::from_millis(10));
        }
    }
}

// ---------------------------------------------------------------------------
// util-linux 2.41 behaviour that the machine's nsenter (2.38) lacks: nsjoin alone
// ---------------------------------------------------------------------------

/// Asserts one of nsjoin's own failures: this exit code, nothing on stdout, one
/// error line.
fn assert_fails(code: i32, args: &[&str], opts: &Opts) {
    let out = nsjoin(args, opts);
    let label = args.join(" ");
    assert_eq!(out.status.code(), Some(code), "nsjoin {label}: {out:?}");
    assert_eq!(out.stdout, "", "nsjoin {label}: {out:?}");
    assert_error_line(&label, &out);
}

/// Asserts that nsjoin exits 0 and prints `want` (one trailing newline aside).
fn assert_prints(want: &str, args: &[&str], opts: &Opts) {
    let out = nsjoin(args, opts);
    assert_eq!(
        out.status.code(),
        Some(0),
        "nsjoin {}: {out:?}",
        args.join(" ")
    );
    assert_eq!(
        out.stdout.strip_suffix('\n').unwrap_or(&out.stdout),
        want,
        "nsjoin {}: {out:?}",
        args.join(" ")
    );
}

#[test]
fn v241_no_namespace_to_enter_is_an_error() {
    if !common::root_or_skip("v241_no_namespace_to_enter_is_an_error") {
        return;
    }
    // nsenter 2.41: "no namespace specified" (2.38 ran the program as it was);
    // -r and -w are not namespaces.
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    assert_fails(1, &["-t", &t, "hostname"], &Opts::default());
    assert_fails(1, &["-t", &t, "-r", "-w", "pwd"], &Opts::default());
    assert_fails(1, &["-t", &t], &Opts::stdin("echo ran\n"));
    assert_fails(1, &[], &Opts::stdin("echo ran\n"));
}

#[test]
fn v241_target_given_twice_is_an_error() {
    if !common::root_or_skip("v241_target_given_twice_is_an_error") {
        return;
    }
    // nsenter 2.41: "option --target may be given only once" (2.38 took the last).
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    assert_fails(1, &["-t", &t, "-t", &t, "-u", "hostname"], &Opts::default());
    assert_fails(
        1,
        &["-t", &t, "--target", &t, "-u", "hostname"],
        &Opts::default(),
    );
}

#[test]
fn v241_wdns_takes_its_directory_only_attached() {
    if !common::root_or_skip("v241_wdns_takes_its_directory_only_attached") {
        return;
    }
    // 2.41: -W, --wdns[=directory], like -w (2.38 also took `-W DIR`): the
    // directory becomes the program, which cannot be executed.
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let dir = TempDir::new("wdns");
    let dir = dir.path().to_str().unwrap();
    assert_fails(126, &["-t", &t, "-m", "-W", dir, "pwd"], &Opts::default());
}

#[test]
fn v241_env_option_takes_the_targets_environment() {
    if !common::root_or_skip("v241_env_option_takes_the_targets_environment") {
        return;
    }
    let sb = Sandbox::start(&["--uts"], "export NSJOIN_TARGET_MARK=from-target");
    let t = sb.pid.to_string();
    let opts = || Opts::default().env("NSJOIN_CALLER_MARK", "from-caller");
    for flag in ["-e", "--env"] {
        let out = nsjoin(&["-t", &t, "-u", flag, "env"], &opts());
        assert_eq!(out.status.code(), Some(0), "{flag}: {out:?}");
        let vars: Vec<&str> = out.stdout.lines().collect();
        assert!(
            vars.contains(&"NSJOIN_TARGET_MARK=from-target"),
            "{flag}: {out:?}"
        );
        assert!(
            !out.stdout.contains("NSJOIN_CALLER_MARK"),
            "{flag}: {out:?}"
        );
    }
    // Without -e the caller's environment stays, as in nsenter.
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints("from-caller"), &["-t", &t, "-u", "printenv", "NSJOIN_CALLER_MARK"]).opts(opts()),
        case(Want::Exits(1, ""), &["-t", &t, "-u", "printenv", "NSJOIN_TARGET_MARK"]).opts(opts()),
    ];
    check_all(&cases);
}

#[test]
fn v241_join_cgroup_moves_the_program_into_the_targets_cgroup() {
    if !common::root_or_skip("v241_join_cgroup_moves_the_program_into_the_targets_cgroup") {
        return;
    }
    let Some(cgroup) = Cgroup::new() else {
        eprintln!(
            "skipped v241_join_cgroup_moves_the_program_into_the_targets_cgroup: needs cgroup v2"
        );
        return;
    };
    let sb = Sandbox::new();
    cgroup.add(sb.pid);
    let line = format!("0::{}", cgroup.name);
    let t = sb.pid.to_string();
    for args in [
        &["-t", &t, "-u", "-c", "cat", "/proc/self/cgroup"][..],
        &["-t", &t, "-u", "--join-cgroup", "cat", "/proc/self/cgroup"],
        &["-t", &t, "-p", "-c", "cat", "/proc/self/cgroup"],
    ] {
        let out = nsjoin(args, &Opts::default());
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert!(
            out.stdout.lines().any(|l| l == line),
            "{args:?}: want {line}: {out:?}"
        );
    }
    // Without -c the program stays in the caller's cgroup.
    let out = nsjoin(
        &["-t", &t, "-u", "cat", "/proc/self/cgroup"],
        &Opts::default(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(!out.stdout.lines().any(|l| l == line), "{out:?}");
}

/// The capability set `name` (CapPrm, CapAmb...) of a `grep ^Cap /proc/self/status`.
fn caps(out: &Output, name: &str) -> u64 {
    let value = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:\t")))
        .unwrap_or_else(|| panic!("no {name} in {out:?}"));
    u64::from_str_radix(value, 16).unwrap()
}

#[test]
fn v241_keep_caps_makes_the_user_namespace_caps_ambient() {
    if !common::root_or_skip("v241_keep_caps_makes_the_user_namespace_caps_ambient") {
        return;
    }
    // Root entering a user namespace it owns.
    let sb = Sandbox::with_user();
    let t = sb.pid.to_string();
    let status = ["grep", "^Cap", "/proc/self/status"];
    let out = nsjoin(
        &[&["-t", &t, "-U", "--keep-caps"][..], &status].concat(),
        &Opts::default(),
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_ne!(caps(&out, "CapPrm"), 0, "{out:?}");
    assert_eq!(caps(&out, "CapAmb"), caps(&out, "CapPrm"), "{out:?}");
    // nobody entering a user namespace that nobody made (the same without
    // --keep-caps: unprivileged_caller_in_its_own_user_namespace_matches_nsenter).
    let target = Proc::as_nobody(&[
        "unshare",
        "--user",
        "--map-root-user",
        "sh",
        "-c",
        "echo ready; exec sleep 100000",
    ]);
    // The build tree may not be reachable by nobody: a copy that is.
    let bin = Reachable::new("bin");
    let ours = bin.copy(NSJOIN);
    let ours = ours.to_str().unwrap();
    let t = target.pid.to_string();
    let args: Vec<String> = [
        &["-t", &t, "-U", "--preserve-credentials", "--keep-caps"][..],
        &status,
    ]
    .concat()
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run(ours, &args, &nobody());
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_ne!(caps(&out, "CapPrm"), 0, "{out:?}");
    assert_eq!(caps(&out, "CapAmb"), caps(&out, "CapPrm"), "{out:?}");
}

#[test]
fn v241_user_parent_enters_the_parent_of_the_targets_user_namespace() {
    if !common::root_or_skip("v241_user_parent_enters_the_parent_of_the_targets_user_namespace") {
        return;
    }
    // A process in a user namespace nested in another; it first prints the outer one.
    let nested = "readlink /proc/self/ns/user; exec unshare --user --map-root-user sleep 100000";
    let target = Proc::start(&["unshare", "--user", "--map-root-user", "sh", "-c", nested]);
    let outer = target.line.clone();
    let t = target.pid.to_string();
    common::wait_for("the target is in its inner user namespace", || {
        fs::read_to_string(format!("/proc/{t}/comm")).is_ok_and(|c| c.trim() == "sleep")
    });
    assert_ne!(ns_link(target.pid, "user"), outer);
    let rl = ["readlink", "/proc/self/ns/user"];
    assert_prints(
        &outer,
        &[&["-t", &t, "-U", "--user-parent"][..], &rl].concat(),
        &Opts::default(),
    );
    assert_prints(
        &outer,
        &[&["-t", &t, "--user-parent"][..], &rl].concat(),
        &Opts::default(),
    );
    // The parent of the sandbox's user namespace is the caller's own: it cannot be
    // entered.
    let sb = Sandbox::with_user();
    assert_fails(
        1,
        &["-t", &sb.pid.to_string(), "-U", "--user-parent", "true"],
        &Opts::default(),
    );
}

#[test]
fn v241_net_socket_enters_the_network_namespace_of_the_targets_socket() {
    if !common::root_or_skip("v241_net_socket_enters_the_network_namespace_of_the_targets_socket") {
        return;
    }
    // A process that made a socket in the netns file, then moved to a fresh network
    // namespace of its own; it prints the socket's fd.
    let netns = NetnsFile::new();
    let script = r#"
import ctypes, os, socket, sys, time
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
if libc.setns(fd, CLONE_NEWNET) != 0:
    sys.exit("setns: errno %d" % ctypes.get_errno())
os.close(fd)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
if libc.unshare(CLONE_NEWNET) != 0:
    sys.exit("unshare: errno %d" % ctypes.get_errno())
print(s.fileno(), flush=True)
time.sleep(100000)
"#;
    let target = Proc::start(&[
        "/usr/bin/python3",
        "-c",
        script,
        netns.path.to_str().unwrap(),
    ]);
    let fd = target.line.clone();
    let t = target.pid.to_string();
    let socket_ns = {
        use std::os::unix::fs::MetadataExt;
        format!("net:[{}]", fs::metadata(&netns.path).unwrap().ino())
    };
    let own_ns = ns_link(target.pid, "net");
    assert_ne!(socket_ns, own_ns);
    let rl = ["readlink", "/proc/self/ns/net"];
    let none = Opts::default();
    assert_prints(
        &socket_ns,
        &[&["-t", &t, "-N", &fd][..], &rl].concat(),
        &none,
    );
    assert_prints(
        &socket_ns,
        &[&["-t", &t, &format!("--net-socket={fd}")][..], &rl].concat(),
        &none,
    );
    assert_prints(
        &socket_ns,
        &[&["-t", &t, "--net-socket", &fd][..], &rl].concat(),
        &none,
    );
    // -n is the process's own network namespace, as in nsenter.
    check(&case(
        Want::Prints(&own_ns),
        &[&["-t", &t, "-n"][..], &rl].concat(),
    ));
    // -N needs a target, a number, and an open fd that is a socket.
    assert_fails(1, &["-N", &fd, "true"], &none);
    assert_fails(1, &["-t", &t, "-N", "abc", "true"], &none);
    assert_fails(1, &["-t", &t, "-N", "999", "true"], &none);
    assert_fails(1, &["-t", &t, "-N", "0", "true"], &none);
}

#[test]
fn v241_setuid_and_setgid_follow_take_the_owner_of_the_target() {
    if !common::root_or_skip("v241_setuid_and_setgid_follow_take_the_owner_of_the_target") {
        return;
    }
    let target = Proc::as_nobody(&["sh", "-c", "echo ready; exec sleep 100000"]);
    let t = target.pid.to_string();
    // The same as nsenter with the owner's ids spelled out.
    let spelled = ["-t", &t, "-u", "-S", "65534", "-G", "65534", "id"].map(String::from);
    let spelled = run("nsenter", &spelled, &Opts::default());
    let nobody = "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)";
    assert_eq!(spelled.stdout, format!("{nobody}\n"), "{spelled:?}");
    let none = Opts::default();
    let ids = "echo $(id -u) $(id -g)";
    assert_prints(
        nobody,
        &["-t", &t, "-u", "-S", "follow", "-G", "follow", "id"],
        &none,
    );
    assert_prints(
        "65534 0",
        &["-t", &t, "-u", "--setuid=follow", "sh", "-c", ids],
        &none,
    );
    assert_prints(
        "0 65534",
        &["-t", &t, "-u", "--setgid=follow", "sh", "-c", ids],
        &none,
    );
}

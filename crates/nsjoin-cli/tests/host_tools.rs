//! `nsjoin --host-tools`: this machine's programs inside a "distroless" container
//! (FROM scratch, one static busybox as `/busybox`, no shell; scripts/docker.sh
//! builds it, and so does this test if it is missing), a PID target and a Podman
//! container; and the hint when a target has no such program.

use nsjoin_test_support as common;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use common::{docker, Container};

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");
const DISTROLESS: &str = "nsjoin-distroless:latest";

fn nsjoin(args: &[&str]) -> Output {
    Command::new(NSJOIN)
        .args(args)
        .env_remove("DOCKER_HOST")
        .stdin(Stdio::null())
        .output()
        .expect("cannot run nsjoin")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Builds the distroless image if it is not there (as scripts/docker.sh does).
fn distroless_image() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        let have = || {
            docker()
                .args(["image", "inspect", DISTROLESS])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if have() {
            return true;
        }
        let ctx = common::TempDir::new("distroless");
        let busybox = ["/bin/busybox", "/usr/bin/busybox"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let Some(busybox) = busybox else {
            return false;
        };
        std::fs::copy(busybox, ctx.path().join("busybox")).unwrap();
        std::fs::write(
            ctx.path().join("Dockerfile"),
            "FROM scratch\nCOPY busybox /busybox\nCMD [\"/busybox\", \"sleep\", \"100000\"]\n",
        )
        .unwrap();
        docker()
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", DISTROLESS])
            .arg(ctx.path())
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
            && have()
    })
}

/// A running container of the distroless image, removed on drop, or why the
/// test is skipped.
fn distroless_or_skip(test: &str, options: &[&str]) -> Option<Container> {
    if !common::root_or_skip(test) {
        return None;
    }
    if !common::docker_ready() || !distroless_image() {
        common::skip_without_docker(test, DISTROLESS);
        return None;
    }
    Some(Container::run(options, &[DISTROLESS]))
}

/// A process's mount table, without the mount IDs' churn of other tests: the
/// lines as a set.
fn mountinfo(pid: &str) -> BTreeSet<String> {
    std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Mounts in `after` that `before` lacks, leaving out the network namespace
/// files (nsfs) that other tests bind-mount on this host while this one runs.
fn added(before: &BTreeSet<String>, after: &BTreeSet<String>) -> Vec<String> {
    after
        .difference(before)
        .filter(|l| !l.contains(" - nsfs "))
        .cloned()
        .collect()
}

/// The script's sections, split on `---` lines.
fn sections(out: &Output) -> Vec<String> {
    text(&out.stdout)
        .split("---\n")
        .map(|s| s.trim().to_owned())
        .collect()
}

const LOOK: &str = "ps -e -o pid=,comm=; echo ---; hostname; echo ---; ip -o link | \
                    cut -d' ' -f2; echo ---; ls /target; echo ---; stat -c %d:%i /usr/bin; \
                    echo ---; readlink /proc/self/exe";

/// What a program run with `--host-tools` sees in the distroless container.
fn assert_sees_the_container(c: &Container, out: &Output) {
    assert!(out.status.success(), "{out:?}");
    let s = sections(out);
    assert_eq!(s.len(), 6, "{s:?}");
    // ps: the container's processes only: its init (busybox, PID 1) and the
    // script's own (sh, ps).
    let procs: Vec<(u32, String)> = s[0]
        .lines()
        .map(|l| {
            let (pid, comm) = l.trim().split_once(' ').unwrap();
            (pid.parse().unwrap(), comm.trim().to_owned())
        })
        .collect();
    assert_eq!(procs[0], (1, "busybox".to_owned()), "{procs:?}");
    let comms: BTreeSet<&str> = procs.iter().map(|(_, c)| c.as_str()).collect();
    assert_eq!(comms, BTreeSet::from(["busybox", "sh", "ps"]), "{procs:?}");
    // Its hostname and interfaces.
    assert_eq!(s[1], c.hostname);
    let theirs = Command::new("nsenter")
        .args(["-n", "-t", &c.pid.to_string(), "ip", "-o", "link"])
        .output()
        .unwrap();
    let theirs: Vec<String> = text(&theirs.stdout)
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap_or("").to_owned())
        .collect();
    assert_eq!(s[2].lines().collect::<Vec<_>>(), theirs);
    assert!(s[2].contains("eth0"), "{}", s[2]);
    // Its files, at /target.
    assert!(s[3].lines().any(|l| l == "busybox"), "ls /target: {}", s[3]);
    // This machine's root: the same /usr/bin, and the program is this machine's
    // (not under /target).
    let usr = std::fs::metadata("/usr/bin").unwrap();
    assert_eq!(s[4], format!("{}:{}", usr.dev(), usr.ino()));
    assert!(
        s[5].starts_with("/usr/bin/") || s[5].starts_with("/bin/"),
        "{}",
        s[5]
    );
}

#[test]
fn a_distroless_container_is_debugged_with_this_machines_tools() {
    let Some(c) = distroless_or_skip(
        "a_distroless_container_is_debugged_with_this_machines_tools",
        &[],
    ) else {
        return;
    };
    // It really has nothing: nsenter's answer, exit 127.
    let bare = nsjoin(&["-a", "-t", &c.spec(), "sh", "-c", "true"]);
    assert_eq!(bare.status.code(), Some(127), "{bare:?}");
    assert_eq!(
        text(&bare.stderr),
        "nsjoin: failed to execute sh: No such file or directory\n"
    );

    let pid = c.pid.to_string();
    let theirs_before = mountinfo(&pid);
    let ours_before = mountinfo("self");
    let had_target = std::path::Path::new("/target").exists();
    let out = nsjoin(&["--host-tools", "-a", "-t", &c.spec(), "sh", "-c", LOOK]);
    assert_sees_the_container(&c, &out);
    // Nothing mounted in the container, nothing left on the host.
    assert_eq!(mountinfo(&pid), theirs_before);
    assert_eq!(
        added(&ours_before, &mountinfo("self")),
        Vec::<String>::new()
    );
    assert_eq!(std::path::Path::new("/target").exists(), had_target);
}

#[test]
fn host_tools_work_on_a_pid_target_too() {
    let Some(c) = distroless_or_skip("host_tools_work_on_a_pid_target_too", &[]) else {
        return;
    };
    let out = nsjoin(&[
        "--host-tools",
        "-a",
        "-t",
        &c.pid.to_string(),
        "sh",
        "-c",
        LOOK,
    ]);
    assert_sees_the_container(&c, &out);
}

#[test]
fn wd_and_env_are_the_targets_with_this_machines_path() {
    let Some(c) = distroless_or_skip(
        "wd_and_env_are_the_targets_with_this_machines_path",
        &["-w", "/etc", "-e", "NSJOIN_PROBE=from-the-container"],
    ) else {
        return;
    };
    let out = Command::new(NSJOIN)
        .args(["--host-tools", "-a", "-w", "-e", "-t", &c.spec()])
        .args(["sh", "-c", "pwd; echo \"$NSJOIN_PROBE\"; echo \"$PATH\""])
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "/target/etc",
            "from-the-container",
            "/usr/local/bin:/usr/bin:/bin"
        ]
    );
}

#[test]
fn the_targets_root_goes_where_asked_and_the_sys_is_its_network() {
    let Some(c) = distroless_or_skip(
        "the_targets_root_goes_where_asked_and_the_sys_is_its_network",
        &[],
    ) else {
        return;
    };
    // An existing directory (/mnt) and a missing one under another (/run/x/y):
    // neither is changed on the host.
    for dir in ["/mnt", "/run/nsjoin-host-tools-test/deeper"] {
        let option = format!("--host-tools={dir}");
        let out = nsjoin(&[
            &option,
            "-a",
            "-t",
            &c.spec(),
            "sh",
            "-c",
            &format!("ls {dir}; echo ---; ls /sys/class/net"),
        ]);
        assert!(out.status.success(), "{out:?}");
        let s = sections(&out);
        assert!(s[0].lines().any(|l| l == "busybox"), "{dir}: {}", s[0]);
        let mut nets: Vec<&str> = s[1].lines().collect();
        nets.sort();
        assert_eq!(nets, ["eth0", "lo"]);
    }
    assert!(!std::path::Path::new("/run/nsjoin-host-tools-test").exists());
    assert!(!std::fs::read_dir("/mnt")
        .unwrap()
        .any(|e| e.unwrap().file_name() == "busybox"));
}

#[test]
fn a_missing_program_gets_a_hint_only_on_a_terminal() {
    let Some(c) = distroless_or_skip("a_missing_program_gets_a_hint_only_on_a_terminal", &[])
    else {
        return;
    };
    // Under script(1), stderr is a terminal; the hint follows nsenter's line.
    let cmd = format!("{NSJOIN} -a -t {} sh; echo \"exit=$?\"", c.spec());
    let out = Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("cannot run script (util-linux)");
    let seen = text(&out.stdout).replace('\r', "");
    assert_eq!(
        seen,
        "nsjoin: failed to execute sh: No such file or directory\n\
         nsjoin: hint: the target has no such program; --host-tools runs this machine's programs inside it\n\
         exit=127\n"
    );
}

/// Podman: the container of scripts/podman.sh's busybox image, when it is set up.
#[test]
fn a_podman_container_gets_host_tools() {
    if !common::root_or_skip("a_podman_container_gets_host_tools") {
        return;
    }
    let ready = Command::new("podman")
        .args([
            "--remote",
            "--url",
            "unix:///run/podman/podman.sock",
            "version",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ready {
        if std::env::var("NSJOIN_REQUIRE_PODMAN").as_deref() == Ok("1") {
            panic!("a_podman_container_gets_host_tools needs podman (scripts/podman.sh)");
        }
        eprintln!(
            "skipped a_podman_container_gets_host_tools: needs podman (run scripts/podman.sh)"
        );
        return;
    }
    let name = format!("nsjoin-hosttools-pod-{}", std::process::id());
    let run = Command::new("podman")
        .args(["run", "-d", "--name", &name])
        .args([
            "--ulimit",
            "nofile=1024:1024",
            "--ulimit",
            "nproc=1024:1024",
        ])
        .args(["nsjoin-busybox", "/bin/busybox", "sleep", "100000"])
        .output()
        .unwrap();
    struct Rm(String);
    impl Drop for Rm {
        fn drop(&mut self) {
            let _ = Command::new("podman")
                .args(["rm", "-f", "-t", "0", &self.0])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
    let _rm = Rm(name.clone());
    assert!(run.status.success(), "podman run: {}", text(&run.stderr));
    let out = nsjoin(&[
        "--host-tools",
        "-a",
        "-t",
        &format!("podman://{name}"),
        "sh",
        "-c",
        "ps -e -o comm=; echo ---; ls /target/bin | grep -c .; echo ---; readlink /proc/self/exe",
    ]);
    assert!(out.status.success(), "{out:?}");
    let s = sections(&out);
    assert_eq!(s[0].lines().next(), Some("busybox"), "{}", s[0]);
    assert!(s[1].parse::<u32>().unwrap() > 100, "applet links: {}", s[1]);
    assert!(!s[2].starts_with("/target"), "{}", s[2]);
}

/// `--confine` and `--netns`/`--netns-mounts` each decide the program's root or
/// mounts too: refused in one line, before anything is opened or run.
#[test]
fn contradicting_options_are_refused_in_one_line() {
    let me = std::process::id().to_string();
    for (extra, says) in [
        (
            &["--confine"][..],
            "--host-tools cannot be combined with --confine: ",
        ),
        (
            &["--netns", "nsjoin-none"],
            "--host-tools cannot be combined with --netns or --netns-mounts: ",
        ),
        (
            &["-n", "--netns-mounts"],
            "--host-tools cannot be combined with --netns or --netns-mounts: ",
        ),
    ] {
        let mut args = vec!["--host-tools", "-u", "-t", &me];
        args.extend_from_slice(extra);
        args.extend(["sh", "-c", "echo ran"]);
        let out = nsjoin(&args);
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert!(
            err.starts_with(&format!("nsjoin: {says}")),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(out.stdout.is_empty(), "{args:?} ran the program");
    }
}

/// What the refusal of `--netns` points to: a named network namespace as a file,
/// `--net=/run/netns/NAME`, with this machine's tools and a /sys of that network.
#[test]
fn a_named_network_namespace_as_a_file_works_with_host_tools() {
    let Some(c) = distroless_or_skip(
        "a_named_network_namespace_as_a_file_works_with_host_tools",
        &[],
    ) else {
        return;
    };
    let netns = common::NetnsFile::new();
    netns.ip(&[
        "link", "add", "nsjv0", "type", "veth", "peer", "name", "nsjv1",
    ]);
    let net = format!("--net={}", netns.path.display());
    let out = nsjoin(&[
        "--host-tools",
        "-u",
        "-t",
        &c.spec(),
        &net,
        "sh",
        "-c",
        "hostname; ls /sys/class/net",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let mut lines = stdout.lines();
    assert_eq!(lines.next(), Some(c.hostname.as_str()));
    let mut links: Vec<&str> = lines.flat_map(str::split_whitespace).collect();
    links.sort_unstable();
    assert_eq!(links, ["lo", "nsjv0", "nsjv1"], "{stdout}");
}

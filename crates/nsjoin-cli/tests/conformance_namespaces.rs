//! Conformance of the `nsjoin` command with util-linux `nsenter` (how cases run:
//! tests/conformance_fixtures): the namespace options on a PID target, namespace
//! files, root and working directory, user namespaces and credentials.

use nsjoin_test_support as common;

use std::fs;
use std::path::Path;

use common::{ns_link, NetnsFile, Reachable, Sandbox, TempDir};

mod conformance_fixtures;
use conformance_fixtures::*;

// ---------------------------------------------------------------------------
// Namespace options on a PID target (-t with -a -m -u -i -n -p -C -T -F)
// ---------------------------------------------------------------------------

#[test]
fn each_namespace_option_enters_the_targets_namespace_like_nsenter() {
    if !common::root_or_skip("each_namespace_option_enters_the_targets_namespace_like_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let target_eq = format!("--target={t}");
    let host = &sb.hostname;
    let link = |kind| ns_link(sb.pid, kind);
    let (mnt, uts, ipc, net, pid, cgroup) = (
        link("mnt"),
        link("uts"),
        link("ipc"),
        link("net"),
        link("pid"),
        link("cgroup"),
    );
    let all_six = [&mnt, &uts, &ipc, &net, &pid, &cgroup]
        .map(String::as_str)
        .join("\n");
    let six = ["mnt", "uts", "ipc", "net", "pid", "cgroup"].map(|k| format!("/proc/self/ns/{k}"));
    let six = six.each_ref().map(String::as_str);
    // -F: the program stays in the caller's pid namespace, its children do not.
    let host_pid = ns_link(std::process::id() as i32, "pid");
    let pid_no_fork = format!("{host_pid}\n{pid}");
    let all_six_no_fork = [&mnt, &uts, &ipc, &net, &host_pid, &cgroup]
        .map(String::as_str)
        .join("\n");
    let (rl, p_pid, p_children) = (
        "readlink",
        "/proc/self/ns/pid",
        "/proc/self/ns/pid_for_children",
    );
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints(host), &["-t", &t, "-u", "hostname"]),
        case(Want::Prints(host), &["--target", &t, "--uts", "hostname"]),
        case(Want::Prints(host), &[&target_eq, "-u", "hostname"]),
        case(Want::Prints(host), &["--targ", &t, "--ut", "hostname"]),
        case(Want::Prints(host), &["-a", "-t", &t, "hostname"]),
        case(Want::Prints(host), &["-at", &t, "hostname"]),
        case(Want::Prints(host), &["--all", "--target", &t, "hostname"]),
        case(Want::Prints(&mnt), &["-t", &t, "-m", rl, "/proc/self/ns/mnt"]),
        case(Want::Prints(&mnt), &["-t", &t, "--mount", rl, "/proc/self/ns/mnt"]),
        case(Want::Prints(&ipc), &["-t", &t, "-i", rl, "/proc/self/ns/ipc"]),
        case(Want::Prints(&ipc), &["-t", &t, "--ipc", rl, "/proc/self/ns/ipc"]),
        case(Want::Prints(&net), &["-t", &t, "-n", rl, "/proc/self/ns/net"]),
        case(Want::Prints(&net), &["-t", &t, "--net", rl, "/proc/self/ns/net"]),
        case(Want::Prints(&cgroup), &["-t", &t, "-C", rl, "/proc/self/ns/cgroup"]),
        case(Want::Prints(&cgroup), &["-t", &t, "--cgroup", rl, "/proc/self/ns/cgroup"]),
        // -p forks, so that the program is inside the pid namespace...
        case(Want::Prints(&pid), &["-t", &t, "-p", rl, p_pid]),
        case(Want::Prints(&pid), &["-t", &t, "--pid", rl, p_pid]),
        // ... and -F/--no-fork leaves it outside, with only its children inside.
        case(Want::Prints(&pid_no_fork), &["-t", &t, "-p", "-F", rl, p_pid, p_children]),
        case(Want::Prints(&pid_no_fork), &["-t", &t, "--pid", "--no-fork", rl, p_pid, p_children]),
        case(Want::Prints(host), &["-t", &t, "-u", "-F", "hostname"]),
        case(Want::Prints(&all_six), &[&["-t", &t, "-m", "-u", "-i", "-n", "-p", "-C", rl][..], &six].concat()),
        case(Want::Prints(&all_six), &[&["-a", "-t", &t, rl][..], &six].concat()),
        case(Want::Prints(&all_six_no_fork), &[&["--all", "-t", &t, "-F", rl][..], &six].concat()),
    ];
    check_all(&cases);
}

#[test]
fn time_option_enters_the_targets_time_namespace_like_nsenter() {
    if !common::root_or_skip("time_option_enters_the_targets_time_namespace_like_nsenter") {
        return;
    }
    let sb = Sandbox::start(&["--time"], "");
    let t = sb.pid.to_string();
    let time = ns_link(sb.pid, "time");
    assert_ne!(time, ns_link(std::process::id() as i32, "time"));
    let file = format!("/proc/{t}/ns/time");
    let (rl, p_time) = ("readlink", "/proc/self/ns/time");
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints(&time), &["-t", &t, "-T", rl, p_time]),
        case(Want::Prints(&time), &["-t", &t, "--time", rl, p_time]),
        case(Want::Prints(&time), &["-a", "-t", &t, rl, p_time]),
        case(Want::Prints(&time), &[&format!("--time={file}"), rl, p_time]),
        case(Want::Prints(&time), &[&format!("-T{file}"), rl, p_time]),
    ];
    check_all(&cases);
}

#[test]
fn namespace_files_given_with_options_match_nsenter() {
    if !common::root_or_skip("namespace_files_given_with_options_match_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let host = &sb.hostname;
    // `--KIND=/proc/PID/ns/KIND` and `-K/proc/PID/ns/KIND`, and what to read back.
    let long = |kind: &str, opt: &str| format!("--{opt}=/proc/{t}/ns/{kind}");
    let short = |kind: &str, opt: char| format!("-{opt}/proc/{t}/ns/{kind}");
    let link = |kind| ns_link(sb.pid, kind);
    let (mnt, ipc, net, pid, cgroup) = (
        link("mnt"),
        link("ipc"),
        link("net"),
        link("pid"),
        link("cgroup"),
    );
    let own = |kind: &str| format!("/proc/self/ns/{kind}");
    let host_and_net = format!("{host}\n{net}");
    let rl = "readlink";
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints(host), &[&long("uts", "uts"), "hostname"]),
        case(Want::Prints(host), &[&short("uts", 'u'), "hostname"]),
        case(Want::Prints(&mnt), &[&long("mnt", "mount"), rl, &own("mnt")]),
        case(Want::Prints(&mnt), &[&short("mnt", 'm'), rl, &own("mnt")]),
        case(Want::Prints(&ipc), &[&long("ipc", "ipc"), rl, &own("ipc")]),
        case(Want::Prints(&ipc), &[&short("ipc", 'i'), rl, &own("ipc")]),
        case(Want::Prints(&net), &[&long("net", "net"), rl, &own("net")]),
        case(Want::Prints(&pid), &[&long("pid", "pid"), rl, &own("pid")]),
        case(Want::Prints(&pid), &[&short("pid", 'p'), rl, &own("pid")]),
        case(Want::Prints(&cgroup), &[&long("cgroup", "cgroup"), rl, &own("cgroup")]),
        case(Want::Prints(&cgroup), &[&short("cgroup", 'C'), rl, &own("cgroup")]),
        // A file for one kind and the target for another.
        case(Want::Prints(&host_and_net), &["-t", &t, "-n", &long("uts", "uts"), "sh", "-c", "hostname; readlink /proc/self/ns/net"]),
    ];
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// ip netns files
// ---------------------------------------------------------------------------

#[test]
fn ip_netns_files_match_nsenter() {
    if !common::root_or_skip("ip_netns_files_match_nsenter") {
        return;
    }
    let netns = NetnsFile::new();
    let path = netns.path.to_str().unwrap();
    let out = check(&case(
        Want::Same(0),
        &[&format!("--net={path}"), "ip", "-o", "link"],
    ));
    // A fresh network namespace: nothing but a loopback that is down.
    assert!(out.stdout.starts_with("1: lo: <LOOPBACK>"), "{out:?}");
    assert_eq!(out.stdout.lines().count(), 1, "{out:?}");
    #[rustfmt::skip]
    let cases = [
        case(Want::Same(0), &[&format!("-n{path}"), "ip", "-o", "link"]),
        // An optional argument must be attached: `--net PATH` is --net without a
        // file (and no target), then PATH as the program.
        case(Want::Fails(1), &["--net", path, "ip", "-o", "link"]),
        // A namespace file of the wrong kind.
        case(Want::Fails(1), &[&format!("--uts={path}"), "hostname"]),
        case(Want::Fails(1), &[&format!("-m{path}"), "true"]),
        // Not a namespace file at all, and no file at all.
        case(Want::Fails(1), &["--net=/etc/hostname", "true"]),
        case(Want::Fails(1), &["--net=/nonexistent/nsjoin", "true"]),
    ];
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// -r -w -W
// ---------------------------------------------------------------------------

#[test]
fn root_and_working_directory_options_match_nsenter() {
    if !common::root_or_skip("root_and_working_directory_options_match_nsenter") {
        return;
    }
    // A root file system with only a static busybox in it.
    let rootfs = TempDir::new("rootfs");
    fs::create_dir(rootfs.path().join("bin")).unwrap();
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox-static (scripts/setup.sh)");
    fs::copy(busybox, rootfs.path().join("bin/busybox")).unwrap();
    let root = rootfs.path().to_str().unwrap();
    let other = TempDir::new("wd");
    let other = other.path().to_str().unwrap().to_owned();
    // The target works in the root file system's directory.
    let sb = Sandbox::start(&["--uts", "--mount"], &format!("cd {root}"));
    let t = sb.pid.to_string();
    let (r_root, w_other) = (format!("-r{root}"), format!("-w{other}"));
    #[rustfmt::skip]
    let cases = [
        // -w alone: the target's working directory.
        case(Want::Prints(root), &["-t", &t, "-u", "-w", "pwd"]),
        case(Want::Prints(root), &["-t", &t, "-u", "--wd", "pwd"]),
        case(Want::Prints(&other), &["-t", &t, "-u", &w_other, "pwd"]),
        case(Want::Prints(&other), &["-t", &t, "-u", &format!("--wd={other}"), "pwd"]),
        // -WDIR: a directory as seen inside the namespaces entered.
        case(Want::Prints(&other), &["-t", &t, "-m", &format!("-W{other}"), "pwd"]),
        case(Want::Prints(&other), &["-t", &t, "-m", &format!("--wdns={other}"), "pwd"]),
        case(Want::Fails(1), &["-t", &t, "-m", &format!("-W{other}"), "-w", "pwd"]),
        case(Want::Fails(1), &["-t", &t, "-m", &w_other, &format!("--wdns={other}"), "pwd"]),
        // -rDIR: the program is looked up, and runs, in the new root.
        case(Want::Prints("bin"), &["-t", &t, "-u", &r_root, "-w/", "/bin/busybox", "ls", "/"]),
        case(Want::Prints("/bin"), &["-t", &t, "-u", &format!("--root={root}"), "-W/bin", "/bin/busybox", "pwd"]),
        case(Want::Fails(127), &["-t", &t, "-u", &r_root, "ls"]),
        // With -r and -w, the target's working directory (the new root here) is kept.
        case(Want::Prints("/"), &["-t", &t, "-u", &r_root, "-w", "/bin/busybox", "pwd"]),
        // -r alone keeps the caller's working directory, outside the new root.
        case(Want::Exits(1, ""), &["-t", &t, "-u", &format!("--root={root}"), "/bin/busybox", "pwd"]),
        // -r alone: the target's root.
        case(Want::Prints("/bin"), &["-t", &t, "-u", "-r", "ls", "-d", "/bin"]),
        // Optional arguments must be attached: the directory becomes the program.
        case(Want::Fails(126), &["-t", &t, "-u", "-w", &other, "pwd"]),
        case(Want::Fails(126), &["-t", &t, "-u", "--wd", &other, "pwd"]),
        case(Want::Fails(126), &["-t", &t, "-u", "--root", &other, "pwd"]),
        case(Want::Fails(126), &["-t", &t, "-m", "--wdns", &other, "pwd"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-w/nonexistent/nsjoin", "pwd"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-r/nonexistent/nsjoin", "pwd"]),
        case(Want::Fails(1), &["-t", &t, "-m", "-W/nonexistent/nsjoin", "pwd"]),
    ];
    check_all(&cases);
}

// ---------------------------------------------------------------------------
// User namespaces and credentials (-U -S -G --preserve-credentials)
// ---------------------------------------------------------------------------

#[test]
fn user_namespace_target_matches_nsenter() {
    if !common::root_or_skip("user_namespace_target_matches_nsenter") {
        return;
    }
    let sb = Sandbox::with_user();
    let t = sb.pid.to_string();
    let user = ns_link(sb.pid, "user");
    let both = format!("0\n{}", sb.hostname);
    let file = format!("--user=/proc/{t}/ns/user");
    // Supplementary groups, to see which runs drop them.
    let groups = || Opts::wrapper(&["setpriv", "--groups", "1234"]);
    let root = "uid=0(root) gid=0(root) groups=0(root)";
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints("0"), &["-U", "-t", &t, "id", "-u"]),
        case(Want::Prints(&user), &["--user", "-t", &t, "readlink", "/proc/self/ns/user"]),
        case(Want::Prints("0"), &[&file, "id", "-u"]),
        case(Want::Prints(&both), &["--all", "-t", &t, "sh", "-c", "id -u; hostname"]),
        case(Want::Prints(&both), &["-t", &t, "-U", "-u", "sh", "-c", "id -u; hostname"]),
        case(Want::Prints(root), &["-t", &t, "-U", "-S", "0", "-G", "0", "id"]),
        case(Want::Prints("0"), &["-t", &t, "-U", "id", "-G"]).opts(groups()),
        case(Want::Prints("0"), &["-a", "-t", &t, "id", "-G"]).opts(groups()),
        case(Want::Prints("0 65534"), &["-t", &t, "-U", "--preserve-credentials", "id", "-G"]).opts(groups()),
        case(Want::Prints("0"), &["-t", &t, "-U", "-F", "id", "-u"]),
        // 65534 is not mapped in the sandbox's user namespace.
        case(Want::Fails(1), &["-a", "-t", &t, "-S", "65534", "id"]),
        case(Want::Fails(1), &["-a", "-t", &t, "-G", "65534", "id"]),
    ];
    check_all(&cases);
}

#[test]
fn setuid_and_setgid_options_match_nsenter() {
    if !common::root_or_skip("setuid_and_setgid_options_match_nsenter") {
        return;
    }
    let sb = Sandbox::new();
    let t = sb.pid.to_string();
    let groups = || Opts::wrapper(&["setpriv", "--groups", "1234"]);
    let nobody = "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)";
    let ids = "echo $(id -u) $(id -g)";
    #[rustfmt::skip]
    let cases = [
        case(Want::Prints("65534 0"), &["-t", &t, "-u", "-S", "65534", "sh", "-c", ids]),
        case(Want::Prints("0 65534"), &["-t", &t, "-u", "-G", "65534", "sh", "-c", ids]),
        case(Want::Prints(nobody), &["-t", &t, "-u", "--setuid", "65534", "--setgid", "65534", "id"]),
        case(Want::Prints(nobody), &["-t", &t, "-u", "--setuid=65534", "--setgid=65534", "id"]),
        case(Want::Prints(nobody), &["-t", &t, "-u", "-S65534", "-G65534", "id"]),
        // Without -G the supplementary groups stay; -G drops them.
        case(Want::Prints("0 1234"), &["-t", &t, "-u", "id", "-G"]).opts(groups()),
        case(Want::Prints("0"), &["-t", &t, "-u", "-G", "0", "id", "-G"]).opts(groups()),
        case(Want::Prints("0 1234"), &["-t", &t, "-u", "--preserve-credentials", "id", "-G"]).opts(groups()),
        case(Want::Fails(1), &["-t", &t, "-u", "-S", "abc", "id"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-G", "abc", "id"]),
        case(Want::Fails(1), &["-t", &t, "-u", "-S"]),
    ];
    check_all(&cases);
}

#[test]
fn unprivileged_caller_in_its_own_user_namespace_matches_nsenter() {
    if !common::root_or_skip("unprivileged_caller_in_its_own_user_namespace_matches_nsenter") {
        return;
    }
    let target = Proc::as_nobody(&[
        "unshare",
        "--user",
        "--map-root-user",
        "sh",
        "-c",
        "echo ready; exec sleep 100000",
    ]);
    let t = target.pid.to_string();
    // The build tree may not be reachable by nobody: a copy that is.
    let bin = Reachable::new("bin");
    let ours = bin.copy(NSJOIN);
    let ours = ours.to_str().unwrap();
    let own = std::process::id().to_string();
    #[rustfmt::skip]
    let cases = [
        // setgroups is denied in that namespace, and nobody may not call it outside.
        case(Want::Fails(1), &["-t", &t, "-U", "id", "-u"]),
        case(Want::Prints("0"), &["-t", &t, "-U", "--preserve-credentials", "id", "-u"]),
        case(Want::Prints("CapAmb:\t0000000000000000"), &["-t", &t, "-U", "--preserve-credentials", "grep", "CapAmb", "/proc/self/status"]),
        // Not its namespace: nobody cannot enter the mount namespace of root's process.
        case(Want::Fails(1), &["-t", &own, "-m", "true"]),
    ];
    for c in cases {
        let label = c.args.join(" ");
        let theirs = run("nsenter", &c.args, &nobody());
        let tool = "nsenter (the case itself is wrong)";
        assert_want(tool, &label, c.want, &theirs, &theirs.stdout);
        let out = run(ours, &c.args, &nobody());
        assert_eq!(
            out.status.code(),
            theirs.status.code(),
            "{label}: {out:?} vs {theirs:?}"
        );
        assert_eq!(out.stdout, theirs.stdout, "{label}: {out:?} vs {theirs:?}");
        if let Want::Fails(_) = c.want {
            assert_error_line(&label, &out);
        }
    }
}

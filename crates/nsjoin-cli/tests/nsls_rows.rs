//! Which namespaces `nsls` lists and what its rows say: namespaces held only by bind
//! mounts, fds and sockets (lsns 2.41's behaviour), every row can be entered with
//! `nsjoin`, the container column and names (only what an engine confirms), help
//! and version. Comparisons are limited to namespaces these tests make.

use nsjoin_test_support as common;

use std::os::unix::net::UnixDatagram;

use common::{wait_gone, NetnsFile, Sandbox};
use nsjoin::{Kind, Target};

mod nsls_fixtures;
use nsls_fixtures::*;

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

#[test]
fn namespaces_held_by_mounts_fds_and_sockets_are_listed() {
    let Some(_g) = common::root_shared("namespaces_held_by_mounts_fds_and_sockets_are_listed")
    else {
        return;
    };
    let me = std::process::id();
    let netns = NetnsFile::new();
    let mount_ino = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&netns.path).unwrap().ino()
    };
    // A uts namespace kept by an fd, a network namespace kept by a socket.
    let sandbox = Sandbox::with_user();
    let (uts_ino, net_ino, user_ino) = (
        sandbox.ns_ino("uts"),
        sandbox.ns_ino("net"),
        sandbox.ns_ino("user"),
    );
    let uts_fd = std::fs::File::open(format!("/proc/{}/ns/uts", sandbox.pid)).unwrap();
    let sock = nsjoin::run_in(&Target::pid(sandbox.pid), Kind::Net.into(), || {
        UnixDatagram::unbound()
    })
    .unwrap()
    .unwrap();
    let pids = [
        nsjoin_cli::nsls::procs::parent_pid(sandbox.pid).unwrap(),
        sandbox.pid,
    ];
    drop(sandbox);
    pids.into_iter().for_each(wait_gone);

    let all = rows(&json(&["-J", "--output-all"], NSLS));
    let row = |ino: u64| {
        all.iter()
            .find(|r| r["ns"] == ino)
            .unwrap_or_else(|| panic!("no row for {ino}"))
            .clone()
    };
    // lsns 2.41: no process, so PID, PPID and COMMAND are empty (null in JSON).
    for ino in [mount_ino, uts_ino, net_ino] {
        let r = row(ino);
        assert_eq!(r["nprocs"], 0, "{r}");
        assert!(r["pid"].is_null() && r["command"].is_null(), "{r}");
    }
    assert_eq!(row(mount_ino)["nsfs"], netns.path.display().to_string());
    assert_eq!(row(mount_ino)["type"], "net");
    // The owner of the fd- and socket-held namespaces is listed too (2.41 walks
    // to it), with the UID that created it.
    assert_eq!(row(uts_ino)["ons"], user_ino);
    assert_eq!(row(user_ino)["nprocs"], 0);
    assert_eq!(row(user_ino)["uid"], 0);
    // nsls fills PATH where lsns leaves it empty, with a file nsjoin can open.
    assert_eq!(row(mount_ino)["path"], netns.path.display().to_string());
    let uts_path = row(uts_ino)["path"].as_str().unwrap().to_owned();
    assert!(
        uts_path.starts_with(&format!("/proc/{me}/fd/")),
        "{uts_path}"
    );
    // `nsls -t net` shows NSFS by default, as lsns does.
    let text = run(NSLS, &["-t", "net"]).stdout;
    assert!(text.lines().next().unwrap().contains("NETNSID NSFS"));
    assert!(text.contains(&format!("{mount_ino} net ")), "{text}");
    drop((uts_fd, sock));
}

#[test]
fn every_row_can_be_entered_with_nsjoin() {
    let Some(_g) = common::root_shared("every_row_can_be_entered_with_nsjoin") else {
        return;
    };
    let sandbox = all_fresh();
    let netns = NetnsFile::new();
    let out = run(
        NSLS,
        &[
            "-p",
            &sandbox.pid.to_string(),
            "-n",
            "-r",
            "-l",
            "-o",
            "NS,TYPE,PATH,PID",
        ],
    );
    assert_eq!(out.code, Some(0));
    let mut rows_seen = 0;
    for line in out.stdout.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let (ino, kind, path, pid) = (f[0], f[1], f[2], f[3]);
        let expect = format!("{kind}:[{ino}]");
        let link = format!("/proc/self/ns/{kind}");
        // nsls's PATH column, as nsjoin's --KIND=PATH.
        let long = match kind {
            "mnt" => "--mount".to_owned(),
            k => format!("--{k}"),
        };
        let by_path = run(NSJOIN, &[&format!("{long}={path}"), "readlink", &link]);
        assert_eq!(by_path.stdout.trim(), expect, "{line}: {}", by_path.stderr);
        // nsls's PID column, as nsjoin -t PID.
        let by_pid = run(NSJOIN, &["-t", pid, &long, "readlink", &link]);
        assert_eq!(by_pid.stdout.trim(), expect, "{line}: {}", by_pid.stderr);
        rows_seen += 1;
    }
    assert!(rows_seen >= 7, "{}", out.stdout);
    // A bind-mounted namespace's row: its PATH is the mount.
    let out = run(NSLS, &["-t", "net", "-n", "-r", "-l", "-o", "NS,PATH"]);
    let line = out
        .stdout
        .lines()
        .find(|l| l.ends_with(&netns.path.display().to_string()))
        .expect("the netns file is listed");
    let ino = line.split(' ').next().unwrap();
    let entered = run(
        NSJOIN,
        &[
            &format!("--net={}", netns.path.display()),
            "readlink",
            "/proc/self/ns/net",
        ],
    );
    assert_eq!(entered.stdout.trim(), format!("net:[{ino}]"));
}

#[test]
fn container_column_appears_only_with_containers() {
    let Some(_g) = common::root_shared("container_column_appears_only_with_containers") else {
        return;
    };
    let sandbox = Sandbox::new();
    let out = run(NSLS, &["-p", &sandbox.pid.to_string()]);
    assert!(!out.stdout.contains("CONTAINER"), "{}", out.stdout);
    let all = run(
        NSLS,
        &["-o", "NS,CONTAINER", "-J", "-p", &sandbox.pid.to_string()],
    );
    for r in rows(&serde_json::from_str(&all.stdout).unwrap()) {
        assert!(r["container"].is_null(), "{r}");
    }
    // Where containers run, `-c` adds the column that names them (the defaults
    // stay lsns' own).
    let listed = run(NSLS, &["-o", "CONTAINER", "-n", "-r"]).stdout;
    if listed.lines().any(|l| l.contains("://")) {
        let default = run(NSLS, &["-c"]).stdout;
        assert!(
            default.lines().next().unwrap().contains(" CONTAINER "),
            "{default}"
        );
    }
}

#[test]
fn help_and_version() {
    let help = run(NSLS, &["--help"]);
    assert_eq!(help.code, Some(0));
    for opt in [
        "--json",
        "--list",
        "--noheadings",
        "--output",
        "--output-all",
        "--task",
        "--raw",
        "--notruncate",
        "--nowrap",
        "--type",
        "--tree",
        "--persistent",
        "--list-columns",
    ] {
        assert!(help.stdout.contains(opt), "--help lacks {opt}");
    }
    let version = run(NSLS, &["-V"]);
    assert_eq!(
        (
            version.code,
            version.stdout.starts_with("nsls from nsjoin ")
        ),
        (Some(0), true)
    );
}

/// A process in a cgroup named like a Docker container's (`docker/<64 hex>`: any
/// user with a delegated cgroup subtree can make one) is not shown as that
/// container. One Docker does not know keeps the cgroup's ID (a `-t` that fails
/// to enter, as the engine says); one named like a real container's, whose init
/// is in another pid namespace, shows no container. A real container is confirmed
/// by the engine and named as Docker names it. (The pid namespaces are listed:
/// the sandbox's holds only processes of the cgroup.)
#[test]
fn container_names_only_what_the_engine_confirms() {
    let Some(_g) = common::root_shared("container_names_only_what_the_engine_confirms") else {
        return;
    };
    let id = "d0".repeat(32);
    let impostor = common::CgroupSandbox::at(&format!("docker/{id}"));
    let pid = impostor.sandbox.pid.to_string();
    let out = run(NSLS, &["-J", "-o", "NS,CONTAINER", "-t", "pid", "-p", &pid]);
    let listed = rows(&serde_json::from_str(&out.stdout).unwrap());
    assert_eq!(listed.len(), 1, "{}", out.stdout);
    assert_eq!(listed[0]["container"], format!("docker://{}", &id[..12]));
    drop(impostor);

    let Some(c) = common::Container::start_or_skip("container_names_only_what_the_engine_confirms")
    else {
        return;
    };
    let pid = c.pid.to_string();
    let out = run(NSLS, &["-J", "-o", "NS,CONTAINER", "-t", "pid", "-p", &pid]);
    let listed = rows(&serde_json::from_str(&out.stdout).unwrap());
    assert_eq!(listed[0]["container"], format!("docker://{}", c.name));

    let full_id = common::docker()
        .args(["inspect", "-f", "{{.Id}}", &c.name])
        .output()
        .unwrap();
    let full_id = String::from_utf8(full_id.stdout).unwrap().trim().to_owned();
    let impostor = common::CgroupSandbox::at(&format!("docker/{full_id}"));
    let pid = impostor.sandbox.pid.to_string();
    let out = run(NSLS, &["-J", "-o", "NS,CONTAINER", "-t", "pid", "-p", &pid]);
    let listed = rows(&serde_json::from_str(&out.stdout).unwrap());
    assert_eq!(listed.len(), 1, "{}", out.stdout);
    assert!(listed[0]["container"].is_null(), "{}", out.stdout);
}

use nsjoin_test_support as common;

// `nsls` against the machine's util-linux `lsns` (2.38 here) on namespaces these
// tests make, and against lsns 2.41's documented behaviour where 2.38 lacks it (-H,
// -P, namespaces held only by bind mounts, fds and sockets). Other tests make and
// remove namespaces meanwhile, so comparisons are limited to our own: with
// `-p PID` of a sandbox whose every namespace is fresh, with `nsls NS`, or by
// filtering JSON rows by our inodes.

use std::collections::BTreeSet;
use std::os::unix::net::UnixDatagram;
use std::process::Command;

use common::{shared, wait_gone, NetnsFile, Sandbox};
use nsjoin::{Kind, Target};
use serde_json::Value;

const NSLS: &str = env!("CARGO_BIN_EXE_nsls");
const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

struct Out {
    stdout: String,
    stderr: String,
    code: Option<i32>,
}

fn run(program: &str, args: &[&str]) -> Out {
    let out = Command::new(program)
        .args(args)
        .env("LC_ALL", "C.UTF-8")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    Out {
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        code: out.status.code(),
    }
}

/// nsls and lsns on the same arguments: the same stdout, exit code and (with the
/// program name swapped) stderr.
fn same_as_lsns(args: &[&str]) {
    let ours = run(NSLS, args);
    let theirs = run("lsns", args);
    assert_eq!(
        ours.code, theirs.code,
        "exit code of {args:?}: {}",
        ours.stderr
    );
    assert_eq!(ours.stdout, theirs.stdout, "stdout of {args:?}");
    assert_eq!(
        ours.stderr,
        theirs.stderr.replace("lsns", "nsls"),
        "stderr of {args:?}"
    );
}

/// A sandbox in a fresh namespace of every kind (user and time included), so that
/// `-p PID` rows are all its own.
fn all_fresh() -> Sandbox {
    let mut flags = vec![
        "--user",
        "--map-root-user",
        "--uts",
        "--net",
        "--ipc",
        "--pid",
    ];
    flags.extend(["--mount", "--cgroup"]);
    if Kind::Time.is_supported() {
        flags.push("--time");
    }
    Sandbox::start(&flags, "")
}

fn json(args: &[&str], program: &str) -> Value {
    let out = run(program, args);
    assert_eq!(out.code, Some(0), "{program} {args:?}: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{program} {args:?}: {e}"))
}

/// Every row of a (possibly tree-shaped) `{"namespaces": [...]}`, children flattened.
fn rows(v: &Value) -> Vec<Value> {
    fn walk(list: &[Value], out: &mut Vec<Value>) {
        for row in list {
            let mut flat = row.clone();
            if let Some(obj) = flat.as_object_mut() {
                obj.remove("children");
            }
            out.push(flat);
            if let Some(children) = row["children"].as_array() {
                walk(children, out);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        v["namespaces"].as_array().expect("a namespaces array"),
        &mut out,
    );
    out
}

fn inos_of(sandbox: &Sandbox, kinds: &[&str]) -> BTreeSet<u64> {
    kinds.iter().map(|k| sandbox.ns_ino(k)).collect()
}

#[test]
fn task_view_prints_what_lsns_prints() {
    if !common::root_or_skip("task_view_prints_what_lsns_prints") {
        return;
    }
    let _g = shared();
    let sandbox = all_fresh();
    let pid = sandbox.pid.to_string();
    for extra in [
        &[][..],
        &["-J"],
        &["-r"],
        &["-n"],
        &["-l"],
        &["-u"],
        &["-W"],
        &["-l", "-J"],
        &["-n", "-r", "-l"],
        &[
            "-o",
            "NS,TYPE,PATH,NPROCS,PID,PPID,COMMAND,UID,USER,NETNSID,NSFS,PNS,ONS",
        ],
        &["-o", "+PATH,PPID,UID"],
        &[
            "-J",
            "-o",
            "NS,TYPE,PATH,NPROCS,PID,PPID,UID,USER,NETNSID,PNS,ONS",
        ],
        &["-t", "net"],
        &["-t", "pid", "-t", "user", "-l"],
        &["-T", "process", "-o", "NS,TYPE,PID,PPID,COMMAND"],
    ] {
        let mut args = vec!["-p", pid.as_str()];
        args.extend_from_slice(extra);
        same_as_lsns(&args);
    }
}

#[test]
fn same_rows_per_type_as_lsns_for_the_namespaces_we_made() {
    if !common::root_or_skip("same_rows_per_type_as_lsns_for_the_namespaces_we_made") {
        return;
    }
    let _g = shared();
    let plain = Sandbox::new();
    let user = Sandbox::with_user();
    let mut ours = inos_of(&plain, &["uts", "net", "ipc", "pid", "mnt", "cgroup"]);
    ours.extend(inos_of(&user, &["user", "uts", "net", "ipc", "pid", "mnt"]));
    let pick = |v: &Value| -> BTreeSet<String> {
        rows(v)
            .into_iter()
            .filter(|r| ours.contains(&r["ns"].as_u64().unwrap()))
            .map(|r| format!("{} {} {} {}", r["type"], r["ns"], r["nprocs"], r["pid"]))
            .collect()
    };
    for args in [
        &["-J"][..],
        &["-J", "-l"],
        &["-J", "-t", "net"],
        &["-J", "--tree=owner"],
    ] {
        let (a, b) = (pick(&json(args, NSLS)), pick(&json(args, "lsns")));
        let expected = if args.contains(&"net") { 2 } else { ours.len() };
        assert_eq!(a.len(), expected, "{args:?}: {a:?}");
        assert_eq!(a, b, "{args:?}");
    }
    // Per type, as `-t TYPE` lists them.
    for kind in ["net", "pid", "user", "uts"] {
        let args = ["-J", "-l", "-t", kind];
        assert_eq!(
            pick(&json(&args, NSLS)),
            pick(&json(&args, "lsns")),
            "{kind}"
        );
    }
}

#[test]
fn json_has_lsns_keys_and_types() {
    if !common::root_or_skip("json_has_lsns_keys_and_types") {
        return;
    }
    let _g = shared();
    let args = ["-J", "-l", "--output-all"];
    let shape = |v: &Value| -> BTreeSet<String> {
        rows(v)
            .iter()
            // Namespaces no process holds (a netns file another test is making
            // or left behind) are listed by nsls only: compare the rest.
            .filter(|r| r["nprocs"].as_u64() != Some(0))
            .flat_map(|r| {
                r.as_object()
                    .unwrap()
                    .iter()
                    .filter(|(k, v)| k.as_str() != "container" && !v.is_null())
                    .map(|(k, v)| {
                        let t = if v.is_number() { "number" } else { "string" };
                        format!("{k}:{t}")
                    })
                    .collect::<Vec<_>>()
            })
            .collect()
    };
    let ours = json(&args, NSLS);
    assert_eq!(shape(&ours), shape(&json(&args, "lsns")));
    // Keys in column order, indented as lsns indents them.
    let text = run(NSLS, &args).stdout;
    let first = &text[..text.find("\n      },{").unwrap()];
    let keys: Vec<&str> = first
        .lines()
        .filter_map(|l| l.strip_prefix("         \"")?.split('"').next())
        .collect();
    assert_eq!(
        keys,
        [
            "ns",
            "type",
            "path",
            "nprocs",
            "pid",
            "ppid",
            "command",
            "uid",
            "user",
            "netnsid",
            "nsfs",
            "pns",
            "ons",
            "container"
        ]
    );
    assert!(text.starts_with("{\n   \"namespaces\": [\n      {\n         \"ns\": "));
}

#[test]
fn tree_views_match_lsns() {
    if !common::root_or_skip("tree_views_match_lsns") {
        return;
    }
    let _g = shared();
    let sandbox = all_fresh();
    let pid = sandbox.pid.to_string();
    for extra in [
        &["-T", "owner", "-o", "NS,TYPE,PID,COMMAND"][..],
        &["-T", "parent", "-o", "NS,TYPE,PID,COMMAND"],
        &["-Towner", "-o", "NS,TYPE,PID,PNS,ONS", "-J"],
        &["--tree=parent", "-o", "NS,TYPE,PID", "-r"],
        &["-T", "process"],
        &["-T", "process", "-J"],
    ] {
        let mut args = vec!["-p", pid.as_str()];
        args.extend_from_slice(extra);
        same_as_lsns(&args);
    }
    // A namespace's processes, as a process tree and as a list.
    let net = sandbox.ns_ino("net").to_string();
    for extra in [
        &[][..],
        &["-l"],
        &["-J"],
        &["-o", "PID,PPID,UID,USER,PATH,NETNSID,COMMAND"],
    ] {
        let mut args = vec![net.as_str()];
        args.extend_from_slice(extra);
        same_as_lsns(&args);
    }
}

#[test]
fn bad_arguments_fail_like_lsns() {
    if !common::root_or_skip("bad_arguments_fail_like_lsns") {
        return;
    }
    let _g = shared();
    for args in [
        &["-x"][..],
        &["--foo"],
        &["--foo=1"],
        &["-o", "FOO"],
        &["-o", "FOO,TYPE"],
        &["-o", "NS,"],
        &["-o", "NS,,TYPE"],
        &["-o", ""],
        &["-o"],
        &["--output"],
        &["-t", "foo"],
        &["-t", "mount"],
        &["-t"],
        &["-p", "abc"],
        &["-p", "12x"],
        &["abc"],
        &["-1"],
        &["-T", "bad"],
        &["--tree=bad"],
        &["-J", "-r"],
        &["-r", "-J"],
        &["-p", "42", "4026531836"],
        &["--t"],
        &["--json=1"],
        &["-t", "foo", "-x"],
        &["1"],
    ] {
        same_as_lsns(args);
    }
    // Accepted the same way.
    for args in [
        &["-p", "99999999"][..],
        &["-l", "-T", "-p", "99999999"],
        &["-J", "-p", "99999999"],
    ] {
        same_as_lsns(args);
    }
}

#[test]
fn list_columns_and_persistent_follow_lsns_2_41() {
    if !common::root_or_skip("list_columns_and_persistent_follow_lsns_2_41") {
        return;
    }
    let _g = shared();
    // -H (2.41): every column, right-aligned names, its JSON type, its description.
    let out = run(NSLS, &["-H"]);
    assert_eq!(out.code, Some(0));
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 14);
    assert_eq!(
        lines[0],
        "       NS <integer> namespace identifier (inode number)"
    );
    assert_eq!(lines[1], "     TYPE <string>  kind of namespace");
    assert_eq!(
        lines[12],
        "      ONS <integer> owner namespace identifier (inode number)"
    );
    let j = json(&["-J", "-H"], NSLS);
    assert_eq!(j["lsns-columns"][3]["holder"], "NPROCS");
    assert_eq!(j["lsns-columns"][3]["type"], "<integer>");
    let raw = run(NSLS, &["-r", "-H"]).stdout;
    assert!(raw.starts_with("NS <integer> namespace\\x20identifier\\x20(inode\\x20number)\n"));

    // -P (2.41): only namespaces without processes; exclusive with -p.
    let netns = NetnsFile::new();
    let sandbox = Sandbox::new();
    let netns_ino = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&netns.path).unwrap().ino()
    };
    let persistent = rows(&json(&["-J", "-P"], NSLS));
    assert!(
        persistent.iter().all(|r| r["nprocs"] == 0),
        "{persistent:?}"
    );
    assert!(persistent.iter().any(|r| r["ns"] == netns_ino));
    assert!(!persistent.iter().any(|r| r["ns"] == sandbox.ns_ino("net")));
    let excl = run(NSLS, &["-P", "-p", "42"]);
    assert_eq!(excl.code, Some(1));
    assert_eq!(
        excl.stderr,
        "nsls: mutually exclusive arguments: --persistent --task\n"
    );
}

#[test]
fn namespaces_held_by_mounts_fds_and_sockets_are_listed() {
    if !common::root_or_skip("namespaces_held_by_mounts_fds_and_sockets_are_listed") {
        return;
    }
    let _g = shared();
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
    let pids = [nsjoin::list::parent_pid(sandbox.pid).unwrap(), sandbox.pid];
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
    if !common::root_or_skip("every_row_can_be_entered_with_nsjoin") {
        return;
    }
    let _g = shared();
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
    if !common::root_or_skip("container_column_appears_only_with_containers") {
        return;
    }
    let _g = shared();
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
    // Where containers run, the default columns name them.
    let listed = run(NSLS, &["-o", "CONTAINER", "-n", "-r"]).stdout;
    if listed.lines().any(|l| l.contains("://")) {
        let default = run(NSLS, &[]).stdout;
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
/// container: the engine does not confirm it, so the value ends in `?`. A real
/// container is confirmed by the engine and named as Docker names it. (The pid
/// namespaces are listed: the sandbox's holds only processes of the cgroup.)
#[test]
fn container_names_only_what_the_engine_confirms() {
    if !common::root_or_skip("container_names_only_what_the_engine_confirms") {
        return;
    }
    let _g = shared();
    let id = "d0".repeat(32);
    let impostor = common::CgroupSandbox::at(&format!("docker/{id}"));
    let pid = impostor.sandbox.pid.to_string();
    let out = run(NSLS, &["-J", "-o", "NS,CONTAINER", "-t", "pid", "-p", &pid]);
    let listed = rows(&serde_json::from_str(&out.stdout).unwrap());
    assert_eq!(listed.len(), 1, "{}", out.stdout);
    assert_eq!(listed[0]["container"], format!("docker://{}?", &id[..12]));

    let Some(c) = common::Container::start_or_skip("container_names_only_what_the_engine_confirms")
    else {
        return;
    };
    let pid = c.pid.to_string();
    let out = run(NSLS, &["-J", "-o", "NS,CONTAINER", "-t", "pid", "-p", &pid]);
    let listed = rows(&serde_json::from_str(&out.stdout).unwrap());
    assert_eq!(listed[0]["container"], format!("docker://{}", c.name));
}

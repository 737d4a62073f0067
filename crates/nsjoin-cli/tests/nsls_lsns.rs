//! `nsls` against the machine's util-linux `lsns` (2.38 here) on namespaces these
//! tests make, and against lsns 2.41's documented behaviour where 2.38 lacks it (-H,
//! -P). Other tests make and remove namespaces meanwhile, so comparisons are limited
//! to our own: with `-p PID` of a sandbox whose every namespace is fresh, with
//! `nsls NS`, or by filtering JSON rows by our inodes.

use nsjoin_test_support as common;

use std::collections::BTreeSet;

use common::{NetnsFile, Sandbox};
use serde_json::Value;

mod nsls_fixtures;
use nsls_fixtures::*;

/// nsls and lsns on the same arguments: the same stdout, exit code and (with the
/// program name swapped) stderr.
fn same_as_lsns(args: &[&str]) {
    same_as(args, lsns(args));
}

/// nsls on `args` against lsns's answer `theirs`.
fn same_as(args: &[&str], theirs: Out) {
    let ours = run(NSLS, args);
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

fn inos_of(sandbox: &Sandbox, kinds: &[&str]) -> BTreeSet<u64> {
    kinds.iter().map(|k| sandbox.ns_ino(k)).collect()
}

#[test]
fn task_view_prints_what_lsns_prints() {
    let Some(_g) = common::root_shared("task_view_prints_what_lsns_prints") else {
        return;
    };
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
    let Some(_g) = common::root_shared("same_rows_per_type_as_lsns_for_the_namespaces_we_made")
    else {
        return;
    };
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
    let Some(_g) = common::root_shared("json_has_lsns_keys_and_types") else {
        return;
    };
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
            "ns", "type", "path", "nprocs", "pid", "ppid", "command", "uid", "user", "netnsid",
            "nsfs", "pns", "ons"
        ]
    );
    assert!(text.starts_with("{\n   \"namespaces\": [\n      {\n         \"ns\": "));
}

/// `--output-all` prints lsns' columns, byte for byte; CONTAINER only when `-c`
/// (or `-o +CONTAINER`) asks for it too, last.
#[test]
fn output_all_is_lsns_own_columns() {
    let Some(_g) = common::root_shared("output_all_is_lsns_own_columns") else {
        return;
    };
    let sandbox = all_fresh();
    let pid = sandbox.pid.to_string();
    for extra in [&[][..], &["-J"], &["-r"], &["-l", "-n"]] {
        let mut args = vec!["--output-all", "-p", pid.as_str()];
        args.extend(extra);
        same_as_lsns(&args);
    }
    for asked in [&["-c"][..], &["-o", "+CONTAINER"]] {
        let mut args = vec!["--output-all", "-r", "-p", pid.as_str()];
        args.extend(asked);
        let out = run(NSLS, &args);
        assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
        let header = out.stdout.lines().next().unwrap_or_default();
        assert!(header.starts_with("NS TYPE PATH "), "{args:?}: {header}");
        assert!(header.ends_with(" ONS CONTAINER"), "{args:?}: {header}");
    }
}

#[test]
fn tree_views_match_lsns() {
    let Some(_g) = common::root_shared("tree_views_match_lsns") else {
        return;
    };
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
    let Some(_g) = common::root_shared("bad_arguments_fail_like_lsns") else {
        return;
    };
    for args in [
        &["-x"][..],
        &["--foo"],
        &["--foo=1"],
        &["-o", "FOO"],
        &["-o", "FOO,TYPE"],
        &["-o", "NS,"],
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
    // An empty column name: lsns exits 1 without a word, before it reads any
    // process, so that answer is its real one and is not asked again.
    for args in [&["-o", "NS,,TYPE"][..], &["-o", ""]] {
        same_as(args, run("lsns", args));
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
    let Some(_g) = common::root_shared("list_columns_and_persistent_follow_lsns_2_41") else {
        return;
    };
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

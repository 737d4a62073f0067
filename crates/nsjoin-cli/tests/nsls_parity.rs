use nsjoin_test_support as common;

// nsls as a drop-in for lsns: the default output byte for byte where containers
// run, `-c` for the container view (whose values nsjoin takes back as `-t`),
// lsns 2.41's `-Q` (checked against the machine's lsns 2.38 through options that
// select the same rows, and against its documented messages), and namespaces held
// only by an fd whose path is gone (lsns 2.41 lists them).

use std::process::Command;
use std::time::{Duration, Instant};

use common::{shared, Sandbox};
use serde_json::Value;

mod nsls_fixtures;
use nsls_fixtures::{lsns, run, NSLS};

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

/// `nsls ours` and `lsns theirs` print the same bytes with the same status. Other
/// tests start and end processes meanwhile, which can change a count between the
/// two runs: a difference must persist over three tries.
fn same_output(ours: &[&str], theirs: &[&str]) {
    let mut last = String::new();
    for _ in 0..3 {
        let (a, b) = (run(NSLS, ours), lsns(theirs));
        assert_eq!(a.code, b.code, "{ours:?}: {}", a.stderr);
        if a.stdout == b.stdout {
            return;
        }
        last = format!(
            "nsls {ours:?}:\n{}\nlsns {theirs:?}:\n{}",
            a.stdout, b.stdout
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("outputs differ:\n{last}");
}

fn json_rows(args: &[&str]) -> Vec<Value> {
    let out = run(NSLS, args);
    assert_eq!(out.code, Some(0), "{args:?}: {}", out.stderr);
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    v["namespaces"].as_array().unwrap().clone()
}

/// The kinds a Docker container gets fresh namespaces of (user and time are the
/// host's, whose counts change as other tests run).
const OWN_KINDS: [&str; 8] = ["-t", "mnt", "-t", "uts", "-t", "ipc", "-t", "pid"];

#[test]
fn default_output_is_lsns_byte_for_byte_where_containers_run() {
    if !common::root_or_skip("default_output_is_lsns_byte_for_byte_where_containers_run") {
        return;
    }
    let _g = shared();
    let Some(c) = common::Container::start_or_skip(
        "default_output_is_lsns_byte_for_byte_where_containers_run",
    ) else {
        return;
    };
    let pid = c.pid.to_string();
    for extra in [
        &[][..],
        &["-J"],
        &["-r"],
        &["-l"],
        &["-n"],
        &["-u"],
        &["-t", "net"],
        &["-J", "-l"],
    ] {
        let mut args = vec!["-p", pid.as_str()];
        args.extend(OWN_KINDS);
        args.extend(extra);
        same_output(&args, &args);
    }
    // The process view of one of its namespaces too.
    let ns = common::ns_ino(c.pid, "uts").to_string();
    same_output(&[&ns], &[&ns]);
    // And nothing says CONTAINER unless asked.
    assert!(!run(NSLS, &[]).stdout.contains("CONTAINER"));
}

#[test]
fn containers_option_names_a_target_nsjoin_enters() {
    if !common::root_or_skip("containers_option_names_a_target_nsjoin_enters") {
        return;
    }
    let _g = shared();
    let Some(c) =
        common::Container::start_or_skip("containers_option_names_a_target_nsjoin_enters")
    else {
        return;
    };
    let pid = c.pid.to_string();
    let out = run(NSLS, &["-c", "-p", &pid, "-t", "net"]);
    let header: Vec<&str> = out
        .stdout
        .lines()
        .next()
        .unwrap()
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "NS",
            "TYPE",
            "NPROCS",
            "PID",
            "USER",
            "NETNSID",
            "NSFS",
            "CONTAINER",
            "COMMAND"
        ]
    );
    let wanted = format!("docker://{}", c.name);
    assert!(out.stdout.contains(&wanted), "{}", out.stdout);
    // -o +CONTAINER and --containers with -o give the same value, last.
    for args in [
        &["-r", "-o", "+CONTAINER", "-p", &pid, "-t", "net"][..],
        &["-r", "--containers", "-o", "NS", "-p", &pid, "-t", "net"],
    ] {
        let out = run(NSLS, args).stdout;
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 2, "{args:?}: {out}");
        assert!(lines[0].ends_with(" CONTAINER"), "{args:?}: {out}");
        assert!(lines[1].ends_with(&format!(" {wanted}")), "{args:?}: {out}");
    }
    // Every value in the column is a `-t` for nsjoin: it enters the same namespace.
    let net = common::ns_ino(c.pid, "net");
    for row in json_rows(&["-J", "-o", "NS,CONTAINER", "-p", &pid]) {
        let target = row["container"].as_str().unwrap_or_default();
        assert!(!target.ends_with('?'), "{row}");
        if target.is_empty() {
            continue;
        }
        let entered = run(
            NSJOIN,
            &["-t", target, "-n", "readlink", "/proc/self/ns/net"],
        );
        assert_eq!(entered.code, Some(0), "{target}: {}", entered.stderr);
        assert_eq!(entered.stdout.trim(), format!("net:[{net}]"), "{target}");
    }
}

#[test]
fn filter_selects_the_rows_lsns_would() {
    if !common::root_or_skip("filter_selects_the_rows_lsns_would") {
        return;
    }
    let _g = shared();
    let sandbox = Sandbox::new();
    let pid = sandbox.pid.to_string();
    let p = ["-p", pid.as_str()];
    let with = |extra: &[&'static str]| -> Vec<String> {
        let mut v: Vec<String> = p.iter().map(|s| s.to_string()).collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let cases: [(&str, &[&str]); 5] = [
        (r#"TYPE == "uts""#, &["-t", "uts"]),
        (
            r#"TYPE eq 'uts' or TYPE == "ipc""#,
            &["-t", "uts", "-t", "ipc"],
        ),
        (
            r#"(TYPE =~ "^(uts|ipc)$") AND NOT TYPE == "uts""#,
            &["-t", "ipc"],
        ),
        (
            r#"!(TYPE != "pid") && NPROCS >= 1 && PID > 0"#,
            &["-t", "pid"],
        ),
        (
            r#"TYPE !~ "^(mnt|uts|ipc|pid|cgroup|net|user|time)$""#,
            &["-t", "nothing"],
        ),
    ];
    for (expr, kinds) in cases {
        let ours = {
            let mut a = with(&["-Q"]);
            a.push(expr.into());
            a
        };
        let ours: Vec<&str> = ours.iter().map(String::as_str).collect();
        if kinds == ["-t", "nothing"] {
            // No row: nothing at all, as lsns prints an empty table.
            let out = run(NSLS, &ours);
            assert_eq!((out.code, out.stdout.as_str()), (Some(0), ""));
            continue;
        }
        let theirs = with(kinds);
        let theirs: Vec<&str> = theirs.iter().map(String::as_str).collect();
        same_output(&ours, &theirs);
    }
    // Numbers compare as numbers, also a column the output does not show.
    let ns = sandbox.ns_ino("net");
    let rows = json_rows(&[
        "-J",
        "-l",
        "-o",
        "NS,TYPE",
        "-Q",
        &format!("NS == {ns} and PNS == 0"),
    ]);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["type"], "net");
    assert_eq!(rows[0].as_object().unwrap().len(), 2);
}

#[test]
fn bad_filters_fail_like_lsns() {
    let out = run(NSLS, &["-Q", "TYPE =="]);
    assert_eq!(out.code, Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        out.stderr
            .starts_with("nsls: failed to parse \"TYPE ==\": syntax error"),
        "{}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1);
    // Checked as the option is read, before later options.
    let out = run(NSLS, &["--filter=(", "-t", "bogus"]);
    assert!(
        out.stderr.starts_with("nsls: failed to parse \"(\""),
        "{}",
        out.stderr
    );
    // Every unknown column is named, then the filter is given up.
    let out = run(NSLS, &["-Q", "FOO > 1 || TYPE == \"net\" || bar"]);
    assert_eq!(out.code, Some(1));
    assert_eq!(
        out.stderr,
        "nsls: unknown column: FOO\nnsls: unknown column: bar\nnsls: failed to initialize filter\n"
    );
}

/// A namespace file opened through a bind mount that was then unmounted and
/// removed: `/proc/PID/fd/N` reads `/`, yet the fd keeps the namespace, and lsns
/// 2.41 lists it (no process: NPROCS 0, no PID).
#[test]
fn namespace_held_by_an_fd_whose_path_is_gone_is_listed() {
    if !common::root_or_skip("namespace_held_by_an_fd_whose_path_is_gone_is_listed") {
        return;
    }
    let _g = shared();
    let sandbox = Sandbox::new();
    let uts = sandbox.ns_ino("uts");
    let dir = common::TempDir::new("nsls-gone");
    let file = dir.path().join("uts");
    std::fs::write(&file, "").unwrap();
    let ns_file = format!("/proc/{}/ns/uts", sandbox.pid);
    let status = Command::new("mount")
        .args(["--bind", &ns_file, file.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    // Another process holds it open through the mount.
    let mut holder = Command::new("sleep")
        .arg("1000")
        .stdin(std::fs::File::open(&file).unwrap())
        .spawn()
        .unwrap();
    let status = Command::new("umount")
        .args(["-l", file.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_file(&file).unwrap();
    let pids = [
        nsjoin_cli::nsls::procs::parent_pid(sandbox.pid).unwrap(),
        sandbox.pid,
    ];
    drop(sandbox);
    let deadline = Instant::now() + Duration::from_secs(10);
    for pid in pids {
        while std::fs::read_link(format!("/proc/{pid}/ns/uts")).is_ok() {
            assert!(Instant::now() < deadline, "process {pid} did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let link = std::fs::read_link(format!("/proc/{}/fd/0", holder.id())).unwrap();
    assert_eq!(link, std::path::Path::new("/"));

    let rows = json_rows(&["-J", "-t", "uts", "-o", "NS,TYPE,NPROCS,PID,PATH"]);
    let row = rows
        .iter()
        .find(|r| r["ns"] == uts)
        .unwrap_or_else(|| panic!("uts:[{uts}] is not listed: {rows:?}"));
    assert_eq!(
        (row["nprocs"].as_u64(), row["pid"].is_null()),
        (Some(0), true),
        "{row}"
    );
    assert_eq!(row["type"], "uts");
    // Its PATH opens it again.
    let path = row["path"].as_str().unwrap();
    assert_eq!(path, format!("/proc/{}/fd/0", holder.id()));
    let entered = run(
        NSJOIN,
        &[&format!("--uts={path}"), "readlink", "/proc/self/ns/uts"],
    );
    assert_eq!(entered.stdout.trim(), format!("uts:[{uts}]"));
    let _ = holder.kill();
    let _ = holder.wait();
}

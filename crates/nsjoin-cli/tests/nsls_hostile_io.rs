//! `nsls` with few fds, and with output that cannot be written (closed stdout, a
//! full device, a closed pipe): one line that names the file and exit status 1, or
//! the end a SIGPIPE gives, like lsns; never a panic (101) or an abort (134).

use nsjoin_test_support as common;

use std::collections::BTreeSet;
use std::process::Stdio;

use common::{shared, NetnsFile, Sandbox};
use nsjoin::{Kind, Target};
use serde_json::Value;

mod nsls_hostile_fixtures;
use nsls_hostile_fixtures::*;

// ---- Item 6: few fds ---------------------------------------------------------

/// With 5 fds (3 taken by stdio) nsls cannot read a process's fd table: that is an
/// error naming the directory, like lsns's exit status 1. Before, nsls took EMFILE
/// for "process gone", skipped nearly every process and exited 0.
#[test]
fn running_out_of_fds_is_an_error_that_names_the_file() {
    let Some(_g) = common::root_shared("running_out_of_fds_is_an_error_that_names_the_file") else {
        return;
    };
    let limits = Limits {
        nofile: Some(5),
        ..Limits::default()
    };
    let out = nsls(limits, &[]);
    let line = out.one_line_failure("nsls with --nofile=5");
    assert!(
        line.starts_with("nsls: cannot open /proc/") && line.ends_with(": Too many open files"),
        "{line}"
    );
    // lsns fails the same way (silently, but with the same status).
    let lsns = run(limited(&[], limits, "lsns", &[]), true);
    assert_eq!(lsns.code, Some(1), "{lsns:?}");
}

/// Every row comes out whole with a handful of fds: owners, parents and NETNSIDs
/// included, for namespaces held by processes, an fd, a socket and a bind mount.
/// Before, nsls opened one fd per namespace at once and left the relations of all
/// but the first few out, silently.
#[test]
fn a_handful_of_fds_is_enough() {
    let Some(_g) = common::root_shared("a_handful_of_fds_is_enough") else {
        return;
    };
    let netns = NetnsFile::new();
    let netns_ino = {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(&netns.path).unwrap().ino()
    };
    let live = Sandbox::with_user();
    // A uts namespace kept by an fd, a network namespace kept by a socket, both
    // owned by a user namespace nothing else keeps.
    let gone = Sandbox::with_user();
    let (uts_ino, net_ino, user_ino) =
        (gone.ns_ino("uts"), gone.ns_ino("net"), gone.ns_ino("user"));
    let uts_fd = std::fs::File::open(format!("/proc/{}/ns/uts", gone.pid)).unwrap();
    let sock = nsjoin::run_in(&Target::pid(gone.pid), Kind::Net.into(), || {
        std::os::unix::net::UnixDatagram::unbound()
    })
    .unwrap()
    .unwrap();
    drop(gone);

    let mut ours: BTreeSet<u64> = ["user", "uts", "net", "ipc", "pid", "mnt"]
        .iter()
        .map(|k| live.ns_ino(k))
        .collect();
    ours.extend([netns_ino, uts_ino, net_ino, user_ino]);
    let args = ["-J", "-o", "NS,TYPE,NPROCS,PID,PNS,ONS,UID,NETNSID,NSFS"];
    let rows = |out: &str| -> BTreeSet<String> {
        let v: Value = serde_json::from_str(out).unwrap();
        v["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| ours.contains(&r["ns"].as_u64().unwrap()))
            .map(|r| r.to_string())
            .collect()
    };
    let expected = rows(nsls(Limits::default(), &args).success("nsls without limits"));
    assert_eq!(expected.len(), ours.len(), "{expected:?}");
    let limits = Limits {
        nofile: Some(8),
        ..Limits::default()
    };
    let out = nsls(limits, &args);
    assert_eq!(rows(out.success("nsls with --nofile=8")), expected);
    drop((uts_fd, sock));
}

// ---- Item 9: output that cannot be written ------------------------------------

/// stdout closed (`>&-`): Rust's runtime would hand nsls a /dev/null there and it
/// exited 0 having printed nothing. It now fails as a write to fd 1 does (EBADF).
/// (lsns 2.38 exits 0 here: util-linux's close_stdout() takes a closed stdout for
/// one the caller meant to discard; nsls follows coreutils and issue 18 instead.)
#[test]
fn closed_stdout_is_a_write_error() {
    let _g = shared();
    let cmd = limited(
        &["sh", "-c", r#"exec "$@" >&-"#, "sh"],
        Limits::default(),
        NSLS,
        &["-t", "uts"],
    );
    let out = run(cmd, false);
    let line = out.one_line_failure("nsls >&-");
    assert_eq!(line, "nsls: write error: Bad file descriptor");
    // Nothing to print is nothing to fail at.
    let cmd = limited(
        &["sh", "-c", r#"exec "$@" >&-"#, "sh"],
        Limits::default(),
        NSLS,
        &["-p", "99999999"],
    );
    let out = run(cmd, false);
    assert_eq!(out.code, Some(0), "nsls -p 99999999 >&-: {out:?}");
}

/// A full device: the same line and status as lsns (before: with Rust's
/// ` (os error 28)` after it).
#[test]
fn full_device_is_a_write_error_like_lsns() {
    let _g = shared();
    let full = || {
        std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap()
    };
    let mut cmd = limited(&[], Limits::default(), NSLS, &["-t", "uts"]);
    cmd.stdout(full());
    let ours = run(cmd, false);
    let line = ours.one_line_failure("nsls >/dev/full");
    assert_eq!(line, "nsls: write error: No space left on device");
    let theirs = common::ask_lsns(
        || {
            let mut cmd = limited(&[], Limits::default(), "lsns", &["-t", "uts"]);
            cmd.stdout(full());
            run(cmd, false)
        },
        Out::failed_silently,
    );
    assert_eq!(
        (ours.code, ours.stderr),
        (theirs.code, theirs.stderr.replace("lsns", "nsls"))
    );
    // With stderr full too, the status still says so (eprintln! panicked: 101).
    for args in [&["-t", "uts"][..], &["-x"]] {
        let mut cmd = limited(&[], Limits::default(), NSLS, args);
        cmd.stdout(full()).stderr(full());
        assert_eq!(run_io(cmd, false, false).code, Some(1), "{args:?}");
    }
}

/// A pipe whose reader is gone: EPIPE (Rust ignores SIGPIPE) ends nsls with 141,
/// what a shell shows for lsns, which dies of SIGPIPE; no message, as `nsls | head`
/// must not print one. Before, nsls exited 0 as if all had been written.
#[test]
fn closed_pipe_ends_like_sigpipe() {
    let _g = shared();
    let (reader, writer) = rustix::pipe::pipe().unwrap();
    drop(reader);
    let mut cmd = limited(&[], Limits::default(), NSLS, &["-t", "uts"]);
    cmd.stdout(Stdio::from(writer));
    let out = run(cmd, false);
    assert_eq!(out.signal, None);
    assert_eq!(out.code, Some(141), "{:?}", out.stderr);
    assert!(out.stderr.is_empty(), "{:?}", out.stderr);
}

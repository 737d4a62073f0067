//! `nsls` owner and parent trees (-T owner, -T parent) on chains of user
//! namespaces made here, against lsns 2.41's behaviour.

use nsjoin_test_support as common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod nsls_hostile_fixtures;
use nsls_hostile_fixtures::*;

// ---- Item 8: owner and parent trees --------------------------------------------

/// A chain of user namespaces whose middle one no process is in: `unshare -U`
/// runs a shell that starts `unshare -U -u sleep` in the background and exits. The
/// sleep is killed (by its PID) on drop; it ends by itself after two minutes.
struct GhostChain {
    pid: i32,
}

impl GhostChain {
    fn new() -> GhostChain {
        let out = Command::new("unshare")
            .args([
                "-U",
                "-r",
                "sh",
                "-c",
                "unshare -U -r -u sleep 120 </dev/null >/dev/null 2>&1 & echo $!",
            ])
            .stderr(Stdio::inherit())
            .output()
            .expect("cannot run unshare");
        assert!(out.status.success());
        let pid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        let chain = GhostChain { pid };
        // unshare(2) then exec: wait until the sleep is in its own uts namespace.
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::fs::read_link(format!("/proc/{pid}/exe"))
            .map(|p| !p.ends_with("sleep"))
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "the sleep did not start");
            std::thread::sleep(Duration::from_millis(5));
        }
        chain
    }

    fn ns_ino(&self, kind: &str) -> u64 {
        common::ns_ino(self.pid, kind)
    }
}

impl Drop for GhostChain {
    fn drop(&mut self) {
        if let Some(pid) = rustix::process::Pid::from_raw(self.pid) {
            let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
        }
    }
}

fn same_as_lsns(args: &[&str]) -> String {
    let ours = nsls(Limits::default(), args);
    let theirs = common::ask_lsns(
        || run(limited(&[], Limits::default(), "lsns", args), true),
        Out::failed_silently,
    );
    assert_eq!(
        (&ours.stdout, ours.code),
        (&theirs.stdout, theirs.code),
        "{args:?}: {}",
        ours.stderr
    );
    ours.stdout
}

/// lsns 2.41's rules (lsns(8): `-T owner`/`-T parent` build the tree from the
/// owner/owned or parent/child relation; `-t` displays the given types only),
/// compared with the machine's lsns 2.38 where the two agree: an owner or parent
/// of a listed type is shown and nested under even when no process is in it.
///
/// Where they differ, nsls follows 2.41: with `-t uts` alone the owning user
/// namespaces are not of a listed type, so 2.41 does not show them and its uts
/// rows have no parent row (its add_namespace_for_nsfd() refuses a namespace of an
/// unlisted type, also when it is only an owner); 2.38 still nested them under
/// user rows, with NPROCS 0 even for the initial user namespace. This part passed
/// before the changes of this file as well.
#[test]
fn owner_and_parent_trees_follow_lsns_2_41() {
    let Some(_g) = common::root_shared("owner_and_parent_trees_follow_lsns_2_41") else {
        return;
    };
    let chain = GhostChain::new();
    let pid = chain.pid.to_string();
    for tree in ["--tree=owner", "--tree=parent"] {
        for types in [&["-t", "user"][..], &["-t", "user", "-t", "uts"]] {
            let mut args = vec!["-p", pid.as_str(), tree, "-o", "NS,TYPE,PID"];
            args.extend_from_slice(types);
            let text = same_as_lsns(&args);
            // The host's, the middle (no process in it) and the inner user
            // namespace, then the uts namespace if listed; and the header.
            let rows = if types.len() == 2 { 3 } else { 4 };
            assert_eq!(text.lines().count(), 1 + rows, "{text}");
        }
    }
    let host_user = common::ns_ino(std::process::id() as i32, "user");
    let inner = chain.ns_ino("user");
    let text = same_as_lsns(&[
        "-p",
        &pid,
        "--tree=owner",
        "-t",
        "user",
        "-o",
        "NS,TYPE,PID",
    ]);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].starts_with(&format!("{host_user} ")), "{text}");
    assert!(lines[2].starts_with("└─"), "{text}");
    assert!(lines[3].starts_with(&format!("  └─{inner} ")), "{text}");
    // -t uts alone: the uts row at the top, as 2.41 prints it.
    let uts = chain.ns_ino("uts");
    for tree in ["--tree=owner", "--tree=parent"] {
        let args = ["-p", &pid, tree, "-t", "uts", "-r", "-o", "NS,TYPE,PID"];
        let out = nsls(Limits::default(), &args);
        assert_eq!(
            out.success(&format!("nsls {tree} -t uts")),
            format!("NS TYPE PID\n{uts} uts {pid}\n")
        );
    }
}

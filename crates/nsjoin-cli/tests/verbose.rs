// `nsjoin -v` says how each namespace was opened (the library's Namespace::source):
// through the target's pidfd on Linux 6.11 and later, through /proc/PID/ns when
// NSJOIN_FORCE_PROC=1 turns the pidfd ioctls off, and as a file for `--net=FILE`.
// Both process paths are run here on purpose, so neither can stop working unseen.

use nsjoin_test_support as common;

use std::process::{Command, Stdio};

const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

fn kernel_has_pidfd_ioctls() -> bool {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    let mut parts = release
        .trim()
        .split(['.', '-'])
        .map(|p| p.parse::<u32>().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0)) >= (6, 11)
}

/// The `via=` of every "opened" line of `nsjoin -v ARGS true`.
fn sources(args: &[&str], force_proc: bool) -> Vec<String> {
    let mut cmd = Command::new(NSJOIN);
    cmd.arg("-v").args(args).arg("true").env_remove("RUST_LOG");
    cmd.env_remove(nsjoin::FORCE_PROC_ENV);
    if force_proc {
        cmd.env(nsjoin::FORCE_PROC_ENV, "1");
    }
    let out = cmd.stdin(Stdio::null()).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.contains(" opened "))
        .map(|l| {
            l.split_whitespace()
                .find_map(|w| w.strip_prefix("via="))
                .unwrap_or_else(|| panic!("no via= in {l:?}"))
                .to_owned()
        })
        .collect()
}

#[test]
fn verbose_names_the_path_each_namespace_was_opened_by() {
    let Some(_lock) = common::root_shared("verbose_names_the_path_each_namespace_was_opened_by")
    else {
        return;
    };
    let sandbox = common::Sandbox::new();
    let pid = sandbox.pid.to_string();
    let args = ["-t", pid.as_str(), "-n", "-u", "-i"];
    let want = if kernel_has_pidfd_ioctls() {
        "pidfd"
    } else {
        "proc"
    };
    assert_eq!(sources(&args, false), [want; 3]);
    assert_eq!(sources(&args, true), ["proc"; 3]);
    let file = format!("--net=/proc/{pid}/ns/net");
    assert_eq!(sources(&[file.as_str()], false), ["file"]);
}

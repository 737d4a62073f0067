//! What the nsls_lsns, nsls_rows and nsls_parity tests share: running nsls and lsns, their
//! JSON rows, and sandboxes whose every namespace is fresh.
// Each test binary that includes this module uses only some of it.
#![allow(dead_code)]

use common::Sandbox;
use nsjoin::Kind;
use nsjoin_test_support as common;
use serde_json::Value;
use std::process::Command;

pub const NSLS: &str = env!("CARGO_BIN_EXE_nsls");

pub struct Out {
    pub stdout: String,
    pub stderr: String,
    pub code: Option<i32>,
}

pub fn run(program: &str, args: &[&str]) -> Out {
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

/// A sandbox in a fresh namespace of every kind (user and time included), so that
/// `-p PID` rows are all its own.
pub fn all_fresh() -> Sandbox {
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

impl Out {
    /// Exit status 1 with nothing said: what lsns 2.38 does when a process it reads
    /// exits meanwhile (see `common::ask_lsns`).
    pub fn failed_silently(&self) -> bool {
        self.code == Some(1) && self.stderr.is_empty()
    }
}

/// `lsns ARGS`, asked again while it fails without a word.
pub fn lsns(args: &[&str]) -> Out {
    common::ask_lsns(|| run("lsns", args), Out::failed_silently)
}

/// `PROGRAM ARGS` (nsls or lsns) as JSON; it must succeed.
pub fn json(args: &[&str], program: &str) -> Value {
    let out = match program {
        "lsns" => lsns(args),
        _ => run(program, args),
    };
    assert_eq!(out.code, Some(0), "{program} {args:?}: {}", out.stderr);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{program} {args:?}: {e}"))
}

/// Every row of a (possibly tree-shaped) `{"namespaces": [...]}`, children flattened.
pub fn rows(v: &Value) -> Vec<Value> {
    pub fn walk(list: &[Value], out: &mut Vec<Value>) {
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

//! What the spawn_* tests share: shell programs whose output says what they see
//! (parsed into a map), and a spawned child that is killed and reaped on drop.
// Each test binary that includes this module uses only some of it.
#![allow(dead_code)]

use nsjoin::{Kind, KindSet, Spawn};
use std::collections::BTreeMap;
use std::io::BufRead;
use std::ops::{Deref, DerefMut};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

pub fn sandbox_kinds() -> KindSet {
    KindSet::from([
        Kind::Cgroup,
        Kind::Ipc,
        Kind::Mnt,
        Kind::Net,
        Kind::Pid,
        Kind::Uts,
    ])
}

pub fn unique(tag: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "nsj-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A program started by `Spawn`; killed (if still running) and reaped on drop.
pub struct Running(pub nsjoin::Child);

impl Deref for Running {
    type Target = nsjoin::Child;
    fn deref(&self) -> &nsjoin::Child {
        &self.0
    }
}

impl DerefMut for Running {
    fn deref_mut(&mut self) -> &mut nsjoin::Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn sh(script: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(script);
    cmd
}

/// Runs `cmd` with `Spawn::output`, insists that it succeeded, returns its stdout.
pub fn output_ok(spawn: &Spawn, cmd: Command) -> String {
    let out = spawn.output(cmd).expect("spawn failed");
    assert!(
        out.status.success(),
        "program failed: {:?}; stderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// `KEY=VALUE` lines into a map.
pub fn parse(out: &str) -> BTreeMap<String, String> {
    out.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.trim().to_owned()))
        .collect()
}

/// Reads lines up to a line `done`, which the program prints before it waits.
pub fn read_until_done(r: &mut impl BufRead) -> String {
    let mut text = String::new();
    loop {
        let mut line = String::new();
        assert!(
            r.read_line(&mut line).unwrap() > 0,
            "program ended before printing 'done'; it printed: {text}"
        );
        if line.trim() == "done" {
            return text;
        }
        text.push_str(&line);
    }
}

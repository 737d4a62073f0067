//! What the bad_input* tests share: running a command with a deadline.
// Each test binary that includes this module uses only some of it.
#![allow(dead_code)]

use std::process::{Command, Output, Stdio};

pub const NSJOIN: &str = env!("CARGO_BIN_EXE_nsjoin");

/// Runs `program args` with stdin on /dev/null, `env` added, killed after 10 s
/// (coreutils `timeout`: exit 137 then).
pub fn run(program: &str, args: &[String], env: &[(&str, &str)]) -> Output {
    Command::new("timeout")
        .args(["-s", "KILL", "10", program])
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("cannot run timeout (coreutils)")
}

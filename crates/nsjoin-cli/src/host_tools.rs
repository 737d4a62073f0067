//! `--host-tools` in the command: the hint shown when a target has no such program.
//!
//! The rest of `--host-tools` is the library's (`Spawn::host_tools`); the command
//! only maps the option onto it.

use std::io::IsTerminal;

use nsjoin::{Kind, Plan};

use crate::failure::Failure;
use crate::request::Request;

/// The line added under nsenter's "failed to execute" when the program was looked
/// for in the target's filesystem.
pub const HINT: &str =
    "hint: the target has no such program; --host-tools runs this machine's programs inside it";

/// Whether the program was looked up in the target's filesystem: its mount
/// namespace or root was taken, and not this machine's with `--host-tools`.
pub fn looked_in_target(req: &Request, plan: Plan) -> bool {
    req.spawn.host_tools.is_none() && (plan.kinds().contains(Kind::Mnt) || req.spawn.root.is_some())
}

/// nsenter's message and exit code 127 for a program not found stay as they are;
/// when standard error is a terminal (a person reads it) and the program was
/// looked for in the target, one hint line follows.
pub fn hint_if_missing(failure: Failure, req: &Request, plan: Plan) -> Failure {
    match failure {
        Failure::Exec(msg, 127)
            if looked_in_target(req, plan) && std::io::stderr().is_terminal() =>
        {
            Failure::Exec(format!("{msg}\nnsjoin: {HINT}"), 127)
        }
        other => other,
    }
}

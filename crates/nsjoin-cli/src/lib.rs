//! The `nsjoin` command: argument mapping over the nsjoin library.
//!
//! * [`args`]: nsenter's command line, parsed by getopt's rules into clap.
//! * [`enter`]: what the options mean, in nsenter's order.
//! * [`supervise`]: waiting for a program forked into a pid namespace.

pub mod args;
pub mod enter;
pub mod supervise;

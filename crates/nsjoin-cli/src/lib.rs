//! The `nsjoin` command: argument mapping over the nsjoin library.
//!
//! * [`getopt`]: glibc getopt_long's reading of argv, over a clap definition (for
//!   both commands).
//! * [`args`]: nsenter's command line, parsed by getopt's rules into clap.
//! * [`request`]: what the options mean, resolved into a plain value.
//! * [`enter`]: carrying it out, in nsenter's order.
//! * [`host_tools`]: what `--host-tools` adds to it (the hint for a missing program).
//! * [`supervise`]: waiting for a program forked into a pid namespace.
//! * [`confine`]: the options `--confine` contradicts.
//! * [`pty`]: `--pty`, a pseudo-terminal relayed to ours.
//!
//! The `nsls` command (util-linux lsns over [`nsjoin::Scan`]):
//!
//! * [`nsls_args`]: lsns' command line, by getopt's rules, into clap.
//! * [`nsls`]: which rows and columns lsns would show, filled from the listing.
//! * [`table`]: libsmartcols' output formats, byte for byte.

pub mod args;
pub mod confine;
pub mod enter;
pub mod failure;
pub mod getopt;
pub mod host_tools;
pub mod nsls;
/// The nsls command line, under its earlier name.
pub use nsls::args as nsls_args;
pub mod pty;
pub mod request;
pub mod supervise;
pub mod table;

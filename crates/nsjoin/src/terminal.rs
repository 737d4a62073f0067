//! [`Spawn::controlling_terminal`](crate::Spawn::controlling_terminal): the
//! program's standard input as its controlling terminal, in a session of its own
//! (what `docker exec -t` and a login give a program), so that job control,
//! Ctrl-C and window-size changes reach it through its terminal.

use rustix::io::Errno;

/// In the child, last before exec: `setsid()`, then `ioctl(0, TIOCSCTTY, 0)`.
/// Allocation-free. Standard input must be a terminal that is no other session's.
///
/// # References
/// - [`setsid(2)`](https://man7.org/linux/man-pages/man2/setsid.2.html)
/// - [`TIOCSCTTY(2const)`](https://man7.org/linux/man-pages/man2/TIOCSCTTY.2const.html)
pub(crate) fn take_controlling_terminal() -> Result<(), Errno> {
    rustix::process::setsid()?;
    rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())
}

//! How nsjoin ends when it does not become the program: its own error (exit 1) or
//! a program that could not be executed (126, 127). Below every other module of
//! the command, so that each step can fail the same way.

use nsjoin::Error;

/// How nsjoin ends when it does not become the program.
#[derive(Debug)]
pub enum Failure {
    /// Its own error: message, exit 1.
    Own(String),
    /// The program could not be executed: message, exit 126 or 127.
    Exec(String, i32),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Failure {
        match &e {
            Error::Exec { program, source } => {
                let code = if source.kind() == std::io::ErrorKind::NotFound {
                    127
                } else {
                    126
                };
                // Out of fds, the program was never tried (std could not make the
                // pipes of its spawn) or could not be loaded: "failed to execute X:
                // Too many open files" reads as X's fault. util-linux exits 126 for
                // every exec failure but ENOENT, and so does nsjoin; the message
                // names the cause.
                let errno = source
                    .raw_os_error()
                    .map(rustix::io::Errno::from_raw_os_error);
                let message = match errno {
                    Some(rustix::io::Errno::MFILE) => format!(
                        "cannot execute {program}: too many open files{}",
                        fd_limit()
                            .map(|n| format!(" (the limit is {n}, ulimit -n)"))
                            .unwrap_or_default()
                    ),
                    Some(rustix::io::Errno::NFILE) => {
                        format!("cannot execute {program}: too many open files in the system")
                    }
                    _ => e.to_string(),
                };
                Failure::Exec(message, code)
            }
            _ => Failure::Own(e.to_string()),
        }
    }
}

/// RLIMIT_NOFILE's soft limit, if there is one.
fn fd_limit() -> Option<u64> {
    rustix::process::getrlimit(rustix::process::Resource::Nofile).current
}

//! The floor of `nsjoin -t PID --net --uts --ipc --mount --pid /bin/true`, in Rust:
//! open the five namespace files of PID, enter each, then fork and exec /bin/true
//! (std's Command) and wait. Usage: nsjoin-floor PID

use std::os::fd::AsFd;
use std::process::{Command, ExitCode};

use rustix::fs::{open, Mode, OFlags};
use rustix::thread::{move_into_link_name_space, LinkNameSpaceType};

fn main() -> ExitCode {
    let Some(pid) = std::env::args().nth(1) else {
        return ExitCode::FAILURE;
    };
    let mut fds = Vec::with_capacity(5);
    for kind in ["net", "uts", "ipc", "mnt", "pid"] {
        let path = format!("/proc/{pid}/ns/{kind}");
        match open(&path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(fd) => fds.push(fd),
            Err(e) => {
                eprintln!("{path}: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    for fd in fds {
        if let Err(e) = move_into_link_name_space(fd.as_fd(), None::<LinkNameSpaceType>) {
            eprintln!("setns: {e}");
            return ExitCode::FAILURE;
        }
    }
    match Command::new("/bin/true").status() {
        Ok(s) => ExitCode::from(s.code().unwrap_or(1) as u8),
        Err(_) => ExitCode::FAILURE,
    }
}

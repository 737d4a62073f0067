//! Waiting for a program forked into a pid namespace, and ending like it.
//!
//! Beyond nsenter: SIGTERM, SIGINT, SIGHUP and SIGQUIT sent to nsjoin are passed
//! on to the program (nsenter would die and leave it running). Like nsenter, a
//! stopped program stops nsjoin too and is continued with it, a program's exit
//! code becomes nsjoin's, and a program killed by a signal makes nsjoin end by the
//! same signal.

use std::io;

use nsjoin::Child;
use rustix::process::{Pid, Signal, WaitOptions};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM};

const FORWARDED: [i32; 4] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT];

/// The signals nsjoin catches while a program runs; set up before the program
/// starts so that none is lost in between.
pub struct Signals(signal_hook::iterator::Signals);

impl Signals {
    pub fn catch() -> io::Result<Signals> {
        let mut all = FORWARDED.to_vec();
        all.push(SIGCHLD);
        signal_hook::iterator::Signals::new(all).map(Signals)
    }
}

/// Waits for `child`, forwarding signals, then ends the process as the child
/// ended. Returns only if waiting failed.
pub fn wait(child: Child, mut signals: Signals) -> io::Error {
    let Some(pid) = Pid::from_raw(child.id() as i32) else {
        return rustix::io::Errno::SRCH.into();
    };
    loop {
        match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG | WaitOptions::UNTRACED) {
            Ok(Some((_, status))) => {
                if let Some(code) = status.exit_status() {
                    std::process::exit(code);
                }
                if let Some(sig) = status.terminating_signal() {
                    die_by(sig);
                }
                if status.stopped() {
                    // The program stopped: stop too, and continue it when we are.
                    let _ = rustix::process::kill_process(rustix::process::getpid(), Signal::STOP);
                    let _ = rustix::process::kill_process(pid, Signal::CONT);
                }
                continue;
            }
            Ok(None) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return e.into(),
        }
        // Sleep until a signal arrives: SIGCHLD means look again.
        for sig in signals.0.wait() {
            if sig != SIGCHLD {
                if let Some(sig) = Signal::from_named_raw(sig) {
                    let _ = rustix::process::kill_process(pid, sig);
                }
            }
        }
    }
}

/// Ends this process by `sig`, as the program ended; if the signal does not
/// kill (it is ignored here), exits with the shell's 128+N.
pub fn die_by(sig: i32) -> ! {
    let _ = signal_hook::low_level::emulate_default_handler(sig);
    if let Some(signal) = Signal::from_named_raw(sig) {
        let _ = rustix::process::kill_process(rustix::process::getpid(), signal);
    }
    std::process::exit(128 + sig)
}

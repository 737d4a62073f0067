//! `--pty`: a real terminal inside, like `docker exec -it`.
//!
//! The pseudo-terminal comes from the devpts the program will see: with the
//! target's mount namespace entered, `/dev/ptmx` is opened from inside it (so the
//! program's `tty` names a device of its own `/dev/pts`), otherwise ours; its peer
//! is opened from the master (`TIOCGPTPEER`), never by a path. The program gets
//! the peer as stdin, stdout and stderr, in a session of its own with the peer as
//! controlling terminal. nsjoin puts its own terminal in raw mode and relays bytes
//! both ways, so Ctrl-C, Ctrl-Z and the rest are the program's line discipline's
//! business; SIGWINCH copies our window size to the pty; SIGTERM, SIGINT, SIGHUP
//! and SIGQUIT sent to nsjoin are passed on. The terminal's modes are restored on
//! every way out (the program's end, an error, a signal that ends it), then
//! nsjoin ends as the program did.

use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};

use nsjoin::{Handles, Kind, KindSet, Spawn};
use rustix::event::{PollFd, PollFlags};
use rustix::io::Errno;
use rustix::process::{Pid, Signal, WaitOptions};
use rustix::termios::{OptionalActions, Termios};
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGWINCH};

use crate::failure::Failure;

const FORWARDED: [i32; 4] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT];

fn own(msg: impl Into<String>) -> Failure {
    Failure::Own(msg.into())
}

fn os(e: impl Into<io::Error>) -> String {
    nsjoin::os_text(&e.into())
}

/// Refuses `--pty` without a terminal on our standard input: there would be
/// nothing to relay from, and a program waiting on its terminal would hang.
pub fn check_terminal() -> Result<(), Failure> {
    if rustix::termios::isatty(rustix::stdio::stdin()) {
        Ok(())
    } else {
        Err(own("--pty needs a terminal on standard input"))
    }
}

/// A pseudo-terminal pair.
pub struct Pty {
    master: OwnedFd,
    peer: OwnedFd,
}

fn open_ptmx() -> rustix::io::Result<OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(
        "/dev/ptmx",
        OFlags::RDWR | OFlags::NOCTTY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Opens a pseudo-terminal from the devpts the program will see: the target's
/// when its mount namespace is entered (`in_target`), ours otherwise.
pub fn open(handles: &Handles, in_target: bool) -> Result<Pty, Failure> {
    let master = if in_target {
        handles.run(KindSet::from(Kind::Mnt), open_ptmx)?
    } else {
        open_ptmx()
    }
    .map_err(|e| own(format!("cannot open /dev/ptmx: {}", os(e))))?;
    rustix::pty::unlockpt(&master)
        .map_err(|e| own(format!("cannot unlock the pseudo-terminal: {}", os(e))))?;
    let flags = rustix::pty::OpenptFlags::RDWR
        | rustix::pty::OpenptFlags::NOCTTY
        | rustix::pty::OpenptFlags::CLOEXEC;
    let peer = rustix::pty::ioctl_tiocgptpeer(&master, flags)
        .map_err(|e| own(format!("cannot open the pseudo-terminal's peer: {}", os(e))))?;
    copy_window_size(&master);
    Ok(Pty { master, peer })
}

/// Our terminal's size onto the pty (the kernel then signals SIGWINCH to the
/// program's foreground process group).
fn copy_window_size(master: &OwnedFd) {
    if let Ok(size) = rustix::termios::tcgetwinsize(rustix::stdio::stdin()) {
        let _ = rustix::termios::tcsetwinsize(master, size);
    }
}

/// Our terminal in raw mode; its modes come back on drop and on [`Raw::restore`].
struct Raw {
    saved: Termios,
}

impl Raw {
    fn enter() -> Result<Raw, Failure> {
        let stdin = rustix::stdio::stdin();
        let saved = rustix::termios::tcgetattr(stdin)
            .map_err(|e| own(format!("cannot read the terminal's modes: {}", os(e))))?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(stdin, OptionalActions::Now, &raw)
            .map_err(|e| own(format!("cannot set the terminal to raw mode: {}", os(e))))?;
        Ok(Raw { saved })
    }

    fn restore(&self) {
        let _ =
            rustix::termios::tcsetattr(rustix::stdio::stdin(), OptionalActions::Now, &self.saved);
    }
}

impl Drop for Raw {
    fn drop(&mut self) {
        self.restore();
    }
}

/// Starts `cmd` with the pty as its terminal and relays until it ends; then ends
/// this process as the program did. Returns only on failure, with the terminal
/// restored.
pub fn run(
    mut spawn: Spawn<'_>,
    mut cmd: std::process::Command,
    pty: Pty,
) -> Result<std::convert::Infallible, Failure> {
    let (sig_read, sig_write) = rustix::pipe::pipe_with(
        rustix::pipe::PipeFlags::CLOEXEC | rustix::pipe::PipeFlags::NONBLOCK,
    )
    .map_err(|e| own(format!("cannot create a pipe: {}", os(e))))?;
    let mut all = FORWARDED.to_vec();
    all.extend([SIGCHLD, SIGWINCH]);
    let mut signals = signal_hook::iterator::Signals::new(&all)
        .map_err(|e| own(format!("cannot set up signal handling: {}", os(e))))?;
    let sig_write = std::os::unix::net::UnixStream::from(sig_write);
    for &sig in &all {
        signal_hook::low_level::pipe::register(
            sig,
            sig_write
                .try_clone()
                .map_err(|e| own(format!("cannot set up signal handling: {}", os(e))))?,
        )
        .map_err(|e| own(format!("cannot set up signal handling: {}", os(e))))?;
    }
    let dup = |fd: &OwnedFd| {
        fd.try_clone()
            .map_err(|e| own(format!("cannot duplicate the pseudo-terminal: {}", os(e))))
    };
    cmd.stdin(dup(&pty.peer)?);
    cmd.stdout(dup(&pty.peer)?);
    cmd.stderr(pty.peer);
    spawn.controlling_terminal(true).die_with_parent(true);
    let raw = Raw::enter()?;
    let child = spawn.spawn(cmd)?;
    // Every copy of the peer is the program's now: reading the master ends (EIO)
    // once the program and whatever it started have closed it.
    drop(spawn);
    let pid = Pid::from_raw(child.id() as i32).ok_or_else(|| own("the program has no PID"))?;
    let status = relay(&pty.master, &sig_read, &mut signals, pid)
        .map_err(|e| own(format!("cannot relay the terminal: {}", os(e))))?;
    drop(raw);
    end_like(status)
}

/// How the program ended.
enum Ended {
    Code(i32),
    Signal(i32),
}

fn end_like(status: Ended) -> ! {
    match status {
        Ended::Code(code) => std::process::exit(code),
        Ended::Signal(sig) => crate::supervise::die_by(sig),
    }
}

/// Copies what is there from `from` to `to`. `Ok(false)`: `from` has ended.
fn pump(from: BorrowedFd<'_>, to: BorrowedFd<'_>) -> io::Result<bool> {
    let mut buf = [0u8; 8192];
    let n = match rustix::io::read(from, &mut buf) {
        Ok(0) => return Ok(false),
        Ok(n) => n,
        Err(Errno::INTR) | Err(Errno::AGAIN) => return Ok(true),
        // The master reads EIO once no process has the peer open.
        Err(Errno::IO) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let mut rest = &buf[..n];
    while !rest.is_empty() {
        match rustix::io::write(to, rest) {
            Ok(w) => rest = &rest[w..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => {
                let mut fds = [PollFd::new(&to, PollFlags::OUT)];
                let _ = rustix::event::poll(&mut fds, None);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

fn relay(
    master: &OwnedFd,
    sig_read: &OwnedFd,
    signals: &mut signal_hook::iterator::Signals,
    pid: Pid,
) -> io::Result<Ended> {
    let stdin = rustix::stdio::stdin();
    let stdout = rustix::stdio::stdout();
    let mut stdin_open = true;
    let mut master_open = true;
    let mut ended: Option<Ended> = None;
    loop {
        if let Some(status) = ended.take() {
            if !master_open {
                return Ok(status);
            }
            // The program has ended: take what it left in the pty, then go.
            rustix::io::ioctl_fionbio(master, true)?;
            while pump(master.as_fd(), stdout)? {
                let mut fds = [PollFd::new(master, PollFlags::IN)];
                if rustix::event::poll(
                    &mut fds,
                    Some(&rustix::event::Timespec {
                        tv_sec: 0,
                        tv_nsec: 50_000_000,
                    }),
                )? == 0
                {
                    break;
                }
            }
            return Ok(status);
        }
        let mut fds = vec![PollFd::new(sig_read, PollFlags::IN)];
        if master_open {
            fds.push(PollFd::new(master, PollFlags::IN));
        }
        if stdin_open {
            fds.push(PollFd::new(&stdin, PollFlags::IN));
        }
        match rustix::event::poll(&mut fds, None) {
            Ok(_) => {}
            Err(Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
        let ready: Vec<bool> = fds.iter().map(|f| !f.revents().is_empty()).collect();
        drop(fds);
        let mut i = 1;
        if master_open {
            if ready[i] {
                master_open = pump(master.as_fd(), stdout)?;
            }
            i += 1;
        }
        if stdin_open && ready[i] {
            stdin_open = pump(stdin, master.as_fd())?;
        }
        if ready[0] {
            let mut drain = [0u8; 64];
            while rustix::io::read(sig_read, &mut drain).is_ok_and(|n| n > 0) {}
            for sig in signals.pending() {
                match sig {
                    SIGWINCH => copy_window_size(master),
                    SIGCHLD => {}
                    sig => {
                        if let Some(sig) = Signal::from_named_raw(sig) {
                            let _ = rustix::process::kill_process(pid, sig);
                        }
                    }
                }
            }
        }
        if ended.is_none() {
            ended = reap(pid)?;
        }
        if ended.is_none() && !master_open {
            // The pty is closed but the program runs on (it closed its
            // terminal): wait for it.
            if let Some((_, status)) = rustix::process::waitpid(Some(pid), WaitOptions::empty())? {
                ended = Some(as_ended(status));
            }
        }
    }
}

fn as_ended(status: rustix::process::WaitStatus) -> Ended {
    match (status.exit_status(), status.terminating_signal()) {
        (Some(code), _) => Ended::Code(code),
        (None, Some(sig)) => Ended::Signal(sig),
        _ => Ended::Code(1),
    }
}

/// The program's status if it has ended (not if it has only stopped).
fn reap(pid: Pid) -> io::Result<Option<Ended>> {
    match rustix::process::waitpid(Some(pid), WaitOptions::NOHANG) {
        Ok(Some((_, status))) => Ok(Some(as_ended(status))),
        Ok(None) => Ok(None),
        Err(Errno::INTR) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

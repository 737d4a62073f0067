//! What every engine client shares: one deadline per resolution and the unix
//! socket calls bounded by it.
//!
//! An engine's socket is an input nsjoin does not control (a `DOCKER_HOST` set by
//! someone else, a runtime that hangs, a listener that never accepts). So no call
//! on it may wait longer than what is left of the resolution's deadline:
//! `connect(2)` (which blocks while the listener's backlog is full, bounded here
//! by `SO_SNDTIMEO`, the timeout Linux applies to a unix socket's connect), every
//! write (`SO_SNDTIMEO`) and every read (`SO_RCVTIMEO`), each set to the time
//! left before the call. The async clients (gRPC, D-Bus) run under
//! `tokio::time::timeout_at` with the same end.

use std::io::{self, Read};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::sockopt::Timeout;
use rustix::net::{AddressFamily, SendFlags, SocketAddrUnix, SocketFlags, SocketType};

/// The end of the time one resolution may take.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Deadline {
    end: Instant,
    limit: Duration,
}

impl Deadline {
    /// A deadline `limit` from now.
    pub(crate) fn after(limit: Duration) -> Deadline {
        let now = Instant::now();
        Deadline {
            // A limit too far away to represent is no limit in practice.
            end: now
                .checked_add(limit)
                .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400)),
            limit,
        }
    }

    /// When it ends.
    pub(crate) fn end(&self) -> Instant {
        self.end
    }

    /// The time left, or a [`timed_out`] error when there is none (less than a
    /// microsecond, the granularity of socket timeouts, counts as none).
    pub(crate) fn remaining(&self) -> io::Result<Duration> {
        let left = self.end.saturating_duration_since(Instant::now());
        if left < Duration::from_micros(1) {
            return Err(timed_out());
        }
        Ok(left)
    }

    /// The error of an engine that did not answer in time: `WHO did not answer
    /// in time (nsjoin waits 10 s; NSJOIN_ENGINE_TIMEOUT sets another limit)`.
    pub(crate) fn late(&self, who: &str) -> super::ContainerError {
        super::ContainerError::TimedOut {
            who: who.to_owned(),
            limit: self.limit,
        }
    }
}

/// The error of a call that ran out of time.
pub(crate) fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "the engine did not answer in time")
}

/// Whether `e` means the deadline passed (a socket timeout ends a call with
/// EAGAIN; [`timed_out`] with `TimedOut`).
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// `connect(2)` to `addr`, waiting no longer than the deadline for a listener
/// whose backlog is full. The socket is blocking and O_CLOEXEC.
pub(crate) fn connect(addr: &SocketAddrUnix, deadline: &Deadline) -> io::Result<UnixStream> {
    let fd = rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC,
        None,
    )?;
    loop {
        let left = deadline.remaining()?;
        rustix::net::sockopt::set_socket_timeout(&fd, Timeout::Send, Some(left))?;
        match rustix::net::connect(&fd, addr) {
            // EISCONN: an interrupted attempt went through after all.
            Ok(()) | Err(Errno::ISCONN) => break,
            Err(Errno::INTR) => continue,
            // The backlog stayed full until SO_SNDTIMEO ran out.
            Err(Errno::AGAIN) => return Err(timed_out()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(UnixStream::from(fd))
}

/// Writes all of `buf` before the deadline (without SIGPIPE if the engine has
/// gone).
pub(crate) fn write_all(
    stream: &UnixStream,
    mut buf: &[u8],
    deadline: &Deadline,
) -> io::Result<()> {
    while !buf.is_empty() {
        stream.set_write_timeout(Some(deadline.remaining()?))?;
        match rustix::net::send(stream, buf, SendFlags::NOSIGNAL) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => buf = &buf[n..],
            Err(Errno::INTR) => {}
            Err(Errno::AGAIN) => return Err(timed_out()),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// One `read(2)` into `buf`, returning before the deadline.
pub(crate) fn read(stream: &UnixStream, buf: &mut [u8], deadline: &Deadline) -> io::Result<usize> {
    loop {
        stream.set_read_timeout(Some(deadline.remaining()?))?;
        match (&*stream).read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if is_timeout(&e) => return Err(timed_out()),
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_deadline_refuses_every_call() {
        let deadline = Deadline::after(Duration::ZERO);
        assert!(is_timeout(&deadline.remaining().unwrap_err()));
        let (a, _b) = UnixStream::pair().unwrap();
        assert!(is_timeout(&write_all(&a, b"x", &deadline).unwrap_err()));
        assert!(is_timeout(&read(&a, &mut [0; 1], &deadline).unwrap_err()));
        assert_eq!(
            Deadline::after(Duration::from_millis(1500))
                .late("the engine at /x")
                .to_string(),
            "the engine at /x did not answer in time (nsjoin waits 1.5 s; \
             NSJOIN_ENGINE_TIMEOUT sets another limit)"
        );
        // Absurd limits do not overflow.
        assert!(Deadline::after(Duration::MAX).remaining().is_ok());
    }

    #[test]
    fn a_silent_peer_ends_the_read_at_the_deadline() {
        let (a, _b) = UnixStream::pair().unwrap();
        let start = Instant::now();
        let deadline = Deadline::after(Duration::from_millis(200));
        assert!(is_timeout(&read(&a, &mut [0; 1], &deadline).unwrap_err()));
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(190) && took < Duration::from_secs(2));
    }
}

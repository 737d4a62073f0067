//! Stand-in engines on unix sockets of the test's own, for the engine tests of
//! the library (tests/hostile_engines.rs, tests/containers_*.rs) and of the
//! commands (nsjoin-cli's tests/hostile_engines.rs and tests/nsls_engines.rs,
//! which include this file alone): a listener that never accepts, and one that hands each connection to a
//! handler (trickling, pouring, answering like Docker's Engine API).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use rustix::io::Errno;
use rustix::net::{AddressFamily, SocketAddrUnix, SocketFlags, SocketType};

pub fn unix_socket(flags: SocketFlags) -> OwnedFd {
    rustix::net::socket_with(
        AddressFamily::UNIX,
        SocketType::STREAM,
        SocketFlags::CLOEXEC | flags,
        None,
    )
    .unwrap()
}

pub fn listen(addr: &SocketAddrUnix, backlog: i32) -> OwnedFd {
    let fd = unix_socket(SocketFlags::empty());
    rustix::net::bind(&fd, addr).unwrap();
    rustix::net::listen(&fd, backlog).unwrap();
    fd
}

/// A listener that never accepts, its backlog filled by connections of its own:
/// one more connect(2) waits until one of them is accepted, which is never.
pub struct Stuck {
    _listener: OwnedFd,
    _queued: Vec<OwnedFd>,
}

impl Stuck {
    pub fn at(addr: &SocketAddrUnix) -> Stuck {
        let listener = listen(addr, 0);
        let mut queued = Vec::new();
        loop {
            let fd = unix_socket(SocketFlags::NONBLOCK);
            match rustix::net::connect(&fd, addr) {
                Ok(()) => queued.push(fd),
                Err(Errno::AGAIN) => break,
                Err(e) => panic!("cannot fill the backlog: {e}"),
            }
            assert!(queued.len() < 100, "the backlog does not fill");
        }
        assert!(!queued.is_empty());
        Stuck {
            _listener: listener,
            _queued: queued,
        }
    }
}

pub type Handler = dyn Fn(UnixStream, Arc<AtomicBool>) + Send + Sync;

/// A listener that hands every connection to `handler` on a thread of its own.
/// Dropping it tells the handlers to stop (they also stop when nsjoin goes).
pub struct Fake {
    addr: SocketAddrUnix,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl Fake {
    pub fn at(
        addr: &SocketAddrUnix,
        handler: impl Fn(UnixStream, Arc<AtomicBool>) + Send + Sync + 'static,
    ) -> Fake {
        let listener = listen(addr, 16);
        let handler: Arc<Handler> = Arc::new(handler);
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            thread::spawn(move || loop {
                let conn = match rustix::net::accept_with(&listener, SocketFlags::CLOEXEC) {
                    Ok(conn) => conn,
                    Err(Errno::INTR) => continue,
                    Err(_) => break,
                };
                if stop.load(Ordering::SeqCst) {
                    break;
                }
                let (handler, stop) = (handler.clone(), stop.clone());
                thread::spawn(move || handler(UnixStream::from(conn), stop));
            })
        };
        Fake {
            addr: addr.clone(),
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let wake = unix_socket(SocketFlags::empty());
        let _ = rustix::net::connect(&wake, &self.addr);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Sleeps `d` unless told to stop first; false if told.
pub fn pause(d: Duration, stop: &AtomicBool) -> bool {
    let end = Instant::now() + d;
    while Instant::now() < end {
        if stop.load(Ordering::SeqCst) {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    true
}

/// Sends `bytes`, one every 2 s, over and over.
pub fn trickle(mut conn: UnixStream, bytes: &'static [u8], stop: &AtomicBool) {
    for &b in bytes.iter().cycle() {
        if !pause(Duration::from_secs(2), stop) || conn.write_all(&[b]).is_err() {
            return;
        }
    }
}

/// Sends `fill` over and over, `total` bytes in all, as fast as it is taken.
pub fn pour(conn: &mut UnixStream, fill: u8, total: usize, stop: &AtomicBool) {
    let chunk = [fill; 64 << 10];
    let mut sent = 0;
    while sent < total && !stop.load(Ordering::SeqCst) {
        let n = chunk.len().min(total - sent);
        if conn.write_all(&chunk[..n]).is_err() {
            return;
        }
        sent += n;
    }
}

/// "Endless": far beyond any bound (a true endless stream would, on code without
/// one, fill the memory of the machine running the test).
pub const ENDLESS: usize = 512 << 20;
/// "Huge": an answer of 100 MiB.
pub const HUGE: usize = 100 << 20;

// --- HTTP (Docker, Podman) ---

/// Reads a request's head and returns its path.
pub fn request_path(conn: &mut UnixStream) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        if conn.read(&mut byte).ok()? == 0 {
            return None;
        }
        head.push(byte[0]);
    }
    let line = String::from_utf8_lossy(&head).lines().next()?.to_owned();
    line.split(' ').nth(1).map(str::to_owned)
}

/// An Engine API that answers /_ping as Docker does and every other request with
/// `hostile`.
pub fn engine_api(
    hostile: impl Fn(&mut UnixStream, &AtomicBool) + Send + Sync + 'static,
) -> impl Fn(UnixStream, Arc<AtomicBool>) + Send + Sync + 'static {
    move |mut conn, stop| {
        let Some(path) = request_path(&mut conn) else {
            return;
        };
        if path == "/_ping" {
            let _ = conn
                .write_all(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\nOK");
            return;
        }
        hostile(&mut conn, &stop);
    }
}

/// An inspect answer for a running container with this PID.
pub fn inspect_with_pid(pid: i64) -> String {
    let body = format!(
        r#"{{"Id":"{}","Name":"/web","State":{{"Running":true,"Pid":{pid},"Status":"running"}},"HostConfig":{{"Runtime":"runc"}}}}"#,
        "ab".repeat(32)
    );
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

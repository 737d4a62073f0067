//! The D-Bus transport of the nspawn client: the connection to the system bus,
//! made under the resolution's deadline, and a check of everything the bus sends
//! before zbus reads it (D-Bus itself bounds a message only at 128 MiB, and an
//! authentication line not at all).

use std::future::Future;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::str::FromStr;

use rustix::net::SocketAddrUnix;
use zbus::address::transport::{Transport, UnixSocket};
use zbus::connection::socket::{BoxedSplit, ReadHalf, Split};

use super::socket::{self, Deadline};
use super::ContainerError;

/// The most bytes taken from the bus in one resolution (the authentication,
/// `Hello`, `GetMachine` and `GetAll` answers are a few KiB). A single D-Bus
/// message may announce up to 128 MiB, the protocol's limit, which zbus enforces.
const MAX_ANSWERS: usize = 16 << 20;

/// Connects to the bus at `address`, a `unix:path=` or `unix:abstract=` address.
pub(crate) fn connect(address: &str, deadline: &Deadline) -> Result<UnixStream, ContainerError> {
    let parsed = zbus::Address::from_str(address).map_err(|e| ContainerError::BadBusAddress {
        address: address.to_owned(),
        why: short(&e),
    })?;
    let unsupported = || ContainerError::UnsupportedAddress {
        setting: format!("D-Bus system bus address {address:?}"),
        needs: "the bus's local unix socket (unix:path= or unix:abstract=)",
    };
    let addr = match parsed.transport() {
        Transport::Unix(unix) => match unix.path() {
            UnixSocket::File(path) => SocketAddrUnix::new(path.as_path()),
            UnixSocket::Abstract(name) => SocketAddrUnix::new_abstract_name(name.as_bytes()),
            _ => return Err(unsupported()),
        },
        _ => return Err(unsupported()),
    };
    let unreachable = |source: io::Error| ContainerError::NoBus {
        address: address.to_owned(),
        source,
    };
    let addr = addr.map_err(|e| unreachable(e.into()))?;
    socket::connect(&addr, deadline).map_err(|e| {
        if socket::is_timeout(&e) {
            deadline.late(&format!("the D-Bus system bus at {address}"))
        } else {
            unreachable(e)
        }
    })
}

/// The two halves of `stream` for zbus, the reading one through [`Bounded`].
pub(crate) fn split(stream: tokio::net::UnixStream) -> BoxedSplit {
    let (read, write) = stream.into_split();
    Split::new(
        Box::new(Bounded {
            inner: read,
            framing: Framing::default(),
        }),
        Box::new(write),
    )
}

/// The bus's side of the connection, read through a check of what arrives before
/// zbus sees it: zbus would take an authentication line without end, and makes
/// room for a message as large as its header announces (up to 128 MiB) before
/// reading it. Here a line over [`MAX_LINE`], a message over [`MAX_MESSAGE`] or
/// more than [`MAX_ANSWERS`] bytes in all end the query, and file descriptors
/// (nsjoin asks for none) are closed at once.
#[derive(Debug)]
struct Bounded {
    inner: tokio::net::unix::OwnedReadHalf,
    framing: Framing,
}

impl ReadHalf for Bounded {
    // zbus's trait is an #[async_trait]; this is what that expands to.
    fn recvmsg<'a, 'b, 'r>(
        &'a mut self,
        buf: &'b mut [u8],
    ) -> Pin<Box<dyn Future<Output = io::Result<(usize, Vec<OwnedFd>)>> + Send + 'r>>
    where
        'a: 'r,
        'b: 'r,
        Self: 'r,
    {
        Box::pin(async move {
            let (n, fds) = ReadHalf::recvmsg(&mut self.inner, buf).await?;
            drop(fds);
            self.framing.take(&buf[..n]).map_err(io::Error::other)?;
            Ok((n, Vec::new()))
        })
    }
}

/// The longest authentication line taken from the bus (`OK <32 hex digits>`).
const MAX_LINE: usize = 4 << 10;
/// The largest message taken from the bus; machined's answers are a few KiB.
const MAX_MESSAGE: u64 = 1 << 20;

/// Where the bytes from the bus stand: D-Bus is authentication lines (`OK ...`,
/// `AGREE_UNIX_FD`, each ending in `\r\n`), then messages, each a 16-byte fixed
/// header (endianness `l` or `B`, then the body's length at 4 and the header
/// fields' length at 12) followed by the fields, padding to 8 and the body.
#[derive(Debug, Default)]
struct Framing {
    /// Bytes taken so far.
    total: usize,
    /// Inside an authentication line: its length so far.
    line: Option<usize>,
    /// The fixed header of the next message, as far as it has arrived.
    header: Vec<u8>,
    /// What is left of the current message after its fixed header.
    rest: u64,
}

impl Framing {
    /// Follows `data`; Err once the bus has sent more than nsjoin takes.
    pub(crate) fn take(&mut self, mut data: &[u8]) -> Result<(), String> {
        self.total += data.len();
        if self.total > MAX_ANSWERS {
            return Err(format!(
                "the bus's answers are larger than {}; refused",
                super::mib(MAX_ANSWERS)
            ));
        }
        while let Some(&first) = data.first() {
            if let Some(len) = self.line {
                let end = data.iter().position(|&b| b == b'\n');
                let used = end.map_or(data.len(), |e| e + 1);
                if len + used > MAX_LINE {
                    return Err(format!(
                        "the bus sent an authentication line longer than {MAX_LINE} bytes; refused"
                    ));
                }
                self.line = end.is_none().then_some(len + used);
                data = &data[used..];
            } else if self.rest > 0 {
                let used = self.rest.min(data.len() as u64);
                self.rest -= used;
                data = &data[used as usize..];
            } else if self.header.is_empty() && !matches!(first, b'l' | b'B') {
                self.line = Some(0);
            } else {
                let used = (16 - self.header.len()).min(data.len());
                self.header.extend_from_slice(&data[..used]);
                data = &data[used..];
                if self.header.len() == 16 {
                    let field = |at: usize| {
                        let raw: [u8; 4] = self.header[at..at + 4].try_into().unwrap_or_default();
                        u64::from(if self.header[0] == b'l' {
                            u32::from_le_bytes(raw)
                        } else {
                            u32::from_be_bytes(raw)
                        })
                    };
                    let (body, fields) = (field(4), field(12));
                    let after_header = fields.next_multiple_of(8) + body;
                    if 16 + after_header > MAX_MESSAGE {
                        return Err(format!(
                            "the bus announced a message of {} bytes, over the {} nsjoin takes; refused",
                            16 + after_header,
                            MAX_MESSAGE
                        ));
                    }
                    self.header.clear();
                    self.rest = after_header;
                }
            }
        }
        Ok(())
    }
}

/// An error's text without Rust's ` (os error N)` suffix, on one line.
pub(crate) fn short(e: &dyn std::fmt::Display) -> String {
    let text = e.to_string().replace('\n', " ");
    match text.rfind(" (os error ") {
        Some(at) if text.ends_with(')') => text[..at].to_owned(),
        _ => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_bus_sends_is_bounded() {
        // A real exchange: the OK line, then a message of 16 + 8 (fields) + 4 (body).
        let mut f = Framing::default();
        f.take(b"OK 0123456789abcdef0123456789abcdef\r\n").unwrap();
        let mut message = vec![b'l', 2, 1, 1];
        message.extend_from_slice(&4u32.to_le_bytes());
        message.extend_from_slice(&1u32.to_le_bytes());
        message.extend_from_slice(&5u32.to_le_bytes());
        message.extend_from_slice(&[0; 8]);
        message.extend_from_slice(b"abcd");
        // Byte by byte as well as at once.
        for b in &message {
            f.take(std::slice::from_ref(b)).unwrap();
        }
        f.take(&message).unwrap();
        f.take(b"AGREE_UNIX_FD\r\n").unwrap();
        f.take(&message).unwrap();
        // Big-endian, announcing 128 MiB: refused on its 16th byte.
        let mut huge = vec![b'B', 2, 1, 1];
        huge.extend_from_slice(&(128u32 << 20).to_be_bytes());
        huge.extend_from_slice(&[0; 8]);
        assert!(f.take(&huge).unwrap_err().contains("refused"));
        // A line without end.
        let mut f = Framing::default();
        assert!(f.take(&[b'O'; MAX_LINE + 1]).unwrap_err().contains("line"));
        // Endless small messages.
        let mut f = Framing::default();
        let err = (0..).find_map(|_| f.take(&message).err()).unwrap();
        assert!(err.contains("16 MiB"), "{err}");
    }
}

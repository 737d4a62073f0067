//! Unary gRPC calls over a unix socket, for containerd and the CRI runtimes.
//!
//! gRPC is HTTP/2 (h2) with a `POST /package.Service/Method`, a body of
//! length-prefixed protobuf messages (prost) and the outcome in the `grpc-status` /
//! `grpc-message` trailers. A [`Client`] owns a tokio current-thread runtime that
//! exists only while it does: nothing runs in the background between calls and the
//! paths of nsjoin that never resolve a container do not start one at all.

use std::path::{Path, PathBuf};

use bytes::{Buf, Bytes, BytesMut};
use prost::Message;
use rustix::net::SocketAddrUnix;
use tokio::runtime::Runtime;

use super::socket::{self, Deadline};
use super::{ContainerError, Peer};

/// Answers larger than this are refused (a verbose CRI status is tens of KiB).
const MAX_RESPONSE: usize = 16 << 20;
/// The most header bytes (name and value of each field, as HTTP/2 counts them)
/// taken from an answer; gRPC's are a few hundred.
const MAX_HEADERS: u32 = 64 << 10;

/// gRPC status codes nsjoin reacts to.
pub(crate) const NOT_FOUND: u32 = 5;
use crate::error::code_name;
pub(crate) const UNIMPLEMENTED: u32 = 12;

/// How a call failed.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The server answered with a gRPC status other than OK.
    Status { code: u32, message: String },
    /// No usable answer.
    Other(ContainerError),
}

impl CallError {
    /// The error for the user: `WHO at SOCKET answered: MESSAGE (gRPC NAME)`.
    pub(crate) fn into_error(self, who: &'static str, socket: &Path) -> ContainerError {
        match self {
            CallError::Status { code, message } => ContainerError::Status {
                who,
                socket: socket.to_owned(),
                code,
                message,
            },
            CallError::Other(e) => e,
        }
    }
}

/// One HTTP/2 connection to a gRPC server on a unix socket, and the deadline of
/// everything done on it.
pub(crate) struct Client {
    socket: PathBuf,
    deadline: Deadline,
    send: h2::client::SendRequest<Bytes>,
    // Declared last: dropped after the connection it drives.
    rt: Runtime,
}

impl Client {
    /// Connects to `socket` before `deadline`, which then bounds every call too.
    pub(crate) fn connect(socket: &Path, deadline: &Deadline) -> Result<Client, ContainerError> {
        Client::over(socket, connect(socket, deadline)?, deadline)
    }

    /// Speaks gRPC on `stream`, connected to `socket`.
    pub(crate) fn over(
        socket: &Path,
        stream: std::os::unix::net::UnixStream,
        deadline: &Deadline,
    ) -> Result<Client, ContainerError> {
        let end = tokio::time::Instant::from_std(deadline.end());
        let io_error = |e: std::io::Error| ContainerError::Io {
            socket: socket.display().to_string(),
            source: e,
        };
        stream.set_nonblocking(true).map_err(io_error)?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(|e| {
                ContainerError::other(format!(
                    "cannot start the gRPC client: {}",
                    crate::error::os_text(&e)
                ))
            })?;
        let send = rt.block_on(async {
            let stream = tokio::net::UnixStream::from_std(stream).map_err(io_error)?;
            let handshake = h2::client::Builder::new()
                .max_frame_size(1 << 20)
                .max_header_list_size(MAX_HEADERS)
                .handshake::<_, Bytes>(stream);
            let (send, connection) = tokio::time::timeout_at(end, handshake)
                .await
                .map_err(|_| late(socket, deadline))?
                .map_err(|e| h2_error(socket, &e))?;
            // Runs only while a call is in block_on: the runtime has one thread.
            tokio::spawn(async move {
                let _ = connection.await;
            });
            Ok::<_, ContainerError>(send)
        })?;
        Ok(Client {
            socket: socket.to_owned(),
            deadline: *deadline,
            send,
            rt,
        })
    }

    /// The socket this client is connected to.
    pub(crate) fn socket(&self) -> &Path {
        &self.socket
    }

    /// Calls `path` (`/package.Service/Method`) with `request` and the extra request
    /// headers `metadata`, and decodes the answer as `Resp`.
    pub(crate) fn call<Req: Message, Resp: Message + Default>(
        &mut self,
        path: &str,
        metadata: &[(&str, &str)],
        request: &Req,
    ) -> Result<Resp, CallError> {
        let socket = self.socket.clone();
        let mut builder = http::Request::builder()
            .method(http::Method::POST)
            .uri(format!("http://localhost{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header(
                "user-agent",
                concat!("nsjoin/", env!("CARGO_PKG_VERSION"), " grpc-rust-h2"),
            );
        for (name, value) in metadata {
            builder = builder.header(*name, *value);
        }
        let http_request = builder.body(()).map_err(|e| {
            CallError::Other(ContainerError::other(format!(
                "cannot build the request for {path}: {e}"
            )))
        })?;
        let payload = request.encode_to_vec();
        let mut body = BytesMut::with_capacity(payload.len() + 5);
        body.extend_from_slice(&[0]);
        body.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        body.extend_from_slice(&payload);
        let send = self.send.clone();
        let deadline = self.deadline;
        let end = tokio::time::Instant::from_std(deadline.end());
        let answer = self.rt.block_on(async {
            tokio::time::timeout_at(end, exchange(send, http_request, body.freeze(), &socket))
                .await
                .unwrap_or_else(|_| Err(CallError::Other(late(&socket, &deadline))))
        })?;
        Resp::decode(answer).map_err(|e| {
            CallError::Other(ContainerError::bad(format!(
                "{}: the answer to {path} is not the expected message ({e})",
                socket.display()
            )))
        })
    }
}

/// Sends one request and returns the payload of the one message answered.
async fn exchange(
    send: h2::client::SendRequest<Bytes>,
    request: http::Request<()>,
    body: Bytes,
    socket: &Path,
) -> Result<Bytes, CallError> {
    let h2e = |e: h2::Error| CallError::Other(h2_error(socket, &e));
    let garbage = |why: String| {
        CallError::Other(ContainerError::bad(format!(
            "{}: not a gRPC answer ({why})",
            socket.display()
        )))
    };
    let mut send = send.ready().await.map_err(h2e)?;
    let (response, mut stream) = send.send_request(request, false).map_err(h2e)?;
    stream.send_data(body, true).map_err(h2e)?;
    let response = response.await.map_err(h2e)?;
    let (parts, mut recv) = response.into_parts();
    if parts.status != http::StatusCode::OK {
        return Err(garbage(format!("HTTP status {}", parts.status)));
    }
    let content_type = parts
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type.starts_with("application/grpc") {
        return Err(garbage(format!("content-type {content_type:?}")));
    }
    // A "trailers-only" answer (usually an error) carries its status in the headers.
    if let Some(status) = status_of(&parts.headers) {
        status?;
        return Err(garbage("no message".into()));
    }
    let mut data = BytesMut::new();
    while let Some(chunk) = recv.data().await {
        let chunk = chunk.map_err(h2e)?;
        let _ = recv.flow_control().release_capacity(chunk.len());
        if data.len() + chunk.len() > MAX_RESPONSE {
            return Err(CallError::Other(ContainerError::TooLarge {
                socket: socket.to_owned(),
                limit: MAX_RESPONSE,
            }));
        }
        data.extend_from_slice(&chunk);
    }
    let trailers = recv.trailers().await.map_err(h2e)?.unwrap_or_default();
    match status_of(&trailers) {
        Some(status) => status?,
        None => return Err(garbage("no grpc-status".into())),
    }
    unframe(data.freeze()).map_err(garbage)
}

/// The gRPC status in `headers`, if there is one: Ok(()) for OK.
fn status_of(headers: &http::HeaderMap) -> Option<Result<(), CallError>> {
    let value = headers.get("grpc-status")?;
    let code = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse::<u32>().ok());
    Some(match code {
        Some(0) => Ok(()),
        Some(code) => {
            let message = headers
                .get("grpc-message")
                .map(|m| percent_decode(m.as_bytes()))
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| code_name(code).to_owned());
            Err(CallError::Status {
                code,
                message: super::one_line(&message),
            })
        }
        None => Err(CallError::Other(ContainerError::bad(format!(
            "malformed grpc-status {:?}",
            String::from_utf8_lossy(value.as_bytes())
        )))),
    })
}

/// The payload of the single length-prefixed message in `data`.
pub(crate) fn unframe(mut data: Bytes) -> Result<Bytes, String> {
    if data.len() < 5 {
        return Err(format!("{} bytes where a message was due", data.len()));
    }
    let compressed = data.get_u8();
    let len = data.get_u32() as usize;
    if compressed != 0 {
        return Err("compressed message, but none was asked for".into());
    }
    if data.len() != len {
        return Err(format!(
            "message of {len} bytes announced, {} received",
            data.len()
        ));
    }
    Ok(data)
}

/// Decodes `%XX` escapes, as grpc-message uses them.
pub(crate) fn percent_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = raw
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (raw[i], hex) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `connect(2)` to the socket at `socket` before `deadline`.
pub(crate) fn connect(
    socket: &Path,
    deadline: &Deadline,
) -> Result<std::os::unix::net::UnixStream, ContainerError> {
    let addr = SocketAddrUnix::new(socket)
        .map_err(|e| ContainerError::connect(socket, e.into(), Peer::Runtime))?;
    socket::connect(&addr, deadline).map_err(|e| {
        if socket::is_timeout(&e) {
            late(socket, deadline)
        } else {
            ContainerError::connect(socket, e, Peer::Runtime)
        }
    })
}

pub(crate) fn late(socket: &Path, deadline: &Deadline) -> ContainerError {
    deadline.late(&format!("the engine at {}", socket.display()))
}

fn h2_error(socket: &Path, e: &h2::Error) -> ContainerError {
    let why = match e.get_io() {
        Some(io) => crate::error::os_text(io),
        None => e.to_string(),
    };
    ContainerError::bad(format!(
        "{}: no gRPC answer ({}; is this a containerd or CRI socket?)",
        socket.display(),
        super::one_line(&why)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_unframed_or_refused() {
        assert_eq!(
            unframe(Bytes::from_static(b"\0\0\0\0\x02ab")).unwrap(),
            Bytes::from_static(b"ab")
        );
        assert_eq!(unframe(Bytes::from_static(b"\0\0\0\0\0")).unwrap().len(), 0);
        for bad in [
            &b""[..],
            b"\0\0\0",
            b"\x01\0\0\0\x01a",
            b"\0\0\0\0\x03ab",
            b"\0\0\0\0\x01ab",
        ] {
            assert!(unframe(Bytes::copy_from_slice(bad)).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn grpc_messages_are_decoded_to_one_line() {
        assert_eq!(
            percent_decode(b"container %22x%22: not found%0Anext"),
            "container \"x\": not found\nnext"
        );
        assert_eq!(percent_decode(b"100%"), "100%");
        assert_eq!(percent_decode(b"%zz"), "%zz");
        assert_eq!(crate::container::one_line("a\nb\tc"), "a b c");
        assert_eq!(code_name(NOT_FOUND), "NOT_FOUND");
    }
}

//! Just enough HTTP/1.1 over a unix socket for the engines' REST APIs: one GET per
//! connection (`Connection: close`), the response read until it is complete or
//! the engine closes (bounded in size and by the resolution's deadline), headers
//! parsed by httparse, chunked bodies decoded.

use std::path::Path;

use rustix::net::SocketAddrUnix;

use super::socket::{self, Deadline};
use super::{ContainerError, Peer};

/// Responses larger than this are refused: an engine's inspect answer is a few KiB.
pub(crate) const MAX_RESPONSE: usize = 16 << 20;

/// An HTTP response.
#[derive(Debug)]
pub(crate) struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` on the unix socket `socket`, all of it before `deadline`.
pub(crate) fn get(
    socket: &Path,
    path: &str,
    deadline: &Deadline,
) -> Result<Response, ContainerError> {
    let late = || deadline.late(&format!("the engine at {}", socket.display()));
    let io_error = |e: std::io::Error| {
        if socket::is_timeout(&e) {
            late()
        } else {
            ContainerError::Io {
                socket: socket.display().to_string(),
                source: e,
            }
        }
    };
    let addr = SocketAddrUnix::new(socket)
        .map_err(|e| ContainerError::connect(socket, e.into(), Peer::Engine))?;
    let stream = socket::connect(&addr, deadline).map_err(|e| {
        if socket::is_timeout(&e) {
            return late();
        }
        ContainerError::connect(socket, e, Peer::Engine)
    })?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nUser-Agent: nsjoin/{}\r\nAccept: application/json\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    socket::write_all(&stream, request.as_bytes(), deadline).map_err(io_error)?;
    let mut raw = Vec::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = socket::read(&stream, &mut buf, deadline).map_err(io_error)?;
        if n == 0 {
            break;
        }
        if raw.len() + n > MAX_RESPONSE {
            return Err(ContainerError::TooLarge {
                socket: socket.to_owned(),
                limit: MAX_RESPONSE,
            });
        }
        raw.extend_from_slice(&buf[..n]);
        // An engine that keeps the connection open after a whole answer is not
        // waited for.
        if complete(&raw) {
            break;
        }
    }
    parse(&raw).map_err(|why| {
        ContainerError::bad(format!(
            "{}: the engine answered garbage ({why})",
            socket.display()
        ))
    })
}

/// Whether `raw` holds a whole response (or one that cannot become valid):
/// headers and a body as long as Content-Length says, or a last chunk. A body
/// delimited by the end of the connection is never complete before it.
fn complete(raw: &[u8]) -> bool {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return false,
        // Garbage stays garbage: say so now.
        Err(_) => return true,
    };
    if matches!(response.code, Some(204 | 304)) {
        return true;
    }
    let rest = &raw[head_len..];
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
    };
    if header("Transfer-Encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        return dechunk(rest).is_ok();
    }
    match header("Content-Length").map(|len| len.parse::<usize>()) {
        Some(Ok(len)) => rest.len() >= len,
        Some(Err(_)) => true,
        None => false,
    }
}

/// Parses a complete HTTP/1.1 response.
pub(crate) fn parse(raw: &[u8]) -> Result<Response, String> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let head_len = match response.parse(raw) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Err("incomplete response".into()),
        Err(e) => return Err(e.to_string()),
    };
    let status = response.code.ok_or("no status code")?;
    let headers: Vec<(String, String)> = response
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_owned(),
                String::from_utf8_lossy(h.value).trim().to_owned(),
            )
        })
        .collect();
    let mut out = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let rest = &raw[head_len..];
    out.body = if out
        .header("Transfer-Encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else if let Some(len) = out.header("Content-Length") {
        let len: usize = len.parse().map_err(|_| "bad Content-Length")?;
        rest.get(..len)
            .ok_or("body shorter than Content-Length")?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok(out)
}

fn dechunk(mut data: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = data
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("unterminated chunk size")?;
        let size_field = std::str::from_utf8(&data[..line_end]).map_err(|_| "bad chunk size")?;
        let size_hex = size_field.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| "bad chunk size")?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        let chunk = data.get(..size).ok_or("truncated chunk")?;
        body.extend_from_slice(chunk);
        data = data
            .get(size..)
            .and_then(|d| d.strip_prefix(b"\r\n"))
            .ok_or("truncated chunk")?;
    }
}

/// Percent-encodes a path segment (container names are plain, but nothing the
/// user types may change the request's shape).
pub(crate) fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_content_length_and_chunked_bodies() {
        let r = parse(b"HTTP/1.1 200 OK\r\nApi-Version: 1.41\r\nContent-Length: 2\r\n\r\n{}extra")
            .unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"{}"[..]));
        assert_eq!(r.header("api-version"), Some("1.41"));
        let r = parse(b"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!((r.status, r.body.as_slice()), (404, &b"abcde"[..]));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        for raw in [
            &b""[..],
            b"garbage",
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab",
        ] {
            assert!(parse(raw).is_err(), "{:?}", String::from_utf8_lossy(raw));
        }
    }

    #[test]
    fn answers_are_complete_when_their_length_is_reached() {
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Len"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab"));
        assert!(complete(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"));
        assert!(!complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
        ));
        assert!(complete(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
        ));
        assert!(!complete(b"HTTP/1.1 200 OK\r\n\r\n{}"));
        assert!(complete(b"garbage\r\n\r\n"));
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(encode_segment("redis"), "redis");
        assert_eq!(encode_segment("a/../b?x#y"), "a%2F..%2Fb%3Fx%23y");
    }
}

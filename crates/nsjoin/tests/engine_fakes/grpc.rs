//! gRPC on unix sockets for the tests: a stand-in server (h2) that answers each
//! call as a handler says (a message, an error status, an HTTP error, bytes that
//! are no message, a message far too large), and a plain client for a live
//! runtime.
#![allow(dead_code)]

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use prost::Message;
use rustix::net::SocketAddrUnix;

use super::Fake;
use crate::common::TempDir;

pub const NOT_FOUND: u32 = 5;
pub const UNIMPLEMENTED: u32 = 12;
pub const CONTAINERS_GET: &str = "/containerd.services.containers.v1.Containers/Get";
pub const TASKS_GET: &str = "/containerd.services.tasks.v1.Tasks/Get";
pub const TASKS_LIST: &str = "/containerd.services.tasks.v1.Tasks/List";
pub const CRI_STATUS: &str = "/runtime.v1.RuntimeService/ContainerStatus";
pub const CRI_STATUS_V1ALPHA2: &str = "/runtime.v1alpha2.RuntimeService/ContainerStatus";

/// An HTTP/2 SETTINGS frame, the first thing a gRPC server sends.
pub const H2_SETTINGS: &[u8] = &[0, 0, 0, 4, 0, 0, 0, 0, 0];

/// A message with gRPC's length prefix.
pub fn frame(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 5);
    out.put_u8(0);
    out.put_u32(payload.len() as u32);
    out.extend_from_slice(payload);
    out.freeze()
}

pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One unary call; Err is the grpc-status and grpc-message.
pub fn call<Req: Message, Resp: Message + Default>(
    socket: &Path,
    path: &str,
    namespace: Option<&str>,
    request: &Req,
) -> Result<Resp, (u32, String)> {
    runtime().block_on(async {
        let stream = tokio::net::UnixStream::connect(socket).await.unwrap();
        let (send, connection) = h2::client::handshake(stream).await.unwrap();
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut send = send.ready().await.unwrap();
        let mut builder = http::Request::post(format!("http://localhost{path}"))
            .header("content-type", "application/grpc")
            .header("te", "trailers");
        if let Some(ns) = namespace {
            builder = builder.header("containerd-namespace", ns);
        }
        let (response, mut body) = send.send_request(builder.body(()).unwrap(), false).unwrap();
        body.send_data(frame(&request.encode_to_vec()), true)
            .unwrap();
        let response = tokio::time::timeout(Duration::from_secs(120), response)
            .await
            .expect("no answer in 120 s")
            .unwrap();
        let (parts, mut recv) = response.into_parts();
        let mut data = BytesMut::new();
        while let Some(chunk) = recv.data().await {
            let chunk = chunk.unwrap();
            let _ = recv.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        let trailers = recv.trailers().await.unwrap().unwrap_or_default();
        let status = trailers
            .get("grpc-status")
            .or(parts.headers.get("grpc-status"))
            .map(|v| v.to_str().unwrap().parse::<u32>().unwrap())
            .unwrap_or(2);
        if status != 0 {
            let message = trailers
                .get("grpc-message")
                .or(parts.headers.get("grpc-message"))
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default();
            return Err((status, message));
        }
        Ok(Resp::decode(&data[5..]).unwrap())
    })
}

/// What the stand-in server answers to one call.
pub enum Reply {
    /// OK with this message.
    Ok(Vec<u8>),
    /// A trailers-only error status.
    Status(u32, &'static str),
    /// An HTTP error without any gRPC.
    Http(u16),
    /// OK, with these bytes as the body (not a valid message frame).
    Body(&'static [u8]),
    /// One message announced as `len` bytes, and that many bytes sent (as fast as
    /// flow control lets them go).
    Announced(usize),
}

/// One call as the server saw it: path, containerd namespace, request payload.
pub type Seen = (String, Option<String>, Vec<u8>);
pub type Handler = dyn Fn(&str, Option<&str>, &[u8]) -> Reply + Send + Sync;

/// A connection handler for [`Fake`]: a gRPC server answering every call with
/// `handler(path, containerd namespace, request payload)`.
pub fn serving(
    handler: impl Fn(&str, Option<&str>, &[u8]) -> Reply + Send + Sync + 'static,
) -> impl Fn(UnixStream, Arc<AtomicBool>) + Send + Sync + 'static {
    let handler: Arc<Handler> = Arc::new(handler);
    move |conn, stop| {
        let seen = Arc::new(Mutex::new(Vec::new()));
        runtime().block_on(serve(conn, handler.clone(), seen, stop));
    }
}

/// A gRPC server on a unix socket in a temporary directory, answering with
/// `handler`; or, made with [`FakeServer::raw`], one that writes fixed bytes on
/// every connection and closes it.
pub struct FakeServer {
    // Declared first: stopped before its directory goes.
    _fake: Fake,
    pub socket: PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
    _dir: TempDir,
}

impl FakeServer {
    pub fn grpc(
        handler: impl Fn(&str, Option<&str>, &[u8]) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let handler: Arc<Handler> = Arc::new(handler);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        Self::start(seen, move |conn, stop| {
            runtime().block_on(serve(conn, handler.clone(), recorded.clone(), stop))
        })
    }

    pub fn raw(bytes: &'static [u8]) -> Self {
        Self::start(Arc::default(), move |mut conn, _| {
            let _ = std::io::Write::write_all(&mut conn, bytes);
        })
    }

    fn start(
        seen: Arc<Mutex<Vec<Seen>>>,
        handler: impl Fn(UnixStream, Arc<AtomicBool>) + Send + Sync + 'static,
    ) -> Self {
        let dir = TempDir::new("grpc");
        let socket = dir.path().join("fake.sock");
        let fake = Fake::at(&SocketAddrUnix::new(&socket).unwrap(), handler);
        FakeServer {
            _fake: fake,
            socket,
            seen,
            _dir: dir,
        }
    }

    /// The calls answered so far.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    conn: UnixStream,
    handler: Arc<Handler>,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
) {
    conn.set_nonblocking(true).unwrap();
    let io = tokio::net::UnixStream::from_std(conn).unwrap();
    let Ok(mut h2) = h2::server::handshake(io).await else {
        return;
    };
    // accept() drives the connection; each call is answered on a task.
    while let Some(Ok((request, respond))) = h2.accept().await {
        let path = request.uri().path().to_owned();
        let namespace = request
            .headers()
            .get("containerd-namespace")
            .map(|v| v.to_str().unwrap().to_owned());
        let (handler, seen, stop) = (handler.clone(), seen.clone(), stop.clone());
        tokio::spawn(async move {
            let mut body = request.into_body();
            let mut data = Vec::new();
            while let Some(Ok(chunk)) = body.data().await {
                let _ = body.flow_control().release_capacity(chunk.len());
                data.extend_from_slice(&chunk);
            }
            let payload = data.get(5..).unwrap_or_default().to_vec();
            let reply = handler(&path, namespace.as_deref(), &payload);
            seen.lock().unwrap().push((path, namespace, payload));
            answer(respond, reply, &stop).await;
        });
    }
}

async fn answer(mut respond: h2::server::SendResponse<Bytes>, reply: Reply, stop: &AtomicBool) {
    let grpc_ok = || {
        http::Response::builder()
            .status(200)
            .header("content-type", "application/grpc")
            .body(())
            .unwrap()
    };
    let ok_trailers = || {
        let mut t = http::HeaderMap::new();
        t.insert("grpc-status", "0".parse().unwrap());
        t
    };
    let mut send = match reply {
        Reply::Status(code, message) => {
            let response = http::Response::builder()
                .status(200)
                .header("content-type", "application/grpc")
                .header("grpc-status", code.to_string())
                .header("grpc-message", percent_encode(message))
                .body(())
                .unwrap();
            let _ = respond.send_response(response, true);
            return;
        }
        Reply::Http(status) => {
            let response = http::Response::builder().status(status).body(()).unwrap();
            let _ = respond.send_response(response, true);
            return;
        }
        _ => match respond.send_response(grpc_ok(), false) {
            Ok(send) => send,
            Err(_) => return,
        },
    };
    match reply {
        Reply::Ok(message) => {
            let _ = send.send_data(frame(&message), false);
        }
        Reply::Body(bytes) => {
            let _ = send.send_data(Bytes::from_static(bytes), false);
        }
        Reply::Announced(len) => {
            let mut prefix = BytesMut::new();
            prefix.put_u8(0);
            prefix.put_u32(len as u32);
            let _ = send.send_data(prefix.freeze(), false);
            let chunk = Bytes::from(vec![0u8; 16 << 10]);
            let mut sent = 0;
            while sent < len && !stop.load(Ordering::SeqCst) {
                send.reserve_capacity(chunk.len());
                let n = match std::future::poll_fn(|cx| send.poll_capacity(cx)).await {
                    Some(Ok(n)) if n > 0 => n.min(chunk.len()).min(len - sent),
                    Some(Ok(_)) => continue,
                    _ => return,
                };
                if send.send_data(chunk.slice(..n), false).is_err() {
                    return;
                }
                sent += n;
            }
        }
        Reply::Status(..) | Reply::Http(_) => unreachable!(),
    }
    let _ = send.send_trailers(ok_trailers());
}

/// grpc-message's encoding: printable ASCII but '%' as it is, the rest as %XX.
fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b' '..=b'~' if b != b'%' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A 64-hex ID, as Docker and Kubernetes use.
pub fn hex_id(seed: u8) -> String {
    format!("{seed:02x}").repeat(32)
}

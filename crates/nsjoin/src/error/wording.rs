//! How engine failures are worded: who listens on a socket (the hint of a
//! connect error), lists of names, the sockets tried.

use std::io;

use super::os_text;
use super::Engine;

/// Who listens on a socket nsjoin connects to; it decides the hint of a
/// connect error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Peer {
    /// An Engine API (Docker, Podman).
    Engine,
    /// A gRPC runtime (containerd, CRI).
    Runtime,
    /// Something else (an LXC monitor).
    Other,
}

/// `cannot connect to SOCKET: ERROR (HINT)`, the hint for the usual causes.
pub(super) fn connect_text(socket: &std::path::Path, source: &io::Error, peer: Peer) -> String {
    let hint = match (source.kind(), peer) {
        (io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused, Peer::Engine) => {
            " (is the engine running?)"
        }
        (io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused, Peer::Runtime) => {
            " (is the runtime running?)"
        }
        (io::ErrorKind::PermissionDenied, Peer::Engine) => {
            " (permission denied on the engine's socket)"
        }
        (io::ErrorKind::PermissionDenied, Peer::Runtime) => {
            " (the runtime's socket is usually root's only)"
        }
        _ => "",
    };
    format!(
        "cannot connect to {}: {}{hint}",
        socket.display(),
        os_text(source)
    )
}

/// `a, b`, or `none`.
pub(super) fn names(list: &[String]) -> String {
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

pub(super) fn no_socket(engine: Engine, tried: &[String]) -> String {
    match engine {
        Engine::Containerd => format!(
            "no containerd socket at {} (is containerd running? CONTAINERD_ADDRESS names another)",
            tried.join(" or ")
        ),
        _ => format!(
            "no CRI runtime answers at {} (set CONTAINER_RUNTIME_ENDPOINT)",
            tried.join(", ")
        ),
    }
}

//! CRI runtimes: `cri-o://ID` and `cri://ID`, through the Kubernetes Container
//! Runtime Interface (`runtime.v1.RuntimeService/ContainerStatus`, verbose).
//!
//! * `cri-o://` asks CRI-O on `/var/run/crio/crio.sock`.
//! * `cri://` asks `CONTAINER_RUNTIME_ENDPOINT` (`unix:///path` or a path), else
//!   the first of crictl's default endpoints that accepts a connection:
//!   `/run/containerd/containerd.sock`, `/run/crio/crio.sock`,
//!   `/var/run/cri-dockerd.sock`; and when none of them is there, the same
//!   sockets under `/host` (`/host/run/containerd/containerd.sock`, ...): that is
//!   where `kubectl debug node/NODE --profile=sysadmin` mounts the node's root
//!   filesystem, so nsjoin finds the node's runtime from such a debug pod.
//!   [`crate::container::cri_socket`] tells which socket that is.
//! * The CRI reports no PID in its typed fields; runtimes put it in the verbose
//!   `info` map, under `"info"`, as JSON with a `"pid"` field (containerd and CRI-O
//!   do). A runtime that does not is reported as such.
//! * IDs: whatever the runtime's ContainerStatus accepts. containerd's CRI plugin
//!   and CRI-O both look IDs up in a truncated-ID index, so a unique prefix works
//!   there as it does with crictl.
//! * Runtimes that serve only the older `runtime.v1alpha2` API (containerd before
//!   1.6, for instance) are asked again with that service name: the two messages
//!   are the same.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::grpc::{self, CallError, Client};
use super::socket::Deadline;
use super::{no_valid_pid, Container, ContainerError, ContainerRef, Engine, Peer, Settings};

/// CRI-O's socket.
pub(crate) const CRIO_SOCKET: &str = "/var/run/crio/crio.sock";
/// crictl's default endpoints, in the order it tries them.
pub(crate) const DEFAULT_ENDPOINTS: [&str; 3] = [
    "unix:///run/containerd/containerd.sock",
    "unix:///run/crio/crio.sock",
    "unix:///var/run/cri-dockerd.sock",
];

/// The node's root filesystem in a `kubectl debug node/...` pod, and the runtime
/// sockets looked for under it (under `/run`: `/host/var/run` is a link to `/run`,
/// which in the pod is the pod's own).
pub(crate) const HOST_ROOT: &str = "/host";
pub(crate) const HOST_SOCKETS: [&str; 3] = [
    "/run/containerd/containerd.sock",
    "/run/crio/crio.sock",
    "/run/cri-dockerd.sock",
];

const STATUS_V1: &str = "/runtime.v1.RuntimeService/ContainerStatus";
const STATUS_V1ALPHA2: &str = "/runtime.v1alpha2.RuntimeService/ContainerStatus";

// The messages, as declared in the CRI's api.proto (k8s.io/cri-api, runtime/v1),
// only the fields nsjoin reads.

#[derive(Clone, PartialEq, prost::Message)]
struct ContainerStatusRequest {
    #[prost(string, tag = "1")]
    container_id: String,
    #[prost(bool, tag = "2")]
    verbose: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ContainerStatusResponse {
    #[prost(message, optional, tag = "1")]
    status: Option<ContainerStatus>,
    #[prost(map = "string, string", tag = "2")]
    info: HashMap<String, String>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ContainerStatus {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(message, optional, tag = "2")]
    metadata: Option<ContainerMetadata>,
    #[prost(int32, tag = "3")]
    state: i32,
    #[prost(int32, tag = "7")]
    exit_code: i32,
    #[prost(string, tag = "10")]
    reason: String,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ContainerMetadata {
    #[prost(string, tag = "1")]
    name: String,
}

/// runtime.v1.ContainerState
const STATE_NAMES: [&str; 4] = ["created", "running", "exited", "unknown"];
const CONTAINER_RUNNING: i32 = 1;

/// The verbose `info["info"]` JSON (containerd's and CRI-O's share these fields).
#[derive(Deserialize)]
struct Info {
    #[serde(default)]
    pid: Option<i64>,
    #[serde(default, rename = "runtimeType")]
    runtime_type: Option<String>,
    #[serde(default, rename = "runtimeSpec")]
    runtime_spec: Option<super::OciSpec>,
}

pub(crate) fn resolve(
    r: &ContainerRef,
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Container, ContainerError> {
    let mut client = match r.engine {
        Engine::CriO => Client::connect(Path::new(CRIO_SOCKET), deadline)?,
        _ => connect_cri(settings, deadline)?,
    };
    container_status(&mut client, r.engine, &r.name)
}

/// CONTAINER_RUNTIME_ENDPOINT, else the first default endpoint that answers, else
/// the first of those under `/host` that answers.
pub(crate) fn connect_cri(
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Client, ContainerError> {
    let (path, stream) = find_cri(settings, deadline)?;
    match stream {
        Some(stream) => Client::over(&path, stream, deadline),
        None => Client::connect(&path, deadline),
    }
}

/// The socket [`connect_cri`] uses, and the connection made to it while looking
/// (none for CONTAINER_RUNTIME_ENDPOINT, which is taken as it is).
pub(crate) fn find_cri(
    settings: &Settings,
    deadline: &Deadline,
) -> Result<(PathBuf, Option<std::os::unix::net::UnixStream>), ContainerError> {
    if let Some(endpoint) = settings.cri_endpoint.as_deref().filter(|e| !e.is_empty()) {
        let path = endpoint_path(endpoint).ok_or_else(|| ContainerError::UnsupportedAddress {
            setting: format!("CONTAINER_RUNTIME_ENDPOINT={endpoint}"),
            needs: "the runtime's local unix socket",
        })?;
        return Ok((path, None));
    }
    let mut refused = Vec::new();
    let defaults = DEFAULT_ENDPOINTS
        .iter()
        .map(|e| endpoint_path(e).expect("a unix endpoint"));
    let under_host = HOST_SOCKETS
        .iter()
        .map(|s| PathBuf::from(format!("{HOST_ROOT}{s}")));
    for path in defaults.chain(under_host) {
        let addr = rustix::net::SocketAddrUnix::new(&path)
            .map_err(|e| ContainerError::connect(&path, e.into(), Peer::Runtime))?;
        match super::socket::connect(&addr, deadline) {
            Ok(stream) => return Ok((path, Some(stream))),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                refused.push(path.display().to_string())
            }
            Err(e) if super::socket::is_timeout(&e) => return Err(grpc::late(&path, deadline)),
            Err(e) => return Err(ContainerError::connect(&path, e, Peer::Runtime)),
        }
    }
    Err(ContainerError::NoSocket {
        engine: Engine::Cri,
        tried: refused,
    })
}

/// The socket path of a `unix://` endpoint (or a bare absolute path, as crictl
/// still accepts).
fn endpoint_path(endpoint: &str) -> Option<PathBuf> {
    let path = match endpoint.split_once("://") {
        Some(("unix", path)) => path,
        Some(_) => return None,
        None => endpoint,
    };
    path.starts_with('/').then(|| PathBuf::from(path))
}

/// Asks for the verbose status of container `id` and takes its PID from it.
pub(crate) fn container_status(
    client: &mut Client,
    engine: Engine,
    id: &str,
) -> Result<Container, ContainerError> {
    let socket = client.socket().to_owned();
    let who = match engine {
        Engine::CriO => "CRI-O",
        _ => "the CRI runtime",
    };
    let request = ContainerStatusRequest {
        container_id: id.to_owned(),
        verbose: true,
    };
    let answer = match client.call::<_, ContainerStatusResponse>(STATUS_V1, &[], &request) {
        Err(CallError::Status { code, .. }) if code == grpc::UNIMPLEMENTED => {
            client.call::<_, ContainerStatusResponse>(STATUS_V1ALPHA2, &[], &request)
        }
        other => other,
    };
    let answer = match answer {
        Ok(answer) => answer,
        Err(CallError::Status { code, .. }) if code == grpc::NOT_FOUND => {
            return Err(ContainerError::NotFound {
                engine,
                name: id.to_owned(),
                detail: Some(format!("(at {})", socket.display())),
            })
        }
        Err(CallError::Status { code, .. }) if code == grpc::UNIMPLEMENTED => {
            return Err(ContainerError::NoCriApi { socket })
        }
        Err(e) => return Err(e.into_error(who, &socket)),
    };
    parse_status(engine, answer)
}

/// Turns a verbose ContainerStatus answer into a [`Container`].
pub(crate) fn parse_status(
    engine: Engine,
    answer: ContainerStatusResponse,
) -> Result<Container, ContainerError> {
    let status = answer.status.ok_or_else(|| {
        ContainerError::bad("the runtime answered ContainerStatus without a status")
    })?;
    if status.state != CONTAINER_RUNNING {
        let state = STATE_NAMES
            .get(status.state as usize)
            .copied()
            .unwrap_or("unknown");
        let detail = match (status.state, status.reason.as_str()) {
            (2, "") => format!(", exit code {}", status.exit_code),
            (2, reason) => format!(", exit code {}, {reason}", status.exit_code),
            _ => String::new(),
        };
        return Err(ContainerError::not_running(format!(
            "state: {state}{detail}"
        )));
    }
    let info = answer.info.get("info").ok_or_else(|| {
        ContainerError::bad(
            "the runtime's verbose status has no \"info\" entry, so it does not tell the container's PID",
        )
    })?;
    let info: Info = serde_json::from_str(info).map_err(|e| {
        ContainerError::bad(format!(
            "the runtime's verbose \"info\" is not the expected JSON ({e})"
        ))
    })?;
    if let Some(runtime) = info.runtime_type.as_deref() {
        if runtime.contains("runsc") || runtime.contains("kata") {
            return Err(ContainerError::Unsupported {
                runtime: runtime.to_owned(),
            });
        }
    }
    let pid = verbose_pid(
        info.pid,
        "the runtime's verbose status has no PID for the container",
    )?;
    Ok(Container {
        engine,
        id: status.id,
        name: status.metadata.map(|m| m.name).unwrap_or_default(),
        pid,
        env: info.runtime_spec.and_then(|s| s.env()),
    })
}

/// The PID in a runtime's verbose `info`: a positive PID of ours, else why not.
pub(crate) fn verbose_pid(pid: Option<i64>, missing: &'static str) -> Result<i32, ContainerError> {
    match pid {
        Some(pid) => i32::try_from(pid)
            .ok()
            .filter(|pid| *pid > 0)
            .ok_or_else(|| no_valid_pid("the runtime", format_args!("pid {pid}"))),
        None => Err(ContainerError::bad(missing)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(state: i32, info: Option<&str>) -> ContainerStatusResponse {
        ContainerStatusResponse {
            status: Some(ContainerStatus {
                id: "4f1e".into(),
                metadata: Some(ContainerMetadata { name: "web".into() }),
                state,
                exit_code: 0,
                reason: if state == 2 {
                    "Completed".into()
                } else {
                    String::new()
                },
            }),
            info: info
                .map(|i| HashMap::from([("info".to_owned(), i.to_owned())]))
                .unwrap_or_default(),
        }
    }

    #[test]
    fn verbose_statuses_are_checked() {
        let c = parse_status(
            Engine::Cri,
            answer(
                1,
                Some(r#"{"pid":42,"runtimeSpec":{"process":{"env":["PATH=/bin"]}}}"#),
            ),
        )
        .unwrap();
        assert_eq!((c.id.as_str(), c.name.as_str(), c.pid), ("4f1e", "web", 42));
        assert_eq!(c.env.unwrap().len(), 1);
        assert_eq!(
            parse_status(Engine::Cri, answer(2, Some(r#"{"pid":0}"#)))
                .unwrap_err()
                .to_string(),
            "container is not running (state: exited, exit code 0, Completed)"
        );
        for bad in [
            answer(1, None),
            answer(1, Some("[]")),
            answer(1, Some("{}")),
            answer(1, Some(r#"{"pid":99999999999}"#)),
            answer(
                1,
                Some(r#"{"pid":7,"runtimeType":"io.containerd.runsc.v1"}"#),
            ),
            ContainerStatusResponse::default(),
        ] {
            assert!(parse_status(Engine::Cri, bad).is_err());
        }
    }

    #[test]
    fn endpoints_are_unix_sockets() {
        assert_eq!(
            endpoint_path("unix:///run/crio/crio.sock"),
            Some(PathBuf::from("/run/crio/crio.sock"))
        );
        assert_eq!(
            endpoint_path("/run/x.sock"),
            Some(PathBuf::from("/run/x.sock"))
        );
        assert_eq!(endpoint_path("tcp://localhost:1234"), None);
        assert_eq!(endpoint_path("unix://relative"), None);
    }
}

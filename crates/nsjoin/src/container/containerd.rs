//! containerd: `containerd://[NAMESPACE/]ID`, through its gRPC API.
//!
//! * Socket: `CONTAINERD_ADDRESS` (a path, `unix://` optional), else
//!   `/run/containerd/containerd.sock`, else the one Docker's own containerd
//!   listens on (`/var/run/docker/containerd/containerd.sock`).
//! * containerd namespace: the one in the spec, else `CONTAINERD_NAMESPACE`, else
//!   `k8s.io`, `moby` and `default`, searched in that order (Kubernetes, Docker,
//!   `ctr`/nerdctl), so that a Kubernetes `containerd://<id>` pastes in unchanged.
//! * In each namespace `Containers.Get` says whether the container exists (and
//!   which runtime it uses), then `Tasks.Get` gives its init process. The Tasks API
//!   takes full IDs only; an ID found in no namespace is then looked for as a
//!   unique prefix of a running task's ID (`Tasks.List`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::grpc::{self, CallError, Client};
use super::socket::Deadline;
use super::{no_valid_pid, Container, ContainerError, ContainerRef, Engine, Listed, Settings};

/// Searched, in this order, when neither the spec nor CONTAINERD_NAMESPACE names one.
pub(crate) const NAMESPACES: [&str; 3] = ["k8s.io", "moby", "default"];
/// Where containerd listens by default, then where Docker's own containerd does.
pub(crate) const SOCKETS: [&str; 2] = [
    "/run/containerd/containerd.sock",
    "/var/run/docker/containerd/containerd.sock",
];

const CONTAINERS_GET: &str = "/containerd.services.containers.v1.Containers/Get";
const TASKS_GET: &str = "/containerd.services.tasks.v1.Tasks/Get";
const TASKS_LIST: &str = "/containerd.services.tasks.v1.Tasks/List";
const NAMESPACE_HEADER: &str = "containerd-namespace";

// The messages, as declared in containerd's api/services/containers/v1/containers.proto,
// api/services/tasks/v1/tasks.proto and api/types/task/task.proto (only the fields
// nsjoin reads; protobuf skips the others).

#[derive(Clone, PartialEq, prost::Message)]
struct GetContainerRequest {
    #[prost(string, tag = "1")]
    id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GetContainerResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) container: Option<ContainerInfo>,
}

/// containerd.services.containers.v1.Container
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ContainerInfo {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(map = "string, string", tag = "2")]
    pub(crate) labels: HashMap<String, String>,
    #[prost(message, optional, tag = "4")]
    runtime: Option<Runtime>,
    #[prost(message, optional, tag = "5")]
    pub(crate) spec: Option<Any>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct Runtime {
    #[prost(string, tag = "1")]
    name: String,
}

/// google.protobuf.Any
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Any {
    #[prost(string, tag = "1")]
    type_url: String,
    #[prost(bytes = "vec", tag = "2")]
    value: Vec<u8>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct GetRequest {
    #[prost(string, tag = "1")]
    container_id: String,
    #[prost(string, tag = "2")]
    exec_id: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct GetResponse {
    #[prost(message, optional, tag = "1")]
    pub(crate) process: Option<Process>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct ListTasksRequest {
    #[prost(string, tag = "1")]
    filter: String,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct ListTasksResponse {
    #[prost(message, repeated, tag = "1")]
    pub(crate) tasks: Vec<Process>,
}

/// containerd.v1.types.Process
#[derive(Clone, PartialEq, prost::Message)]
pub(crate) struct Process {
    #[prost(string, tag = "1")]
    container_id: String,
    #[prost(string, tag = "2")]
    id: String,
    #[prost(uint32, tag = "3")]
    pid: u32,
    #[prost(int32, tag = "4")]
    status: i32,
    #[prost(uint32, tag = "9")]
    exit_status: u32,
}

/// containerd.v1.types.Status
const STATUS_NAMES: [&str; 6] = [
    "unknown", "created", "running", "stopped", "paused", "pausing",
];
const RUNNING: i32 = 2;
const PAUSED: i32 = 4;
const PAUSING: i32 = 5;

/// The containerd namespaces searched for a container: the one given, else
/// `CONTAINERD_NAMESPACE`, else [`NAMESPACES`].
fn namespaces(given: Option<&str>, settings: &Settings) -> Vec<String> {
    match given {
        Some(ns) => vec![ns.to_owned()],
        None => match settings.containerd_namespace.as_deref() {
            Some(ns) if !ns.is_empty() => vec![ns.to_owned()],
            _ => NAMESPACES.iter().map(|ns| ns.to_string()).collect(),
        },
    }
}

/// The containers with a live task (running or paused) in the namespaces a
/// `containerd://ID` is searched in, with their init's PID: one `Tasks.List` per
/// namespace, over one connection.
pub(crate) fn list(
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Vec<Listed>, ContainerError> {
    let socket = socket_path(settings)?;
    let mut client = Client::connect(&socket, deadline)?;
    let mut listed = Vec::new();
    for ns in namespaces(None, settings) {
        let tasks = match client.call::<_, ListTasksResponse>(
            TASKS_LIST,
            &[(NAMESPACE_HEADER, &ns)],
            &ListTasksRequest::default(),
        ) {
            Ok(list) => list.tasks,
            Err(CallError::Status { code, .. }) if code == grpc::NOT_FOUND => Vec::new(),
            Err(e) => return Err(e.into_error("containerd", &socket)),
        };
        listed.extend(tasks.into_iter().filter_map(|t| {
            check_process(&t).ok()?;
            Some(Listed {
                engine: Engine::Containerd,
                id: if t.container_id.is_empty() {
                    t.id
                } else {
                    t.container_id
                },
                name: None,
                pid: i32::try_from(t.pid).ok(),
            })
        }));
    }
    Ok(listed)
}

pub(crate) fn resolve(
    r: &ContainerRef,
    settings: &Settings,
    deadline: &Deadline,
) -> Result<Container, ContainerError> {
    let socket = socket_path(settings)?;
    let namespaces = namespaces(r.namespace.as_deref(), settings);
    resolve_at(&socket, &namespaces, &r.name, deadline)
}

/// Looks for container `id` in `namespaces` of the containerd at `socket`.
pub(crate) fn resolve_at(
    socket: &Path,
    namespaces: &[String],
    id: &str,
    deadline: &Deadline,
) -> Result<Container, ContainerError> {
    let mut client = Client::connect(socket, deadline)?;
    for ns in namespaces {
        let request = GetContainerRequest { id: id.to_owned() };
        match client.call::<_, GetContainerResponse>(
            CONTAINERS_GET,
            &[(NAMESPACE_HEADER, ns)],
            &request,
        ) {
            Ok(answer) => return running_task(&mut client, ns, id, answer.container),
            Err(CallError::Status { code, .. }) if code == grpc::NOT_FOUND => continue,
            Err(e) => return Err(e.into_error("containerd", socket)),
        }
    }
    // Not a full ID anywhere: a unique prefix of a running task's ID will do.
    let mut matches = Vec::new();
    for ns in namespaces {
        let tasks = match client.call::<_, ListTasksResponse>(
            TASKS_LIST,
            &[(NAMESPACE_HEADER, ns)],
            &ListTasksRequest::default(),
        ) {
            Ok(list) => list.tasks,
            Err(CallError::Status { code, .. }) if code == grpc::NOT_FOUND => Vec::new(),
            Err(e) => return Err(e.into_error("containerd", socket)),
        };
        // A task's `id` is its container's ID (containerd leaves container_id empty
        // in listings).
        matches.extend(
            tasks
                .into_iter()
                .map(|t| {
                    if t.container_id.is_empty() {
                        t.id
                    } else {
                        t.container_id
                    }
                })
                .filter(|task_id| task_id.starts_with(id))
                .map(|task_id| (ns.clone(), task_id)),
        );
    }
    let searched = if namespaces.len() == 1 {
        format!("containerd namespace {}", namespaces[0])
    } else {
        format!("containerd namespaces {}", namespaces.join(", "))
    };
    match matches.as_slice() {
        [] => Err(ContainerError::NotFound {
            engine: Engine::Containerd,
            name: id.to_owned(),
            detail: Some(format!("in {searched} (at {})", socket.display())),
        }),
        [(ns, full)] => {
            let request = GetContainerRequest { id: full.clone() };
            let answer = client
                .call::<_, GetContainerResponse>(
                    CONTAINERS_GET,
                    &[(NAMESPACE_HEADER, ns)],
                    &request,
                )
                .map_err(|e| e.into_error("containerd", socket))?;
            running_task(&mut client, ns, full, answer.container)
        }
        several => Err(ContainerError::Ambiguous {
            prefix: id.to_owned(),
            searched,
            candidates: several.iter().map(|(_, full)| full.clone()).collect(),
        }),
    }
}

/// The init process of container `id`, which exists in namespace `ns`.
fn running_task(
    client: &mut Client,
    ns: &str,
    id: &str,
    info: Option<ContainerInfo>,
) -> Result<Container, ContainerError> {
    let socket = client.socket().to_owned();
    let info = info.ok_or_else(|| {
        ContainerError::bad(format!(
            "{}: Containers.Get answered without a container",
            socket.display()
        ))
    })?;
    let runtime = info.runtime.as_ref().map(|r| r.name.as_str()).unwrap_or("");
    if runtime.contains("runsc") || runtime.contains("kata") {
        return Err(ContainerError::Unsupported {
            runtime: runtime.to_owned(),
        });
    }
    let request = GetRequest {
        container_id: id.to_owned(),
        exec_id: String::new(),
    };
    let process =
        match client.call::<_, GetResponse>(TASKS_GET, &[(NAMESPACE_HEADER, ns)], &request) {
            Ok(answer) => answer.process.ok_or_else(|| {
                ContainerError::bad(format!(
                    "{}: Tasks.Get answered without a process",
                    socket.display()
                ))
            })?,
            Err(CallError::Status { code, .. }) if code == grpc::NOT_FOUND => {
                return Err(ContainerError::not_running(format!(
                    "it has no task in containerd namespace {ns}"
                )))
            }
            Err(e) => return Err(e.into_error("containerd", &socket)),
        };
    check_process(&process)?;
    let pid = i32::try_from(process.pid)
        .map_err(|_| no_valid_pid("containerd", format_args!("pid {}", process.pid)))?;
    Ok(Container {
        engine: Engine::Containerd,
        id: if info.id.is_empty() {
            id.to_owned()
        } else {
            info.id.clone()
        },
        name: name_of(&info.labels),
        pid,
        env: spec_env(info.spec.as_ref()),
    })
}

/// Refuses a task whose process cannot be entered (not started, or gone).
pub(crate) fn check_process(process: &Process) -> Result<(), ContainerError> {
    let status = STATUS_NAMES
        .get(process.status as usize)
        .copied()
        .unwrap_or("unknown");
    match process.status {
        RUNNING | PAUSED | PAUSING if process.pid > 0 => Ok(()),
        RUNNING | PAUSED | PAUSING => Err(no_valid_pid(
            "containerd",
            format_args!("pid {}", process.pid),
        )),
        3 => Err(ContainerError::not_running(format!(
            "its task has stopped, exit status {}",
            process.exit_status
        ))),
        _ => Err(ContainerError::not_running(format!(
            "task status: {status}"
        ))),
    }
}

/// A human name from the labels the usual clients set; containerd itself has none.
pub(crate) fn name_of(labels: &HashMap<String, String>) -> String {
    ["io.kubernetes.container.name", "nerdctl/name"]
        .iter()
        .find_map(|key| labels.get(*key))
        .cloned()
        .unwrap_or_default()
}

/// The environment of the container's process, from its OCI spec (JSON in an Any).
pub(crate) fn spec_env(
    spec: Option<&Any>,
) -> Option<Vec<(std::ffi::OsString, std::ffi::OsString)>> {
    serde_json::from_slice::<super::OciSpec>(&spec?.value)
        .ok()?
        .env()
}

/// CONTAINERD_ADDRESS, else the first of [`SOCKETS`] that is there.
fn socket_path(settings: &Settings) -> Result<PathBuf, ContainerError> {
    if let Some(address) = settings
        .containerd_address
        .as_deref()
        .filter(|a| !a.is_empty())
    {
        let path = address.strip_prefix("unix://").unwrap_or(address);
        if path.is_empty() || path.contains("://") {
            return Err(ContainerError::UnsupportedAddress {
                setting: format!("CONTAINERD_ADDRESS={address}"),
                needs: "containerd's local unix socket",
            });
        }
        return Ok(PathBuf::from(path));
    }
    SOCKETS
        .iter()
        .map(PathBuf::from)
        // A socket we may not look at (a root-only directory) is still there: connect
        // will say "permission denied", which is the useful answer.
        .find(|p| {
            std::fs::symlink_metadata(p)
                .map_or_else(|e| e.kind() != std::io::ErrorKind::NotFound, |_| true)
        })
        .ok_or_else(|| ContainerError::NoSocket {
            engine: Engine::Containerd,
            tried: SOCKETS.iter().map(|s| s.to_string()).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_states_are_checked() {
        let process = |status, pid| Process {
            container_id: "c".into(),
            id: "c".into(),
            pid,
            status,
            exit_status: 137,
        };
        assert!(check_process(&process(RUNNING, 42)).is_ok());
        assert!(check_process(&process(PAUSED, 42)).is_ok());
        assert_eq!(
            check_process(&process(3, 0)).unwrap_err().to_string(),
            "container is not running (its task has stopped, exit status 137)"
        );
        assert_eq!(
            check_process(&process(1, 42)).unwrap_err().to_string(),
            "container is not running (task status: created)"
        );
        assert_eq!(
            check_process(&process(RUNNING, 0)).unwrap_err().to_string(),
            "containerd reported the container running but with no valid PID (pid 0)"
        );
        assert!(check_process(&process(99, 42)).is_err());
    }

    #[test]
    fn env_and_name_come_from_spec_and_labels() {
        let spec = Any {
            type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec".into(),
            value: br#"{"ociVersion":"1.0.2","process":{"env":["PATH=/bin","A=b=c"]}}"#.to_vec(),
        };
        let env = spec_env(Some(&spec)).unwrap();
        assert_eq!(env.len(), 2);
        assert_eq!(env[1], ("A".into(), "b=c".into()));
        assert!(spec_env(Some(&Any::default())).is_none());
        let labels = HashMap::from([("io.kubernetes.container.name".into(), "web".into())]);
        assert_eq!(name_of(&labels), "web");
        assert_eq!(name_of(&HashMap::new()), "");
    }
}

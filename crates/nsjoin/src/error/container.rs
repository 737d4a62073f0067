//! Why a container could not be resolved: one variant per failure, so that a
//! caller can tell a missing container from a stopped one, an engine that is not
//! there from one that refuses, and an answer that is late from one that is
//! nonsense. Each carries what it is about (the socket, the OS error as its
//! [`source`](std::error::Error::source)); its message is the one line the
//! command prints after the target (`docker://redis: no such container`).

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use super::engine::{code_name, Engine, PERMISSION_DENIED, TIMEOUT_ENV};
use super::wording::{connect_text, names, no_socket, Peer};
use super::{mib, os_text};

/// A container target that could not be resolved, and why.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ContainerError {
    /// The spec is not `ENGINE://NAME` (unknown engine, empty or malformed name).
    #[error("{why}")]
    BadSpec {
        /// What is wrong with it.
        why: &'static str,
    },

    /// The time limit (`NSJOIN_ENGINE_TIMEOUT`) is not a positive number of seconds.
    #[error("not a time limit in seconds (such as 10 or 0.5)")]
    BadTimeout {
        /// As given.
        value: String,
    },

    /// An engine address that is not the engine's local unix socket
    /// (`DOCKER_HOST=tcp://...`): a container's PID means something only on its
    /// own host.
    #[error("{setting} is not supported: nsjoin needs {needs}")]
    UnsupportedAddress {
        /// The setting as given (`DOCKER_HOST=tcp://x:2375`).
        setting: String,
        /// What it would have to be.
        needs: &'static str,
    },

    /// None of the engine's default sockets is there (or accepts a connection).
    #[error("{}", no_socket(*engine, tried))]
    NoSocket {
        /// The engine.
        engine: Engine,
        /// The sockets (or endpoints) tried.
        tried: Vec<String>,
    },

    /// The engine's socket cannot be connected to: not there, nothing listening,
    /// or another error of connect(2).
    #[error("{}", connect_text(socket, source, *peer))]
    Unreachable {
        /// The socket.
        socket: PathBuf,
        /// What connect(2) said.
        #[source]
        source: io::Error,
        /// Who was expected to listen there.
        peer: Peer,
    },

    /// connect(2) on the engine's socket was refused for lack of permission.
    #[error("{}", connect_text(socket, source, *peer))]
    PermissionDenied {
        /// The socket.
        socket: PathBuf,
        /// What connect(2) said.
        #[source]
        source: io::Error,
        /// Who was expected to listen there.
        peer: Peer,
    },

    /// The D-Bus address of the system bus cannot be parsed.
    #[error("bad D-Bus system bus address {address:?}: {why}")]
    BadBusAddress {
        /// As given.
        address: String,
        /// What is wrong with it.
        why: String,
    },

    /// The D-Bus system bus (for systemd-machined) cannot be connected to.
    #[error(
        "cannot reach systemd-machined: no D-Bus system bus at {address}: {}",
        os_text(source)
    )]
    NoBus {
        /// The bus's D-Bus address.
        address: String,
        /// What connect(2) said.
        #[source]
        source: io::Error,
    },

    /// systemd-machined is not on the system bus.
    #[error("systemd-machined is not running (org.freedesktop.machine1 is not on the system bus)")]
    NoMachined,

    /// The engine did not answer before the deadline.
    #[error(
        "{who} did not answer in time (nsjoin waits {} s; {TIMEOUT_ENV} sets another limit)",
        limit.as_secs_f64()
    )]
    TimedOut {
        /// Who did not answer (`the engine at /var/run/docker.sock`).
        who: String,
        /// The limit of the whole resolution.
        limit: Duration,
    },

    /// Talking to the engine failed after it was reached (a reset connection).
    #[error("{socket}: {}", os_text(source))]
    Io {
        /// The socket as messages show it (a path, `@abstract`, a D-Bus address).
        socket: String,
        /// What the system said.
        #[source]
        source: io::Error,
    },

    /// The engine's answer is larger than nsjoin takes.
    #[error("{}: the engine's answer is larger than {}; refused", socket.display(), mib(*limit))]
    TooLarge {
        /// The socket.
        socket: PathBuf,
        /// The bound, in bytes.
        limit: usize,
    },

    /// The engine answered something that is not an answer (garbage, the wrong
    /// message, a field missing).
    #[error("{why}")]
    BadAnswer {
        /// What is wrong with it, naming the socket where the engine does not.
        why: String,
    },

    /// The engine calls the container running, but gives it no usable PID.
    #[error("{who} reported the container running but with no valid PID ({pid})")]
    NoValidPid {
        /// Who said so (`the engine`, `containerd`, `machined`).
        who: &'static str,
        /// What it gave, as it named it (`Pid 0`, `Leader 0`).
        pid: String,
    },

    /// The engine has no such container.
    #[error("no such container{}", detail.as_deref().map(|d| format!(" {d}")).unwrap_or_default())]
    NotFound {
        /// The engine asked.
        engine: Engine,
        /// The name or ID asked for.
        name: String,
        /// Where it was looked for, where that is worth saying
        /// (`in containerd namespace moby (at /run/containerd/containerd.sock)`).
        detail: Option<String>,
    },

    /// The container exists but is not running.
    #[error("container is not running{}", state.as_deref().map(|s| format!(" ({s})")).unwrap_or_default())]
    NotRunning {
        /// Its state as the engine tells it (`status: exited`).
        state: Option<String>,
    },

    /// The container stopped while its engine was being asked.
    #[error("the container stopped before its monitor answered")]
    Stopped,

    /// An ID prefix that more than one container's ID starts with.
    #[error(
        "ambiguous ID prefix: {} running containers in {searched} start with {prefix}",
        candidates.len()
    )]
    Ambiguous {
        /// The prefix given.
        prefix: String,
        /// Where the engine was searched (`containerd namespaces k8s.io, moby`).
        searched: String,
        /// The full IDs it could be.
        candidates: Vec<String>,
    },

    /// The container runs under a sandboxing runtime (gVisor, Kata) whose
    /// processes are not host processes.
    #[error("container runs under {runtime}, whose processes are not host processes")]
    Unsupported {
        /// The runtime.
        runtime: String,
    },

    /// The socket answers, but not with the CRI API.
    #[error("{} does not serve the CRI API (for containerd: is its cri plugin disabled?)", socket.display())]
    NoCriApi {
        /// The socket.
        socket: PathBuf,
    },

    /// No pod of this name in this Kubernetes namespace (`k8s://`): the CRI
    /// runtime has no sandbox with the kubelet's labels for it.
    #[error("no pod {pod} in namespace {namespace} (asked the CRI runtime at {})", socket.display())]
    NoPod {
        /// The Kubernetes namespace searched.
        namespace: String,
        /// The pod's name.
        pod: String,
        /// The CRI runtime's socket.
        socket: PathBuf,
    },

    /// The pod has no container of this name.
    #[error(
        "pod {pod} has no container {name} (its containers: {})",
        names(containers)
    )]
    NoPodContainer {
        /// The pod, `NAMESPACE/POD`.
        pod: String,
        /// The container's name asked for.
        name: String,
        /// The names of the pod's containers.
        containers: Vec<String>,
    },

    /// The pod is not running: none of its sandboxes is ready.
    #[error("pod {pod} is not running ({why})")]
    PodNotRunning {
        /// The pod, `NAMESPACE/POD`.
        pod: String,
        /// What the runtime says of its sandboxes.
        why: String,
    },

    /// No container was named, and none of the pod's runs.
    #[error(
        "pod {pod} has no running container (its containers: {}; k8s://{pod}/ is the pod sandbox)",
        names(containers)
    )]
    NoRunningContainer {
        /// The pod, `NAMESPACE/POD`.
        pod: String,
        /// The names of the pod's containers.
        containers: Vec<String>,
    },

    /// No container was named, and several of the pod's run.
    #[error(
        "ambiguous: pod {pod} runs {} containers, name one: {}",
        running.len(),
        running.iter().map(|n| format!("k8s://{pod}/{n}")).collect::<Vec<_>>().join(", ")
    )]
    PodContainers {
        /// The pod, `NAMESPACE/POD`.
        pod: String,
        /// The names of its running containers.
        running: Vec<String>,
    },

    /// The pod has more than one ready sandbox (a pod deleted and made again
    /// under the same name, the old one not yet gone).
    #[error("ambiguous: pod {pod} has {} ready sandboxes: {}", sandboxes.len(), sandboxes.join(", "))]
    PodSandboxes {
        /// The pod, `NAMESPACE/POD`.
        pod: String,
        /// Each sandbox: short ID and pod UID.
        sandboxes: Vec<String>,
    },

    /// What went wrong with one container of a pod, naming it:
    /// `container side: container is not running (...)`.
    #[error("container {container}: {source}")]
    InPod {
        /// The container's name in the pod.
        container: String,
        /// What went wrong with it.
        #[source]
        source: Box<ContainerError>,
    },

    /// The engine refused the request, in its own words (Docker's error message).
    #[error("{message}")]
    Refused {
        /// What it said.
        message: String,
    },

    /// A gRPC engine answered with an error status.
    #[error(
        "{who} at {} answered: {message} (gRPC {}){}",
        socket.display(),
        code_name(*code),
        if *code == PERMISSION_DENIED { " (permission denied by the runtime)" } else { "" }
    )]
    Status {
        /// The engine (`containerd`, `CRI-O`, `the CRI runtime`).
        who: &'static str,
        /// Its socket.
        socket: PathBuf,
        /// The gRPC status code.
        code: u32,
        /// Its message.
        message: String,
    },

    /// systemd-machined answered a D-Bus error.
    #[error("machined answered {name}{}", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    DbusError {
        /// The D-Bus error name.
        name: String,
        /// Its message.
        message: Option<String>,
    },

    /// The LXC monitor refused the request.
    #[error("the container's monitor refused: {}", os_text(source))]
    MonitorRefused {
        /// The error it answered.
        #[source]
        source: io::Error,
    },

    /// The engine's PID names no process of this pid namespace.
    #[error(
        "the engine's PID {pid} names no process here (an engine in another pid namespace, \
         or the container stopped)"
    )]
    PidNotHere {
        /// The PID.
        pid: i32,
    },

    /// Asked twice, the engine named two different processes.
    #[error("the engine named process {first}, then process {then}: its init changed")]
    InitChanged {
        /// The first answer.
        first: i32,
        /// The second.
        then: i32,
    },

    /// The process the engine named is not in a cgroup of the container.
    #[error(
        "the engine named process {pid}, which is not in a cgroup of container {id}; \
         refusing to enter it"
    )]
    NotInCgroup {
        /// The PID.
        pid: i32,
        /// The container's ID.
        id: String,
    },

    /// Anything else (the client could not be started, ...), in one line.
    #[error("{why}")]
    Other {
        /// What happened.
        why: String,
    },
}

impl ContainerError {
    /// The engine's socket this is about, where there is one.
    pub fn socket(&self) -> Option<&std::path::Path> {
        match self {
            ContainerError::Unreachable { socket, .. }
            | ContainerError::PermissionDenied { socket, .. }
            | ContainerError::TooLarge { socket, .. }
            | ContainerError::NoCriApi { socket }
            | ContainerError::NoPod { socket, .. }
            | ContainerError::Status { socket, .. } => Some(socket),
            ContainerError::InPod { source, .. } => source.socket(),
            _ => None,
        }
    }

    /// The error of connect(2) on `socket`: [`ContainerError::PermissionDenied`]
    /// or [`ContainerError::Unreachable`].
    pub(crate) fn connect(socket: impl Into<PathBuf>, source: io::Error, peer: Peer) -> Self {
        let socket = socket.into();
        if source.kind() == io::ErrorKind::PermissionDenied {
            ContainerError::PermissionDenied {
                socket,
                source,
                peer,
            }
        } else {
            ContainerError::Unreachable {
                socket,
                source,
                peer,
            }
        }
    }

    /// A [`ContainerError::BadAnswer`].
    pub(crate) fn bad(why: impl Into<String>) -> Self {
        ContainerError::BadAnswer { why: why.into() }
    }

    /// A [`ContainerError::Other`].
    pub(crate) fn other(why: impl Into<String>) -> Self {
        ContainerError::Other { why: why.into() }
    }

    /// A [`ContainerError::NotRunning`] in `state`.
    pub(crate) fn not_running(state: impl Into<String>) -> Self {
        ContainerError::NotRunning {
            state: Some(state.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Reason;

    #[test]
    fn connect_errors_name_the_socket_and_the_cause() {
        let e = ContainerError::connect(
            "/run/x.sock",
            io::Error::from_raw_os_error(libc::EACCES),
            Peer::Runtime,
        );
        assert_eq!(
            e.to_string(),
            "cannot connect to /run/x.sock: Permission denied (the runtime's socket is usually root's only)"
        );
        assert_eq!(e.reason(), Reason::PermissionDenied);
        assert_eq!(e.socket(), Some(std::path::Path::new("/run/x.sock")));
        let e = ContainerError::connect(
            "/x",
            io::Error::from_raw_os_error(libc::ENOENT),
            Peer::Runtime,
        );
        assert!(e.to_string().ends_with("(is the runtime running?)"));
        assert_eq!(e.reason(), Reason::Unreachable);
        let source = std::error::Error::source(&e).unwrap();
        assert_eq!(
            source.downcast_ref::<io::Error>().unwrap().raw_os_error(),
            Some(libc::ENOENT)
        );
    }

    #[test]
    fn messages_of_the_plain_cases() {
        let not_found = ContainerError::NotFound {
            engine: Engine::Docker,
            name: "redis".into(),
            detail: None,
        };
        assert_eq!(not_found.to_string(), "no such container");
        assert_eq!(not_found.reason().as_str(), "not_found");
        assert_eq!(
            ContainerError::NotRunning { state: None }.to_string(),
            "container is not running"
        );
        assert_eq!(
            ContainerError::not_running("status: exited").to_string(),
            "container is not running (status: exited)"
        );
        let ambiguous = ContainerError::Ambiguous {
            prefix: "ab".into(),
            searched: "containerd namespace moby".into(),
            candidates: vec!["ab1".into(), "ab2".into()],
        };
        assert_eq!(
            ambiguous.to_string(),
            "ambiguous ID prefix: 2 running containers in containerd namespace moby start with ab"
        );
        let late = ContainerError::TimedOut {
            who: "the engine at /x".into(),
            limit: Duration::from_millis(1500),
        };
        assert_eq!(
            late.to_string(),
            "the engine at /x did not answer in time (nsjoin waits 1.5 s; \
             NSJOIN_ENGINE_TIMEOUT sets another limit)"
        );
        assert_eq!(late.reason(), Reason::TimedOut);
    }
}

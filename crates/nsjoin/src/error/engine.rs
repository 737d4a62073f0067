//! The engines nsjoin asks, and the names their failures are told with: the
//! engine schemes, the gRPC status names and the time-limit variable the messages
//! of [`ContainerError`](super::ContainerError) mention.

use std::fmt;

/// A container engine nsjoin can ask for a container's init process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Engine {
    /// Docker Engine.
    Docker,
    /// Podman (its Docker-compatible API).
    Podman,
    /// containerd (Tasks API), in a containerd namespace such as `moby` or `k8s.io`.
    Containerd,
    /// CRI-O (CRI API on its socket).
    CriO,
    /// Any CRI runtime at `CONTAINER_RUNTIME_ENDPOINT` or crictl's default endpoints.
    Cri,
    /// Kubernetes pods on this node, by namespace and name, through the node's CRI
    /// runtime (the one [`Engine::Cri`] asks).
    K8s,
    /// LXC.
    Lxc,
    /// systemd-nspawn machines, through systemd-machined.
    Nspawn,
}

impl Engine {
    /// The scheme as written in a target spec.
    pub fn scheme(self) -> &'static str {
        match self {
            Engine::Docker => "docker",
            Engine::Podman => "podman",
            Engine::Containerd => "containerd",
            Engine::CriO => "cri-o",
            Engine::Cri => "cri",
            Engine::K8s => "k8s",
            Engine::Lxc => "lxc",
            Engine::Nspawn => "nspawn",
        }
    }

    pub(crate) fn from_scheme(scheme: &str) -> Option<Engine> {
        Some(match scheme {
            "docker" => Engine::Docker,
            "podman" => Engine::Podman,
            "containerd" => Engine::Containerd,
            "cri-o" | "crio" => Engine::CriO,
            "cri" => Engine::Cri,
            "k8s" => Engine::K8s,
            "lxc" => Engine::Lxc,
            "nspawn" | "machine" => Engine::Nspawn,
            _ => return None,
        })
    }
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.scheme())
    }
}

/// The environment variable that sets the time limit of a resolution, in seconds
/// (`10`, `0.5`), when [`set_timeout`](crate::container::set_timeout) has not.
pub const TIMEOUT_ENV: &str = "NSJOIN_ENGINE_TIMEOUT";

pub(crate) const PERMISSION_DENIED: u32 = 7;

/// The canonical name of a gRPC status code.
pub(crate) fn code_name(code: u32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "status code unknown",
    }
}

//! The CRI messages a pod lookup sends and reads, as declared in the CRI's
//! api.proto (runtime/v1): only the fields nsjoin uses.

use std::collections::HashMap;

use serde::Deserialize;

use super::LABEL_CONTAINER;

// The messages, as declared in the CRI's api.proto (k8s.io/cri-api, runtime/v1),
// only the fields nsjoin sends or reads.

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct PodSandboxFilter {
    #[prost(map = "string, string", tag = "3")]
    pub(super) label_selector: HashMap<String, String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ListPodSandboxRequest {
    #[prost(message, optional, tag = "1")]
    pub(super) filter: Option<PodSandboxFilter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ListPodSandboxResponse {
    #[prost(message, repeated, tag = "1")]
    pub(super) items: Vec<PodSandbox>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct PodSandbox {
    #[prost(string, tag = "1")]
    pub(super) id: String,
    #[prost(message, optional, tag = "2")]
    pub(super) metadata: Option<PodSandboxMetadata>,
    /// SANDBOX_READY 0, SANDBOX_NOTREADY 1
    #[prost(int32, tag = "3")]
    pub(super) state: i32,
    #[prost(int64, tag = "4")]
    pub(super) created_at: i64,
    #[prost(map = "string, string", tag = "5")]
    pub(super) labels: HashMap<String, String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct PodSandboxMetadata {
    #[prost(string, tag = "1")]
    pub(super) name: String,
    #[prost(string, tag = "2")]
    pub(super) uid: String,
    #[prost(string, tag = "3")]
    pub(super) namespace: String,
    #[prost(uint32, tag = "4")]
    pub(super) attempt: u32,
}

pub(super) const SANDBOX_READY: i32 = 0;

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ContainerFilter {
    #[prost(string, tag = "3")]
    pub(super) pod_sandbox_id: String,
    #[prost(map = "string, string", tag = "4")]
    pub(super) label_selector: HashMap<String, String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ListContainersRequest {
    #[prost(message, optional, tag = "1")]
    pub(super) filter: Option<ContainerFilter>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ListContainersResponse {
    #[prost(message, repeated, tag = "1")]
    pub(super) containers: Vec<CriContainer>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct CriContainer {
    #[prost(string, tag = "1")]
    pub(super) id: String,
    #[prost(message, optional, tag = "3")]
    pub(super) metadata: Option<ContainerMetadata>,
    /// CREATED 0, RUNNING 1, EXITED 2, UNKNOWN 3
    #[prost(int32, tag = "6")]
    pub(super) state: i32,
    #[prost(int64, tag = "7")]
    pub(super) created_at: i64,
    #[prost(map = "string, string", tag = "8")]
    pub(super) labels: HashMap<String, String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct ContainerMetadata {
    #[prost(string, tag = "1")]
    pub(super) name: String,
    #[prost(uint32, tag = "2")]
    pub(super) attempt: u32,
}

pub(super) const CONTAINER_RUNNING: i32 = 1;

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct PodSandboxStatusRequest {
    #[prost(string, tag = "1")]
    pub(super) pod_sandbox_id: String,
    #[prost(bool, tag = "2")]
    pub(super) verbose: bool,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct PodSandboxStatusResponse {
    #[prost(message, optional, tag = "1")]
    pub(super) status: Option<PodSandboxStatus>,
    #[prost(map = "string, string", tag = "2")]
    pub(super) info: HashMap<String, String>,
}

#[derive(Clone, PartialEq, prost::Message)]
pub(super) struct PodSandboxStatus {
    #[prost(string, tag = "1")]
    pub(super) id: String,
    #[prost(int32, tag = "3")]
    pub(super) state: i32,
}

/// The sandbox's verbose `info["info"]` JSON: containerd and CRI-O put the PID of
/// the sandbox's process there.
#[derive(Deserialize)]
pub(super) struct SandboxInfo {
    #[serde(default)]
    pub(super) pid: Option<i64>,
}

impl CriContainer {
    /// The container's name in its pod: the kubelet's label, else the CRI name.
    pub(super) fn name(&self) -> &str {
        self.labels
            .get(LABEL_CONTAINER)
            .map(String::as_str)
            .or(self.metadata.as_ref().map(|m| m.name.as_str()))
            .unwrap_or("")
    }

    pub(super) fn attempt(&self) -> u32 {
        self.metadata.as_ref().map_or(0, |m| m.attempt)
    }
}

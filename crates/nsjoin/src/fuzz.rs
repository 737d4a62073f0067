//! Entry points for the fuzz targets; not a stable API.
//!
//! Thin wrappers that make the crate's parsers of outside data (/proc text,
//! engine answers, target specs) callable from `fuzz/` (cargo-fuzz). Each takes
//! raw bytes or text and hands them to the parser the library itself uses.

use std::collections::HashMap;
use std::ffi::OsString;

use prost::Message;
use zbus::zvariant::{serialized, OwnedValue, LE};

use crate::container::{containerd, cri, docker, grpc, http, k8s, lxc, nspawn, Container, Engine};
use crate::scan::{CgroupPaths, ContainerId, ContainerResolver};

/// `spawn::parse_environ`: `/proc/PID/environ`.
pub fn environ(data: &[u8]) -> Vec<(OsString, OsString)> {
    crate::spawn::parse_environ(data)
}

/// `scan::parse_nsfs_mounts`: the nsfs entries of `/proc/self/mountinfo` (their count).
pub fn mountinfo(text: &[u8]) -> usize {
    crate::scan::parse_nsfs_mounts(text).len()
}

/// `scan::parse_ns_link`: a `/proc/PID/ns/*` or `/proc/PID/fd/*` link's text.
pub fn ns_link(link: &[u8]) -> Option<(&[u8], u64)> {
    crate::scan::parse_ns_link(link)
}

/// `scan::parse_num`: a `/proc` directory entry's name as a PID.
pub fn proc_pid(name: &[u8]) -> Option<i32> {
    crate::scan::parse_num(name)
}

/// [`ContainerId::from_cgroup`]: one cgroup path.
pub fn cgroup_path(path: &str) -> Option<ContainerId> {
    ContainerId::from_cgroup(path)
}

/// [`CgroupPaths`]: a whole `/proc/PID/cgroup` text.
pub fn cgroup_file(text: &str) -> Option<ContainerId> {
    CgroupPaths.resolve(1, text)
}

/// `http::parse`: a complete HTTP/1.1 response (status and body).
pub fn http_response(raw: &[u8]) -> Result<(u16, Vec<u8>), String> {
    http::parse(raw).map(|r| (r.status, r.body))
}

/// `docker::parse_inspect`: an Engine API inspect answer.
pub fn docker_inspect(engine: Engine, body: &[u8]) -> Result<Container, String> {
    docker::parse_inspect(engine, body).map_err(|e| e.to_string())
}

/// `grpc::unframe`: the single length-prefixed message of a gRPC response body.
pub fn grpc_unframe(data: &[u8]) -> Result<Vec<u8>, String> {
    grpc::unframe(bytes::Bytes::copy_from_slice(data)).map(|b| b.to_vec())
}

/// `grpc::percent_decode`: a `grpc-message` trailer.
pub fn grpc_message(raw: &[u8]) -> String {
    grpc::percent_decode(raw)
}

/// `cri::parse_status`: a protobuf `ContainerStatusResponse` (None: not one).
pub fn cri_status(engine: Engine, message: &[u8]) -> Option<Result<Container, String>> {
    let answer = cri::ContainerStatusResponse::decode(message).ok()?;
    Some(cri::parse_status(engine, answer).map_err(|e| e.to_string()))
}

/// containerd's `Containers.Get` answer: the name and environment nsjoin reads.
#[allow(clippy::type_complexity)]
pub fn containerd_container(message: &[u8]) -> Option<(String, Option<Vec<(OsString, OsString)>>)> {
    let info = containerd::GetContainerResponse::decode(message)
        .ok()?
        .container?;
    Some((
        containerd::name_of(&info.labels),
        containerd::spec_env(info.spec.as_ref()),
    ))
}

/// containerd's `Tasks.Get` answer, through `containerd::check_process`.
pub fn containerd_task(message: &[u8]) -> Option<Result<(), String>> {
    let process = containerd::GetResponse::decode(message).ok()?.process?;
    Some(containerd::check_process(&process).map_err(|e| e.to_string()))
}

/// containerd's `Tasks.List` answer, each task through `containerd::check_process`.
pub fn containerd_tasks(message: &[u8]) -> Option<Vec<Result<(), String>>> {
    let list = containerd::ListTasksResponse::decode(message).ok()?;
    Some(
        list.tasks
            .iter()
            .map(|t| containerd::check_process(t).map_err(|e| e.to_string()))
            .collect(),
    )
}

/// The size of an LXC monitor's answer (`struct lxc_cmd_rsp`).
pub const LXC_REPLY_LEN: usize = lxc::MESSAGE_LEN;

/// `lxc::parse_response`: a `GET_INIT_PID` answer.
pub fn lxc_reply(reply: &[u8; LXC_REPLY_LEN]) -> Result<i32, String> {
    lxc::parse_response(reply).map_err(|e| e.to_string())
}

/// `nspawn::machine`: a Machine's properties, as machined's `GetAll` answers them
/// (D-Bus little-endian `a{sv}`; None: not one).
pub fn nspawn_answer(name: &str, body: &[u8]) -> Option<Result<Container, String>> {
    let data = serialized::Data::new(body, serialized::Context::new_dbus(LE, 0));
    let (properties, _): (HashMap<String, OwnedValue>, usize) = data.deserialize().ok()?;
    Some(nspawn::machine(name, &properties).map_err(|e| e.to_string()))
}

/// `k8s`'s choice of the pod's sandbox and container from CRI `ListPodSandbox` /
/// `ListContainers` answers (each where `message` decodes as one).
pub fn k8s_answers(message: &[u8]) -> Vec<Result<String, String>> {
    k8s::pick_from_answers(message)
}

/// `docker::parse_list`: an Engine API container list answer.
pub fn docker_list(engine: Engine, body: &[u8]) -> Result<Vec<crate::container::Listed>, String> {
    docker::parse_list(engine, body).map_err(|e| e.to_string())
}

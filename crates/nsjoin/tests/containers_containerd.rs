//! `containerd://` targets.
//!
//! What is tested against what:
//!
//! * **live**: the containerd that dockerd runs for itself (namespace `moby`),
//!   with containers started by `docker run` (needs scripts/docker.sh).
//! * **error paths, encoded**: a small gRPC server (h2) on a unix socket in the
//!   test (tests/engine_fakes/grpc.rs), answering with messages encoded from
//!   containerd's proto definitions (tests/engine_fakes/pb.rs), error statuses,
//!   HTTP errors and garbage.
//!
//! The containerd socket and namespace are passed to nsjoin as settings (what
//! CONTAINERD_ADDRESS and CONTAINERD_NAMESPACE set), never through the process's
//! environment. CRI (`cri://`, `cri-o://`) is in tests/containers_cri.rs.

use nsjoin_test_support as common;
mod engine_fakes;

use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
use std::thread;

use nsjoin::container::Engine;
use prost::Message;

use engine_fakes::grpc::{
    hex_id, FakeServer, Reply, CONTAINERS_GET, NOT_FOUND, TASKS_GET, TASKS_LIST, UNIMPLEMENTED,
};
use engine_fakes::{pb, Engines};

/// A `docker run -d` busybox container (`sleep 100000`), removed on drop, and its
/// full ID (containerd knows it by that alone).
struct DockerContainer {
    container: common::Container,
    id: String,
    pid: i32,
}

impl DockerContainer {
    fn start_or_skip(test: &str) -> Option<DockerContainer> {
        if !common::root_or_skip(test) {
            return None;
        }
        let container = common::Container::start_or_skip(test)?;
        let out = common::docker()
            .args(["inspect", "-f", "{{.Id}}", &container.name])
            .output()
            .unwrap();
        assert!(out.status.success(), "docker inspect failed");
        Some(DockerContainer {
            id: String::from_utf8(out.stdout).unwrap().trim().to_owned(),
            pid: container.pid,
            container,
        })
    }

    fn stop(&self) -> bool {
        common::docker()
            .args(["stop", "-t", "0", &self.id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }
}

/// A containerd that has container `id` (running as `pid`) in namespace `ns` only.
fn containerd_with(ns: &'static str, id: String, pid: u32) -> FakeServer {
    FakeServer::grpc(move |path, namespace, payload| {
        if namespace != Some(ns) {
            // As containerd: a namespace without tasks lists none.
            return match path {
                TASKS_LIST => Reply::Ok(Vec::new()),
                _ => Reply::Status(NOT_FOUND, "not found"),
            };
        }
        match path {
            CONTAINERS_GET => {
                let request = pb::GetContainerRequest::decode(payload).unwrap();
                if request.id != id {
                    return Reply::Status(NOT_FOUND, "container not found");
                }
                let spec = br#"{"process":{"env":["PATH=/bin","FROM=containerd"]}}"#;
                Reply::Ok(
                    pb::GetContainerResponse {
                        container: Some(pb::ContainerdContainer {
                            id: id.clone(),
                            labels: HashMap::from([(
                                "io.kubernetes.container.name".into(),
                                "web".into(),
                            )]),
                            image: "docker.io/library/busybox:latest".into(),
                            runtime: Some(pb::Runtime {
                                name: "io.containerd.runc.v2".into(),
                            }),
                            spec: Some(pb::Any {
                                type_url: "types.containerd.io/opencontainers/runtime-spec/1/Spec"
                                    .into(),
                                value: spec.to_vec(),
                            }),
                        }),
                    }
                    .encode_to_vec(),
                )
            }
            TASKS_GET => {
                let request = pb::GetRequest::decode(payload).unwrap();
                assert_eq!(
                    (request.container_id.as_str(), request.exec_id.as_str()),
                    (id.as_str(), "")
                );
                Reply::Ok(
                    pb::GetResponse {
                        process: Some(pb::Process {
                            container_id: id.clone(),
                            id: id.clone(),
                            pid,
                            status: 2,
                            exit_status: 0,
                        }),
                    }
                    .encode_to_vec(),
                )
            }
            TASKS_LIST => Reply::Ok(
                pb::ListTasksResponse {
                    tasks: vec![pb::Process {
                        container_id: String::new(),
                        id: id.clone(),
                        pid,
                        status: 2,
                        exit_status: 0,
                    }],
                }
                .encode_to_vec(),
            ),
            _ => Reply::Status(UNIMPLEMENTED, "unknown method"),
        }
    })
}

// ---------------------------------------------------------------------------
// containerd, live: Docker's own containerd
// ---------------------------------------------------------------------------

#[test]
fn containerd_resolves_a_docker_container_in_moby_and_by_search() {
    let _shared = common::shared();
    let env = Engines::defaults();
    let Some(c) = DockerContainer::start_or_skip("containerd_resolves_a_docker_container") else {
        return;
    };
    let hostname = c.container.hostname.clone();
    for spec in [
        format!("containerd://moby/{}", c.id),
        format!("containerd://{}", c.id),
        format!("containerd://moby/{}", &c.id[..12]),
    ] {
        let found = env.resolve(&spec).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.engine, Engine::Containerd);
        assert_eq!(
            (found.id.as_str(), found.pid),
            (c.id.as_str(), c.pid),
            "{spec}"
        );
        let vars = found.env.expect("the OCI spec's environment");
        assert!(
            vars.iter()
                .any(|(k, v)| k == "HOSTNAME" && v.to_str() == Some(hostname.as_str())),
            "{vars:?}"
        );
        env.assert_opens_as(&spec, c.pid);
    }
}

#[test]
fn containerd_refuses_a_stopped_docker_container() {
    let _shared = common::shared();
    let env = Engines::defaults();
    let Some(c) = DockerContainer::start_or_skip("containerd_refuses_a_stopped_docker_container")
    else {
        return;
    };
    assert!(c.stop());
    // Docker deletes the containerd container along with its task when it stops.
    let e = env.error_of(&format!("containerd://moby/{}", c.id));
    assert!(
        e.starts_with(&format!(
            "containerd://moby/{}: no such container in containerd namespace moby (at /",
            c.id
        )),
        "{e}"
    );
}

#[test]
fn containerd_names_the_namespaces_it_searched() {
    let _shared = common::shared();
    let env = Engines::defaults();
    // Any container will do: it makes sure that Docker's containerd is up.
    let Some(_c) = DockerContainer::start_or_skip("containerd_names_the_namespaces_it_searched")
    else {
        return;
    };
    let id = hex_id(0);
    let e = env.error_of(&format!("containerd://{id}"));
    assert!(
        e.starts_with(&format!(
            "containerd://{id}: no such container in containerd namespaces k8s.io, moby, default (at /"
        )),
        "{e}"
    );
}

#[test]
fn containerd_namespace_comes_from_the_environment() {
    let _shared = common::shared();
    let Some(c) = DockerContainer::start_or_skip("containerd_namespace_comes_from_the_environment")
    else {
        return;
    };
    {
        let env = Engines::with(&[("CONTAINERD_NAMESPACE", "default")]);
        let e = env.error_of(&format!("containerd://{}", c.id));
        assert!(
            e.contains("no such container in containerd namespace default "),
            "{e}"
        );
        // The spec's namespace wins over the environment's.
        assert_eq!(
            env.resolve(&format!("containerd://moby/{}", c.id))
                .unwrap()
                .pid,
            c.pid
        );
    }
    let env = Engines::with(&[("CONTAINERD_NAMESPACE", "moby")]);
    assert_eq!(
        env.resolve(&format!("containerd://{}", c.id)).unwrap().pid,
        c.pid
    );
}

// ---------------------------------------------------------------------------
// containerd: errors, against the in-test server
// ---------------------------------------------------------------------------

#[test]
fn containerd_missing_socket_is_one_line() {
    let _shared = common::shared();
    let env = Engines::with(&[("CONTAINERD_ADDRESS", "/nonexistent/containerd.sock")]);
    assert_eq!(
        env.error_of("containerd://abc"),
        "containerd://abc: cannot connect to /nonexistent/containerd.sock: No such file or directory (is the runtime running?)"
    );
    let env = Engines::with(&[("CONTAINERD_ADDRESS", "tcp://10.0.0.1:1234")]);
    assert!(env
        .error_of("containerd://abc")
        .contains("is not supported"));
}

#[test]
fn containerd_search_order_and_answers_from_an_encoded_server() {
    let _shared = common::shared();
    if !common::root_or_skip("containerd_search_order_and_answers_from_an_encoded_server") {
        return;
    }
    let id = hex_id(7);
    // The stand-in names the sandbox as the container's init; nsjoin believes that
    // only of a process in a cgroup named for the container.
    let boxed = common::CgroupSandbox::new(&id);
    let sandbox = &boxed.sandbox;
    let server = containerd_with("moby", id.clone(), sandbox.pid as u32);
    let address = format!("unix://{}", server.socket.display());
    let env = Engines::with(&[("CONTAINERD_ADDRESS", &address)]);

    let found = env.resolve(&format!("containerd://{id}")).unwrap();
    assert_eq!((found.pid, found.name.as_str()), (sandbox.pid, "web"));
    assert_eq!(found.env.unwrap()[1], ("FROM".into(), "containerd".into()));
    let asked: Vec<(String, Option<String>)> = server
        .seen()
        .into_iter()
        .map(|(p, ns, _)| (p, ns))
        .collect();
    let get = |ns: &str| (CONTAINERS_GET.to_owned(), Some(ns.to_owned()));
    assert_eq!(
        asked,
        [
            get("k8s.io"),
            get("moby"),
            (TASKS_GET.to_owned(), Some("moby".to_owned()))
        ]
    );
    env.assert_opens_as(&format!("containerd://{id}"), sandbox.pid);
    // A unique prefix of a running task's ID.
    assert_eq!(
        env.resolve(&format!("containerd://{}", &id[..12]))
            .unwrap()
            .id,
        id
    );
}

#[test]
fn containerd_error_answers_are_one_line() {
    let _shared = common::shared();
    let id = hex_id(9);
    let cases: Vec<(FakeServer, &str)> = vec![
        (
            FakeServer::grpc(|_, _, _| Reply::Status(13, "boom: shim\ndied")),
            "answered: boom: shim died (gRPC INTERNAL)",
        ),
        (
            FakeServer::grpc(|_, _, _| Reply::Status(7, "nope")),
            "answered: nope (gRPC PERMISSION_DENIED) (permission denied by the runtime)",
        ),
        (
            FakeServer::grpc(|_, _, _| Reply::Http(404)),
            "not a gRPC answer (HTTP status 404 Not Found)",
        ),
        (
            FakeServer::grpc(|_, _, _| Reply::Body(b"\0\0\0\0\x09short")),
            "not a gRPC answer (message of 9 bytes announced, 5 received)",
        ),
        (
            FakeServer::grpc(|_, _, _| Reply::Ok(vec![0xff, 0xff, 0xff])),
            "is not the expected message",
        ),
        (
            FakeServer::raw(b"HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"),
            "no gRPC answer (",
        ),
        (FakeServer::raw(b""), "no gRPC answer ("),
    ];
    for (server, expected) in &cases {
        let env = Engines::with(&[("CONTAINERD_ADDRESS", server.socket.to_str().unwrap())]);
        let e = env.error_of(&format!("containerd://k8s.io/{id}"));
        assert!(
            e.starts_with(&format!("containerd://k8s.io/{id}: ")) && e.contains(expected),
            "{e}\nwanted: {expected}"
        );
    }
}

#[test]
fn containerd_task_states_from_an_encoded_server() {
    let _shared = common::shared();
    let id = hex_id(3);
    // The container exists, its task does not (or has stopped).
    for (task, expected) in [
        (
            None,
            "container is not running (it has no task in containerd namespace default)",
        ),
        (
            Some((3, 0, 137)),
            "container is not running (its task has stopped, exit status 137)",
        ),
        (
            Some((1, 42, 0)),
            "container is not running (task status: created)",
        ),
    ] {
        let server = FakeServer::grpc(move |path, _, _| match (path, task) {
            (CONTAINERS_GET, _) => Reply::Ok(
                pb::GetContainerResponse {
                    container: Some(pb::ContainerdContainer {
                        id: hex_id(3),
                        ..Default::default()
                    }),
                }
                .encode_to_vec(),
            ),
            (TASKS_GET, None) => Reply::Status(NOT_FOUND, "no running task found"),
            (TASKS_GET, Some((status, pid, exit_status))) => Reply::Ok(
                pb::GetResponse {
                    process: Some(pb::Process {
                        container_id: hex_id(3),
                        id: hex_id(3),
                        pid,
                        status,
                        exit_status,
                    }),
                }
                .encode_to_vec(),
            ),
            _ => Reply::Status(UNIMPLEMENTED, "unknown method"),
        });
        let env = Engines::with(&[("CONTAINERD_ADDRESS", server.socket.to_str().unwrap())]);
        assert_eq!(
            env.error_of(&format!("containerd://default/{id}")),
            format!("containerd://default/{id}: {expected}")
        );
    }
    // Sandboxed runtimes' "PIDs" are not the container's processes.
    let server = FakeServer::grpc(|_, _, _| {
        Reply::Ok(
            pb::GetContainerResponse {
                container: Some(pb::ContainerdContainer {
                    id: hex_id(3),
                    runtime: Some(pb::Runtime {
                        name: "io.containerd.runsc.v1".into(),
                    }),
                    ..Default::default()
                }),
            }
            .encode_to_vec(),
        )
    });
    let env = Engines::with(&[("CONTAINERD_ADDRESS", server.socket.to_str().unwrap())]);
    assert!(env
        .error_of(&format!("containerd://default/{id}"))
        .contains("io.containerd.runsc.v1"));
}

/// Root can connect to any socket: the check is made on a thread that drops
/// CAP_DAC_OVERRIDE (capabilities are per thread) against a socket of mode 000.
#[test]
fn containerd_permission_denied_is_one_line() {
    let _shared = common::shared();
    if !common::root_or_skip("containerd_permission_denied_is_one_line") {
        return;
    }
    let server = FakeServer::grpc(|_, _, _| Reply::Status(NOT_FOUND, "not found"));
    std::fs::set_permissions(&server.socket, std::fs::Permissions::from_mode(0o000)).unwrap();
    let env = Engines::with(&[("CONTAINERD_ADDRESS", server.socket.to_str().unwrap())]);
    let socket = server.socket.clone();
    let e = thread::spawn(move || {
        use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
        let mut caps = capabilities(None).unwrap();
        caps.effective -= CapabilitySet::DAC_OVERRIDE | CapabilitySet::DAC_READ_SEARCH;
        set_capabilities(None, caps).unwrap();
        assert!(std::os::unix::net::UnixStream::connect(&socket).is_err());
        env.error_of("containerd://abc")
    })
    .join()
    .unwrap();
    assert_eq!(
        e,
        format!(
            "containerd://abc: cannot connect to {}: Permission denied (the runtime's socket is usually root's only)",
            server.socket.display()
        )
    );
}

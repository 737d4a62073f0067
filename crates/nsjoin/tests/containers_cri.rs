//! CRI targets: `cri://` and `cri-o://`.
//!
//! What is tested against what:
//!
//! * **live**: tests/containers_cri_live.rs, against containerd's CRI plugin.
//!   CRI-O is not packaged here, so `cri-o://` is tested only for its socket and
//!   against the in-test server.
//! * **answers, encoded**: a small gRPC server (h2) on a unix socket in the test
//!   (tests/engine_fakes/grpc.rs), answering with messages encoded from
//!   k8s.io/cri-api's runtime/v1/api.proto (tests/engine_fakes/pb.rs), shaped like
//!   containerd's verbose info, and error statuses.
//!
//! The endpoint is passed to nsjoin as settings (what CONTAINER_RUNTIME_ENDPOINT
//! sets), never through the process's environment.

use nsjoin_test_support as common;
mod engine_fakes;

use std::path::Path;

use nsjoin::container::Engine;
use prost::Message;

use engine_fakes::grpc::{
    hex_id, FakeServer, Reply, CRI_STATUS, CRI_STATUS_V1ALPHA2, NOT_FOUND, UNIMPLEMENTED,
};
use engine_fakes::{pb, Engines};

// ---------------------------------------------------------------------------
// CRI: encoded answers
// ---------------------------------------------------------------------------

/// A CRI runtime whose ContainerStatus answers `status` (for any ID) with this
/// verbose `info` JSON; with `v1alpha2_only` it serves only the older API.
fn cri_with(state: i32, info: Option<String>, v1alpha2_only: bool) -> FakeServer {
    FakeServer::grpc(move |path, _, payload| {
        let served = if v1alpha2_only {
            CRI_STATUS_V1ALPHA2
        } else {
            CRI_STATUS
        };
        if path != served {
            return Reply::Status(UNIMPLEMENTED, "unknown service runtime.v1.RuntimeService");
        }
        let request = pb::ContainerStatusRequest::decode(payload).unwrap();
        assert!(request.verbose, "ContainerStatus must be asked verbose");
        if !hex_id(5).starts_with(&request.container_id) {
            return Reply::Status(
                NOT_FOUND,
                "an error occurred when try to find container: not found",
            );
        }
        Reply::Ok(
            pb::ContainerStatusResponse {
                status: Some(pb::ContainerStatus {
                    id: hex_id(5),
                    metadata: Some(pb::ContainerMetadata {
                        name: "web".into(),
                        attempt: 0,
                    }),
                    state,
                    created_at: 1,
                    exit_code: if state == 2 { 137 } else { 0 },
                }),
                info: info
                    .iter()
                    .map(|i| ("info".to_owned(), i.clone()))
                    .collect(),
            }
            .encode_to_vec(),
        )
    })
}

/// CRI is tested here only against answers encoded from the CRI proto, shaped like
/// containerd's verbose info (`pid`, `runtimeType`, `runtimeSpec`); the live test
/// below checks them against a real containerd CRI plugin.
#[test]
fn cri_answers_from_an_encoded_server() {
    let _exclusive = common::exclusive();
    if !common::root_or_skip("cri_answers_from_an_encoded_server") {
        return;
    }
    // The stand-in's container is hex_id(5); nsjoin believes it names the sandbox
    // only when the sandbox is in a cgroup named for it.
    let boxed = common::CgroupSandbox::new(&hex_id(5));
    let sandbox = &boxed.sandbox;
    let info = format!(
        r#"{{"sandboxID":"s","pid":{},"runtimeType":"io.containerd.runc.v2","runtimeSpec":{{"process":{{"env":["PATH=/bin","FROM=cri"]}}}}}}"#,
        sandbox.pid
    );
    for v1alpha2_only in [false, true] {
        let server = cri_with(1, Some(info.clone()), v1alpha2_only);
        let endpoint = format!("unix://{}", server.socket.display());
        let env = Engines::with(&[("CONTAINER_RUNTIME_ENDPOINT", &endpoint)]);
        let id = hex_id(5);
        let found = env.resolve(&format!("cri://{id}")).unwrap();
        assert_eq!(
            (
                found.engine,
                found.id.as_str(),
                found.name.as_str(),
                found.pid
            ),
            (Engine::Cri, id.as_str(), "web", sandbox.pid)
        );
        assert_eq!(found.env.unwrap()[1], ("FROM".into(), "cri".into()));
        // A prefix is passed on as it is: the runtime decides.
        assert_eq!(env.resolve(&format!("cri://{}", &id[..8])).unwrap().id, id);
        env.assert_opens_as(&format!("cri://{id}"), sandbox.pid);
        let asked: Vec<String> = server.seen().into_iter().map(|(p, _, _)| p).collect();
        assert_eq!(asked[0], CRI_STATUS);
    }
}

#[test]
fn cri_errors_from_an_encoded_server() {
    let _exclusive = common::exclusive();
    let id = hex_id(5);
    let cases = [
        (
            cri_with(2, Some(r#"{"pid":0}"#.into()), false),
            "container is not running (state: exited, exit code 137)".to_owned(),
        ),
        (
            cri_with(0, Some(r#"{"pid":0}"#.into()), false),
            "container is not running (state: created)".to_owned(),
        ),
        (
            cri_with(1, None, false),
            "the runtime's verbose status has no \"info\" entry, so it does not tell the container's PID".to_owned(),
        ),
        (
            cri_with(1, Some("{}".into()), false),
            "the runtime's verbose status has no PID for the container".to_owned(),
        ),
        (
            cri_with(1, Some("not json".into()), false),
            "the runtime's verbose \"info\" is not the expected JSON".to_owned(),
        ),
        (
            FakeServer::grpc(|_, _, _| Reply::Status(UNIMPLEMENTED, "unknown service")),
            "does not serve the CRI API (for containerd: is its cri plugin disabled?)".to_owned(),
        ),
        (
            FakeServer::grpc(|_, _, _| Reply::Status(14, "connection error")),
            "the CRI runtime at ".to_owned(),
        ),
    ];
    for (server, expected) in &cases {
        let env = Engines::with(&[(
            "CONTAINER_RUNTIME_ENDPOINT",
            server.socket.to_str().unwrap(),
        )]);
        let e = env.error_of(&format!("cri://{id}"));
        assert!(
            e.starts_with(&format!("cri://{id}: ")) && e.contains(expected.as_str()),
            "{e}\nwanted: {expected}"
        );
    }
    let server = cri_with(1, Some("{}".into()), false);
    let env = Engines::with(&[(
        "CONTAINER_RUNTIME_ENDPOINT",
        server.socket.to_str().unwrap(),
    )]);
    assert_eq!(
        env.error_of("cri://ffff"),
        format!(
            "cri://ffff: no such container (at {})",
            server.socket.display()
        )
    );
    let env = Engines::with(&[("CONTAINER_RUNTIME_ENDPOINT", "tcp://localhost:1234")]);
    assert!(env.error_of("cri://ffff").contains("is not supported"));
}

#[test]
fn crio_without_crio_is_one_line() {
    let _shared = common::shared();
    if Path::new("/var/run/crio/crio.sock").exists() {
        eprintln!("skipped crio_without_crio_is_one_line: CRI-O is running here");
        return;
    }
    let env = Engines::defaults();
    let e = env.error_of("cri-o://abc");
    assert!(
        e.starts_with(
            "cri-o://abc: cannot connect to /var/run/crio/crio.sock: No such file or directory"
        ),
        "{e}"
    );
}

//! `containerd://` and CRI (`cri://`, `cri-o://`) targets.
//!
//! What is tested against what:
//!
//! * **containerd, live**: the containerd that dockerd runs for itself (namespace
//!   `moby`), with containers started by `docker run` (needs scripts/docker.sh).
//! * **CRI, live**: a private containerd (Debian's, which comes with docker.io) with
//!   its CRI plugin on a socket in a temporary directory; a pod sandbox and a
//!   container are made through the CRI itself (RunPodSandbox, CreateContainer,
//!   StartContainer) from the busybox test image imported from Docker, with host
//!   networking so that no CNI plugin is needed. This is containerd's CRI plugin,
//!   not CRI-O: CRI-O is not packaged here, so `cri-o://` is tested only for its
//!   socket and against the in-test server below.
//! * **Error paths and CRI answers, encoded**: a small gRPC server (h2) on a unix
//!   socket in the test, answering with messages encoded from containerd's and the
//!   CRI's proto definitions (field numbers as in containerd's api/ and
//!   k8s.io/cri-api's runtime/v1/api.proto), error statuses, HTTP errors and
//!   garbage.
//!
//! Tests that set CONTAINERD_ADDRESS, CONTAINERD_NAMESPACE or
//! CONTAINER_RUNTIME_ENDPOINT take `common::exclusive()`; every other test holds
//! `common::shared()`, so none of them sees the other's environment.

use nsjoin_test_support as common;

use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use bytes::{BufMut, Bytes, BytesMut};
use nsjoin::container::{self, ContainerRef, Engine};
use nsjoin::{Kind, KindSet, Target};
use prost::Message;

use common::{ns_ino, TempDir};

// ---------------------------------------------------------------------------
// Messages (encoded by the in-test server, or sent to the live CRI runtime)
// ---------------------------------------------------------------------------

mod pb {
    use std::collections::HashMap;

    // containerd: api/services/containers/v1/containers.proto
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GetContainerRequest {
        #[prost(string, tag = "1")]
        pub id: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GetContainerResponse {
        #[prost(message, optional, tag = "1")]
        pub container: Option<ContainerdContainer>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerdContainer {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(map = "string, string", tag = "2")]
        pub labels: HashMap<String, String>,
        #[prost(string, tag = "3")]
        pub image: String,
        #[prost(message, optional, tag = "4")]
        pub runtime: Option<Runtime>,
        #[prost(message, optional, tag = "5")]
        pub spec: Option<Any>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Runtime {
        #[prost(string, tag = "1")]
        pub name: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        #[prost(string, tag = "1")]
        pub type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub value: Vec<u8>,
    }

    // containerd: api/services/tasks/v1/tasks.proto, api/types/task/task.proto
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GetRequest {
        #[prost(string, tag = "1")]
        pub container_id: String,
        #[prost(string, tag = "2")]
        pub exec_id: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct GetResponse {
        #[prost(message, optional, tag = "1")]
        pub process: Option<Process>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ListTasksResponse {
        #[prost(message, repeated, tag = "1")]
        pub tasks: Vec<Process>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Process {
        #[prost(string, tag = "1")]
        pub container_id: String,
        #[prost(string, tag = "2")]
        pub id: String,
        #[prost(uint32, tag = "3")]
        pub pid: u32,
        /// UNKNOWN 0, CREATED 1, RUNNING 2, STOPPED 3, PAUSED 4, PAUSING 5
        #[prost(int32, tag = "4")]
        pub status: i32,
        #[prost(uint32, tag = "9")]
        pub exit_status: u32,
    }

    // CRI: k8s.io/cri-api/pkg/apis/runtime/v1/api.proto
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatusRequest {
        #[prost(string, tag = "1")]
        pub container_id: String,
        #[prost(bool, tag = "2")]
        pub verbose: bool,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatusResponse {
        #[prost(message, optional, tag = "1")]
        pub status: Option<ContainerStatus>,
        #[prost(map = "string, string", tag = "2")]
        pub info: HashMap<String, String>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerStatus {
        #[prost(string, tag = "1")]
        pub id: String,
        #[prost(message, optional, tag = "2")]
        pub metadata: Option<ContainerMetadata>,
        /// CREATED 0, RUNNING 1, EXITED 2, UNKNOWN 3
        #[prost(int32, tag = "3")]
        pub state: i32,
        #[prost(int64, tag = "4")]
        pub created_at: i64,
        #[prost(int32, tag = "7")]
        pub exit_code: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerMetadata {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(uint32, tag = "2")]
        pub attempt: u32,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxMetadata {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(string, tag = "2")]
        pub uid: String,
        #[prost(string, tag = "3")]
        pub namespace: String,
        #[prost(uint32, tag = "4")]
        pub attempt: u32,
    }
    /// POD 0, CONTAINER 1, NODE 2, TARGET 3
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamespaceOption {
        #[prost(int32, tag = "1")]
        pub network: i32,
        #[prost(int32, tag = "2")]
        pub pid: i32,
        #[prost(int32, tag = "3")]
        pub ipc: i32,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LinuxSandboxSecurityContext {
        #[prost(message, optional, tag = "1")]
        pub namespace_options: Option<NamespaceOption>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LinuxPodSandboxConfig {
        #[prost(string, tag = "1")]
        pub cgroup_parent: String,
        #[prost(message, optional, tag = "2")]
        pub security_context: Option<LinuxSandboxSecurityContext>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxConfig {
        #[prost(message, optional, tag = "1")]
        pub metadata: Option<PodSandboxMetadata>,
        #[prost(string, tag = "2")]
        pub hostname: String,
        #[prost(message, optional, tag = "8")]
        pub linux: Option<LinuxPodSandboxConfig>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RunPodSandboxRequest {
        #[prost(message, optional, tag = "1")]
        pub config: Option<PodSandboxConfig>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct RunPodSandboxResponse {
        #[prost(string, tag = "1")]
        pub pod_sandbox_id: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct PodSandboxId {
        #[prost(string, tag = "1")]
        pub pod_sandbox_id: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ImageSpec {
        #[prost(string, tag = "1")]
        pub image: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LinuxContainerSecurityContext {
        #[prost(message, optional, tag = "3")]
        pub namespace_options: Option<NamespaceOption>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct LinuxContainerConfig {
        #[prost(message, optional, tag = "2")]
        pub security_context: Option<LinuxContainerSecurityContext>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerConfig {
        #[prost(message, optional, tag = "1")]
        pub metadata: Option<ContainerMetadata>,
        #[prost(message, optional, tag = "2")]
        pub image: Option<ImageSpec>,
        #[prost(string, repeated, tag = "3")]
        pub command: Vec<String>,
        #[prost(map = "string, string", tag = "9")]
        pub labels: HashMap<String, String>,
        #[prost(message, optional, tag = "15")]
        pub linux: Option<LinuxContainerConfig>,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct CreateContainerRequest {
        #[prost(string, tag = "1")]
        pub pod_sandbox_id: String,
        #[prost(message, optional, tag = "2")]
        pub config: Option<ContainerConfig>,
        #[prost(message, optional, tag = "3")]
        pub sandbox_config: Option<PodSandboxConfig>,
    }
    /// CreateContainerResponse, StartContainerRequest, RemoveContainerRequest.
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ContainerId {
        #[prost(string, tag = "1")]
        pub container_id: String,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct StopContainerRequest {
        #[prost(string, tag = "1")]
        pub container_id: String,
        #[prost(int64, tag = "2")]
        pub timeout: i64,
    }
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Empty {}
}

// ---------------------------------------------------------------------------
// Fixtures: Docker
// ---------------------------------------------------------------------------

fn docker() -> Command {
    if Path::new("/usr/bin/docker").exists() {
        Command::new("/usr/bin/docker")
    } else {
        Command::new("docker")
    }
}

const IMAGE: &str = "nsjoin-busybox:latest";

fn quiet(cmd: &mut Command) -> bool {
    cmd.stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether the daemon answers and has the test image (scripts/docker.sh makes both).
fn docker_ready() -> bool {
    static READY: OnceLock<bool> = OnceLock::new();
    *READY.get_or_init(|| {
        quiet(docker().arg("info")) && quiet(docker().args(["image", "inspect", IMAGE]))
    })
}

/// Says why a test cannot run, or fails it under NSJOIN_REQUIRE_DOCKER=1 (CI).
fn skip(test: &str, what: &str) {
    if std::env::var("NSJOIN_REQUIRE_DOCKER").as_deref() == Ok("1") {
        panic!("{test} needs {what} and NSJOIN_REQUIRE_DOCKER=1 is set");
    }
    eprintln!("skipped {test}: needs {what}");
}

/// A `docker run -d` busybox container (`sleep 100000`), removed on drop.
struct DockerContainer {
    id: String,
    pid: i32,
}

impl DockerContainer {
    fn start_or_skip(test: &str) -> Option<DockerContainer> {
        if !common::root_or_skip(test) {
            return None;
        }
        if !docker_ready() {
            skip(test, "docker (run scripts/docker.sh)");
            return None;
        }
        let out = docker()
            .args(["run", "-d", IMAGE, "sleep", "100000"])
            .output()
            .expect("cannot run docker");
        assert!(
            out.status.success(),
            "docker run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut container = DockerContainer {
            id: String::from_utf8(out.stdout).unwrap().trim().to_owned(),
            pid: 0,
        };
        container.pid = container.inspect("{{.State.Pid}}").parse().unwrap();
        assert!(container.pid > 0);
        Some(container)
    }

    fn inspect(&self, format: &str) -> String {
        let out = docker()
            .args(["inspect", "-f", format, &self.id])
            .output()
            .unwrap();
        assert!(out.status.success(), "docker inspect {format} failed");
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    }
}

impl Drop for DockerContainer {
    fn drop(&mut self) {
        quiet(docker().args(["rm", "-f", &self.id]));
    }
}

/// The namespaces the target resolves to are those of `pid`.
fn assert_opens_as(spec: &str, pid: i32) {
    let kinds = KindSet::from_iter([Kind::Net, Kind::Uts, Kind::Ipc, Kind::Pid, Kind::Mnt]);
    let handles = Target::container(spec).unwrap().open(kinds).unwrap();
    assert_eq!(handles.pid(), Some(pid), "{spec}");
    for ns in handles.iter() {
        assert_eq!(
            ns.id().ino,
            ns_ino(pid, ns.kind().name()),
            "{spec}: {}",
            ns.kind().name()
        );
    }
    assert_eq!(handles.kinds(), kinds);
    assert_eq!(handles.container().map(|c| c.pid), Some(pid));
}

fn resolve(spec: &str) -> nsjoin::Result<container::Container> {
    container::resolve(&spec.parse::<ContainerRef>()?)
}

fn error_of(spec: &str) -> String {
    let e = resolve(spec).expect_err(spec).to_string();
    assert!(!e.contains('\n'), "not one line: {e}");
    e
}

// ---------------------------------------------------------------------------
// Fixtures: environment (process-wide: only under common::exclusive())
// ---------------------------------------------------------------------------

const VARS: [&str; 3] = [
    "CONTAINERD_ADDRESS",
    "CONTAINERD_NAMESPACE",
    "CONTAINER_RUNTIME_ENDPOINT",
];

/// Sets these variables (and clears the other ones nsjoin reads) until dropped.
struct Env {
    saved: Vec<(&'static str, Option<std::ffi::OsString>)>,
}

impl Env {
    fn set(vars: &[(&str, &str)]) -> Env {
        let saved = VARS.iter().map(|v| (*v, std::env::var_os(v))).collect();
        for var in VARS {
            match vars.iter().find(|(k, _)| *k == var) {
                Some((_, value)) => std::env::set_var(var, value),
                None => std::env::remove_var(var),
            }
        }
        Env { saved }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        for (var, value) in &self.saved {
            match value {
                Some(v) => std::env::set_var(var, v),
                None => std::env::remove_var(var),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Fixtures: a gRPC client (for the live CRI runtime) and a gRPC server (for
// encoded answers)
// ---------------------------------------------------------------------------

fn frame(payload: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(payload.len() + 5);
    out.put_u8(0);
    out.put_u32(payload.len() as u32);
    out.extend_from_slice(payload);
    out.freeze()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One unary call; Err is the grpc-status and grpc-message.
fn call<Req: Message, Resp: Message + Default>(
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

/// What the in-test server answers to one call.
enum Reply {
    /// OK with this message.
    Ok(Vec<u8>),
    /// A trailers-only error status.
    Status(u32, &'static str),
    /// An HTTP error without any gRPC.
    Http(u16),
    /// OK, with these bytes as the body (not a valid message frame).
    Body(&'static [u8]),
}

/// One call as the server saw it: path, containerd namespace, request payload.
type Seen = (String, Option<String>, Vec<u8>);
type Handler = dyn Fn(&str, Option<&str>, &[u8]) -> Reply + Send + Sync;

/// A gRPC server on a unix socket in a temporary directory, answering with
/// `handler`; or, made with [`FakeServer::raw`], one that writes fixed bytes on
/// every connection and closes it.
struct FakeServer {
    _dir: TempDir,
    socket: PathBuf,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    thread: Option<thread::JoinHandle<()>>,
}

impl FakeServer {
    fn grpc(handler: impl Fn(&str, Option<&str>, &[u8]) -> Reply + Send + Sync + 'static) -> Self {
        Self::start(Some(Arc::new(handler)), b"")
    }

    fn raw(bytes: &'static [u8]) -> Self {
        Self::start(None, bytes)
    }

    fn start(handler: Option<Arc<Handler>>, raw: &'static [u8]) -> Self {
        let dir = TempDir::new("grpc");
        let socket = dir.path().join("fake.sock");
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (seen.clone(), stop.clone());
            thread::spawn(move || {
                let rt = runtime();
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(mut conn) = conn else { continue };
                    match &handler {
                        None => {
                            let _ = conn.write_all(raw);
                        }
                        Some(handler) => {
                            rt.block_on(serve(conn, handler.clone(), seen.clone()));
                        }
                    }
                }
            })
        };
        FakeServer {
            _dir: dir,
            socket,
            seen,
            stop,
            thread: Some(thread),
        }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::os::unix::net::UnixStream::connect(&self.socket);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    conn: std::os::unix::net::UnixStream,
    handler: Arc<Handler>,
    seen: Arc<Mutex<Vec<Seen>>>,
) {
    conn.set_nonblocking(true).unwrap();
    let io = tokio::net::UnixStream::from_std(conn).unwrap();
    let Ok(mut h2) = h2::server::handshake(io).await else {
        return;
    };
    while let Some(Ok((request, mut respond))) = h2.accept().await {
        let path = request.uri().path().to_owned();
        let namespace = request
            .headers()
            .get("containerd-namespace")
            .map(|v| v.to_str().unwrap().to_owned());
        let mut body = request.into_body();
        let mut data = Vec::new();
        while let Some(Ok(chunk)) = body.data().await {
            let _ = body.flow_control().release_capacity(chunk.len());
            data.extend_from_slice(&chunk);
        }
        let payload = data.get(5..).unwrap_or_default().to_vec();
        let reply = handler(&path, namespace.as_deref(), &payload);
        seen.lock().unwrap().push((path, namespace, payload));
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
        match reply {
            Reply::Ok(message) => {
                let mut send = respond.send_response(grpc_ok(), false).unwrap();
                send.send_data(frame(&message), false).unwrap();
                send.send_trailers(ok_trailers()).unwrap();
            }
            Reply::Body(bytes) => {
                let mut send = respond.send_response(grpc_ok(), false).unwrap();
                send.send_data(Bytes::from_static(bytes), false).unwrap();
                send.send_trailers(ok_trailers()).unwrap();
            }
            Reply::Status(code, message) => {
                let response = http::Response::builder()
                    .status(200)
                    .header("content-type", "application/grpc")
                    .header("grpc-status", code.to_string())
                    .header("grpc-message", percent_encode(message))
                    .body(())
                    .unwrap();
                respond.send_response(response, true).unwrap();
            }
            Reply::Http(status) => {
                let response = http::Response::builder().status(status).body(()).unwrap();
                respond.send_response(response, true).unwrap();
            }
        }
    }
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

const NOT_FOUND: u32 = 5;
const UNIMPLEMENTED: u32 = 12;
const CONTAINERS_GET: &str = "/containerd.services.containers.v1.Containers/Get";
const TASKS_GET: &str = "/containerd.services.tasks.v1.Tasks/Get";
const TASKS_LIST: &str = "/containerd.services.tasks.v1.Tasks/List";
const CRI_STATUS: &str = "/runtime.v1.RuntimeService/ContainerStatus";
const CRI_STATUS_V1ALPHA2: &str = "/runtime.v1alpha2.RuntimeService/ContainerStatus";

/// A 64-hex ID, as Docker and Kubernetes use.
fn hex_id(seed: u8) -> String {
    format!("{seed:02x}").repeat(32)
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
    let Some(c) = DockerContainer::start_or_skip("containerd_resolves_a_docker_container") else {
        return;
    };
    let hostname = c.inspect("{{.Config.Hostname}}");
    for spec in [
        format!("containerd://moby/{}", c.id),
        format!("containerd://{}", c.id),
        format!("containerd://moby/{}", &c.id[..12]),
    ] {
        let found = resolve(&spec).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found.engine, Engine::Containerd);
        assert_eq!(
            (found.id.as_str(), found.pid),
            (c.id.as_str(), c.pid),
            "{spec}"
        );
        let env = found.env.expect("the OCI spec's environment");
        assert!(
            env.iter()
                .any(|(k, v)| k == "HOSTNAME" && v.to_str() == Some(hostname.as_str())),
            "{env:?}"
        );
        assert_opens_as(&spec, c.pid);
    }
}

#[test]
fn containerd_refuses_a_stopped_docker_container() {
    let _shared = common::shared();
    let Some(c) = DockerContainer::start_or_skip("containerd_refuses_a_stopped_docker_container")
    else {
        return;
    };
    assert!(quiet(docker().args(["stop", "-t", "0", &c.id])));
    // Docker deletes the containerd container along with its task when it stops.
    let e = error_of(&format!("containerd://moby/{}", c.id));
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
    // Any container will do: it makes sure that Docker's containerd is up.
    let Some(_c) = DockerContainer::start_or_skip("containerd_names_the_namespaces_it_searched")
    else {
        return;
    };
    let id = hex_id(0);
    let e = error_of(&format!("containerd://{id}"));
    assert!(
        e.starts_with(&format!(
            "containerd://{id}: no such container in containerd namespaces k8s.io, moby, default (at /"
        )),
        "{e}"
    );
}

#[test]
fn containerd_namespace_comes_from_the_environment() {
    let _exclusive = common::exclusive();
    let Some(c) = DockerContainer::start_or_skip("containerd_namespace_comes_from_the_environment")
    else {
        return;
    };
    {
        let _env = Env::set(&[("CONTAINERD_NAMESPACE", "default")]);
        let e = error_of(&format!("containerd://{}", c.id));
        assert!(
            e.contains("no such container in containerd namespace default "),
            "{e}"
        );
        // The spec's namespace wins over the environment's.
        assert_eq!(
            resolve(&format!("containerd://moby/{}", c.id)).unwrap().pid,
            c.pid
        );
    }
    let _env = Env::set(&[("CONTAINERD_NAMESPACE", "moby")]);
    assert_eq!(
        resolve(&format!("containerd://{}", c.id)).unwrap().pid,
        c.pid
    );
}

// ---------------------------------------------------------------------------
// containerd: errors, against the in-test server
// ---------------------------------------------------------------------------

#[test]
fn containerd_missing_socket_is_one_line() {
    let _exclusive = common::exclusive();
    let _env = Env::set(&[("CONTAINERD_ADDRESS", "/nonexistent/containerd.sock")]);
    assert_eq!(
        error_of("containerd://abc"),
        "containerd://abc: cannot connect to /nonexistent/containerd.sock: No such file or directory (is the runtime running?)"
    );
    let _env = Env::set(&[("CONTAINERD_ADDRESS", "tcp://10.0.0.1:1234")]);
    assert!(error_of("containerd://abc").contains("is not supported"));
}

#[test]
fn containerd_search_order_and_answers_from_an_encoded_server() {
    let _exclusive = common::exclusive();
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
    let _env = Env::set(&[("CONTAINERD_ADDRESS", &address)]);

    let found = resolve(&format!("containerd://{id}")).unwrap();
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
    assert_opens_as(&format!("containerd://{id}"), sandbox.pid);
    // A unique prefix of a running task's ID.
    assert_eq!(
        resolve(&format!("containerd://{}", &id[..12])).unwrap().id,
        id
    );
}

#[test]
fn containerd_error_answers_are_one_line() {
    let _exclusive = common::exclusive();
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
        let _env = Env::set(&[("CONTAINERD_ADDRESS", server.socket.to_str().unwrap())]);
        let e = error_of(&format!("containerd://k8s.io/{id}"));
        assert!(
            e.starts_with(&format!("containerd://k8s.io/{id}: ")) && e.contains(expected),
            "{e}\nwanted: {expected}"
        );
    }
}

#[test]
fn containerd_task_states_from_an_encoded_server() {
    let _exclusive = common::exclusive();
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
        let _env = Env::set(&[("CONTAINERD_ADDRESS", server.socket.to_str().unwrap())]);
        assert_eq!(
            error_of(&format!("containerd://default/{id}")),
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
    let _env = Env::set(&[("CONTAINERD_ADDRESS", server.socket.to_str().unwrap())]);
    assert!(error_of(&format!("containerd://default/{id}")).contains("io.containerd.runsc.v1"));
}

/// Root can connect to any socket: the check is made on a thread that drops
/// CAP_DAC_OVERRIDE (capabilities are per thread) against a socket of mode 000.
#[test]
fn containerd_permission_denied_is_one_line() {
    let _exclusive = common::exclusive();
    if !common::root_or_skip("containerd_permission_denied_is_one_line") {
        return;
    }
    let server = FakeServer::grpc(|_, _, _| Reply::Status(NOT_FOUND, "not found"));
    std::fs::set_permissions(&server.socket, std::fs::Permissions::from_mode(0o000)).unwrap();
    let _env = Env::set(&[("CONTAINERD_ADDRESS", server.socket.to_str().unwrap())]);
    let socket = server.socket.clone();
    let e = thread::spawn(move || {
        use rustix::thread::{capabilities, set_capabilities, CapabilitySet};
        let mut caps = capabilities(None).unwrap();
        caps.effective -= CapabilitySet::DAC_OVERRIDE | CapabilitySet::DAC_READ_SEARCH;
        set_capabilities(None, caps).unwrap();
        assert!(std::os::unix::net::UnixStream::connect(&socket).is_err());
        error_of("containerd://abc")
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
        let _env = Env::set(&[("CONTAINER_RUNTIME_ENDPOINT", &endpoint)]);
        let id = hex_id(5);
        let found = resolve(&format!("cri://{id}")).unwrap();
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
        assert_eq!(resolve(&format!("cri://{}", &id[..8])).unwrap().id, id);
        assert_opens_as(&format!("cri://{id}"), sandbox.pid);
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
        let _env = Env::set(&[(
            "CONTAINER_RUNTIME_ENDPOINT",
            server.socket.to_str().unwrap(),
        )]);
        let e = error_of(&format!("cri://{id}"));
        assert!(
            e.starts_with(&format!("cri://{id}: ")) && e.contains(expected.as_str()),
            "{e}\nwanted: {expected}"
        );
    }
    let server = cri_with(1, Some("{}".into()), false);
    let _env = Env::set(&[(
        "CONTAINER_RUNTIME_ENDPOINT",
        server.socket.to_str().unwrap(),
    )]);
    assert_eq!(
        error_of("cri://ffff"),
        format!(
            "cri://ffff: no such container (at {})",
            server.socket.display()
        )
    );
    let _env = Env::set(&[("CONTAINER_RUNTIME_ENDPOINT", "tcp://localhost:1234")]);
    assert!(error_of("cri://ffff").contains("is not supported"));
}

#[test]
fn crio_without_crio_is_one_line() {
    let _shared = common::shared();
    if Path::new("/var/run/crio/crio.sock").exists() {
        eprintln!("skipped crio_without_crio_is_one_line: CRI-O is running here");
        return;
    }
    let e = error_of("cri-o://abc");
    assert!(
        e.starts_with(
            "cri-o://abc: cannot connect to /var/run/crio/crio.sock: No such file or directory"
        ),
        "{e}"
    );
}

// ---------------------------------------------------------------------------
// CRI, live: containerd's CRI plugin
// ---------------------------------------------------------------------------

/// A private containerd with its CRI plugin, its state in a temporary directory;
/// the pod and everything in it are removed and the daemon stopped on drop.
struct CriContainerd {
    dir: TempDir,
    socket: PathBuf,
    daemon: std::process::Child,
    pod: Option<String>,
}

/// The sandbox ("pause") image: busybox sleeping, since CRI runs the image's command.
const PAUSE_IMAGE: &str = "nsjoin-pause:latest";

impl CriContainerd {
    fn start_or_skip(test: &str) -> Option<CriContainerd> {
        if !common::root_or_skip(test) {
            return None;
        }
        if !docker_ready() {
            skip(test, "docker (run scripts/docker.sh), for the image");
            return None;
        }
        if !quiet(Command::new("containerd").arg("--version"))
            || !quiet(Command::new("ctr").arg("--version"))
        {
            skip(
                test,
                "containerd and ctr (Debian's containerd, which docker.io pulls in)",
            );
            return None;
        }
        let mut build = docker()
            .args(["build", "-q", "-t", PAUSE_IMAGE, "-"])
            .env("DOCKER_BUILDKIT", "0")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        build
            .stdin
            .take()
            .unwrap()
            .write_all(format!("FROM {IMAGE}\nCMD [\"sleep\", \"1000000\"]\n").as_bytes())
            .unwrap();
        assert!(
            build.wait().unwrap().success(),
            "docker build {PAUSE_IMAGE} failed"
        );

        let dir = TempDir::new("cri");
        let d = dir.path().display().to_string();
        let socket = dir.path().join("containerd.sock");
        let config = format!(
            r#"version = 2
root = "{d}/root"
state = "{d}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "{d}/containerd.sock"
[ttrpc]
  address = "{d}/containerd.sock.ttrpc"
[debug]
  address = ""
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{PAUSE_IMAGE}"
  # Without CAP_SYS_RESOURCE (as on these machines) the sandbox's oom_score_adj of
  # -998 cannot be set and runc fails to start it.
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "{d}/cni-bin"
    conf_dir = "{d}/cni-conf"
"#
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let daemon = Command::new("containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        let cri = CriContainerd {
            dir,
            socket,
            daemon,
            pod: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::os::unix::net::UnixStream::connect(&cri.socket).is_err() {
            assert!(
                Instant::now() < deadline,
                "containerd did not start: {}",
                cri.log()
            );
            thread::sleep(Duration::from_millis(100));
        }
        // The images, into the namespace the CRI plugin uses.
        let mut save = docker()
            .args(["save", PAUSE_IMAGE])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let import = Command::new("ctr")
            .arg("--address")
            .arg(&cri.socket)
            .args(["--namespace", "k8s.io", "images", "import", "-"])
            .stdin(save.stdout.take().unwrap())
            .output()
            .unwrap();
        assert!(save.wait().unwrap().success());
        assert!(
            import.status.success(),
            "ctr images import failed: {}",
            String::from_utf8_lossy(&import.stderr)
        );
        Some(cri)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }

    fn call<Req: Message, Resp: Message + Default>(&self, method: &str, request: &Req) -> Resp {
        call(
            &self.socket,
            &format!("/runtime.v1.RuntimeService/{method}"),
            None,
            request,
        )
        .unwrap_or_else(|e| panic!("{method}: {e:?}\n{}", self.log()))
    }

    /// A pod on the host's network (no CNI), and a container in it running `sleep`.
    fn run_container(&mut self) -> String {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let node = |pid| pb::NamespaceOption {
            network: 2,
            pid,
            ipc: 0,
        };
        let pod_config = pb::PodSandboxConfig {
            metadata: Some(pb::PodSandboxMetadata {
                name: format!("nsjoin-{}-{n}", std::process::id()),
                uid: format!("uid-{}-{n}", std::process::id()),
                namespace: "default".into(),
                attempt: 0,
            }),
            hostname: String::new(),
            linux: Some(pb::LinuxPodSandboxConfig {
                cgroup_parent: String::new(),
                security_context: Some(pb::LinuxSandboxSecurityContext {
                    namespace_options: Some(node(0)),
                }),
            }),
        };
        let pod: pb::RunPodSandboxResponse = self.call(
            "RunPodSandbox",
            &pb::RunPodSandboxRequest {
                config: Some(pod_config.clone()),
            },
        );
        self.pod = Some(pod.pod_sandbox_id.clone());
        let created: pb::ContainerId = self.call(
            "CreateContainer",
            &pb::CreateContainerRequest {
                pod_sandbox_id: pod.pod_sandbox_id,
                config: Some(pb::ContainerConfig {
                    metadata: Some(pb::ContainerMetadata {
                        name: "web".into(),
                        attempt: 0,
                    }),
                    image: Some(pb::ImageSpec {
                        image: PAUSE_IMAGE.into(),
                    }),
                    command: vec!["sleep".into(), "100000".into()],
                    // As the kubelet labels its containers.
                    labels: HashMap::from([("io.kubernetes.container.name".into(), "web".into())]),
                    linux: Some(pb::LinuxContainerConfig {
                        security_context: Some(pb::LinuxContainerSecurityContext {
                            namespace_options: Some(node(1)),
                        }),
                    }),
                }),
                sandbox_config: Some(pod_config),
            },
        );
        let _: pb::Empty = self.call(
            "StartContainer",
            &pb::ContainerId {
                container_id: created.container_id.clone(),
            },
        );
        created.container_id
    }
}

impl Drop for CriContainerd {
    fn drop(&mut self) {
        if let Some(pod) = self.pod.take() {
            let request = pb::PodSandboxId {
                pod_sandbox_id: pod,
            };
            let path = "/runtime.v1.RuntimeService/";
            let _ = call::<_, pb::Empty>(
                &self.socket,
                &format!("{path}StopPodSandbox"),
                None,
                &request,
            );
            let _ = call::<_, pb::Empty>(
                &self.socket,
                &format!("{path}RemovePodSandbox"),
                None,
                &request,
            );
        }
        let _ = rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.daemon.id() as i32).unwrap(),
            rustix::process::Signal::TERM,
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.daemon.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}

/// The whole CRI path against a real runtime (containerd's CRI plugin): cri://
/// with a full ID and with a prefix, the same container through containerd://
/// (namespace k8s.io, found by the search), and both refusing it once stopped.
#[test]
fn cri_and_containerd_against_a_live_cri_containerd() {
    let _exclusive = common::exclusive();
    let Some(mut cri) =
        CriContainerd::start_or_skip("cri_and_containerd_against_a_live_cri_containerd")
    else {
        return;
    };
    let id = cri.run_container();
    let endpoint = format!("unix://{}", cri.socket.display());
    let _env = Env::set(&[
        ("CONTAINER_RUNTIME_ENDPOINT", &endpoint),
        ("CONTAINERD_ADDRESS", cri.socket.to_str().unwrap()),
    ]);

    let found = resolve(&format!("cri://{id}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (found.id.as_str(), found.name.as_str()),
        (id.as_str(), "web")
    );
    let cmdline = std::fs::read(format!("/proc/{}/cmdline", found.pid)).unwrap();
    assert_eq!(cmdline, b"sleep\x00100000\x00");
    assert!(found.env.unwrap().iter().any(|(k, _)| k == "PATH"));
    assert_opens_as(&format!("cri://{id}"), found.pid);
    // containerd's CRI plugin accepts unique ID prefixes.
    assert_eq!(
        resolve(&format!("cri://{}", &id[..12])).unwrap().pid,
        found.pid
    );
    // The same container through the Tasks API, in namespace k8s.io.
    let task = resolve(&format!("containerd://{id}")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((task.pid, task.name.as_str()), (found.pid, "web"));
    assert_opens_as(&format!("containerd://k8s.io/{id}"), found.pid);

    let _: pb::Empty = cri.call(
        "StopContainer",
        &pb::StopContainerRequest {
            container_id: id.clone(),
            timeout: 0,
        },
    );
    let e = error_of(&format!("cri://{id}"));
    assert!(
        e.starts_with(&format!(
            "cri://{id}: container is not running (state: exited, exit code 137"
        )),
        "{e}"
    );
    // The CRI keeps the containerd container; its task is gone.
    assert_eq!(
        error_of(&format!("containerd://{id}")),
        format!("containerd://{id}: container is not running (it has no task in containerd namespace k8s.io)")
    );
    assert_eq!(
        error_of(&format!("cri://{}", hex_id(0))),
        format!(
            "cri://{}: no such container (at {})",
            hex_id(0),
            cri.socket.display()
        )
    );
}
